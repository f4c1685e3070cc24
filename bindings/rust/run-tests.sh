#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Test the Rust binding against a C build directory without installing it:
#   bindings/rust/run-tests.sh [BUILD_DIR]   (default: ../../build from here)
#
# With every toolchain found - Debian's (/usr/bin/cargo with /usr/bin/rustc,
# the oldest the crate supports) and the cargo first on PATH when that is
# another one (e.g. rustup's) - it runs `cargo test`, the async-book example,
# `cargo doc` (warnings are errors) and a downstream crate that must start
# without LD_LIBRARY_PATH. Exits non-zero on any failure, and when no cargo
# exists at all.
#
# Everything cargo writes goes under BUILD_DIR/rust/; the source tree is only
# read (the committed Cargo.lock files are used as they are: --locked).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-$here/../../build}"
if [[ ! -f "$build/libtimefuture.so" ]]; then
    echo "run-tests.sh: no libtimefuture.so in '$build'; build the C library first" >&2
    exit 2
fi
build="$(cd "$build" && pwd)"
include="$(cd "$here/../../include" && pwd)"

# What build.rs reads (the env-var route, so nothing needs installing).
export TIMEFUTURE_BUILD_DIR="$build"
export TIMEFUTURE_INCLUDE_DIR="$include"

toolchains=()
if [[ -x /usr/bin/cargo && -x /usr/bin/rustc ]]; then
    toolchains+=(debian)
fi
path_cargo="$(command -v cargo || true)"
if [[ -n "$path_cargo" && "$(readlink -f "$path_cargo")" != "$(readlink -f /usr/bin/cargo)" ]]; then
    toolchains+=(path)
fi
if [[ ${#toolchains[@]} -eq 0 ]]; then
    echo "run-tests.sh: no cargo found: install Debian's rustc and cargo packages" >&2
    exit 1
fi

fail() {
    echo "run-tests.sh [$name]: $*" >&2
    exit 1
}

# The checks, for the toolchain the environment selects; runs in a subshell.
check_toolchain() {
    name="$1"
    local out="$build/rust/$name"
    mkdir -p "$out"
    cd "$here"
    echo "== Rust toolchain '$name': $(cargo --version), $(rustc --version)"

    # Doctests are linked by rustdoc, which gets no rpath from build.rs.
    CARGO_TARGET_DIR="$out/target" \
        LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        cargo test --offline --locked

    # The async book's example must print its two lines, in order.
    local output expected
    output="$(CARGO_TARGET_DIR="$out/target" cargo run --offline --locked --quiet --example timer)"
    expected=$'howdy!\ndone!'
    [[ "$output" == "$expected" ]] ||
        fail "$(printf 'examples/timer printed %q, expected %q' "$output" "$expected")"
    echo "examples/timer: ok"

    CARGO_TARGET_DIR="$out/target" RUSTDOCFLAGS="-D warnings" \
        cargo doc --offline --locked --no-deps

    # A dependent crate, run directly with the library outside the system
    # paths and no LD_LIBRARY_PATH: its rpath comes from its own build.rs
    # through DEP_TIMEFUTURE_LIBDIR.
    local downstream="$here/tests/downstream/Cargo.toml" bin="$out/downstream/debug"
    CARGO_TARGET_DIR="$out/downstream" cargo build --offline --locked --manifest-path "$downstream"
    output="$(env -u LD_LIBRARY_PATH "$bin/timefuture-downstream")" ||
        fail "the downstream program failed to start or run"
    [[ "$output" == "downstream: timer fired after 10 ms" ]] ||
        fail "$(printf 'the downstream program printed %q' "$output")"
    # It must have loaded this build, not an installed copy. (Read whole:
    # grep -q in a pipe would stop early and, with pipefail, fail on ldd's
    # broken pipe.)
    local loaded
    loaded="$(env -u LD_LIBRARY_PATH ldd "$bin/timefuture-downstream")"
    [[ "$loaded" == *"libtimefuture.so.1 => $build/libtimefuture.so.1 "* ]] ||
        fail "the downstream program does not load $build/libtimefuture.so.1: $loaded"
    # A dependent without the rpath still works under `cargo run`.
    output="$(env -u LD_LIBRARY_PATH CARGO_TARGET_DIR="$out/downstream" \
        cargo run --offline --locked --quiet --manifest-path "$downstream" --bin without-rpath)" ||
        fail "cargo run of the downstream program without rpath failed"
    [[ "$output" == "without-rpath: timer fired after 10 ms" ]] ||
        fail "$(printf 'the downstream program without rpath printed %q' "$output")"
    echo "downstream crate: ok"
}

for toolchain in "${toolchains[@]}"; do
    started=$SECONDS
    case "$toolchain" in
    debian)
        # Only Debian's tools: a rustup rustc first on PATH must not be used.
        (
            export PATH=/usr/bin:/bin RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
            check_toolchain debian
        )
        ;;
    path)
        (check_toolchain path)
        ;;
    esac
    # What each toolchain adds to the test run (CI time).
    echo "== Rust toolchain '$toolchain': all checks passed in $((SECONDS - started)) s"
done
echo "run-tests.sh: all Rust checks passed (toolchains: ${toolchains[*]})"
