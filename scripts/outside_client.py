"""Drive allure-mcp with the official Python MCP SDK (an outside client), over stdio.

Usage: python3 scripts/outside_client.py path/to/allure-mcp
Starts the server in demo mode with every toolset, initializes, lists the tools and
calls every one of them in a realistic order, taking ids from earlier answers.
Exits non-zero if a tool is listed without a planned call, or a call fails.
"""

import asyncio
import os
import sys
import tempfile

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def attr(obj, snake, camel):
    """mcp 1.x names fields in camelCase, 2.x in snake_case."""
    return getattr(obj, snake) if hasattr(obj, snake) else getattr(obj, camel)


# (tool, arguments from the ids gathered so far, what to remember from the answer)
PLAN = [
    ("list_projects", lambda i: {}, None),
    ("find_project", lambda i: {"query": "web"}, None),
    ("get_project", lambda i: {"project_id": 1}, None),
    ("get_project_stats", lambda i: {"project_id": 1}, None),
    ("list_launches", lambda i: {"project_id": 1, "size": 3}, lambda s, i: i.update(launch=s["launches"][0]["id"])),
    ("search_launches", lambda i: {"project_id": 1, "aql": "closed = true"}, lambda s, i: i.update(closed=s["launches"][-1]["id"], closed2=s["launches"][0]["id"])),
    ("whoami", lambda i: {"project_id": 1}, lambda s, i: i.update(me=s["username"])),
    ("find_users", lambda i: {"query": "ali"}, None),
    ("get_launch_details", lambda i: {"launch_id": i["launch"]}, None),
    ("get_launch_status", lambda i: {"launch_id": i["launch"]}, None),
    ("get_launch_report", lambda i: {"launch_id": i["closed"]}, None),
    ("list_test_results", lambda i: {"launch_id": i["closed"], "status": "failed,broken"}, lambda s, i: i.update(result=s["results"][0]["id"])),
    ("get_test_result", lambda i: {"test_result_id": i["result"]}, None),
    ("get_test_result_steps", lambda i: {"test_result_id": i["result"]}, lambda s, i: i.update(attachment=s["attachments"][0]["id"])),
    ("read_attachment", lambda i: {"attachment_id": i["attachment"]}, None),
    ("get_test_result_history", lambda i: {"test_result_id": i["result"]}, None),
    ("find_flaky_tests", lambda i: {"project_id": 1, "launches": 5}, None),
    ("search_test_results", lambda i: {"project_id": 1, "aql": 'status = "failed"', "size": 5}, None),
    ("validate_aql", lambda i: {"project_id": 1, "entity": "test_result", "aql": 'status = "failed"'}, None),
    ("triage_launch", lambda i: {"launch_id": i["closed"]}, None),
    ("compare_launches", lambda i: {"from_launch_id": i["closed"], "to_launch_id": i["launch"]}, None),
    ("list_jobs", lambda i: {"project_id": 1}, lambda s, i: i.update(job=s["jobs"][0]["id"])),
    ("list_test_plans", lambda i: {"project_id": 1}, lambda s, i: i.update(plan=s["test_plans"][0]["id"])),
    ("get_test_plan", lambda i: {"test_plan_id": i["plan"]}, None),
    ("list_test_cases", lambda i: {"project_id": 1, "size": 5}, lambda s, i: i.update(tc=s["test_cases"][0]["id"])),
    ("search_test_cases", lambda i: {"project_id": 1, "aql": "automated = false"}, None),
    ("get_test_case", lambda i: {"test_case_id": i["tc"]}, None),
    ("get_test_case_scenario", lambda i: {"test_case_id": i["tc"]}, None),
    ("get_test_case_history", lambda i: {"test_case_id": i["tc"]}, None),
    ("list_project_custom_fields", lambda i: {"project_id": 1}, None),
    ("create_test_case", lambda i: {"project_id": 1, "name": "Created by the outside client"}, lambda s, i: i.update(new_tc=s["ids"][0])),
    ("update_test_case", lambda i: {"test_case_id": i["new_tc"], "description": "checked", "manual_scenario": [{"action": "Open", "expected": "Shown"}]}, None),
    ("update_test_case_custom_fields", lambda i: {"test_case_id": i["new_tc"], "fields": {"Priority": ["High"]}}, None),
    ("bulk_create_test_plan", lambda i: {"project_id": 1, "name": "Outside plan", "test_case_ids": [i["tc"]]}, lambda s, i: i.update(new_plan=s["id"])),
    ("update_test_plan", lambda i: {"test_plan_id": i["new_plan"], "add_test_case_ids": [i["new_tc"]]}, None),
    ("list_test_plan_test_cases", lambda i: {"test_plan_id": i["new_plan"]}, None),
    ("delete_test_plan", lambda i: {"test_plan_id": i["new_plan"], "confirm": True}, None),
    ("bulk_set_test_case_status", lambda i: {"project_id": 1, "test_case_ids": [i["new_tc"]], "status_id": -2, "workflow_id": -1}, None),
    ("bulk_add_test_case_tags", lambda i: {"project_id": 1, "test_case_ids": [i["new_tc"]], "tags": ["mcp"]}, None),
    ("bulk_remove_test_case_tags", lambda i: {"project_id": 1, "test_case_ids": [i["new_tc"]], "tags": ["mcp"]}, None),
    ("run_allure_launch", lambda i: {"project_id": 1, "launch_name": "outside client run", "job_id": i["job"]}, lambda s, i: i.update(run=s["launch_id"])),
    ("get_launch_job_runs", lambda i: {"launch_id": i["closed"]}, lambda s, i: i.update(job_run=s["job_runs"][0]["id"])),
    ("wait_for_launch", lambda i: {"launch_id": i["run"], "timeout_s": 1, "poll_interval_s": 1}, None),
    ("rerun_job_run", lambda i: {"job_run_id": i["job_run"]}, None),
    ("rerun_failed_tests", lambda i: {"launch_id": i["closed2"]}, None),
    ("run_test_case", lambda i: {"test_case_id": i["tc"], "launch_id": i["launch"]}, None),
    ("add_test_cases_to_launch", lambda i: {"launch_id": i["launch"], "test_case_ids": [i["tc"]]}, None),
    ("add_test_plan_to_launch", lambda i: {"launch_id": i["launch"], "test_plan_id": i["plan"]}, None),
    ("assign_test_result", lambda i: {"test_result_id": i["result"], "username": i["me"]}, None),
    ("mute_test_result", lambda i: {"test_result_id": i["result"], "reason": "outside client"}, None),
    ("bulk_assign_test_results", lambda i: {"launch_id": i["closed"], "test_result_ids": [i["result"]], "assignees": ["bob"]}, None),
    ("bulk_mute_test_results", lambda i: {"launch_id": i["closed"], "test_result_ids": [i["result"]], "reason": "x"}, None),
    ("bulk_unmute_test_results", lambda i: {"launch_id": i["closed"], "test_result_ids": [i["result"]]}, None),
    ("bulk_resolve_test_results", lambda i: {"launch_id": i["closed"], "test_result_ids": [i["result"]]}, None),
    ("list_defects", lambda i: {"project_id": 1}, lambda s, i: i.update(defect=s["defects"][0]["id"])),
    ("get_defect", lambda i: {"defect_id": i["defect"]}, None),
    ("create_defect", lambda i: {"project_id": 1, "name": "Found by the outside client"}, lambda s, i: i.update(new_defect=s["ids"][0])),
    ("link_defect_to_test_results", lambda i: {"defect_id": i["new_defect"], "test_result_ids": [i["result"]]}, None),
    ("update_defect", lambda i: {"defect_id": i["new_defect"], "description": "seen by the outside client"}, None),
    ("link_defect_issue", lambda i: {"defect_id": i["new_defect"], "issue_key": "WEB-1"}, None),
    ("unlink_defect_issue", lambda i: {"defect_id": i["new_defect"]}, None),
    ("add_defect_matcher", lambda i: {"defect_id": i["new_defect"], "name": "timeouts", "message_regex": "Timeout"}, None),
    ("list_defect_matchers", lambda i: {"defect_id": i["new_defect"]}, None),
    ("apply_defect_matchers", lambda i: {"launch_id": i["closed"]}, None),
    ("get_launch_trend_analytics", lambda i: {"project_id": 1}, None),
    ("get_launch_duration_analytics", lambda i: {"project_id": 1}, None),
    ("get_test_success_rate", lambda i: {"project_id": 1}, None),
    # Launch housekeeping and views (launch_admin), the analysis, the API search.
    ("get_launch_environment", lambda i: {"launch_id": i["closed"]}, None),
    ("get_launch_defects", lambda i: {"launch_id": i["closed"]}, None),
    ("get_launch_dashboard", lambda i: {"launch_id": i["closed"]}, None),
    ("analyze_launch_failures", lambda i: {"launch_id": i["closed"]}, None),
    ("update_launch", lambda i: {"launch_id": i["run"], "name": "outside client run, renamed", "tags": ["outside"]}, None),
    ("copy_launch", lambda i: {"launch_id": i["run"], "name": "outside client copy"}, None),
    ("search_api_operations", lambda i: {"query": "launch environment"}, None),
    # A test case's people, links and defects (testcase_admin), extras (testcase_extras).
    ("get_test_case_overview", lambda i: {"test_case_id": i["new_tc"]}, None),
    ("add_test_case_members", lambda i: {"test_case_id": i["new_tc"], "usernames": ["alice"]}, None),
    ("remove_test_case_members", lambda i: {"test_case_id": i["new_tc"], "usernames": ["alice"]}, None),
    ("add_test_case_external_link", lambda i: {"test_case_id": i["new_tc"], "url": "https://wiki.example.com/spec"}, None),
    ("delete_test_case_external_link", lambda i: {"test_case_id": i["new_tc"], "url": "https://wiki.example.com/spec"}, None),
    ("set_test_case_issues", lambda i: {"test_case_id": i["new_tc"], "issue_keys": ["WEB-2"]}, None),
    ("add_test_case_defect", lambda i: {"test_case_id": i["new_tc"], "defect_id": i["new_defect"]}, None),
    ("get_test_case_defects", lambda i: {"test_case_id": i["new_tc"]}, None),
    ("remove_test_case_defect", lambda i: {"test_case_id": i["new_tc"], "defect_id": i["new_defect"]}, None),
    ("set_test_case_keys", lambda i: {"test_case_id": i["new_tc"], "keys": ["TMS-1"]}, None),
    ("set_test_case_relations", lambda i: {"test_case_id": i["new_tc"], "relations": [{"test_case_id": i["tc"], "kind": "related to"}]}, None),
    ("get_test_case_relations", lambda i: {"test_case_id": i["new_tc"]}, None),
    ("set_test_case_examples", lambda i: {"test_case_id": i["new_tc"], "examples": [{"browser": "chrome"}]}, None),
    ("get_test_case_examples", lambda i: {"test_case_id": i["new_tc"]}, None),
    ("get_test_case_audit", lambda i: {"test_case_id": i["new_tc"]}, None),
    ("create_test_tag", lambda i: {"name": "outside"}, None),
    ("upload_test_case_attachment", lambda i: {"test_case_id": i["new_tc"], "path": "note.txt", "confirm": True}, None),
    ("get_test_case_attachments", lambda i: {"test_case_id": i["new_tc"]}, lambda s, i: i.update(tc_attachment=s["attachments"][0]["id"])),
    ("get_test_case_attachment_content", lambda i: {"attachment_id": i["tc_attachment"]}, None),
    ("delete_test_case_attachment", lambda i: {"attachment_id": i["tc_attachment"], "confirm": True}, None),
    # Its life (testcase_history).
    ("create_test_case_version", lambda i: {"test_case_id": i["new_tc"], "title": "outside v1"}, None),
    ("list_test_case_versions", lambda i: {"test_case_id": i["new_tc"]}, lambda s, i: i.update(version=s["versions"][0]["id"])),
    ("get_test_case_version_data", lambda i: {"version_id": i["version"]}, None),
    ("restore_test_case_version", lambda i: {"version_id": i["version"], "confirm": True}, None),
    ("delete_test_case_version", lambda i: {"version_id": i["version"], "confirm": True}, None),
    ("clone_test_case", lambda i: {"test_case_id": i["new_tc"]}, lambda s, i: i.update(clone=s["ids"][0])),
    ("detach_test_case_automation", lambda i: {"test_case_id": i["clone"]}, None),
    ("delete_test_case_scenario", lambda i: {"test_case_id": i["clone"], "confirm": True}, None),
    ("delete_test_case", lambda i: {"test_case_id": i["clone"], "confirm": True}, None),
    ("list_deleted_test_cases", lambda i: {"project_id": 1}, None),
    ("restore_test_case", lambda i: {"test_case_id": i["clone"]}, None),
    ("list_muted_test_cases", lambda i: {"project_id": 1}, None),
    # Bulk edits (testcase_bulk).
    ("bulk_add_test_case_members", lambda i: {"project_id": 1, "test_case_ids": [i["new_tc"]], "usernames": ["bob"]}, None),
    ("bulk_remove_test_case_members", lambda i: {"project_id": 1, "test_case_ids": [i["new_tc"]], "usernames": ["bob"]}, None),
    ("bulk_add_test_case_external_links", lambda i: {"project_id": 1, "test_case_ids": [i["new_tc"]], "urls": ["https://ci.example.com/x"]}, None),
    ("bulk_add_test_case_issues", lambda i: {"project_id": 1, "test_case_ids": [i["new_tc"]], "issue_keys": ["WEB-3"]}, None),
    ("bulk_remove_test_case_issues", lambda i: {"project_id": 1, "test_case_ids": [i["new_tc"]], "issue_keys": ["WEB-3"]}, None),
    ("bulk_clone_test_cases", lambda i: {"project_id": 1, "test_case_ids": [i["new_tc"]]}, None),
    ("bulk_run_test_cases_new_launch", lambda i: {"project_id": 1, "test_case_ids": [i["tc"]], "launch_name": "outside manual run"}, lambda s, i: i.update(manual_run=s["ids"][0])),
    # Trees and folders (testcase_folders).
    ("list_test_case_trees", lambda i: {"project_id": 1}, lambda s, i: i.update(tree=s["trees"][0]["id"])),
    ("create_test_case_folder", lambda i: {"project_id": 1, "tree_id": i["tree"], "name": "Outside"}, lambda s, i: i.update(folder=s["ids"][0])),
    ("move_test_cases_to_folder", lambda i: {"project_id": 1, "tree_id": i["tree"], "folder_id": i["folder"], "test_case_ids": [i["new_tc"]]}, None),
    ("browse_test_case_tree", lambda i: {"project_id": 1, "tree_id": i["tree"], "folder_id": i["folder"]}, None),
    ("rename_test_case_folder", lambda i: {"project_id": 1, "folder_id": i["folder"], "name": "Outside client"}, None),
    ("delete_test_case_folder", lambda i: {"project_id": 1, "folder_id": i["folder"], "confirm": True}, None),
    ("bulk_move_test_cases", lambda i: {"project_id": 1, "test_case_ids": [i["clone"]], "to_project_id": 2}, None),
    # Custom field administration (custom_field_admin).
    ("create_custom_field", lambda i: {"name": "Outside field"}, lambda s, i: i.update(cf=s["id"])),
    ("get_custom_field", lambda i: {"custom_field_id": i["cf"]}, None),
    ("update_custom_field", lambda i: {"custom_field_id": i["cf"], "required": False}, None),
    ("add_custom_fields_to_project", lambda i: {"project_id": 1, "custom_field_ids": [i["cf"]]}, None),
    ("update_project_custom_field", lambda i: {"project_id": 1, "custom_field_id": i["cf"], "locked": False}, None),
    ("create_custom_field_value", lambda i: {"project_id": 1, "custom_field_id": i["cf"], "name": "One"}, lambda s, i: i.update(cfv=s["ids"][0])),
    ("update_custom_field_value", lambda i: {"project_id": 1, "value_id": i["cfv"], "name": "Uno"}, None),
    ("delete_custom_field_value", lambda i: {"project_id": 1, "value_id": i["cfv"], "confirm": True}, None),
    ("remove_custom_field_from_project", lambda i: {"project_id": 1, "custom_field_id": i["cf"], "confirm": True}, None),
    ("set_custom_field_archived", lambda i: {"custom_field_id": i["cf"], "archived": True}, None),
    ("delete_custom_field", lambda i: {"custom_field_id": i["cf"], "confirm": True}, None),
    # What removes: results out of a launch, launches merged or deleted, a defect deleted.
    ("remove_test_cases_from_launch", lambda i: {"launch_id": i["closed"], "test_result_ids": [i["result"]], "confirm": True}, None),
    ("merge_launches", lambda i: {"source_launch_id": i["run"], "target_launch_id": i["launch"], "confirm": True}, None),
    ("delete_launch", lambda i: {"launch_id": i["manual_run"], "confirm": True}, None),
    ("delete_defect", lambda i: {"defect_id": i["new_defect"], "confirm": True}, None),
    ("close_launch", lambda i: {"launch_id": i["launch"]}, None),
    ("reopen_launch", lambda i: {"launch_id": i["launch"]}, None),
    ("delete_test_case", lambda i: {"test_case_id": i["new_tc"], "confirm": True}, None),
    ("allure_api_request", lambda i: {"method": "GET", "path": "/project", "query": {"size": "1"}}, None),
]


