#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Self-test of the ABI gate (scripts/abi-check.sh): runs it on a scratch
# copy of the library built with one deliberate change, with public headers
# edited to match (as the author of the change would have edited them), and
# checks that the gate decides as it must, for the right reason.
#
# Usage: gate_selftest.sh SCENARIO GATE BASELINE HEADERS MAP SCRATCH_LIB REAL_LIB SCRATCH_MAP
#   removed     tf_timer_deadline removed: rejected, --update refuses too
#   changed     tf_now_ns's signature changed: rejected, --update refuses too
#   added       a function added to the existing node TF_1.0: rejected,
#               --update refuses too
#   added_node  a function added in a new node (SCRATCH_MAP) with the minor
#               version raised: rejected until the baseline is regenerated,
#               accepted by --update, and from then on its removal (the real
#               library) is rejected
#   rewritten_baseline  tf_timer_deadline removed, and the committed baseline
#               rewritten by hand to match: the library then matches the
#               baseline, but the history check (--history) rejects it
set -uo pipefail

scenario=$1 gate=$2 baseline=$3 headers=$4 map=$5 lib=$6 real_lib=$7 scratch_map=$8
exp_map=${9:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/tf-abi-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT

die() { echo "FAIL ($scenario): $*"; exit 1; }
out= rc=
run_gate() {
  echo "+ abi-check.sh $*"
  out=$(bash "$gate" "$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" | sed 's/^/  | /'
}
expect_reject() {
  [ "$rc" -eq 1 ] || die "expected the gate to reject (status 1), got status $rc"
  local re
  for re in "$@"; do
    grep -Eq -- "$re" <<<"$out" || die "the gate rejected, but not for the expected reason /$re/"
  done
}
expect_accept() {
  [ "$rc" -eq 0 ] || die "expected the gate to accept, got status $rc"
  local re
  for re in "$@"; do
    grep -Eq -- "$re" <<<"$out" || die "the gate accepted, but its output lacks /$re/"
  done
}

# edit_header PYTHON-EXPR: apply a string edit to a copy of the headers.
mkdir -p "$work/include"
cp "$headers"/*.h "$work/include/"
edit_header() {
  python3 - "$work/include" "$1" "$2" <<'EOF' || die "could not edit the header copy"
import sys, os
d, old, new = sys.argv[1], sys.argv[2], sys.argv[3]
for name in ("timefuture.h", "timefuture_version.h"):
    p = os.path.join(d, name)
    s = open(p).read()
    if old == "@END@" and name == "timefuture.h":
        open(p, "w").write(s + new + "\n")
        sys.exit(0)
    if old in s:
        open(p, "w").write(s.replace(old, new, 1))
        sys.exit(0)
sys.exit("text not found: " + old)
EOF
}

# Each scenario must start from a gate that accepts the real library.
run_gate --baseline "$baseline" --map "$map" --headers "$headers" "$real_lib"
expect_accept "matches the baseline"

cp "$baseline" "$work/baseline.abi"
case $scenario in
removed)
  edit_header "TF_API int tf_timer_deadline(const tf_timer *timer, uint64_t *deadline_ns);" ""
  run_gate --baseline "$baseline" --map "$map" --headers "$work/include" "$lib"
  expect_reject "REJECTED: INCOMPATIBLE" "tf_timer_deadline@TF_1\.0: removed"
  run_gate --update --baseline "$work/baseline.abi" --map "$map" --headers "$work/include" "$lib"
  expect_reject "REJECTED: INCOMPATIBLE"
  cmp -s "$baseline" "$work/baseline.abi" || die "--update rewrote the baseline for a removal"
  ;;
changed)
  edit_header "TF_API uint64_t tf_now_ns(void);" "TF_API int64_t tf_now_ns(int32_t clock_id);"
  run_gate --baseline "$baseline" --map "$map" --headers "$work/include" "$lib"
  expect_reject "REJECTED: INCOMPATIBLE" "\[C\] 'function uint64_t tf_now_ns\(\)'" \
    "parameter 1 of type 'typedef int32_t' was added"
  run_gate --update --baseline "$work/baseline.abi" --map "$map" --headers "$work/include" "$lib"
  expect_reject "REJECTED: INCOMPATIBLE"
  cmp -s "$baseline" "$work/baseline.abi" || die "--update rewrote the baseline for a changed signature"
  ;;
added)
  edit_header "@END@" "TF_API int tf_abi_selftest_added(uint32_t x);"
  run_gate --baseline "$baseline" --map "$map" --headers "$work/include" "$lib"
  expect_reject "REJECTED" "tf_abi_selftest_added: added to the existing version node TF_1\.0"
  run_gate --update --baseline "$work/baseline.abi" --map "$map" --headers "$work/include" "$lib"
  expect_reject "tf_abi_selftest_added: added to the existing version node TF_1\.0"
  cmp -s "$baseline" "$work/baseline.abi" || die "--update rewrote the baseline for an unversioned addition"
  ;;
added_node)
  node=$(grep -Eo 'TF_[0-9]+\.[0-9]+[[:space:]]*\{' "$scratch_map" | tail -n1 | grep -Eo 'TF_[0-9]+\.[0-9]+')
  minor=${node##*.}
  edit_header "@END@" "TF_API int tf_abi_selftest_added(uint32_t x);"
  cur_minor=$(sed -n 's/^#define TF_VERSION_MINOR \([0-9]*\).*/\1/p' "$work/include/timefuture_version.h")
  [ -n "$cur_minor" ] || die "no TF_VERSION_MINOR in the header copy"
  # Without the version bump, the map check refuses the new node.
  if [ "$cur_minor" -lt "$minor" ]; then
    run_gate --baseline "$baseline" --map "$scratch_map" --headers "$work/include" "$lib"
    expect_reject "node $node is newer than the library version"
    edit_header "#define TF_VERSION_MINOR $cur_minor" "#define TF_VERSION_MINOR $minor"
  fi
  run_gate --baseline "$baseline" --map "$scratch_map" --headers "$work/include" "$lib"
  expect_reject "the change only adds, but the baseline was not regenerated"
  run_gate --update --baseline "$work/baseline.abi" --map "$scratch_map" --headers "$work/include" "$lib"
  expect_accept "updated the baseline"
  cmp -s "$baseline" "$work/baseline.abi" && die "--update did not rewrite the baseline"
  python3 "$(dirname "$gate")/abi_tool.py" symbols "$work/baseline.abi" | grep -x "tf_abi_selftest_added@$node" >/dev/null ||
    die "the new baseline lacks tf_abi_selftest_added@$node"
  run_gate --baseline "$work/baseline.abi" --previous "$baseline" --map "$scratch_map" \
    --headers "$work/include" "$lib"
  expect_accept "matches the baseline" "additions only, in new version nodes"
  # Once released, the addition is part of the ABI: dropping it again (the
  # real library) is a removal.
  run_gate --baseline "$work/baseline.abi" --map "$map" --headers "$headers" "$real_lib"
  expect_reject "REJECTED: INCOMPATIBLE" "tf_abi_selftest_added@$node: removed"
  ;;
rewritten_baseline)
  repo=$work/repo
  mkdir -p "$repo/abi"
  cp "$baseline" "$repo/abi/libtimefuture.abi"
  g() { git -C "$repo" -c user.name=selftest -c user.email=selftest@invalid "$@"; }
  g init -q && g add abi && g commit -qm "baseline 1.0" || die "git failed"
  edit_header "TF_API int tf_timer_deadline(const tf_timer *timer, uint64_t *deadline_ns);" ""
  # The removal, with a baseline regenerated from it outside the procedure.
  bash "$gate" --headers "$work/include" --dump "$repo/abi/libtimefuture.abi" "$lib" ||
    die "could not dump the scratch library"
  run_gate --baseline "$repo/abi/libtimefuture.abi" --map "$map" --headers "$work/include" "$lib"
  expect_accept "matches the baseline"
  run_gate --history --baseline "$repo/abi/libtimefuture.abi" --map "$map" --headers "$work/include" "$lib"
  expect_reject "REJECTED: the baseline differs from baseline of commit" "tf_timer_deadline@TF_1\.0: removed"
  g commit -qam "rewrite the baseline" || die "git failed"
  run_gate --history --baseline "$repo/abi/libtimefuture.abi" --map "$map" --headers "$work/include" "$lib"
  expect_reject "REJECTED: the baseline differs from baseline of commit" "tf_timer_deadline@TF_1\.0: removed"
  ;;
experimental_removed)
  # The experimental tier may change in any release: a function of it gone
  # (declaration, symbol and map line) is accepted against the baseline and
  # its history, which still record it; the same for a stable function is
  # the "removed" scenario, rejected.
  edit_header "TF_API int tf_timer_set_slack(tf_timer *timer, uint64_t slack_ns);" ""
  run_gate --history --baseline "$baseline" --map "$exp_map" --headers "$work/include" "$lib"
  expect_accept "matches the baseline"
  python3 "$(dirname "$gate")/abi_tool.py" symbols "$baseline" |
    grep -x "tf_timer_set_slack@TF_EXPERIMENTAL_1\.[0-9]*" >/dev/null ||
    die "the baseline does not record tf_timer_set_slack in the experimental node"
  ;;
*)
  die "unknown scenario"
  ;;
esac
echo "PASS ($scenario): the gate decided as it must"
