#!/usr/bin/env bash
# BENCHMARKS.md must describe the code as it is: it records the hash of the sources it
# measured, and any change to them since means the figures must be measured again
# (`bash bench/run.sh`, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
recorded=$(sed -n 's/.*<!-- measured sources: \([0-9a-f]*\) .*/\1/p' BENCHMARKS.md)
current=$(bash bench/sources-hash.sh)
if [ -z "$recorded" ]; then
  echo "BENCHMARKS.md records no measured-sources hash; run bash bench/run.sh" >&2
  exit 1
fi
if [ "$recorded" != "$current" ]; then
  echo "BENCHMARKS.md measured sources $recorded, but they are now $current: the measured code changed; run bash bench/run.sh (as root) and commit BENCHMARKS.md" >&2
  exit 1
fi
echo "BENCHMARKS.md is current (sources $current)"
