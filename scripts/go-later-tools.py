"""Writes tests/data/go-server-later-tools.txt: the tool names the Go server we replace added
after v1.0, one per line, from ../shared/seed/go-server-later-tools.md (its docs, as the seed
lists them; `bulk_add/remove_x` is two names). tests/it/migration.rs checks README.md's
migration table against this list, so the table covers every name and names only real tools.

Usage: python3 scripts/go-later-tools.py [SEED.md]  (run from the repository root)
"""

import re
import sys

seed = sys.argv[1] if len(sys.argv) > 1 else "../shared/seed/go-server-later-tools.md"
text = open(seed).read().split("Features around the tools")[0]
names = []
for m in re.finditer(r"`([a-z_/]+)`", text):
    n = m.group(1)
    if n.startswith("/"):
        continue  # an API path, not a tool
    if "/" in n:
        first, second = n.split("/", 1)
        prefix, verb = first.rsplit("_", 1)
        other, rest = second.split("_", 1)
        candidates = [f"{prefix}_{verb}_{rest}", f"{prefix}_{other}_{rest}"]
    else:
        candidates = [n]
    for c in candidates:
        if re.fullmatch(r"[a-z]+(_[a-z]+)+", c) and c not in names:
            names.append(c)
with open("tests/data/go-server-later-tools.txt", "w") as f:
    f.write("# The Go server's tool names after v1.0 (scripts/go-later-tools.py); README.md maps each.\n")
    f.write("\n".join(names) + "\n")
print(f"{len(names)} names")
