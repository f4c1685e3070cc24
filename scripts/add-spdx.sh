#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Inserts the line "SPDX-License-Identifier: MIT" into every source file
# that lacks it (tests/packaging/check_spdx.sh demands it in the first 3
# lines), in the file's comment syntax, after a shebang (and a Python
# encoding line) if there is one. Files that have it are left alone, so a
# second run changes nothing. File modes are kept.
#
#   scripts/add-spdx.sh [-n] [DIR]    DIR: the source tree (default: this one)
#   -n  only list the files that would change
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=spdx-lib.sh
. "$here/spdx-lib.sh"

dry=0
if [ "${1:-}" = -n ]; then dry=1; shift; fi
dir=${1:-$here/..}
dir=$(cd "$dir" && pwd)

changed=0 unknown=0
while IFS= read -r f; do
  style=$(spdx_style "$f" "$dir")
  case $style in
    skip) continue ;;
    unknown) echo "add-spdx: $f: unknown file type; classify it in scripts/spdx-lib.sh" >&2
             unknown=1; continue ;;
  esac
  path=$dir/$f
  spdx_has "$path" && continue
  if grep -q 'SPDX-License-Identifier' <(head -n 3 "$path"); then
    echo "add-spdx: $f: names another licence; left alone" >&2; unknown=1; continue
  fi
  changed=$((changed + 1))
  if [ $dry -eq 1 ]; then echo "$f"; continue; fi
  keep=$(spdx_insert_after "$path")
  line=$(spdx_line "$style")
  tmp=$(mktemp)
  # Through awk, so a last line without a newline stays as it was.
  awk -v keep="$keep" -v line="$line" \
    'NR == keep + 1 { print line } { print } END { if (NR < keep + 1) print line }' \
    "$path" > "$tmp"
  if [ -n "$(tail -c 1 "$path")" ]; then
    # awk added a final newline the file did not have; take it off again.
    truncate -s -1 "$tmp"
  fi
  # Writing through the existing file keeps its mode and owner.
  cat "$tmp" > "$path"
  rm -f "$tmp"
  echo "added: $f"
done < <(spdx_list_files "$dir")

if [ $dry -eq 1 ]; then
  echo "add-spdx: $changed file(s) would change"
else
  echo "add-spdx: $changed file(s) changed"
fi
[ $unknown -eq 0 ]
