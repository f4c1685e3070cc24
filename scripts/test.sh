#!/usr/bin/env bash
# Runs every test: builds with warnings as errors, then the whole ctest
# suite (unit, stress, examples, bindings, ABI, packaging, docs), the
# sanitizer and valgrind runs, the fuzzer, and static analysis.
# Each stage prints its result; the script stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
stage() { echo; echo "==== $* ($(date +%H:%M:%S))"; }

stage "build (warnings are errors)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTF_WERROR=ON -DTF_BUILD_DOCS=ON
cmake --build build

stage "ctest: every suite"
ctest --test-dir build --output-on-failure -j"$JOBS"

for extra in scripts/test.d/*.sh; do
  [ -e "$extra" ] || continue
  stage "$extra"
  bash "$extra"
done
stage "all tests passed"
