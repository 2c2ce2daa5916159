#!/usr/bin/env bash
# `checks.clippy` and the test suite as `checks.nextest` run them in the Nix build
# sandbox, as far as this machine can: only the files of
# the package's source fileset (read from nix/package.nix, so the two cannot drift), no
# network but loopback (`unshare -n`), no `CI` nor any other variable of ours, a HOME
# that does not exist, and none of the system tools the ignored tests use (systemd, nix,
# curl, python, node): only the Rust and C toolchains and basic utilities. A test that
# needs more must be #[ignore]d with its reason, which nextest reports as skipped.
# Two differences remain: crane builds the tests with the release profile (fat LTO, which
# takes minutes more on two cores; here the dev profile), and as an unprivileged build
# user (here root, whose tests that need root are #[ignore]d all the same).
# Needs root (unshare). Usage: scripts/sandbox-tests.sh [TEST FILTER…]   (CARGO_TARGET_DIR may be set)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The fileset: every `(root + "/path")` of nix/package.nix.
mkdir -p "$work/src"
paths=$(grep -o 'root + "/[^"]*"' "$root/nix/package.nix" | sed 's|.*"/\(.*\)"|\1|')
[ -n "$paths" ] || { echo "no fileset found in nix/package.nix" >&2; exit 1; }
for p in $paths; do
  (cd "$root" && git ls-files -z -- "$p" | xargs -0 -r cp --parents -t "$work/src")
done
echo "sandbox source: $(echo $paths | tr '\n' ' ')($(find "$work/src" -type f | wc -l) files)"

# The tools: what a crane build has (stdenv), linked into one directory.
mkdir -p "$work/bin"
sysroot="$(rustc --print sysroot)"
for t in cargo rustc rustdoc cargo-clippy clippy-driver; do ln -s "$sysroot/bin/$t" "$work/bin/$t"; done
for t in cargo-nextest cc gcc c++ g++ ld as ar ranlib strip sh bash env cat cp mv rm ln mkdir \
  rmdir ls chmod touch sed grep awk head tail tr sort uniq wc cut find xargs dirname basename \
  readlink realpath mktemp uname id date sleep true false test expr diff cmp tee; do
  if p="$(command -v "$t")"; then ln -s "$p" "$work/bin/$t"; fi
done

target="${CARGO_TARGET_DIR:-$root/target}"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
runner=(cargo test --locked --offline --workspace)
[ -e "$work/bin/cargo-nextest" ] && runner=(cargo nextest run --locked --offline --workspace --no-fail-fast)
cd "$work/src"
sandboxed() { # Loopback up (the Nix sandbox has it), nothing else.
  unshare -n -- sh -c 'ip link set lo up && exec "$@"' sh \
    env -i PATH="$work/bin" HOME=/homeless-shelter TMPDIR="$work" CARGO_HOME="$cargo_home" \
    CARGO_TARGET_DIR="$target" CARGO_INCREMENTAL=0 CARGO_TERM_COLOR=never \
    RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" RUSTUP_TOOLCHAIN="$(basename "$sysroot")" "$@"
}
# checks.clippy first: it reads the fileset's clippy.toml too.
[ $# -gt 0 ] || sandboxed cargo clippy --locked --offline --workspace --all-targets -- -D warnings
sandboxed "${runner[@]}" "$@"
