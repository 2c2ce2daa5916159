#!/usr/bin/env bash
# Proves that outside MCP clients work with `allure-mcp --demo` on DEFAULT settings: the
# official TypeScript SDK and the MCP Inspector CLI (pinned in scripts/clients/package*.json),
# the Python SDK 1.9 and the current one (pinned in scripts/clients/requirements-*.txt), over
# stdio, Streamable HTTP (/mcp) and legacy SSE (/sse). Each run appends a line to
# OUT_DIR/results.jsonl, which scripts/clients/tested_with.py turns into README.md's table.
# Runs every client, then exits non-zero if any failed. Usage: scripts/clients.sh BINARY OUT_DIR
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "$1")"
out="$(mkdir -p "$2" && realpath "$2")"
here="$root/scripts/clients"
dir="$root/target/clients"
rm -f "$out/results.jsonl"
start=$SECONDS

install() { # install DIR LOCKFILE COMMAND...: runs COMMAND in a fresh DIR, only when LOCKFILE changed
  local d=$1 lock=$2 want
  shift 2
  want="$(sha256sum "$lock" | cut -d' ' -f1)"
  [ "$(cat "$d/installed.sha256" 2>/dev/null)" = "$want" ] && return
  rm -rf "$d" && mkdir -p "$d"
  (cd "$d" && "$@") >&2
  echo "$want" >"$d/installed.sha256"
}
install "$dir/node" "$here/package-lock.json" sh -c \
  "cp '$here/package.json' '$here/package-lock.json' . && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error"
cp "$here"/*.mjs "$dir/node/" # beside node_modules, so that their imports resolve
for sdk in 1.9 current; do
  req="$here/requirements-python-sdk-$sdk.txt"
  install "$dir/python-sdk-$sdk" "$req" sh -c \
    "python3 -m venv . && bin/pip install --quiet --disable-pip-version-check -r '$req'"
done
pkg_version() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$dir/node/node_modules/$1/package.json"; }
py_version() { "$dir/python-sdk-$1/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))'; }

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait' EXIT
trap 'exit 130' INT TERM
serve() { # serve NAME [https]: starts the server (HTTP, DEFAULT settings) on a free loopback port; sets $url
  local port scheme=http
  # A free loopback port: bind 0, read it back, release it for the server.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [ "${2:-}" = https ]; then
    scheme=https
    PORT=$port TLS_CERT_FILE="$tls/cert.pem" TLS_KEY_FILE="$tls/key.pem" "$bin" --demo --http >"$out/$1.server.log" 2>&1 &
  else
    PORT=$port "$bin" --demo --http >"$out/$1.server.log" 2>&1 &
  fi
  pids+=($!)
  url="$scheme://127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -fs --cacert "$tls/ca.pem" -o /dev/null "$url/healthz" && return
    sleep 0.1
  done
  echo "the server for $1 did not start: $out/$1.server.log" >&2
  return 1
}

# A certificate authority and a server certificate for localhost, made for this run: the HTTPS
# runs trust only this CA (SSL_CERT_FILE, which the Python SDK's httpx honours).
tls="$out/tls"
mkdir -p "$tls"
(
  cd "$tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=clients.sh test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -keyout ca.key -out ca.pem
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout key.pem -out server.csr
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out cert.pem
) >/dev/null 2>&1

passed=0 failed=0
run() { # run CLIENT VERSION TRANSPORT[,TRANSPORT] LOG COMMAND...: one run, recorded per transport
  local client=$1 version=$2 transports=$3 log="$out/$4.log" rc=0 result=pass detail each list
  shift 4
  timeout 120 "$@" >"$log" 2>&1 || rc=$?
  detail="$(grep -v '^[[:space:]]*$' "$log" | tail -n1 | cut -c1-240)"
  [ $rc -eq 124 ] && detail="timed out after 120 s"
  [ $rc -eq 0 ] || result=fail
  IFS=, read -ra list <<<"$transports"
  for each in "${list[@]}"; do
    python3 -c 'import json, sys; print(json.dumps(dict(zip(["client", "version", "transport", "result", "detail"], sys.argv[1:]))))' \
      "$client" "$version" "$each" "$result" "$detail" >>"$out/results.jsonl"
  done
  printf '%s: %s %s over %s: %s\n' "$result" "$client" "$version" "$transports" "$detail"
  if [ $result = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "  log: $log" >&2; fi
}

ts=$(pkg_version @modelcontextprotocol/sdk)
serve typescript-sdk
run "TypeScript SDK" "$ts" stdio ts-sdk-stdio node "$dir/node/ts_sdk_client.mjs" stdio "$bin"
run "TypeScript SDK" "$ts" "Streamable HTTP" ts-sdk-http node "$dir/node/ts_sdk_client.mjs" http "$url/mcp"
run "TypeScript SDK" "$ts" SSE ts-sdk-sse node "$dir/node/ts_sdk_client.mjs" sse "$url/sse"

inspector=$(pkg_version @modelcontextprotocol/inspector-cli)
serve inspector
run "MCP Inspector CLI" "$inspector" stdio inspector-stdio node "$dir/node/inspector_check.mjs" stdio "$bin"
run "MCP Inspector CLI" "$inspector" "Streamable HTTP" inspector-http node "$dir/node/inspector_check.mjs" http "$url/mcp"
run "MCP Inspector CLI" "$inspector" SSE inspector-sse node "$dir/node/inspector_check.mjs" sse "$url/sse"

for sdk in 1.9 current; do
  py="$dir/python-sdk-$sdk/bin/python"
  version=$(py_version $sdk)
  serve python-sdk-$sdk
  run "Python SDK" "$version" "Streamable HTTP" python-sdk-$sdk-http "$py" "$here/python_sdk_client.py" http "$url/mcp"
  run "Python SDK" "$version" SSE python-sdk-$sdk-sse "$py" "$here/python_sdk_client.py" sse "$url/sse"
done
# Native HTTPS (TLS_CERT_FILE): the current SDK trusting the run's CA, over both HTTP transports.
serve python-sdk-https https
run "Python SDK" "$version" "Streamable HTTP over HTTPS" python-sdk-https-http env SSL_CERT_FILE="$tls/ca.pem" "$py" "$here/python_sdk_client.py" http "$url/mcp"
run "Python SDK" "$version" "SSE over HTTPS" python-sdk-https-sse env SSL_CERT_FILE="$tls/ca.pem" "$py" "$here/python_sdk_client.py" sse "$url/sse"
# A host on the current SDK that implements elicitation (a delete asked of its user, declined
# then accepted) and sampling (analyze_launch_failures written by its model), over stdio.
run "Python SDK" "$version" "stdio as a host answering elicitation and sampling" python-sdk-host "$py" "$here/python_sdk_host.py" "$bin"
# The current SDK ($py, $version) in the older outside clients, which CI runs too: every tool over
# stdio; /mcp and /sse with a token, in one run that each of the two rows counts.
run "Python SDK" "$version" stdio outside-client "$py" "$root/scripts/outside_client.py" "$bin"
run "Python SDK" "$version" "Streamable HTTP,SSE" outside-client-http "$py" "$root/scripts/outside_client_http.py" "$bin"

echo "results in $out/results.jsonl, after $((SECONDS - start)) s"
echo "clients: $passed passed, $failed failed"
[ $failed -eq 0 ]
