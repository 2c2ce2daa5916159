"""Drive `allure-mcp --http` with the official Python MCP SDK over /mcp and /sse,
with a bearer token, as an outside client would.

Usage: python3 scripts/outside_client_http.py path/to/allure-mcp
Starts the server (demo upstream, a token, a free port), then for each transport:
initialize, list tools, call tools; and checks that a wrong token is refused.
"""

import asyncio
import os
import re
import subprocess
import sys

from mcp import ClientSession
from mcp.client.sse import sse_client

try:  # mcp 2.x
    import httpx2 as httpx
    from mcp.client.streamable_http import streamable_http_client

    def streamable(url, token):
        return streamable_http_client(url, http_client=httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30))
except ImportError:  # mcp 1.x
    from mcp.client.streamable_http import streamablehttp_client

    def streamable(url, token):
        return streamablehttp_client(url, headers={"Authorization": f"Bearer {token}"})

TOKEN = "outside-client-token-0123456789"


def attr(obj, snake, camel):
    return getattr(obj, snake) if hasattr(obj, snake) else getattr(obj, camel)


async def exercise(name, session):
    init = await session.initialize()
    info = attr(init, "server_info", "serverInfo")
    tools = (await session.list_tools()).tools
    print(f"{name}: initialized {info.name} {info.version} (protocol {attr(init, 'protocol_version', 'protocolVersion')}), {len(tools)} tools")
    for tool, args in [("list_projects", {}), ("find_project", {"query": "pay"}), ("list_launches", {"project_id": 1, "size": 2})]:
        r = await session.call_tool(tool, args)
        if attr(r, "is_error", "isError"):
            raise SystemExit(f"FAIL: {name} {tool}: {r.content[0].text}")
        print(f"  ok {tool}: {r.content[0].text.splitlines()[0][:80]}")


async def main() -> int:
    binary = sys.argv[1]
    env = dict(os.environ, PORT="0", MCP_AUTH_TOKEN=TOKEN, LOG_LEVEL="warn", RATE_LIMIT_PER_SECOND="1000", RATE_LIMIT_BURST="1000")
    proc = subprocess.Popen([binary, "--demo", "--http"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        base = None
        for line in proc.stderr:
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                base = m.group(1)
                break
        if not base:
            raise SystemExit("FAIL: the server did not start")
        async with streamable(f"{base}/mcp", TOKEN) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await exercise("streamable HTTP /mcp", session)
        async with sse_client(f"{base}/sse", headers={"Authorization": f"Bearer {TOKEN}"}) as (read, write):
            async with ClientSession(read, write) as session:
                await exercise("legacy SSE /sse", session)
        try:
            async with sse_client(f"{base}/sse", headers={"Authorization": "Bearer wrong"}) as (read, write):
                async with ClientSession(read, write) as session:
                    await asyncio.wait_for(session.initialize(), 10)
            raise SystemExit("FAIL: a wrong token was accepted")
        except SystemExit:
            raise
        except BaseException as e:  # the SDK raises an HTTP 401 (wrapped in an exception group)
            if "401" not in repr(e):
                raise SystemExit(f"FAIL: unexpected error for a wrong token: {e!r}")
            print("wrong token: refused with 401")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print(f"outside client over HTTP: ok (server exit code {proc.returncode})")
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
