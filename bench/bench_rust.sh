#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the Rust binding's benchmark (bindings/rust/examples/bench.rs) in
# release mode against a C build directory and print its figures:
#   bench/bench_rust.sh [BUILD_DIR [TASKS [SLEEPS [ROUNDS]]]]   (default BUILD_DIR: build/)
# The task figures are medians of interleaved rounds, each beside the C
# API's figure from the same run (ratio), with peak RSS and /proc/loadavg;
# then the RSS before, at the peak of and after a burst of tasks made and
# run while one lives on (as bench_memory reports it for the C library).
# Use a Release build of the C library: a Debug one slows both sides.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
shift || true
if [[ ! -f "$build/libtimefuture.so" ]]; then
    echo "bench_rust.sh: no libtimefuture.so in '$build'; build the C library first" >&2
    exit 2
fi
export TIMEFUTURE_BUILD_DIR="$(cd "$build" && pwd)"
export TIMEFUTURE_INCLUDE_DIR="$root/include"
# Cargo output goes under the C build directory: never into the sources.
export CARGO_TARGET_DIR="$TIMEFUTURE_BUILD_DIR/rust/bench"

cargo build --offline --locked --release --quiet --example bench \
    --manifest-path "$root/bindings/rust/Cargo.toml"
"$CARGO_TARGET_DIR/release/examples/bench" "$@"
