#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the library and the test suite without sanitizers (build-valgrind/)
# and runs ctest with every test program under valgrind memcheck. Any
# memory error, and any leak (definite or indirect), fails the test:
# valgrind exits with status 99 then.
#
# Every test whose command is a program built here runs under valgrind
# (CMAKE_CROSSCOMPILING_EMULATOR prefixes exactly those). Left out, by
# ctest label, and why:
#   rust       cargo's own test binary and build scripts, not our code under
#              test here (the Rust tests run natively in the main ctest)
#   packaging  shell scripts that build and install consumer projects
# Tests that are shell scripts (the ABI gate, the doxygen checks, the
# dlopen example) still run, natively.
# The Python and Node.js bindings are not built (their interpreters under
# memcheck are noise; they run natively in the main ctest).
# Pooling is off (-DTF_POOL=OFF): each timer and task is its own
# allocation, so memcheck sees a use after free that the pools would hide.
# Stress tests run at TF_STRESS_SCALE=50 (valgrind serializes threads).
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
. scripts/build-root.sh
DIR=$TF_BUILD_ROOT/valgrind
VALGRIND_ARGS="valgrind;--error-exitcode=99;--leak-check=full;--show-leak-kinds=definite,indirect;--errors-for-leak-kinds=definite,indirect;--track-fds=no;--fair-sched=yes;--num-callers=40;--child-silent-after-fork=no"

echo "== valgrind: configure and build in $DIR"
cmake -S . -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTF_WERROR=ON -DTF_BUILD_PYTHON=OFF -DTF_BUILD_NODE=OFF -DTF_BUILD_BENCH=OFF -DTF_BUILD_DOCS=OFF \
  -DTF_POOL=OFF "-DCMAKE_CROSSCOMPILING_EMULATOR=$VALGRIND_ARGS" >/dev/null
cmake --build "$DIR"

EXCLUDE='^(rust|packaging)$'
echo "== valgrind: ctest (labels left out: $EXCLUDE)"
start=$SECONDS
TF_STRESS_SCALE=${TF_STRESS_SCALE:-50} \
  ctest --test-dir "$DIR" --output-on-failure -j"$JOBS" -LE "$EXCLUDE" --timeout 1200
n=$(ctest --test-dir "$DIR" -N -LE "$EXCLUDE" | sed -n 's/^Total Tests: //p')
echo "== valgrind: $n tests passed under memcheck in $((SECONDS - start)) s"
