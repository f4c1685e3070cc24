#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test: builds with warnings as errors, then the whole ctest
# suite (unit, stress, examples, bindings, ABI, packaging, docs), then the
# extra stages in scripts/test.d/ (the reliability checks, the mutation
# subset). Stops at the first failure, and always ends with a per-stage
# summary; the last line of a passing run is `N passed, 0 failed`.
#
# A stage that vanishes fails the run instead of passing quietly:
#   - every stage listed in scripts/test.d/expected-stages must exist;
#   - the ctest run must hold at least the number of tests per label given
#     in scripts/test.d/min-tests (a suite whose tests stop being
#     registered, e.g. the Python binding without Python headers, fails).
#     These are minimums: adding tests never needs an edit, removing some
#     on purpose does;
#   - every ctest test must have a TIMEOUT (a hang must not cost 1500 s).
#
# The build goes outside the source tree (a read-only checkout works):
# TF_BUILD_DIR, default $TF_BUILD_ROOT/test (scripts/build-root.sh: under
# ${TMPDIR:-/tmp}, one per checkout; the other stages build there too).
# A stage script may append the number of tests it ran to the file named
# by $TF_STAGE_COUNT (one number per line) for the summary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=${JOBS:-$(nproc)}
. scripts/build-root.sh
BUILD=${TF_BUILD_DIR:-$TF_BUILD_ROOT/test}
STAGE_DIR=scripts/test.d
WORK=$(mktemp -d "${TMPDIR:-/tmp}/timefuture-test-run.XXXXXX")

summary=()        # "name|tests|seconds|result"
total_passed=0
total_failed=0
current=""
current_start=0

print_summary() {
  local rc=$?
  if [ -n "$current" ]; then
    # The stage that was running when we stopped failed.
    summary+=("$current|-|$((SECONDS - current_start))|FAILED")
    total_failed=$((total_failed + 1))
  fi
  echo
  echo "==== summary"
  printf '%-40s %7s %7s  %s\n' stage tests time result
  local line name n t r
  for line in "${summary[@]}"; do
    IFS='|' read -r name n t r <<<"$line"
    printf '%-40s %7s %6ss  %s\n' "$name" "$n" "$t" "$r"
  done
  rm -rf "$WORK"
  if [ "$rc" -eq 0 ] && [ "$total_failed" -eq 0 ]; then
    echo "$total_passed passed, 0 failed"
  else
    [ "$total_failed" -gt 0 ] || total_failed=1
    echo "$total_passed passed, $total_failed failed"
    [ "$rc" -ne 0 ] || rc=1
  fi
  exit "$rc"
}
trap print_summary EXIT

begin() {
  current=$1
  current_start=$SECONDS
  echo
  echo "==== $current ($(date +%H:%M:%S))"
}
# end TESTS_PASSED: the running stage passed.
end() {
  summary+=("$current|$1|$((SECONDS - current_start))|passed")
  if [[ $1 =~ ^[0-9]+$ ]]; then total_passed=$((total_passed + $1)); fi
  current=""
}

