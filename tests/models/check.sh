#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs one Promela model through the spin model checker, exhaustively, and
# fails unless the result is the expected one.
#
#   check.sh MODEL.pml [--expect-error [--expect-text TEXT]] [--ltl NAME]...
#            [--depth N] [-O0|-O1|-O2] [-DNAME[=VALUE]]...
#
# Two kinds of search, each compiled and run separately:
#   safety    always: assertions and invalid end states (a thread blocked
#             for ever where the model does not mark an end label), with
#             the LTL claims left out (-DSAFETY -DNOCLAIM);
#   --ltl N   once per named claim: acceptance cycles under weak fairness
#             (./pan -a -f -N N, compiled with -DNFAIR=3); assertions
#             are left to the safety search (-A), so each search reports
#             its own kind of violation.
# pan is compiled with -O0 unless told otherwise: for these small models
# compiling with -O2 takes longer than the whole search.
# -D options reach the model's preprocessor (to select a mutant) and the
# compiler of pan.
#
# Without --expect-error every search must report "errors: 0" and be
# complete (no "max search depth too small", no "Search not completed").
# With it, at least one search must report errors (and, with --expect-text,
# print TEXT, e.g. the violated assertion): the mutant is caught.
# A missing tool is a failure, never a skip: a check that cannot run must
# not pass. Everything is written in a fresh temporary directory, never
# next to the model.
set -uo pipefail

die() { echo "check.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: check.sh MODEL.pml [--expect-error] [--expect-text T] [--ltl NAME]... [--depth N] [-DNAME]..."
model=$1; shift
[ -f "$model" ] || die "no such model: $model"

expect_error=0
expect_text=
depth=100000
opt=-O0
ltls=()
defs=()
while [ $# -gt 0 ]; do
  case $1 in
    --expect-error) expect_error=1 ;;
    --expect-text) shift; expect_text=${1:?--expect-text needs a value} ;;
    --ltl) shift; ltls+=("${1:?--ltl needs a name}") ;;
    --depth) shift; depth=${1:?--depth needs a value} ;;
    -D*) defs+=("$1") ;;
    -O[0-3]) opt=$1 ;;
    *) die "unknown option: $1" ;;
  esac
  shift
done

for tool in spin gcc; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' is not installed: the model cannot be checked (Debian package: $tool)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tf-model.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
name=$(basename "$model")
cp "$model" "$work/$name" || die "cannot copy $model"
cd "$work" || die "cannot enter $work"

total_errors=0
all_output=

# run LABEL GCC_FLAGS PAN_FLAGS
run() {
  local label=$1 cflags=$2 panflags=$3 out rc errors
  rm -f pan pan.* ./*.trail
  if ! out=$(spin -a "${defs[@]}" "$name" 2>&1); then
    echo "$out"; die "spin -a failed for $name ($label)"
  fi
  # shellcheck disable=SC2086
  if ! out=$(gcc "$opt" -w $cflags "${defs[@]}" -o pan pan.c 2>&1); then
    echo "$out"; die "gcc failed on the verifier of $name ($label)"
  fi
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  out=$(./pan $panflags -m"$depth" 2>&1); rc=$?
  end=$(date +%s.%N)
  all_output+=$out$'\n'
  errors=$(printf '%s\n' "$out" | sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' | head -n1)
  local states
  states=$(printf '%s\n' "$out" | sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' | head -n1)
  printf '%-28s states stored: %-10s errors: %-3s time: %.2fs\n' \
    "$name [$label]" "${states:-?}" "${errors:-?}" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')"
  if [ -z "$errors" ] || [ $rc -ne 0 ]; then
    printf '%s\n' "$out"
    die "pan did not report a result for $name ($label, exit $rc)"
  fi
  if [ "$errors" -gt 0 ]; then
    printf '%s\n' "$out" | grep -E 'assertion violated|invalid end state|acceptance cycle|pan:[0-9]+:' | head -n3
    # A trail shows which interleaving broke the property.
    if ls ./*.trail >/dev/null 2>&1; then
      spin -t "${defs[@]}" "$name" 2>&1 | tail -n 12
    fi
    total_errors=$((total_errors + errors))
  else
    if grep -q 'max search depth too small' <<<"$out"; then
      die "$name ($label): depth $depth too small, the search was cut short"
    fi
    if grep -qi 'search not completed' <<<"$out"; then
      printf '%s\n' "$out"
      die "$name ($label): search not completed"
    fi
  fi
}

run safety "-DSAFETY -DNOCLAIM" ""
for l in "${ltls[@]}"; do
  run "ltl $l" "-DNFAIR=3" "-a -f -A -N $l"
done

if [ $expect_error -eq 1 ]; then
  if [ $total_errors -eq 0 ]; then
    echo "FAIL: $name ${defs[*]}: expected the checker to find an error, it found none"
    exit 1
  fi
  # Here-strings, not pipes: under pipefail, grep -q leaving at its first
  # match can kill printf with SIGPIPE and fail a pipeline that matched.
  if [ -n "$expect_text" ] && ! grep -qF -- "$expect_text" <<<"$all_output"; then
    echo "FAIL: $name ${defs[*]}: an error was found, but not the expected one ($expect_text)"
    exit 1
  fi
  echo "PASS: $name ${defs[*]}: the checker found the expected error"
  exit 0
fi
if [ $total_errors -ne 0 ]; then
  echo "FAIL: $name ${defs[*]}: $total_errors error(s)"
  exit 1
fi
echo "PASS: $name ${defs[*]}: no errors, every interleaving explored"
