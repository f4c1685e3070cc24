#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The ABI gate of libtimefuture.
#
#   scripts/abi-check.sh [options] LIBRARY
#
# LIBRARY is a freshly built libtimefuture.so.1 with debug info (-g, e.g. a
# RelWithDebInfo build). The gate passes only if the library's ABI is exactly
# the committed baseline abi/libtimefuture.abi (abidw's XML), and the
# baseline itself only ever grew: any difference that was not made on
# purpose, by regenerating the baseline, fails.
#
# What it checks:
#  1. only tf_* symbols are exported, each with a version node of the map,
#     each declared with TF_API in a public header (and all of those are);
#  2. the ABI rules: no struct/union/enum/bool by value, no varargs, no
#     exported variables, every public struct starts with `uint32_t size`;
#  3. the version script: TF_1.0 { global: tf_*; local: *; }; then nodes
#     that each inherit the one before, none newer than TF_VERSION_MINOR,
#     none empty; experimental nodes TF_EXPERIMENTAL_1.N, each inheriting
#     a stable node, hold the experimental tier, which checks 4 to 6 leave
#     out: it may change in any release (docs/design.md, "The experimental
#     tier");
#  4. abidiff (with -t, so the function table tf_api_v1 is compared too)
#     of the baseline against the library: any difference fails. The
#     message says whether the change could be accepted (an addition in a
#     new version node) or never (a removal, a changed signature, a table
#     reordered or shrunk);
#  5. with --history: every committed revision of the baseline against the
#     current one (only additions, each in a node the older one lacks), so
#     a hand-edited baseline cannot sneak a removal through;
#  6. with --previous FILE: the same for one older baseline.
#
# Adding functions (the only accepted change), step by step:
#  a. declare them in include/timefuture.h with TF_API and document them;
#     append their members at the end of tf_api_v1 (header) and one line
#     at the end of src/api_list.h (the one list of the ABI);
#  b. add a node to src/timefuture.map that inherits the last one:
#        TF_1.1 { global: tf_new_function; } TF_1.0;
#  c. raise TF_VERSION_MINOR in include/timefuture_version.h to 1;
#  d. build with -g and run `cmake --build build --target abi-update`
#     (this script with --update): it refuses removals, changed signatures
#     and additions outside a new node, and rewrites abi/libtimefuture.abi;
#  e. commit the header, src/api_list.h, the map and the baseline together.
# A removal or a changed signature is never accepted: it needs libtimefuture
# 2 (a new SONAME), not a new baseline.
#
# Options:
#   --baseline FILE  the baseline (default: abi/libtimefuture.abi)
#   --map FILE       the version script (default: src/timefuture.map)
#   --headers DIR    the public headers (default: include)
#   --update         rewrite the baseline if the change is an accepted one
#   --history        also check every committed revision of the baseline
#   --previous FILE  also check that FILE -> baseline only added (repeatable)
#   --dump FILE      only write the library's ABI, as the baseline holds it,
#                    to FILE (no check)
#
# Exit status: 0 accepted, 1 rejected, 2 usage or tool error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
baseline=$root/abi/libtimefuture.abi
map=$root/src/timefuture.map
headers=$root/include
update=0
history=0
previous=()
lib=
candidate=
dump_only=

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//; /^set -euo/d' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --baseline) baseline=$2; shift 2 ;;
    --map) map=$2; shift 2 ;;
    --headers) headers=$2; shift 2 ;;
    --update) update=1; shift ;;
    --history) history=1; shift ;;
    --previous) previous+=("$2"); shift 2 ;;
    --dump) dump_only=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "abi-check: unknown option $1" >&2; exit 2 ;;
    *) [ -z "$lib" ] || usage; lib=$1; shift ;;
  esac
done
[ -n "$lib" ] || usage

say() { echo "abi-check: $*"; }
reject() { say "REJECTED: $*"; exit 1; }
fail_tool() { say "ERROR: $*" >&2; exit 2; }

for tool in abidw abidiff python3 nm readelf; do
  command -v "$tool" >/dev/null || fail_tool "$tool not found (Debian: abigail-tools, binutils, python3)"
