#!/usr/bin/env python3
"""Cut the Allure TestOps OpenAPI description down to what allure-mcp calls.

Usage: python3 scripts/allure-openapi-extract.py [--keep-oneof] [--open] [FULL_DESCRIPTION [OUTPUT]]

FULL_DESCRIPTION defaults to ../shared/allure-api/openapi-26.1.1.json beside the
repository root; OUTPUT to tests/data/allure-openapi-26.1.1.json in the repository.

Writes a small, valid OpenAPI document holding only the operations in CALLS
(matched to the description's path templates), the path-level parameters of their
paths, and the transitive closure of the components they reference. Texts
(description, summary, example, examples) are left out, except the description a
Response Object must have. The output is deterministic (sorted keys, indent 1).

Every call in CALLS that has no operation in the description is printed on
stderr; that is not an error (the token exchange is known not to be described).

Eight departures from the source, all recorded in info.x-departures:
- every `oneOf` becomes `anyOf`. The description's unions (step kinds, attachment
  kinds, page-or-item answers) are discriminated only by a `discriminator` without
  `mapping`, which a JSON Schema validator such as Prism's ignores; the alternatives
  overlap (all their fields are optional), so a plain oneOf rejects valid answers
  ("must match exactly one schema in oneOf", e.g. any body step, or an empty page
  of GET /api/launch). anyOf still checks each alternative's field types, but
  weakly: an answer that fails its own alternative may pass as another one.
  --keep-oneof keeps oneOf (for a stricter look, not for a test suite).
- the token exchange POST /api/uaa/oauth/token, which the description leaves out,
  is added from TOKEN_OPERATION (marked x-not-in-source), so that `prism proxy
  --errors` forwards it instead of answering 404 and `prism mock` can serve it.
- each JSON response declared only as `*/*` is also declared as application/json
  with the same schema (see add_json_media): Prism's mock cannot answer otherwise.
- a string schema's non-string `default` (0 on `offset`, type string) becomes a
  string ("0"): strict OpenAPI 3.1 validators reject the document otherwise.
- GET /api/job: `externalId` is not required. The description marks it required,
  but the operation is two Spring handlers merged into one: its summary is "Find job
  by given project and external id" while its answer is `oneOf JobDto | PageJobDto`,
  the page being the list of a project's jobs by `projectId` alone (the reference
  notes: "Jobs of a project: GET /api/job?projectId="). See docs/allure-api.md.
- GET /api/account/me: the `csrfToken` query parameter is left out. The description
  marks it required, but it is Spring's `CsrfToken` handler argument, which springdoc
  lists as a parameter; a bearer-token client never sends it (n8n's Allure node calls
  plain `GET /api/account/me`). See docs/allure-api.md.
- a multipart property that is an array of binary strings (POST
  /api/testcase/attachment's `file`) also takes a single string: in multipart an
  array is the field repeated, Prism reads a single part as a string, and Spring
  binds one part to `MultipartFile[]` all the same.
- every object schema with named properties is closed (`additionalProperties:
  false`), its `allOf` parents merged into it first: a field the description does not
  name, in a request the client sends or in an answer the fake gives, is then a
  violation (a misspelled field would pass an open schema). Prism's validator does not
  support `unevaluatedProperties`, and `additionalProperties: false` beside `allOf`
  would reject the inherited fields, hence the merge. --open leaves them open.
Standard library only.
"""

import json
import os
import re
import sys

