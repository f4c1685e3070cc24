#!/usr/bin/env bash
# Test the Rust binding against a C build directory without installing it:
#   bindings/rust/run-tests.sh [BUILD_DIR]   (default: ../../build from here)
# Runs `cargo test`, the async-book example and `cargo doc` (warnings are
# errors); exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-$here/../../build}"
if [[ ! -f "$build/libtimefuture.so" ]]; then
    echo "run-tests.sh: no libtimefuture.so in '$build'; build the C library first" >&2
    exit 2
fi
build="$(cd "$build" && pwd)"

# What build.rs reads (the env-var route, so nothing needs installing).
export TIMEFUTURE_BUILD_DIR="$build"
export TIMEFUTURE_INCLUDE_DIR="$here/../../include"
# Keep Cargo's output inside the crate whatever the caller's environment says.
export CARGO_TARGET_DIR="$here/target"
# Doctests are linked by rustdoc, which gets no rpath from build.rs.
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

cd "$here"
cargo test --offline

# The async book's example must print its two lines, in order.
output="$(cargo run --offline --quiet --example timer)"
expected=$'howdy!\ndone!'
if [[ "$output" != "$expected" ]]; then
    printf 'run-tests.sh: examples/timer printed %q, expected %q\n' "$output" "$expected" >&2
    exit 1
fi
echo "examples/timer: ok"

RUSTDOCFLAGS="-D warnings" cargo doc --offline --no-deps
echo "run-tests.sh: all Rust checks passed"