# --- the stages must all be there ------------------------------------------
begin "stage list"
[ -d "$STAGE_DIR" ] || { echo "missing $STAGE_DIR/"; exit 1; }
[ -s "$STAGE_DIR/expected-stages" ] || { echo "missing $STAGE_DIR/expected-stages"; exit 1; }
[ -s "$STAGE_DIR/min-tests" ] || { echo "missing $STAGE_DIR/min-tests"; exit 1; }
mapfile -t expected < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$STAGE_DIR/expected-stages" | grep -v '^$')
[ ${#expected[@]} -gt 0 ] || { echo "$STAGE_DIR/expected-stages lists no stage"; exit 1; }
missing=0
for s in "${expected[@]}"; do
  if [ ! -f "$STAGE_DIR/$s" ]; then
    echo "expected stage $STAGE_DIR/$s is missing"
    missing=1
  fi
done
shopt -s nullglob
stages=("$STAGE_DIR"/*.sh)
shopt -u nullglob
[ ${#stages[@]} -gt 0 ] || { echo "$STAGE_DIR/*.sh matches nothing"; exit 1; }
for f in "${stages[@]}"; do
  printf '%s\n' "${expected[@]}" | grep -qxF "$(basename "$f")" ||
    echo "note: $f runs but is not in $STAGE_DIR/expected-stages (add it, so that it cannot vanish)"
done
[ $missing -eq 0 ] || exit 1
end "${#stages[@]} stages"

# --- build -----------------------------------------------------------------
begin "build (warnings are errors)"
echo "build directory: $BUILD"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTF_WERROR=ON -DTF_BUILD_DOCS=ON
cmake --build "$BUILD" -j"$JOBS"
end "-"

# --- ctest -----------------------------------------------------------------
begin "ctest: every suite"
ctest --test-dir "$BUILD" --show-only=json-v1 >"$WORK/tests.json"
ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" --output-junit "$WORK/junit.xml" ||
  ctest_rc=$?
# Per label: tests that ran (not skipped, not disabled) against the minimums.
python3 - "$WORK/tests.json" "$WORK/junit.xml" "$STAGE_DIR/min-tests" >"$WORK/counts" <<'PY' || count_rc=$?
import json, re, sys
import xml.etree.ElementTree as ET
tests = json.load(open(sys.argv[1]))["tests"]
labels = {}
bad = 0
for t in tests:
    props = {p["name"]: p["value"] for p in t.get("properties", [])}
    labels[t["name"]] = props.get("LABELS", [])
    # A hang must end the run long before ctest's default of 1500 s.
    if "TIMEOUT" not in props:
        print(f"test {t['name']} has no TIMEOUT property", file=sys.stderr)
        bad = 1
ran = {}
try:
    for case in ET.parse(sys.argv[2]).getroot().iter("testcase"):
        ran[case.get("name")] = case.get("status")
except (OSError, ET.ParseError) as e:
    print(f"cannot read ctest's report: {e}", file=sys.stderr)
    sys.exit(1)
run = [n for n, s in ran.items() if s in ("run", "fail")]
failed = [n for n, s in ran.items() if s == "fail"]
count = {"total": len(run)}
for n in run:
    for l in labels.get(n, []):
        count[l] = count.get(l, 0) + 1
for line in open(sys.argv[3]):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    m = re.match(r"(\S+)\s+(\d+)\s*(.*)$", line)
    if not m:
        print(f"min-tests: bad line {line!r}", file=sys.stderr)
        bad = 1
        continue
    label, need, why = m.group(1), int(m.group(2)), m.group(3)
    have = count.get(label, 0)
    if have < need:
        print(f"label {label}: {have} tests ran, at least {need} expected: {why}", file=sys.stderr)
        bad = 1
print(len(run), len(failed))
print("tests run per label: " + ", ".join(f"{k} {v}" for k, v in sorted(count.items())),
      file=sys.stderr)
sys.exit(bad)
PY
read -r ctest_run ctest_failed <"$WORK/counts" || { ctest_run=0; ctest_failed=0; }
if [ "${ctest_rc:-0}" -ne 0 ] || [ "${count_rc:-0}" -ne 0 ]; then
  summary+=("$current|$ctest_run|$((SECONDS - current_start))|FAILED")
  total_passed=$((total_passed + ctest_run - ctest_failed))
  total_failed=$((total_failed + (ctest_failed > 0 ? ctest_failed : 1)))
  current=""
  exit 1
fi
end "$ctest_run"

# --- the extra stages ------------------------------------------------------
for f in "${stages[@]}"; do
  begin "$f"
  count_file="$WORK/count.$(basename "$f")"
  : >"$count_file"
  TF_BUILD_DIR="$BUILD" TF_STAGE_COUNT="$count_file" bash "$f"
  n=$(awk '{s += $1} END {print s + 0}' "$count_file")
  [ -s "$count_file" ] || n="-"
  end "$n"
done
