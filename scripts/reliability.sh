#!/usr/bin/env bash
# The reliability part of CI (issue 4), in one command: static analysis,
# the test suite under ASan+UBSan and under TSan, under valgrind memcheck,
# and a bounded fuzzing run. Each stage stops the script on failure and
# prints how long it took. About 3 minutes on an idle 2-core machine.
#
# Usage: scripts/reliability.sh [fuzz-seconds]        (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${1:-${FUZZ_SECONDS:-60}}

stage() {
  local name=$1 start=$SECONDS
  shift
  echo
  echo "==== $name ($(date +%H:%M:%S))"
  "$@"
  echo "==== $name: passed in $((SECONDS - start)) s"
}

stage "static analysis (cppcheck, clang-tidy)" scripts/static-analysis.sh
stage "AddressSanitizer + UndefinedBehaviorSanitizer" scripts/sanitize.sh asan
stage "ThreadSanitizer" scripts/sanitize.sh tsan
stage "valgrind memcheck" scripts/valgrind.sh
stage "libFuzzer (${FUZZ_SECONDS} s)" scripts/fuzz.sh "$FUZZ_SECONDS"
echo
echo "==== reliability: all stages passed in $SECONDS s"