done
[ -f "$lib" ] || fail_tool "no library at $lib"
[ -f "$map" ] || fail_tool "no version script at $map"
[ -f "$headers/timefuture_version.h" ] || fail_tool "no timefuture_version.h in $headers"
# abidw without DWARF sees symbol names only and would miss every type change.
# (grep -q would end the pipe early, and pipefail would count readelf's SIGPIPE.)
[ "$(readelf -S "$lib" | grep -c '\.debug_info')" -gt 0 ] ||
  fail_tool "$lib has no debug info: build it with -g (CMAKE_BUILD_TYPE=RelWithDebInfo or Debug)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tool() { python3 "$here/abi_tool.py" "$@"; }

# The flags are part of the baseline's format: change them only together
# with a regenerated baseline. --drop-undefined-syms keeps libabigail 2.2
# from losing signatures when a function is also declared in another unit;
# --load-all-types with --drop-private-types keeps every public type, such
# as tf_api_v1 (reachable from no signature), and nothing private; the
# --no-* flags keep paths of the build machine out of the committed file.
# abi_tool.py prune then keeps only what the public ABI reaches (see there).
dump() {
  abidw --drop-undefined-syms --load-all-types --drop-private-types \
    --headers-dir "$headers" --no-corpus-path --no-comp-dir-path --no-show-locs \
    --no-elf-needed --out-file "$2.raw" "$1"
  tool prune "$2.raw" "$2" "$headers"
}

# The experimental tier (TF_EXPERIMENTAL_* nodes) may change in any release:
# abidiff does not compare its functions and compat ignores its symbols. The
# rules (2.), the header (1.) and the map (3.) still cover them, and the
# baseline records them as of its last regeneration, for reference only.
cat > "$tmp/experimental.suppr" <<'EOF'
[suppress_function]
  symbol_version_regexp = ^TF_EXPERIMENTAL_
EOF

# Structs are compared by abi_tool.py compat, which allows growth at the end
# of a versioned table; abidiff judges everything else.
cat > "$tmp/tables.suppr" <<'EOF'
[suppress_type]
  type_kind = struct
  name_regexp = ^tf_
EOF

# compat OLD NEW: succeed if NEW only adds to OLD, in new version nodes.
compat() {
  local old=$1 new=$2 rc=0 bad=0
  abidiff -t --suppressions "$tmp/tables.suppr" --suppressions "$tmp/experimental.suppr" "$old" "$new" > "$tmp/compat.txt" || rc=$?
  if [ $((rc & 3)) -ne 0 ]; then
    cat "$tmp/compat.txt" >&2
    fail_tool "abidiff failed (status $rc) comparing $old and $new"
  fi
  # "N Removed, M Changed" in the summary lines; "(K filtered out)" are the
  # suppressed struct changes, judged below.
  if [ "$(grep -E 'summary:' "$tmp/compat.txt" | grep -Eic '(^|[^0-9])[1-9][0-9]* (removed|changed)')" -gt 0 ]; then
    bad=1
    sed 's/^/    /' "$tmp/compat.txt"
  fi
  if ! tool compat "$old" "$new" > "$tmp/compat-xml.txt"; then
    bad=1
    sed 's/^/    /' "$tmp/compat-xml.txt"
  fi
  return $bad
}

if [ -n "$dump_only" ]; then
  dump "$lib" "$tmp/current.abi"
  cp "$tmp/current.abi" "$dump_only"
  say "wrote the ABI of $lib to $dump_only"
  exit 0
fi

# 1. Exported symbols: only tf_*, all versioned. Type A symbols are the
#    version definitions themselves (TF_1.0).
nm -D --defined-only --with-symbol-versions "$lib" > "$tmp/nm.txt" 2>/dev/null ||
  nm -D --defined-only "$lib" > "$tmp/nm.txt"
stray=$(awk '$2 != "A" { n = $3; sub(/@.*/, "", n); if (n !~ /^tf_/ || n ~ /^tf__/) print n }' "$tmp/nm.txt")
[ -z "$stray" ] || reject "exports symbols outside tf_* (or private tf__*): $(echo $stray)"
unversioned=$(awk '$2 != "A" && $3 !~ /@/ { print $3 }' "$tmp/nm.txt")
[ -z "$unversioned" ] || reject "exports symbols without a version node: $(echo $unversioned)"
say "$(awk '$2 != "A"' "$tmp/nm.txt" | wc -l) exported symbols, all tf_* and versioned"

