#!/usr/bin/env bash
# The hash of what BENCHMARKS.md measured: the committed sources of the server, the fake,
# the build settings and the harness (git's blob ids, so any clone gives the same hash).
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files -s -- src crates Cargo.toml Cargo.lock bench | sha256sum | cut -c1-16
