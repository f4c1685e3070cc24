#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer target (fuzz/, clang, -fsanitize=fuzzer,address,
# undefined) and fuzzes for a bounded time, starting from the committed
# corpus (fuzz/corpus). A crash, a sanitizer report, a violated invariant
# or a hang (an input running over 10 s: a lost wake) fails the script;
# the input is kept in the build directory's artifacts/.
#
# The run works on a copy of the corpus in a temporary directory; the new
# inputs are then merged (-merge=1) with the committed corpus into a
# minimized one, and the script says whether they found new coverage. The
# source tree is never written to, unless --update-corpus is given (a
# maintainer's action): then fuzz/corpus is replaced by the minimized
# corpus, keeping every regress_* input (inputs it once failed on).
#
# Usage: scripts/fuzz.sh [--update-corpus] [seconds]   (default 60; or
#        FUZZ_SECONDS). The build goes to $TF_BUILD_ROOT/fuzz (default: the
#        system's temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."

update=0
if [ "${1:-}" = "--update-corpus" ]; then update=1; shift; fi
SECONDS_TO_RUN=${1:-${FUZZ_SECONDS:-60}}
. scripts/build-root.sh
ROOT=$TF_BUILD_ROOT
DIR="$ROOT/fuzz"
mkdir -p "$DIR/artifacts"
cmake -S fuzz -B "$DIR" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE= >/dev/null
cmake --build "$DIR"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/run" "$WORK/merged" "$WORK/min"
cp fuzz/corpus/* "$WORK/run"/
cp fuzz/corpus/* "$WORK/merged"/

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
echo "== fuzzing for $SECONDS_TO_RUN s from $(ls fuzz/corpus | wc -l) inputs"
# -timeout: one input taking 10 s is a hang (a lost wake); -rss_limit_mb:
# a leak that grows without bound. Leaks are also checked per input.
set +e
"$DIR/fuzz_api" -max_total_time="$SECONDS_TO_RUN" -timeout=10 \
  -rss_limit_mb=2048 -max_len=512 -print_final_stats=1 \
  -artifact_prefix="$DIR/artifacts/" "$WORK/run" >"$DIR/fuzz.log" 2>&1
status=$?
set -e
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|peak_rss)' "$DIR/fuzz.log" || true
if [ "$status" -ne 0 ]; then
  echo "== fuzzing FAILED (status $status); log: $DIR/fuzz.log, input in $DIR/artifacts/" >&2
  tail -60 "$DIR/fuzz.log" >&2
  exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$DIR/fuzz.log")
echo "== fuzzing passed: $execs executions in $SECONDS_TO_RUN s"

# What the run found beyond the committed corpus: merged into a copy of it.
"$DIR/fuzz_api" -merge=1 -timeout=10 -max_len=512 "$WORK/merged" "$WORK/run" \
  >"$DIR/merge.log" 2>&1
added=$(sed -n 's/.*MERGE-OUTER: \([0-9]*\) new files with \([0-9]*\) new features.*/\1 \2/p' "$DIR/merge.log" | tail -1)
files=${added% *}
features=${added#* }
# Then minimized: the smallest set of inputs with the same coverage.
"$DIR/fuzz_api" -merge=1 -timeout=10 -max_len=512 "$WORK/min" "$WORK/merged" \
  >>"$DIR/merge.log" 2>&1
cp fuzz/corpus/regress_* "$WORK/min"/ 2>/dev/null || true
if [ "${features:-0}" -gt 0 ]; then
  echo "== new coverage: $files new inputs with $features new features; minimized corpus: $(ls "$WORK/min" | wc -l) inputs (committed: $(ls fuzz/corpus | wc -l))"
else
  echo "== no new coverage beyond the committed corpus"
fi
if [ "$update" = 1 ]; then
  rm -f fuzz/corpus/*
  cp "$WORK/min"/* fuzz/corpus/
  echo "== fuzz/corpus updated: $(ls fuzz/corpus | wc -l) inputs"
fi