# 2. and 3. Rules on the library's ABI, and its version script.
dump "$lib" "$tmp/current.abi"
tool rules "$tmp/current.abi" > "$tmp/rules.txt" || {
  sed 's/^/    /' "$tmp/rules.txt"; reject "the ABI breaks the project's ABI rules (above)"; }
say "ABI rules hold (no struct/enum/bool by value, no varargs, tables start with size)"
tool header "$headers" "$tmp/current.abi" > "$tmp/header.txt" || {
  sed 's/^/    /' "$tmp/header.txt"; reject "the public headers and the exported functions disagree (above)"; }
say "every public function is declared with TF_API and exported, and nothing else is"
tool map "$map" "$headers/timefuture_version.h" "$tmp/current.abi" > "$tmp/map.txt" || {
  sed 's/^/    /' "$tmp/map.txt"; reject "the version script or the symbol versions are wrong (above)"; }
say "version script $(basename "$map") is consistent with the exported symbols"

# 4. The library against the baseline.
if [ ! -f "$baseline" ]; then
  [ $update -eq 1 ] || reject "no baseline at $baseline (create one with --update)"
  cp "$tmp/current.abi" "$baseline"
  say "created the baseline $baseline"
  exit 0
fi
rc=0
abidiff -t --suppressions "$tmp/experimental.suppr" "$baseline" "$tmp/current.abi" > "$tmp/diff.txt" || rc=$?
[ $((rc & 3)) -eq 0 ] || { cat "$tmp/diff.txt" >&2; fail_tool "abidiff failed (status $rc)"; }
if [ $rc -eq 0 ]; then
  say "the library matches the baseline $(basename "$baseline")"
  # Only the experimental tier (or nothing) differs: --update still records
  # it, so the baseline shows the experimental functions as they are now.
  if [ $update -eq 1 ] && ! cmp -s "$baseline" "$tmp/current.abi"; then
    candidate=$tmp/current.abi
  fi
else
  say "the library's ABI differs from the baseline (abidiff status $rc):"
  sed 's/^/    /' "$tmp/diff.txt"
  if ! compat "$baseline" "$tmp/current.abi" > "$tmp/why.txt"; then
    cat "$tmp/why.txt"
    reject "INCOMPATIBLE change (a removal, a changed signature or layout, or an addition outside a new version node): never accepted in libtimefuture.so.1"
  fi
  if [ $update -eq 0 ]; then
    reject "the change only adds, but the baseline was not regenerated with it: if it is intended, follow the procedure at the top of scripts/abi-check.sh (cmake --build BUILD --target abi-update) and commit the map and abi/ together"
  fi
  # The new baseline is written only after the older ones accept it too.
  candidate=$tmp/current.abi
fi
candidate=${candidate:-$baseline}

# 5. and 6. Older baselines against the current (or candidate) one.
check_old() {
  local old=$1 label=$2
  if cmp -s "$old" "$candidate"; then return 0; fi
  if compat "$old" "$candidate" > "$tmp/why.txt"; then
    say "$label -> current baseline: additions only, in new version nodes"
  else
    cat "$tmp/why.txt"
    reject "the baseline differs from $label by more than additions in new version nodes: never accepted"
  fi
}
for p in "${previous[@]+"${previous[@]}"}"; do
  check_old "$p" "$p"
done
if [ $history -eq 1 ]; then
  bdir=$(cd "$(dirname "$baseline")" && pwd)
  if top=$(git -C "$bdir" rev-parse --show-toplevel 2>/dev/null); then
    rel=${bdir#"$top"/}/$(basename "$baseline")
    n=0
    for c in $(git -C "$top" log --format=%H -- "$rel"); do
      if git -C "$top" show "$c:$rel" > "$tmp/old.abi" 2>/dev/null; then
        check_old "$tmp/old.abi" "baseline of commit ${c:0:12}"
        n=$((n + 1))
      fi
    done
    say "history: $n committed revision(s) of $(basename "$baseline") checked"
  else
    say "history: not a git checkout, skipped"
  fi
fi
if [ "$candidate" != "$baseline" ]; then
  cp "$candidate" "$baseline"
  say "updated the baseline $baseline: commit it with the map and the header"
fi
say "OK"