# Every request the client sends: (method, path as the Rust code builds it, with
# the "/api" prefix the client adds, where). Placeholders in braces match any
# template variable. The raw tool (src/tools/raw.rs) sends arbitrary paths and is
# not listed. src/tools/errors.rs `below` reads an entity's own route (GET of
# /project/{id}, /launch/{id}, /testresult/{id}, /testcase/{id}, /testplan/{id},
# /defect/{id}, /job/{id}, /jobrun/{id}) after a failed call.
CALLS = [
    ("POST", "/api/uaa/oauth/token", "src/allure/auth.rs token exchange"),
    ("GET", "/api/account/me", "src/tools/people.rs whoami"),
    ("GET", "/api/analytic/{pid}/launch_duration_histogram", "src/tools/analytics.rs"),
    ("GET", "/api/analytic/{pid}/tc_success_rate", "src/tools/analytics.rs"),
    ("GET", "/api/defect", "src/tools/defects.rs"),
    ("POST", "/api/defect", "src/tools/defects.rs"),
    ("GET", "/api/defect/{id}", "src/tools/defects.rs"),
    ("GET", "/api/defect/{id}/testresult", "src/tools/defects.rs"),
    ("PATCH", "/api/defect/{id}", "src/tools/defect_links.rs update_defect"),
    ("POST", "/api/defect/{id}/issue", "src/tools/defect_links.rs link_defect_issue"),
    ("DELETE", "/api/defect/{id}/issue", "src/tools/defect_links.rs unlink_defect_issue"),
    ("GET", "/api/defect/{id}/matcher", "src/tools/defect_links.rs list_defect_matchers"),
    ("POST", "/api/defect/matcher", "src/tools/defect_links.rs add_defect_matcher"),
    ("POST", "/api/launch/{id}/defect/apply", "src/tools/defect_links.rs apply_defect_matchers"),
    ("GET", "/api/integration/project/{id}", "src/tools/defect_links.rs link_defect_issue"),
    ("PATCH", "/api/launch/{id}", "src/tools/launch_admin.rs update_launch"),
    ("DELETE", "/api/launch/{id}", "src/tools/launch_admin.rs delete_launch"),
    ("POST", "/api/launch/{id}/copy", "src/tools/launch_admin.rs copy_launch"),
    ("POST", "/api/launch/merge", "src/tools/launch_admin.rs merge_launches"),
    ("GET", "/api/launch/{id}/env", "src/tools/launch_admin.rs get_launch_environment"),
    ("GET", "/api/launch/{id}/defect", "src/tools/launch_admin.rs get_launch_defects"),
    ("DELETE", "/api/defect/{id}", "src/tools/defects.rs delete_defect"),
    ("GET", "/api/role", "src/tools/testcase_admin.rs add_test_case_members"),
    ("GET", "/api/testcase/{id}/overview", "src/tools/testcase_admin.rs"),
    ("GET", "/api/testcase/{id}/members", "src/tools/testcase_admin.rs"),
    ("POST", "/api/testcase/{id}/members", "src/tools/testcase_admin.rs"),
    ("POST", "/api/testcase/{id}/issue", "src/tools/testcase_admin.rs set_test_case_issues"),
    ("GET", "/api/testcase/{id}/defect", "src/tools/testcase_admin.rs get_test_case_defects"),
    ("POST", "/api/testcase/{id}/defect/{d}", "src/tools/testcase_admin.rs add_test_case_defect"),
    ("DELETE", "/api/testcase/{id}/defect/{d}", "src/tools/testcase_admin.rs remove_test_case_defect"),
    ("POST", "/api/testcase/{id}/clone", "src/tools/testcase_history.rs clone_test_case"),
    ("POST", "/api/testcase/{id}/restore", "src/tools/testcase_history.rs restore_test_case"),
    ("GET", "/api/testcase/deleted", "src/tools/testcase_history.rs"),
    ("GET", "/api/testcase/muted", "src/tools/testcase_history.rs"),
    ("GET", "/api/testcase/{id}/version", "src/tools/testcase_history.rs"),
    ("POST", "/api/testcase/{id}/version", "src/tools/testcase_history.rs"),
    ("POST", "/api/testcase/{id}/detachautomation", "src/tools/testcase_history.rs"),
    ("POST", "/api/v2/test-case/bulk/member/add", "src/tools/testcase_bulk_links.rs"),
    ("POST", "/api/v2/test-case/bulk/external-link/add", "src/tools/testcase_bulk_links.rs"),
    ("POST", "/api/v2/test-case/bulk/issue/add", "src/tools/testcase_bulk_links.rs"),
    ("POST", "/api/v2/test-case/bulk/clone", "src/tools/testcase_bulk_links.rs"),
    ("POST", "/api/v2/test-case/bulk/move", "src/tools/testcase_bulk_links.rs"),
    ("POST", "/api/v2/test-case/bulk/run/new", "src/tools/testcase_bulk_links.rs bulk_run_test_cases_new_launch"),
    ("POST", "/api/cf", "src/tools/cf_admin.rs create_custom_field"),
    ("GET", "/api/cf/{id}", "src/tools/cf_admin.rs"),
    ("PATCH", "/api/cf/{id}", "src/tools/cf_admin.rs update_custom_field"),
    ("DELETE", "/api/cf/{id}", "src/tools/cf_admin.rs delete_custom_field"),
    ("POST", "/api/cf/{id}/archived", "src/tools/cf_admin.rs set_custom_field_archived"),
    ("POST", "/api/cfbulk/add-to-projects", "src/tools/cf_admin.rs add_custom_fields_to_project"),
    ("DELETE", "/api/cfproject/remove", "src/tools/cf_admin.rs remove_custom_field_from_project"),
    ("PATCH", "/api/project/{pid}/cf/{cf}", "src/tools/cf_admin.rs update_project_custom_field"),
    ("POST", "/api/project/{pid}/cfv", "src/tools/cf_admin.rs create_custom_field_value"),
    ("PATCH", "/api/project/{pid}/cfv/{id}", "src/tools/cf_admin.rs update_custom_field_value"),
    ("DELETE", "/api/project/{pid}/cfv/{id}", "src/tools/cf_admin.rs delete_custom_field_value"),
    ("GET", "/api/testcase/attachment", "src/tools/case_files.rs"),
    ("POST", "/api/testcase/attachment", "src/tools/case_files.rs upload_test_case_attachment"),
    ("DELETE", "/api/testcase/attachment/{id}", "src/tools/case_files.rs"),
    ("GET", "/api/testcase/attachment/{id}/content", "src/tools/case_files.rs"),
    ("POST", "/api/testcase/{id}/testkey", "src/tools/case_links.rs set_test_case_keys"),
    ("GET", "/api/testcase/{id}/relation", "src/tools/case_links.rs"),
    ("POST", "/api/testcase/{id}/relation", "src/tools/case_links.rs"),
    ("GET", "/api/testcase/{id}/example", "src/tools/case_links.rs"),
    ("POST", "/api/testcase/{id}/example", "src/tools/case_links.rs"),
    ("GET", "/api/testcase/audit", "src/tools/case_links.rs get_test_case_audit"),
    ("GET", "/api/testcase/version/{id}/data", "src/tools/testcase_history.rs get_test_case_version_data"),
    ("POST", "/api/testcase/version/{id}/restore", "src/tools/testcase_history.rs restore_test_case_version"),
    ("DELETE", "/api/testcase/version/{id}", "src/tools/testcase_history.rs delete_test_case_version"),
    ("POST", "/api/tag", "src/tools/case_links.rs create_test_tag"),
    ("POST", "/api/testresult/bulk/hide", "src/tools/launch_admin.rs remove_test_cases_from_launch"),
    ("DELETE", "/api/testresult/{id}", "src/tools/launch_admin.rs remove_test_cases_from_launch"),
    ("GET", "/api/v2/tree", "src/tools/trees.rs list_test_case_trees"),
    ("GET", "/api/v2/project/{pid}/test-case/tree/tree-node", "src/tools/trees.rs browse_test_case_tree"),
    ("POST", "/api/v2/project/{pid}/test-case/tree/group", "src/tools/trees.rs create_test_case_folder"),
    ("PUT", "/api/v2/project/{pid}/test-case/tree/group/{id}/name", "src/tools/trees.rs rename_test_case_folder"),
    ("DELETE", "/api/v2/project/{pid}/test-case/tree/group/{id}", "src/tools/trees.rs delete_test_case_folder"),
    ("POST", "/api/v2/test-case/tree/bulk/drag-and-drop", "src/tools/trees.rs move_test_cases_to_folder"),
    ("GET", "/api/ev", "src/tools/runs.rs env_sets"),
    ("GET", "/api/evv", "src/tools/runs.rs env_sets"),
    ("GET", "/api/job", "src/tools/runs.rs"),
    ("POST", "/api/job/{job}/run", "src/tools/runs.rs"),
    ("GET", "/api/job/{id}", "src/tools/errors.rs below: reads the entity's own route"),
    ("GET", "/api/jobrun/{id}", "src/tools/runs.rs"),
    ("POST", "/api/jobrun/{id}/rerun", "src/tools/runs.rs"),
    ("GET", "/api/launch", "src/tools/launches.rs analytics.rs lookups.rs"),
    ("POST", "/api/launch", "src/tools/runs.rs"),
    ("GET", "/api/launch/__search", "src/tools/aql.rs"),
    ("GET", "/api/launch/query/validate", "src/tools/aql.rs validate_aql"),
    ("GET", "/api/launch/{id}", "src/tools/lookups.rs launches.rs runs.rs"),
    ("POST", "/api/launch/{id}/close", "src/tools/launches.rs post_empty"),
    ("GET", "/api/launch/{id}/job", "src/tools/lookups.rs"),
    ("GET", "/api/launch/{id}/progress", "src/tools/launches.rs"),
    ("POST", "/api/launch/{id}/reopen", "src/tools/launches.rs post_empty"),
    ("GET", "/api/launch/{id}/statistic", "src/tools/lookups.rs launches.rs"),
    ("POST", "/api/launch/{id}/testplan/add", "src/tools/launches.rs"),
    ("GET", "/api/permission", "src/check.rs rights"),
    ("GET", "/api/project", "src/tools/projects.rs app.rs prompts.rs transport/http/readiness.rs"),
    ("GET", "/api/project/{id}", "src/tools/projects.rs check.rs"),
    ("GET", "/api/project/{id}/stats", "src/tools/projects.rs"),
    ("GET", "/api/project/{id}/cf", "src/tools/custom_fields.rs"),
    ("GET", "/api/project/{id}/cfv", "src/tools/custom_fields.rs"),
    ("POST", "/api/v2/test-case/bulk/cfv", "src/tools/custom_fields.rs"),
    ("GET", "/api/testlayer", "src/tools/custom_fields.rs layer_id"),
    ("POST", "/api/v2/test-case/bulk/cfv/add", "src/tools/custom_fields.rs"),
    ("POST", "/api/v2/test-case/bulk/cfv/remove", "src/tools/custom_fields.rs"),
    ("GET", "/api/testcase", "src/tools/testcases.rs"),
    ("POST", "/api/testcase", "src/tools/testcases.rs"),
    ("GET", "/api/testcase/__search", "src/tools/aql.rs testcase_bulk.rs"),
    ("GET", "/api/testcase/query/validate", "src/tools/aql.rs validate_aql"),
    ("GET", "/api/testcase/{id}", "src/tools/testcases.rs runs.rs"),
    ("PATCH", "/api/testcase/{id}", "src/tools/testcases.rs"),
    ("DELETE", "/api/testcase/{id}", "src/tools/testcases.rs"),
    ("GET", "/api/testcase/{id}/step", "src/tools/testcases.rs scenario.rs"),
    ("GET", "/api/testcase/{id}/history", "src/tools/history.rs get_test_case_history"),
    ("POST", "/api/testcase/step", "src/tools/scenario.rs write_steps"),
    ("DELETE", "/api/testcase/{id}/scenario", "src/tools/scenario.rs replace_steps"),
    ("GET", "/api/testplan", "src/tools/plans.rs"),
    ("POST", "/api/testplan", "src/tools/plans.rs bulk_create_test_plan"),
    ("GET", "/api/testplan/{id}", "src/tools/plans.rs"),
    ("PATCH", "/api/testplan/{id}", "src/tools/plans.rs update_test_plan"),
    ("DELETE", "/api/testplan/{id}", "src/tools/plans.rs delete_test_plan"),
    ("GET", "/api/testplan/{id}/tree/leaf", "src/tools/plans.rs list_test_plan_test_cases"),
    ("POST", "/api/testplan/{plan}/run", "src/tools/runs.rs"),
    ("GET", "/api/testresult", "src/tools/results.rs lookups.rs"),
    ("GET", "/api/testresult/__search", "src/tools/aql.rs results.rs launches.rs"),
    ("GET", "/api/testresult/attachment", "src/tools/steps.rs"),
    ("GET", "/api/testresult/attachment/{id}/content", "src/tools/steps.rs send_head"),
    ("POST", "/api/testresult/bulk/assign", "src/tools/results.rs"),
    ("POST", "/api/testresult/bulk/mute", "src/tools/results.rs"),
    ("POST", "/api/v2/test-result/bulk/resolve", "src/tools/results.rs"),
    ("POST", "/api/testresult/bulk/unmute", "src/tools/results.rs"),
    ("GET", "/api/testresult/query/validate", "src/tools/aql.rs validate_aql"),
    ("GET", "/api/testresult/{id}", "src/tools/results.rs defects.rs"),
    ("POST", "/api/testresult/{id}/assign", "src/tools/results.rs"),
    ("POST", "/api/testresult/{id}/defect/{defect}", "src/tools/defects.rs"),
    ("GET", "/api/testresult/{id}/execution", "src/tools/steps.rs"),
    ("GET", "/api/testresult/{id}/history", "src/tools/history.rs"),
    ("GET", "/api/user/suggest", "src/tools/people.rs"),
    ("POST", "/api/testresult/{id}/mute", "src/tools/results.rs"),
    ("POST", "/api/v2/test-case/bulk/run/existing", "src/tools/launches.rs runs.rs"),
    ("POST", "/api/v2/test-case/bulk/status/set", "src/tools/testcase_bulk.rs"),
    ("POST", "/api/v2/test-case/bulk/tag/add", "src/tools/testcase_bulk.rs"),
    ("POST", "/api/v2/test-case/bulk/tag/remove", "src/tools/testcase_bulk.rs"),
]