async def main() -> int:
    binary = sys.argv[1]
    # A directory for the attachment tools' local files, with one file to upload.
    files = tempfile.mkdtemp(prefix="allure-mcp-files-")
    with open(os.path.join(files, "note.txt"), "w") as f:
        f.write("uploaded by the outside client\n")
    params = StdioServerParameters(
        command=binary,
        args=["--demo", "--toolsets", "all"],
        env={"LOG_LEVEL": "warn", "ALLURE_FILES_DIR": files},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            info = attr(init, "server_info", "serverInfo")
            print(f"initialized: {info.name} {info.version}, protocol {attr(init, 'protocol_version', 'protocolVersion')}")
            names = {t.name for t in (await session.list_tools()).tools}
            planned = {p[0] for p in PLAN}
            print(f"tools/list: {len(names)} tools")
            if names - planned:
                print(f"FAIL: no planned call for {sorted(names - planned)}")
                return 1
            prompts = [p.name for p in (await session.list_prompts()).prompts]
            print(f"prompts/list: {prompts}")
            ids, failures = {}, 0
            for name, args_of, remember in PLAN:
                if name not in names:
                    print(f"FAIL: {name} is not listed")
                    failures += 1
                    continue
                args = args_of(ids)
                result = await session.call_tool(name, args)
                is_error = attr(result, "is_error", "isError")
                first = result.content[0].text.splitlines()[0] if result.content else ""
                print(f"  {'ERROR' if is_error else 'ok   '} {name}: {first[:90]}")
                if is_error:
                    failures += 1
                elif remember:
                    remember(attr(result, "structured_content", "structuredContent"), ids)
            if failures:
                print(f"FAIL: {failures} tool call(s) failed")
                return 1
    print(f"outside client: all {len(PLAN)} tools called successfully")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
