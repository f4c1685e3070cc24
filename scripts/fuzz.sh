#!/usr/bin/env bash
# Builds the libFuzzer target (fuzz/, clang, -fsanitize=fuzzer,address,
# undefined) in build-fuzz/ and fuzzes for a bounded time, starting from
# the committed seed corpus. New inputs go to a scratch copy of the corpus,
# so the committed one stays small. A crash, a sanitizer report or a
# violated invariant fails the script; the input is kept in build-fuzz/.
#
# Usage: scripts/fuzz.sh [seconds]          (default 60; FUZZ_SECONDS too)
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN=${1:-${FUZZ_SECONDS:-60}}
DIR=build-fuzz
cmake -S fuzz -B "$DIR" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE= >/dev/null
cmake --build "$DIR"

WORK="$DIR/corpus"
rm -rf "$WORK" && mkdir -p "$WORK" "$DIR/artifacts"
cp fuzz/corpus/* "$WORK"/

echo "== fuzzing for $SECONDS_TO_RUN s from $(ls fuzz/corpus | wc -l) seeds"
# -timeout: one input taking 10 s is a hang; -rss_limit_mb: a leak that
# grows without bound. Leaks are also checked by LeakSanitizer per input.
set +e
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$DIR/fuzz_api" -max_total_time="$SECONDS_TO_RUN" -timeout=10 \
    -rss_limit_mb=2048 -max_len=512 -print_final_stats=1 \
    -artifact_prefix="$DIR/artifacts/" "$WORK" >"$DIR/fuzz.log" 2>&1
status=$?
set -e
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|peak_rss)' "$DIR/fuzz.log" || true
if [ "$status" -ne 0 ]; then
  echo "== fuzzing FAILED (status $status); log: $DIR/fuzz.log, input in $DIR/artifacts/" >&2
  tail -60 "$DIR/fuzz.log" >&2
  exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$DIR/fuzz.log")
echo "== fuzzing passed: $execs executions in $SECONDS_TO_RUN s, corpus grew to $(ls "$WORK" | wc -l) inputs"
