#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the library and the whole test suite with sanitizers and runs
# ctest in each build:
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer ($TF_BUILD_ROOT/asan)
#   tsan  ThreadSanitizer ($TF_BUILD_ROOT/tsan)
# TF_BUILD_ROOT defaults to a directory under the system's temporary
# directory: nothing is written into the source tree. In the asan build the
# timer and task pools poison freed objects, so a use of a freed timer or
# task is reported although its memory stays in the pool.
# Both use -fno-sanitize-recover=all (from -DTF_SANITIZE), so the first
# report fails the test.
#
# Usage: scripts/sanitize.sh [asan] [tsan]      (no argument: both)
#
# Left out, by ctest label, and why:
#   rust       cargo builds its own test binary, without the sanitizer
#              runtime; a sanitized libtimefuture cannot be loaded into it
#              ("runtime does not come first in initial library list").
#   packaging  the consumer projects are built without -fsanitize against
#              the installed (sanitized) library: same reason.
#   fork       test_fork's children start threads after a fork() of a
#              multi-threaded process (the timer driver restarts lazily).
#              ThreadSanitizer refuses that ("dup thread with used id").
#              AddressSanitizer's allocator, in GCC 12's runtime and in
#              clang 14's alike, is not locked around fork(), so a child
#              born while another thread was in malloc deadlocks in its
#              first allocation (seen with GCC 12: the restarted driver
#              stuck in SizeClassAllocator64::GetFromAllocator; with clang
#              14: test_forks_under_load hung in about one run in eight).
#              test_fork skips that test under ASan and runs the other
#              four, whose threads do not allocate at the moment of fork();
#              under TSan the label stays out. test_fork also runs natively
#              and under valgrind (scripts/valgrind.sh), which checks the
#              children's memory too.
#   model      the spin models check protocols, not the library's code.
# The Python binding is not built (-DTF_BUILD_PYTHON=OFF): the interpreter
# is not sanitized, so the binding could not load the sanitized library
# without the runtime preloaded; scripts/test.d/60-python-sanitize.sh runs
# the binding's tests that way.
# (The documentation's example programs do run sanitized; the doxygen
# checks run too, though no library code is in them.)
# Benchmarks are not built (they are not tests).
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
. scripts/build-root.sh
ROOT=$TF_BUILD_ROOT
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(asan tsan)

run_kind() {
  local kind=$1 sanitize dir EXCLUDE_LABELS
  case $kind in
    asan) sanitize=address,undefined; dir=$ROOT/asan
          EXCLUDE_LABELS='^(rust|packaging|model)$' ;;
    tsan) sanitize=thread; dir=$ROOT/tsan
          EXCLUDE_LABELS='^(rust|packaging|fork|model)$' ;;
    *) echo "unknown sanitizer '$kind' (asan or tsan)" >&2; return 2 ;;
  esac
  echo "== $kind: configure and build in $dir"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTF_SANITIZE="$sanitize" -DTF_WERROR=ON -DTF_BUILD_PYTHON=OFF \
    -DTF_BUILD_BENCH=OFF -DTF_BUILD_DOCS=OFF >/dev/null
  cmake --build "$dir"

  echo "== $kind: ctest (labels left out: $EXCLUDE_LABELS)"
  local start=$SECONDS
  # Halt on the first report; leaks count (LeakSanitizer is part of ASan).
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  TF_STRESS_SCALE=${TF_STRESS_SCALE:-100} \
    ctest --test-dir "$dir" --output-on-failure -j"$JOBS" -LE "$EXCLUDE_LABELS"
  local n
  n=$(ctest --test-dir "$dir" -N -LE "$EXCLUDE_LABELS" | sed -n 's/^Total Tests: //p')
  echo "== $kind: $n tests passed in $((SECONDS - start)) s"
}

for k in "${kinds[@]}"; do
  run_kind "$k"
done
