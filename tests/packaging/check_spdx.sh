#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every source file of the tree carries "SPDX-License-Identifier: MIT" in
# its first 3 lines (scripts/add-spdx.sh inserts it). Data and prose
# (fuzz corpus, ABI baselines, lock files, *.md, *.txt) are skipped; a file
# of a type nobody classified fails too, so none slips through.
#
#   check_spdx.sh DIR               check the tree at DIR (git-tracked files
#                                   in a checkout, every file otherwise)
#   check_spdx.sh --selftest WORK SRC
#                                   show in scratch trees under WORK that the
#                                   check fails where it must, and that
#                                   add-spdx.sh run on a copy of SRC makes it
#                                   pass with nothing else changed
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scripts=$here/../../scripts
# shellcheck source=../../scripts/spdx-lib.sh
. "$scripts/spdx-lib.sh"

# check DIR: prints each offending file; status 1 if there is one.
check() {
  local dir=$1 f style bad=0 n=0
  while IFS= read -r f; do
    style=$(spdx_style "$f" "$dir")
    case $style in
      skip) continue ;;
      unknown) echo "$f: unknown file type (classify it in scripts/spdx-lib.sh)"; bad=1; continue ;;
    esac
    n=$((n + 1))
    if ! spdx_has "$dir/$f"; then
      echo "$f: no '$SPDX_ID' in the first 3 lines"; bad=1
    fi
  done < <(spdx_list_files "$dir")
  [ $bad -eq 0 ] && echo "checked $n source files: all carry '$SPDX_ID'"
  return $bad
}

