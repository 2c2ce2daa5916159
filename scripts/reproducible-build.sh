#!/usr/bin/env bash
# Builds the release binary twice, from copies of the tree in two different directories,
# and compares the hashes. No build path may end up in the binary (checked below), the
# release profile strips symbols, and nothing else from the build machine goes in.
# The Nix-side equivalent is `nix build .#default --rebuild`.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
hashes=()
for n in 1 2; do
  dir="$work/tree-$n-$RANDOM"
  mkdir -p "$dir"
  git -C "$src" ls-files -z | (cd "$src" && xargs -0 cp --parents -t "$dir")
  (
    cd "$dir"
    # The same flags in both builds: Cargo hashes RUSTFLAGS into every crate's metadata, so
    # a per-directory remap would itself make the builds differ. Cargo already hands our
    # own sources to rustc as relative paths; only the registry's absolute path is mapped.
    export RUSTFLAGS="--remap-path-prefix=$cargo_home=/cargo"
    export CARGO_TARGET_DIR="$dir/target" SOURCE_DATE_EPOCH=0
    cargo build --locked --release --bin allure-mcp --quiet
  )
  hashes+=("$(sha256sum "$dir/target/release/allure-mcp" | cut -d' ' -f1)")
  echo "build $n in $dir: ${hashes[-1]}"
  # Only the binary is kept: a release target is about a gigabyte, and CI machines may
  # have little disk to spare.
  mv "$dir/target/release/allure-mcp" "$dir/allure-mcp"
  rm -rf "$dir/target"
done
if [ "${hashes[0]}" != "${hashes[1]}" ]; then
  echo "NOT reproducible: the two builds differ" >&2
  exit 1
fi
if strings "$work"/tree-1-*/allure-mcp | grep -q "$work"; then
  echo "NOT reproducible: the build directory is in the binary" >&2
  exit 1
fi
echo "reproducible: both builds are ${hashes[0]}"
# Where the caller names one, copy the binary out for further checks.
if [ -n "${RELEASE_BIN_OUT:-}" ]; then
  cp "$(ls -d "$work"/tree-1-*)/allure-mcp" "$RELEASE_BIN_OUT"
fi
