#!/bin/sh
# One MCP session over Streamable HTTP with curl, as a client speaks it: initialize, take
# the session id, notifications/initialized, tools/call, tools/list, DELETE. Run by the
# NixOS VM test (nix/vm-test.nix) and, with the same commands, by `nix::` in tests/it, so
# the protocol the VM test speaks is exercised where Nix cannot build.
# Usage: mcp-smoke.sh BASE_URL TOKEN [read-only]   (prints one line per step; exit 1 on a failure)
set -eu
base=$1 token=$2 mode=${3:-}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "mcp-smoke: $*" >&2; exit 1; }
post() { # post NAME BODY [SESSION]: the answer's headers in $dir/NAME.h, body in $dir/NAME
  curl -sS --max-time 30 -D "$dir/$1.h" -o "$dir/$1" \
    -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-06-18' \
    ${3:+-H "mcp-session-id: $3"} -d "$2" "$base/mcp" || fail "$1: no answer"
  sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$dir/$1.h" | tr -d '\r'
}

status=$(post init '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcp-smoke","version":"1"}}}')
[ "$status" = 200 ] || fail "initialize: HTTP $status: $(cat "$dir/init")"
session=$(tr -d '\r' <"$dir/init.h" | sed -n 's/^[Mm][Cc][Pp]-[Ss]ession-[Ii][Dd]: *//p')
[ -n "$session" ] || fail "initialize: no Mcp-Session-Id"
grep -q '"serverInfo"' "$dir/init" || fail "initialize: $(cat "$dir/init")"
echo "initialize: session opened"

status=$(post initialized '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$session")
[ "$status" = 202 ] || fail "notifications/initialized: HTTP $status"
echo "notifications/initialized: accepted"

status=$(post call '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_project","arguments":{"project_id":1}}}' "$session")
[ "$status" = 200 ] || fail "tools/call: HTTP $status: $(cat "$dir/call")"
grep -q 'Web Shop' "$dir/call" || fail "tools/call get_project: $(cat "$dir/call")"
echo "tools/call get_project: Web Shop"

status=$(post list '{"jsonrpc":"2.0","id":3,"method":"tools/list"}' "$session")
[ "$status" = 200 ] || fail "tools/list: HTTP $status"
grep -q '"get_project"' "$dir/list" || fail "tools/list: $(head -c 300 "$dir/list")"
if [ "$mode" = read-only ]; then
  ! grep -q '"close_launch"' "$dir/list" || fail "tools/list: read-only mode shows close_launch"
  echo "tools/list: read-only (no close_launch)"
else
  echo "tools/list: ok"
fi

status=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X DELETE \
  -H "authorization: Bearer $token" -H "mcp-session-id: $session" -H 'mcp-protocol-version: 2025-06-18' "$base/mcp")
[ "$status" = 200 ] || fail "DELETE: HTTP $status"
echo "DELETE: session closed"
