"""Drive allure-mcp with the official Python MCP SDK (an outside client), over stdio.

Usage: python3 scripts/outside_client.py path/to/allure-mcp [extra server args...]
Spawns the server in demo mode, initializes, lists the tools and calls every one of
them with sample arguments taken from the demo data. Exits non-zero on any failure.
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

# Sample arguments per tool. `None` values are filled from earlier answers.
CALLS = {
    "list_projects": {},
    "find_project": {"query": "web"},
    "get_project": {"project_id": 1},
    "get_project_stats": {"project_id": 1},
    "list_launches": {"project_id": 1, "size": 3},
    "get_launch_details": {"launch_id": None},
}


def attr(obj, snake, camel):
    """mcp 1.x names fields in camelCase, 2.x in snake_case."""
    return getattr(obj, snake) if hasattr(obj, snake) else getattr(obj, camel)


async def main() -> int:
    binary = sys.argv[1]
    params = StdioServerParameters(command=binary, args=["--demo", *sys.argv[2:]], env={"LOG_LEVEL": "warn"})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            info = attr(init, "server_info", "serverInfo")
            print(f"initialized: {info.name} {info.version}, protocol {attr(init, 'protocol_version', 'protocolVersion')}")
            tools = (await session.list_tools()).tools
            names = [t.name for t in tools]
            print(f"tools/list: {len(names)} tools")
            missing = [n for n in names if n not in CALLS]
            if missing:
                print(f"FAIL: no sample arguments for {missing}")
                return 1
            launch_id = None
            failures = 0
            for name in sorted(names, key=list(CALLS).index):
                args = dict(CALLS[name])
                if "launch_id" in args and args["launch_id"] is None:
                    args["launch_id"] = launch_id
                result = await session.call_tool(name, args)
                is_error = attr(result, "is_error", "isError")
                if name == "list_launches" and not is_error:
                    launch_id = attr(result, "structured_content", "structuredContent")["launches"][0]["id"]
                status = "error" if is_error else "ok"
                first = result.content[0].text.splitlines()[0] if result.content else ""
                print(f"  {name}({json.dumps(args)}): {status}: {first[:100]}")
                failures += bool(is_error)
            if failures:
                print(f"FAIL: {failures} tool call(s) answered isError")
                return 1
    print("outside client: all tools called successfully")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