# The token exchange as the client does it (src/allure/auth.rs) and as the
# reference notes describe it; the description has no such operation.
TOKEN_PATH = "/api/uaa/oauth/token"
TOKEN_OPERATION = {
    "post": {
        "operationId": "exchangeApiToken",
        "x-not-in-source": True,
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type", "token"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["apitoken"]},
                            "scope": {"type": "string"},
                            "token": {"type": "string"},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["access_token"],
                            "properties": {
                                "access_token": {"type": "string"},
                                "token_type": {"type": "string"},
                                "expires_in": {"type": "integer", "format": "int64", "minimum": 1},
                                "scope": {"type": "string"},
                                "jti": {"type": "string"},
                            },
                        }
                    }
                },
            }
        },
    }
}

SOURCE_VERSION = "26.1.1"
GENERATOR = "scripts/allure-openapi-extract.py"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Texts left out. A Response Object keeps its (required) description.
DROP = {"description", "summary", "example", "examples", "externalDocs"}
# Values kept as they are (data, not description objects).
VERBATIM = {"default", "enum", "const"}
# Objects whose keys are names chosen by the author, not OpenAPI/JSON Schema keywords.
NAME_MAPS = {
    "properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
    "responses", "content", "headers", "encoding", "links", "callbacks",
    "schemas", "parameters", "requestBodies", "securitySchemes", "pathItems",
    "mapping", "variables", "paths", "components",
}


