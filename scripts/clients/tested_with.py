"""Turn scripts/clients.sh's results.jsonl into README.md's "tested with" table.

Usage: python3 scripts/clients/tested_with.py RESULTS.jsonl [--check README.md | --update README.md]
Prints the markdown table (Client | Version | Transport | Result), one row per client, version
and transport, sorted; a row passes only if every run of it passed. --check exits non-zero if
README.md's section between the markers differs (printing a diff and the command to update it);
--update rewrites that section. Both fail if the markers are missing.
"""

import difflib
import json
import re
import sys

START, END = "<!-- tested-with:start -->", "<!-- tested-with:end -->"
TRANSPORTS = ["stdio", "Streamable HTTP", "SSE", "Streamable HTTP over HTTPS", "SSE over HTTPS"]


def version_key(v):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-+]", v)]


def table(path):
    rows = {}
    with open(path) as f:
        for line in filter(str.strip, f):
            r = json.loads(line)
            key = (r["client"], r["version"], r["transport"])
            rows[key] = "fail" if rows.get(key) == "fail" else r["result"]
    order = sorted(rows, key=lambda k: (k[0], version_key(k[1]), TRANSPORTS.index(k[2]) if k[2] in TRANSPORTS else 99, k[2]))
    lines = ["| Client | Version | Transport | Result |", "| --- | --- | --- | --- |"]
    lines += [f"| {c} | {v} | {t} | {rows[(c, v, t)]} |" for c, v, t in order]
    return "\n".join(lines) + "\n"


def main():
    args = sys.argv[1:]
    if len(args) not in (1, 3) or (len(args) == 3 and args[1] not in ("--check", "--update")):
        sys.exit(__doc__)
    new = table(args[0])
    if len(args) == 1:
        print(new, end="")
        return 0
    mode, readme = args[1], args[2]
    text = open(readme).read()
    m = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), text, re.S)
    if not m:
        print(f"{readme} has no section between {START} and {END}: add both markers, each on its own line")
        return 1
    if mode == "--update":
        with open(readme, "w") as f:
            f.write(text[: m.start(1)] + new + text[m.end(1):])
        return 0
    if m.group(1) == new:
        return 0
    sys.stdout.writelines(difflib.unified_diff(m.group(1).splitlines(True), new.splitlines(True), readme, "clients.sh results"))
    print(f"{readme}'s tested-with table is out of date; update it with:\n  python3 {sys.argv[0]} {args[0]} --update {readme}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
