#!/usr/bin/env python3
"""Write the compact index of every Allure TestOps API operation that
`search_api_operations` searches (src/tools/data/api-operations.tsv).

Usage: python3 scripts/api-operations-index.py [FULL_DESCRIPTION [OUTPUT]]

FULL_DESCRIPTION defaults to ../shared/allure-api/openapi-26.1.1.json beside the
repository root. One line per operation, tab-separated:

    METHOD  PATH(below /api)  TAG  SUMMARY  PARAMETERS  BODY  ANSWER

PARAMETERS is `name:in` with `!` for required (`in` is p, q or h), comma-separated,
plus `paged` when the operation takes page/size/sort. BODY is the request body's
schema name and its top-level fields (`*` required; nested objects by their schema
name), ANSWER the success status and schema name. Texts are cut, tabs and newlines
become spaces: the model reads this, so every byte counts. Deterministic (sorted by
path, then method). Standard library only.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SRC = os.path.join(ROOT, "..", "shared", "allure-api", "openapi-26.1.1.json")
OUT = os.path.join(ROOT, "src", "tools", "data", "api-operations.tsv")
METHODS = ["get", "post", "put", "patch", "delete"]
PAGING = {"page", "size", "sort"}


def ref_name(schema):
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for union in ("oneOf", "anyOf"):
        if union in schema:
            return "|".join(filter(None, (ref_name(s) for s in schema[union])))
    if schema.get("type") == "array":
        inner = ref_name(schema.get("items", {}))
        return f"{inner}[]" if inner else "array"
    return schema.get("type", "")


def resolve(spec, schema):
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 10:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        seen += 1
    return schema or {}


def fields(spec, schema):
    """Top-level fields of an object schema, allOf parents merged."""
    s = resolve(spec, schema)
    props, required = {}, set(s.get("required", []))
    for parent in s.get("allOf", []):
        p = resolve(spec, parent)
        props.update(p.get("properties", {}))
        required |= set(p.get("required", []))
    props.update(s.get("properties", {}))
    out = []
    for name in sorted(props):
        kind = ref_name(props[name]) or "any"
        if kind in ("string", "integer", "boolean", "number"):
            kind = {"string": "str", "integer": "int", "boolean": "bool", "number": "num"}[kind]
        out.append(f"{name}{'*' if name in required else ''}:{kind}")
    return out


def clean(text, limit):
    t = " ".join(str(text or "").split())
    return t if len(t) <= limit else t[: limit - 1] + "…"


def line(spec, path, method, op):
    params, paged = [], False
    for p in op.get("parameters", []):
        p = resolve(spec, p)
        if p.get("in") == "query" and p.get("name") in PAGING:
            paged = True
            continue
        if p.get("in") == "header":
            continue
        params.append(f"{p['name']}:{p['in'][0]}{'!' if p.get('required') else ''}")
    if paged:
        params.append("paged")
    body = ""
    content = op.get("requestBody", {}).get("content", {})
    for media, c in sorted(content.items()):
        schema = c.get("schema", {})
        name = ref_name(schema) or media
        fs = fields(spec, schema) if resolve(spec, schema).get("type", "object") == "object" else []
        body = f"{name}{{{', '.join(fs)}}}" if fs else name
        if media != "application/json":
            body += f" ({media})"
        break
    answer = ""
    for code in sorted(op.get("responses", {})):
        if code.startswith("2"):
            r = op["responses"][code]
            schema = next(iter(r.get("content", {}).values()), {}).get("schema", {})
            answer = f"{code} {ref_name(schema)}".strip()
            break
    tag = (op.get("tags") or [""])[0].removesuffix("-controller")
    return "\t".join([
        method.upper(),
        path.removeprefix("/api"),
        tag,
        clean(op.get("summary") or op.get("operationId"), 80),
        ",".join(params),
        clean(body, 400),
        answer,
    ])


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else SRC
    out = sys.argv[2] if len(sys.argv) > 2 else OUT
    spec = json.load(open(src))
    lines = []
    for path in sorted(spec["paths"]):
        for method in METHODS:
            op = spec["paths"][path].get(method)
            if op:
                lines.append(line(spec, path, method, op))
    with open(out, "w") as f:
        f.write("# Allure TestOps 26.1.1 API operations, written by scripts/api-operations-index.py\n")
        f.write("\n".join(lines) + "\n")
    print(f"wrote {out}: {len(lines)} operations, {os.path.getsize(out)} bytes")


main()