def segments_match(call, template):
    a, b = call.strip("/").split("/"), template.strip("/").split("/")
    if len(a) != len(b):
        return False
    var = re.compile(r"^\{[^/{}]+\}$")
    return all((var.match(x) and var.match(y)) or x == y for x, y in zip(a, b))


def strip(node, role=None):
    """A copy of node without texts. role: 'names' for a map of names,
    'response' for a Response Object, None for anything else."""
    if isinstance(node, list):
        return [strip(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if role not in ("names",) and k in DROP and not (role == "response" and k == "description"):
            continue
        if role != "names" and k in VERBATIM:
            out[k] = v
            continue
        if role == "names":
            child = None
        elif k == "responses":
            child = "responses"
        elif k in NAME_MAPS and isinstance(v, dict):
            child = "names"
        else:
            child = None
        if child == "responses":
            out[k] = {code: strip(r, "response") for code, r in v.items()}
        else:
            out[k] = strip(v, child)
    return out


def one_of_to_any_of(node):
    if isinstance(node, list):
        return [one_of_to_any_of(v) for v in node]
    if not isinstance(node, dict):
        return node
    return {("anyOf" if k == "oneOf" else k): one_of_to_any_of(v) for k, v in node.items()}


def fix_defaults(node, fixed):
    """A string schema's non-string default (`offset` of the analytic endpoints has
    default 0 on type string, format byte) made a string, so strict validators
    accept the document."""
    if isinstance(node, list):
        for v in node:
            fix_defaults(v, fixed)
    elif isinstance(node, dict):
        if node.get("type") == "string" and "default" in node and not isinstance(node["default"], str):
            node["default"] = json.dumps(node["default"])
            fixed.append(node)
        for v in node.values():
            fix_defaults(v, fixed)


def single_file_parts(paths):
    """A multipart property that is an array of binary strings (`file: string[]`) also
    takes one string: in multipart an array is the field repeated, and Prism reads one
    part as a string, where Spring binds it to `MultipartFile[]` all the same."""
    relaxed = 0
    for item in paths.values():
        for method, op in item.items():
            if method not in METHODS:
                continue
            media = op.get("requestBody", {}).get("content", {}).get("multipart/form-data")
            props = (media or {}).get("schema", {}).get("properties", {})
            for name, prop in list(props.items()):
                if prop.get("type") == "array" and prop.get("items", {}).get("type") == "string":
                    props[name] = {"anyOf": [prop, prop["items"]]}
                    relaxed += 1
    return relaxed


def add_json_media(paths):
    """Beside each response's `*/*`, the same schema as application/json (for the
    attachment content too, whose schema is {}): Prism's mock answers
    406 to `Accept: application/json` (what the client sends) when only `*/*` is
    declared, and 500 NO_COMPLEX_OBJECT_TEXT to `Accept: */*`. Proxy validation is
    unchanged: an application/json answer is checked against the same schema."""
    added = 0
    for item in paths.values():
        for method, op in item.items():
            if method not in METHODS:
                continue
            for resp in op.get("responses", {}).values():
                content = resp.get("content", {})
                any_media = content.get("*/*")
                if any_media is None or "application/json" in content:
                    continue
                content["application/json"] = any_media
                added += 1
    return added


def merged(doc, schema):
    """`schema` with its `allOf` parts (and theirs) merged into one object schema."""
    parts = schema.get("allOf")
    if not parts:
        return schema
    out = {k: v for k, v in schema.items() if k != "allOf"}
    props = {}
    required = []
    for part in parts:
        part = resolve(doc, part["$ref"]) if "$ref" in part else part
        part = merged(doc, part)
        props.update(part.get("properties", {}))
        required += part.get("required", [])
    props.update(out.get("properties", {}))
    required += out.get("required", [])
    out["properties"] = props
    if required:
        out["required"] = sorted(set(required))
    out.setdefault("type", "object")
    return out


def close_objects(doc):
    """Merges `allOf` into each schema, then closes every object schema that names its
    properties and says nothing of others. Returns how many were closed."""
    closed = 0

    def walk(node):
        nonlocal closed
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        node = merged(doc, node)
        node = {k: walk(v) for k, v in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
            closed += 1
        return node

    doc["components"] = walk(doc["components"])
    doc["paths"] = walk(doc["paths"])
    return closed


def relax_merged_handlers(paths):
    """GET /api/job lists a project's jobs without `externalId` (see the module
    text); returns how many parameters were relaxed."""
    relaxed = 0
    for param in paths.get("/api/job", {}).get("get", {}).get("parameters", []):
        if param.get("name") == "externalId" and param.get("required"):
            param["required"] = False
            relaxed += 1
    return relaxed


def drop_spring_arguments(paths):
    """GET /api/account/me: `csrfToken` is Spring's CsrfToken handler argument, which
    springdoc lists as a required query parameter; no client sends it (see the module
    text). Returns how many parameters were dropped."""
    op = paths.get("/api/account/me", {}).get("get", {})
    params = op.get("parameters", [])
    kept = [p for p in params if p.get("name") != "csrfToken"]
    if len(kept) != len(params):
        if kept:
            op["parameters"] = kept
        else:
            op.pop("parameters", None)
    return len(params) - len(kept)


def count_key(node, key):
    if isinstance(node, list):
        return sum(count_key(v, key) for v in node)
    if isinstance(node, dict):
        return (key in node) + sum(count_key(v, key) for v in node.values())
    return 0


def refs(node, found):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str):
            found.add(r)
        for v in node.values():
            refs(v, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)


def resolve(doc, ref):
    if not ref.startswith("#/"):
        raise SystemExit(f"external $ref not supported: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    flags = {"--keep-oneof", "--open"}
    args = [a for a in sys.argv[1:] if a not in flags]
    keep_one_of = "--keep-oneof" in sys.argv[1:]
    keep_open = "--open" in sys.argv[1:]
    if any(a.startswith("--") for a in args) or len(args) > 2:
        raise SystemExit(__doc__)
    src = args[0] if args else os.path.join(
        root, "..", "shared", "allure-api", f"openapi-{SOURCE_VERSION}.json")
    dst = args[1] if len(args) > 1 else os.path.join(
        root, "tests", "data", f"allure-openapi-{SOURCE_VERSION}.json")
    with open(src, encoding="utf-8") as f:
        full = json.load(f)
    if full.get("info", {}).get("version") != SOURCE_VERSION:
        print(f"warning: {src} is version {full.get('info', {}).get('version')}, "
              f"not {SOURCE_VERSION}", file=sys.stderr)

    paths = {}
    missing = []
    for method, call, where in CALLS:
        m = method.lower()
        hits = [t for t, item in full["paths"].items()
                if m in item and segments_match(call, t)]
        if not hits:
            missing.append((method, call, where))
            continue
        # A literal segment beats a variable one (/launch/__search vs /launch/{id}).
        hits.sort(key=lambda t: sum(s.startswith("{") for s in t.split("/")))
        t = hits[0]
        item = full["paths"][t]
        out = paths.setdefault(t, {k: v for k, v in item.items() if k not in METHODS})
        out[m] = item[m]
    for method, call, where in missing:
        print(f"no operation in the description for {method} {call} ({where})"
              + ("; added from TOKEN_OPERATION" if call == TOKEN_PATH else ""),
              file=sys.stderr)

    kept = {"paths": paths}
    components = {}
    todo = set()
    refs(paths, todo)
    seen = set()
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        parts = ref[2:].split("/")
        if len(parts) != 3 or parts[0] != "components":
            raise SystemExit(f"unexpected $ref {ref}")
        target = resolve(full, ref)
        components.setdefault(parts[1], {})[parts[2]] = target
        refs(target, todo)

    commit = re.search(r"Commit \*\*([0-9a-f]{40})\*\*", full["info"].get("description", ""))
    info = {
        "title": full["info"].get("title", "Allure TestOps") + " (extract)",
        "version": SOURCE_VERSION,
        "description": f"Generated extract of the Allure TestOps {SOURCE_VERSION} OpenAPI "
                       f"description: only the operations allure-mcp calls and the "
                       f"components they reference, without texts. Do not edit; "
                       f"run {GENERATOR}.",
        "x-generated-by": GENERATOR,
        "x-source-version": SOURCE_VERSION,
    }
    if commit:
        info["x-source-commit"] = commit.group(1)
    one_ofs = count_key(paths, "oneOf") + count_key(components, "oneOf")
    info["x-departures"] = [] if keep_one_of else [
        f"oneOf replaced by anyOf ({one_ofs} places): discriminators without mapping"]
    info["x-departures"].append(
        f"{TOKEN_PATH} added by hand (x-not-in-source): not in the description")
    if "license" in full["info"]:
        info["license"] = full["info"]["license"]
    doc = {"openapi": full["openapi"], "info": info}
    if "servers" in full:
        doc["servers"] = full["servers"]
    relax = (lambda n: n) if keep_one_of else one_of_to_any_of
    doc["paths"] = relax(strip(kept["paths"], "names"))
    if TOKEN_PATH in doc["paths"]:
        raise SystemExit(f"{TOKEN_PATH} is described now: drop TOKEN_OPERATION")
    doc["paths"][TOKEN_PATH] = TOKEN_OPERATION
    doc["components"] = relax(strip(components, "names"))
    if single_file_parts(doc["paths"]):
        info["x-departures"].append(
            "multipart file arrays also take one part (Prism reads one part as a string; Spring binds it to an array)")
    added = add_json_media(doc["paths"])
    info["x-departures"].append(
        f"application/json declared beside */* ({added} responses): for Prism's mock")
    if relax_merged_handlers(doc["paths"]):
        info["x-departures"].append(
            "GET /api/job: externalId not required (two handlers merged; answer is oneOf JobDto | PageJobDto)")
    if drop_spring_arguments(doc["paths"]):
        info["x-departures"].append(
            "GET /api/account/me: csrfToken dropped (Spring's CsrfToken argument, not a client parameter)")
    fixed = []
    fix_defaults(doc["paths"], fixed)
    fix_defaults(doc["components"], fixed)
    if fixed:
        info["x-departures"].append(
            f"non-string default of a string schema made a string ({len(fixed)} places)")
    for key in ("security", "tags"):
        if key in full:
            doc[key] = full[key]

    if not keep_open:
        closed = close_objects(doc)
        info["x-departures"].append(
            f"object schemas closed (additionalProperties: false, allOf merged; {closed} schemas)")

    # Every $ref must resolve inside the extract.
    left = set()
    refs(doc, left)
    for ref in sorted(left):
        resolve(doc, ref)

    text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text)
    ops = sum(1 for item in doc["paths"].values() for k in item if k in METHODS)
    print(f"wrote {dst}: {ops} operations, {len(doc['paths'])} paths, "
          f"{sum(len(v) for v in components.values())} components, {len(text.encode())} bytes",
          file=sys.stderr)


if __name__ == "__main__":
    main()
