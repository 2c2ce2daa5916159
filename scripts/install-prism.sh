#!/usr/bin/env bash
# Installs Stoplight Prism at the version pinned in scripts/prism/package-lock.json into
# target/prism (npm ci: exactly the locked tree; no install scripts, so no telemetry), and
# prints the path of its `prism` binary. Does nothing when that lock is installed already.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${PRISM_DIR:-$root/target/prism}"
stamp="$dir/installed-lock.sha256"
want="$(sha256sum "$root/scripts/prism/package-lock.json" | cut -d' ' -f1)"
if [ ! -x "$dir/node_modules/.bin/prism" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  command -v npm >/dev/null || { echo "install-prism: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$root/scripts/prism/package.json" "$root/scripts/prism/package-lock.json" "$dir/"
  (cd "$dir" && SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  echo "$want" >"$stamp"
fi
echo "$dir/node_modules/.bin/prism"
