#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The reliability part of CI, in one command: static analysis, the test
# suite under ASan+UBSan and under TSan, under valgrind memcheck, and a
# bounded fuzzing run. Each stage stops the script on failure and prints
# how long it took. About 3 minutes on an idle 2-core machine.
#
# Usage: scripts/reliability.sh [fuzz-seconds]        (default 60)
# When scripts/test.sh runs it, the number of tests each stage ran goes to
# $TF_STAGE_COUNT (the sanitizer and valgrind ctest runs; the analysis and
# the fuzzing run count as one each).
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${1:-${FUZZ_SECONDS:-60}}
LOG=$(mktemp "${TMPDIR:-/tmp}/timefuture-reliability.XXXXXX")
trap 'rm -f "$LOG"' EXIT

stage() {
  local name=$1 start=$SECONDS n
  shift
  echo
  echo "==== $name ($(date +%H:%M:%S))"
  "$@" 2>&1 | tee "$LOG"
  # The scripts end with "== <kind>: N tests passed ..." after a ctest run.
  n=$(sed -n 's/^== [a-z]*: \([0-9][0-9]*\) tests passed.*/\1/p' "$LOG" | awk '{s += $1} END {print s + 0}')
  [ "$n" -gt 0 ] || n=1
  [ -z "${TF_STAGE_COUNT:-}" ] || echo "$n" >>"$TF_STAGE_COUNT"
  echo "==== $name: passed in $((SECONDS - start)) s"
}

stage "static analysis (cppcheck, clang-tidy)" scripts/static-analysis.sh
stage "AddressSanitizer + UndefinedBehaviorSanitizer" scripts/sanitize.sh asan
stage "ThreadSanitizer" scripts/sanitize.sh tsan
stage "valgrind memcheck" scripts/valgrind.sh
stage "libFuzzer (${FUZZ_SECONDS} s)" scripts/fuzz.sh "$FUZZ_SECONDS"
echo
echo "==== reliability: all stages passed in $SECONDS s"
