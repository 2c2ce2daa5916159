"""A host built on the official Python MCP SDK that implements elicitation and sampling,
against `allure-mcp --demo` over stdio: a delete is asked of its user (declined: nothing
changes; accepted with the box ticked: the launch goes), and analyze_launch_failures gets
its analysis from the host's model (a canned answer here). Fails on any surprise.
Run by scripts/clients.sh.

Usage: python python_sdk_host.py BINARY
"""

import asyncio
import sys

import mcp.types as types
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


class User:
    """Answers each question with the next of `answers`, and keeps the questions."""

    def __init__(self, answers):
        self.answers, self.asked = list(answers), []

    async def __call__(self, context, params):
        self.asked.append(params.message)
        action, ticked = self.answers.pop(0)
        if action == "accept":
            return types.ElicitResult(action="accept", content={"confirm": ticked})
        return types.ElicitResult(action=action)


class Model:
    """The host's model: one canned analysis, and the prompts it was given."""

    def __init__(self):
        self.prompts = []

    async def __call__(self, context, params):
        self.prompts.append(params.messages[0].content.text)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="1. The payment stand is down (group 1)."),
            model="python-host-model",
        )


def text(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAIL: {what}")


async def main() -> int:
    binary = sys.argv[1]
    user, model = User([("decline", False), ("accept", True)]), Model()
    params = StdioServerParameters(command=binary, args=["--demo"], env={"LOG_LEVEL": "warn"})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, elicitation_callback=user, sampling_callback=model) as s:
            await s.initialize()
            launches = await s.call_tool("list_launches", {"project_id": 1, "size": 5})
            launch = launches.structured_content["launches"][0]["id"]

            r = await s.call_tool("delete_launch", {"launch_id": launch, "confirm": True})
            check(r.is_error and "declined" in text(r), f"a declined delete went on: {text(r)}")
            check(len(user.asked) == 1 and f"#{launch}" in user.asked[0], f"asked {user.asked}")
            still = await s.call_tool("get_launch_details", {"launch_id": launch})
            check(not still.is_error, "the launch is gone after a decline")

            r = await s.call_tool("delete_launch", {"launch_id": launch})
            check(not r.is_error, f"an accepted delete failed: {text(r)}")
            gone = await s.call_tool("get_launch_details", {"launch_id": launch})
            check(gone.is_error, "the launch is still there after the user agreed")

            failing = next(
                l["id"] for l in launches.structured_content["launches"][1:]
                if (l.get("statistic") or {}).get("failed", 0) + (l.get("statistic") or {}).get("broken", 0) > 0
            )
            r = await s.call_tool("analyze_launch_failures", {"launch_id": failing})
            check(not r.is_error, text(r))
            check("payment stand is down" in text(r) and "python-host-model" in text(r), text(r))
            check(len(model.prompts) == 1 and "Triage of launch" in model.prompts[0], f"prompts {model.prompts}")
    print(f"elicitation: 2 questions answered; sampling: 1 analysis ({len(model.prompts[0])} characters of evidence)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
