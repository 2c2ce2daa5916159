#!/usr/bin/env bash
# The release binary serves `--demo` from the built-in fake TestOps, but without the
# fake's control endpoints (/__fake/*) or fault injection: those are compiled only with
# the fake's `control` feature, which only tests enable. Starts RELEASE_BIN --demo and
# asks its fake for /__fake/stats: anything but a refusal fails. With CONTROL_BIN (a
# build whose fake has the feature, e.g. the one `cargo test` made), the same probe must
# succeed there, which shows the probe can see the endpoint at all.
set -euo pipefail
probe() {
  local bin="$1" log pid fake code
  log="$(mktemp)"
  PORT=0 "$bin" --demo --http >/dev/null 2>"$log" &
  pid=$!
  for _ in $(seq 200); do
    grep -q "listening on http://" "$log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 2; }
    sleep 0.05
  done
  fake="$(grep -o 'fake Allure TestOps at http://[0-9.:]*' "$log" | awk '{print $NF}')"
  code="$(python3 -c 'import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1] + "/__fake/stats", timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)' "$fake")"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
  echo "$code"
}
release="$(probe "$1")"
if [ "$release" = 200 ]; then
  echo "FAIL: $1 --demo answers /__fake/stats (the fake's control endpoints are in the release binary)" >&2
  exit 1
fi
echo "ok: $1 --demo refuses /__fake/stats ($release)"
if [ -n "${2:-}" ]; then
  control="$(probe "$2")"
  if [ "$control" != 200 ]; then
    echo "FAIL: the probe did not see /__fake/stats on $2 ($control), so it proves nothing" >&2
    exit 1
  fi
  echo "ok: the probe does see /__fake/stats where the control feature is on ($2)"
fi