if [ "${1:-}" != --selftest ]; then
  [ $# -eq 1 ] || { echo "usage: check_spdx.sh DIR | --selftest WORK SRC" >&2; exit 2; }
  if check "$1"; then exit 0; fi
  echo "FAIL: source files without the licence line (scripts/add-spdx.sh adds it)"
  exit 1
fi

work=$2 src=$3
fails=0
rm -rf "$work" && mkdir -p "$work"
expect() { # expect pass|fail NAME DIR [REGEX]: the check's verdict on DIR
  local want=$1 name=$2 dir=$3 re=${4:-} out rc
  out=$(check "$dir"); rc=$?
  if { [ "$want" = pass ] && [ $rc -ne 0 ]; } || { [ "$want" = fail ] && [ $rc -eq 0 ]; } ||
     { [ -n "$re" ] && ! grep -Eq -- "$re" <<<"$out"; }; then
    printf '%s\n' "$out"; echo "FAIL ($name): expected $want${re:+ with /$re/}"; fails=1
  else
    echo "ok ($name): $([ "$want" = pass ] && echo passes || echo fails): $(head -n 1 <<<"$out")"
  fi
}

# A small tree with one good file of each comment style, plus data files
# that carry no line and must not be asked for one.
good=$work/good
mkdir -p "$good/src" "$good/fuzz/corpus" "$good/abi" "$good/.ci"
printf '/* SPDX-License-Identifier: MIT */\nint x;\n' > "$good/src/a.c"
printf '/* A header. */\n/* SPDX-License-Identifier: MIT */\n' > "$good/src/a.h"
printf '#!/bin/sh\n# SPDX-License-Identifier: MIT\necho hi\n' > "$good/run.sh"
printf '#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n# SPDX-License-Identifier: MIT\n' > "$good/tool.py"
printf '// SPDX-License-Identifier: MIT\nfn main() {}\n' > "$good/src/main.rs"
printf '# SPDX-License-Identifier: MIT\nproject(x C)\n' > "$good/CMakeLists.txt"
printf -- '-- SPDX-License-Identifier: MIT\n' > "$good/mod.lua"
printf '#!/bin/sh\n# SPDX-License-Identifier: MIT\n' > "$good/.ci/run"
printf 'no licence here\n' > "$good/README.md"
printf 'no licence here\n' > "$good/notes.txt"
printf '\001\002binary' > "$good/fuzz/corpus/seed"
printf 'abi\n' > "$good/abi/lib.abi"
expect pass good_tree "$good"

variant() { # variant NAME FILE CONTENT REGEX: the good tree with FILE changed
  local name=$1 file=$2 content=$3 re=$4
  rm -rf "$work/$name" && cp -a "$good" "$work/$name"
  mkdir -p "$(dirname "$work/$name/$file")"
  printf '%b' "$content" > "$work/$name/$file"
  expect fail "$name" "$work/$name" "$re"
}
variant missing_c src/a.c 'int x;\n' '^src/a.c: no'
variant missing_cmake CMakeLists.txt 'project(x C)\n' '^CMakeLists.txt: no'
variant missing_script .ci/run '#!/bin/sh\necho hi\n' '^\.ci/run: no'
variant fourth_line run.sh '#!/bin/sh\n#\n#\n# SPDX-License-Identifier: MIT\n' '^run.sh: no'
variant other_licence src/a.h '/* SPDX-License-Identifier: Apache-2.0 */\n' '^src/a.h: no'
variant mit_or_more src/a.h '/* SPDX-License-Identifier: MIT-0 */\n' '^src/a.h: no'
variant unclassified src/b.xyz 'data\n' '^src/b.xyz: unknown file type'

# In a git checkout only tracked files count: an untracked file without the
# line is not the project's, a tracked one is.
if command -v git > /dev/null; then
  repo=$work/repo
  cp -a "$good" "$repo"
  git -C "$repo" init -q && git -C "$repo" add -A &&
    git -C "$repo" -c user.name=t -c user.email=t@t commit -qm t
  printf 'int y;\n' > "$repo/src/untracked.c"
  expect pass git_untracked_ignored "$repo"
  git -C "$repo" add src/untracked.c
  expect fail git_tracked_checked "$repo" '^src/untracked.c: no'
else
  echo "FAIL: git is needed for the checkout half of the self-test"; fails=1
fi

# add-spdx.sh on a copy of the real tree: the check passes afterwards, each
# changed file differs by exactly its one licence line at the right place,
# scripts keep their shebang and mode and still parse, and a second run
# changes nothing.
copy=$work/tree
mkdir -p "$copy"
spdx_list_files "$src" | while IFS= read -r f; do
  mkdir -p "$copy/$(dirname "$f")" && cp -p "$src/$f" "$copy/$f"
done
cp -a "$copy" "$work/tree.orig"
if ! add_out=$(bash "$scripts/add-spdx.sh" "$copy" 2>&1); then
  printf '%s\n' "$add_out"; echo "FAIL (add_spdx): add-spdx.sh failed on a copy of the tree"; fails=1
fi
expect pass add_spdx_then_check "$copy"
bad_edit=0
while IFS= read -r f; do
  o=$work/tree.orig/$f n=$copy/$f
  cmp -s "$o" "$n" && continue
  style=$(spdx_style "$f" "$copy")
  keep=$(spdx_insert_after "$o")
  want=$(spdx_line "$style")
  # The new file minus line keep+1 must be the old file, byte for byte.
  # (When the line went last into a file without a final newline, the
  # old file's last line gained one.)
  if [ "$(sed -n "$((keep + 1))p" "$n")" != "$want" ] ||
     { ! cmp -s <(sed "$((keep + 1))d" "$n") "$o" &&
       ! cmp -s <(sed "$((keep + 1))d" "$n") <(cat "$o"; echo); }; then
    echo "add-spdx changed more than one line of $f:"; diff "$o" "$n" | head -n 10; bad_edit=1
  fi
  if [ "$(stat -c %a "$o")" != "$(stat -c %a "$n")" ]; then
    echo "add-spdx changed the mode of $f"; bad_edit=1
  fi
  if head -c 2 "$o" | grep -q '^#!' && [ "$(head -n 1 "$o")" != "$(head -n 1 "$n")" ]; then
    echo "add-spdx moved the shebang of $f"; bad_edit=1
  fi
  case $f in
    *.sh) bash -n "$n" || { echo "$f no longer parses"; bad_edit=1; } ;;
    *.py) python3 -c 'import ast, sys; ast.parse(open(sys.argv[1], "rb").read())' "$n" ||
            { echo "$f no longer parses"; bad_edit=1; } ;;
  esac
done < <(spdx_list_files "$copy")
if [ $bad_edit -eq 0 ]; then
  echo "ok (add_spdx_edits): $(grep -c '^added: ' <<<"$add_out") file(s) got exactly their licence line"
else
  echo "FAIL (add_spdx_edits)"; fails=1
fi
if [ -n "$(bash "$scripts/add-spdx.sh" "$copy" | grep '^added: ')" ]; then
  echo "FAIL (add_spdx_idempotent): a second run changed files"; fails=1
else
  echo "ok (add_spdx_idempotent): a second run changed nothing"
fi

[ $fails -eq 0 ] || exit 1
echo "PASS: the SPDX check fails on every broken tree and add-spdx.sh satisfies it"
