"""Drive `allure-mcp --http` with the official Python MCP SDK over one transport, strictly:
initialize, list tools, several tool calls in a row (ids taken from earlier answers), and
fail if the SDK logs anything at ERROR level or a traceback reaches stderr, even when every
call succeeded. Works with mcp 1.9 (the oldest we test) up to 2.x. Run by scripts/clients.sh.

Usage: python python_sdk_client.py http URL/mcp | sse URL/sse
"""

import asyncio
import io
import logging
import sys

from mcp import ClientSession
from mcp.client.sse import sse_client

try:  # mcp 1.2x and 2.x
    from mcp.client.streamable_http import streamable_http_client as streamable
except ImportError:  # mcp 1.9 to 1.1x
    from mcp.client.streamable_http import streamablehttp_client as streamable


class Tee(io.TextIOBase):
    """stderr that also remembers what was written to it."""

    def __init__(self, inner):
        self.inner, self.text = inner, []

    def write(self, s):
        self.text.append(s)
        return self.inner.write(s)

    def flush(self):
        self.inner.flush()


class Errors(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records, self.empty_data = [], 0

    def emit(self, record):
        self.records.append(f"{record.name}: {record.getMessage()}")
        # What the SDK failed to parse, to tell apart an SSE event with no data (priming).
        self.empty_data += "input_value=''" in str(record.exc_info[1] if record.exc_info else "")


def attr(obj, snake, camel):
    """mcp 1.x names fields in camelCase, 2.x in snake_case (1.9 keeps structuredContent as an extra)."""
    return getattr(obj, snake, None) if hasattr(obj, snake) else getattr(obj, camel, None)


async def exercise(session):
    init = await session.initialize()
    protocol = attr(init, "protocol_version", "protocolVersion")
    tools = {t.name for t in (await session.list_tools()).tools}
    for name in ("list_projects", "get_launch_details", "triage_launch"):
        if name not in tools:
            raise SystemExit(f"FAIL: {name} is not listed")

    async def call(name, args):
        r = await session.call_tool(name, args)
        if attr(r, "is_error", "isError"):
            raise SystemExit(f"FAIL: {name}: {r.content[0].text}")
        return attr(r, "structured_content", "structuredContent")

    projects = (await call("list_projects", {}))["projects"]
    project = projects[0]["id"]
    await call("find_project", {"query": "pay"})
    launch = (await call("list_launches", {"project_id": project, "size": 3}))["launches"][0]["id"]
    await call("get_launch_details", {"launch_id": launch})
    await call("list_projects", {})
    return f"protocol {protocol}, {len(tools)} tools, 5 calls in a row (project {project}, launch {launch})"


async def run(kind, url):
    if kind == "http":
        async with streamable(url) as streams, ClientSession(streams[0], streams[1]) as session:
            return await exercise(session)
    async with sse_client(url) as (read, write), ClientSession(read, write) as session:
        return await exercise(session)


def main() -> int:
    kind, url = sys.argv[1], sys.argv[2]
    sys.stderr = Tee(sys.stderr)
    errors = Errors()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger().addHandler(errors)
    summary = asyncio.run(run(kind, url))
    tracebacks = "".join(sys.stderr.text).count("Traceback")
    if errors.records or tracebacks:
        first = errors.records[0] if errors.records else "see the traceback above"
        print(f"FAIL: {len(errors.records)} ERROR log record(s) ({errors.empty_data} on an SSE event with empty data), "
              f"{tracebacks} traceback(s); first: {first}")
        return 1
    print(f"ok: {summary}, nothing logged at ERROR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
