#!/usr/bin/env python3
"""What a test team's daily tasks cost a model: calls and bytes of text read.

Usage: python3 scripts/daily-tasks.py [BINARY]

Starts BINARY (default target/release/allure-mcp) with --demo over stdio, as a
desktop client does, with default settings (dynamic toolsets: a task that needs a
toolset that is off first calls enable_toolset, as a model that reads tools/list
would), and runs each task of issue 16 the way a model would: the calls in order,
ids taken from earlier answers. Prints one row per task: the calls, and the bytes of
text content and of structured content the model reads. Fails (exit 1) when a call
answers isError. Standard library only.
"""

import json
import subprocess
import sys


class Session:
    def __init__(self, binary):
        self.p = subprocess.Popen(
            [binary, "--demo"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin"},
            text=True,
        )
        self.next = 1
        init = self.rpc("initialize", {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "daily-tasks", "version": "1"},
        })
        assert init["result"]["serverInfo"]["name"] == "allure-mcp", init
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, msg):
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()

    def rpc(self, method, params=None):
        i = self.next
        self.next += 1
        msg = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise SystemExit(f"the server closed stdout during {method}")
            answer = json.loads(line)
            if answer.get("id") == i:
                return answer

    def tools_list_bytes(self):
        tools = self.rpc("tools/list")["result"]["tools"]
        return len(json.dumps(tools, separators=(",", ":")))

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


class Task:
    def __init__(self, session, name):
        self.s = session
        self.name = name
        self.calls = []
        self.text = 0
        self.structured = 0

    def call(self, tool, **args):
        answer = self.s.rpc("tools/call", {"name": tool, "arguments": args})
        if "error" in answer:
            raise SystemExit(f"{self.name}: {tool} {args}: {answer['error']}")
        r = answer["result"]
        text = "".join(c.get("text", "") for c in r.get("content", []))
        if r.get("isError"):
            raise SystemExit(f"{self.name}: {tool} {args}: {text}")
        self.calls.append(tool)
        self.text += len(text.encode())
        self.structured += len(json.dumps(r.get("structuredContent", {}), separators=(",", ":")))
        return r.get("structuredContent", {})


def tasks(s):
    t = Task(s, "why did the nightly fail")
    project = t.call("find_project", query="web shop")["matches"][0]["id"]
    launches = t.call("list_launches", project_id=project)["launches"]
    nightly = next(l for l in launches if "ightly" in l["name"])
    t.call("triage_launch", launch_id=nightly["id"])
    yield t

    t = Task(s, "which tests are flaky in the last 10 launches")
    t.call("find_flaky_tests", project_id=project, launches=10)
    yield t

    t = Task(s, "rerun only the failed tests and report when done")
    t.call("enable_toolset", toolsets=["runs"])
    done = next(
        l for l in launches
        if l["name"] != nightly["name"] and "ightly" in l["name"]
    )
    started = t.call("rerun_failed_tests", launch_id=done["id"])
    if started["job_runs"]:
        t.call("wait_for_launch", launch_id=done["id"], timeout_s=60, poll_interval_s=5)
    yield t

    t = Task(s, "failed tests whose error mentions timeout")
    t.call(
        "search_test_results",
        project_id=project,
        aql='status in ["failed", "broken"] and message ~= "timeout"',
    )
    yield t

    t = Task(s, "file a defect for three results and link them")
    failed = t.call(
        "list_test_results", launch_id=nightly["id"], status="failed,broken", size=3
    )["results"]
    t.call("enable_toolset", toolsets=["defects"])
    defect = t.call(
        "create_defect", project_id=project, name="Checkout button hidden by banner"
    )["ids"][0]
    t.call(
        "link_defect_to_test_results",
        defect_id=defect,
        test_result_ids=[r["id"] for r in failed[:3]],
    )
    yield t

    t = Task(s, "create a test case with steps, tag it, add it to a plan")
    t.call("enable_toolset", toolsets=["testcases", "plans"])
    case = t.call(
        "create_test_case",
        project_id=project,
        name="Guest checkout with a coupon",
        tags=["checkout", "smoke"],
        steps=[
            {"action": "Add a product to the cart"},
            {"action": "Apply coupon SAVE10", "expected": "The total drops by 10%"},
            {"action": "Pay as a guest", "expected": "The order is confirmed"},
        ],
    )["ids"][0]
    plan = t.call("list_test_plans", project_id=project)["test_plans"][0]["id"]
    t.call("update_test_plan", test_plan_id=plan, add_test_case_ids=[case])
    yield t

    t = Task(s, "mute and assign a flaky result to me")
    me = t.call("whoami", project_id=project)["username"]
    result = failed[0]["id"]
    t.call("mute_test_result", test_result_id=result, reason="flaky: timing on CI")
    t.call("assign_test_result", test_result_id=result, username=me)
    yield t

    t = Task(s, "pass-rate trend of the nightly job")
    t.call("enable_toolset", toolsets=["analytics"])
    t.call(
        "get_launch_trend_analytics", project_id=project, launch_name="nightly", launches=10
    )
    yield t


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/allure-mcp"
    s = Session(binary)
    print(f"default tools/list: {s.tools_list_bytes()} bytes")
    print("| Task | Calls | Text read | Structured |")
    print("|---|---|---|---|")
    for t in tasks(s):
        print(
            f"| {t.name} | {len(t.calls)} ({', '.join(t.calls)}) | "
            f"{t.text / 1000:.1f} KB | {t.structured / 1000:.1f} KB |"
        )
    s.close()


if __name__ == "__main__":
    main()
