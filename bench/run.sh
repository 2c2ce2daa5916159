#!/usr/bin/env bash
# Side-by-side benchmark of allure-mcp and the other Allure MCP servers, against the same
# standalone fake TestOps, in one run on this machine. Writes BENCHMARKS.md.
#
#   bash bench/run.sh            (as root: it needs a network namespace)
#
# The peers come from PyPI into a private virtualenv; they run inside a network namespace
# that has only loopback, with the fake inside it too, so nothing can leave the machine
# (lucius-mcp reports telemetry to an outside host unless TELEMETRY_ENABLED=false, which
# is set as well).
set -euo pipefail
cd "$(dirname "$0")/.."
# The figures are stamped with the measured sources' hash: measure only what is committed.
git diff --quiet HEAD -- src crates Cargo.toml Cargo.lock bench || {
  echo "uncommitted changes to the measured sources: commit them first" >&2
  exit 1
}
venv="${BENCH_VENV:-$HOME/.cache/allure-mcp-bench/venv}"
cargo build --locked --release --quiet --bin allure-mcp
cargo build --locked --release --quiet -p fake-testops --features control --bin fake-testops
if [ ! -x "$venv/bin/lucius-mcp" ] || [ ! -x "$venv/bin/allure-testops-mcp" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check allure-testops-mcp==0.9.3 lucius-mcp==0.16.6
fi
# The HTTPS and OAuth columns make a certificate and sign tokens (both come with the peers today).
"$venv/bin/python" -c 'import jwt, cryptography' 2>/dev/null ||
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'pyjwt[crypto]'
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
exec unshare -n sh -c "ip link set lo up && exec '$venv/bin/python' bench/compare.py target/release/allure-mcp target/release/fake-testops '$venv'"
