# SPDX-License-Identifier: MIT
# Shared by scripts/add-spdx.sh and tests/packaging/check_spdx.sh (sourced,
# not run): which files are source files, and how each one spells the
# licence line, so that the checker and the inserter never disagree.

SPDX_ID="SPDX-License-Identifier: MIT"

# spdx_list_files DIR: the files to consider, one per line, relative to DIR.
# In a git checkout only tracked files count (build output and editor files
# are not the project's); in an unpacked tarball every file does, except
# the usual build and cache directories.
spdx_list_files() {
  local dir=$1 top
  if top=$(git -C "$dir" rev-parse --show-toplevel 2>/dev/null) &&
     [ "$(cd "$top" && pwd -P)" = "$(cd "$dir" && pwd -P)" ]; then
    git -C "$dir" ls-files | while IFS= read -r f; do
      [ -f "$dir/$f" ] && [ ! -L "$dir/$f" ] && printf '%s\n' "$f"
    done
    return 0
  fi
  (cd "$dir" && find . -name .git -prune -o -type d \( -name 'build*' -o -name target \
      -o -name __pycache__ -o -name node_modules -o -name '*.egg-info' \) -prune \
      -o -type f -print | sed 's|^\./||' | LC_ALL=C sort)
}

# spdx_style PATH [DIR]: prints the comment style of a file: "block" (/* */),
# "slash" (//), "hash" (#), "dash" (--), or "skip" for data and prose that
# carry no licence line. Prints "unknown" for a type nobody has classified
# yet, which the checker reports: a new kind of source file must not slip
# through unchecked.
spdx_style() {
  local path=$1 dir=${2:-.} base
  base=${path##*/}
  case $path in
    # Data: fuzz inputs, ABI baselines, lock files, marker files.
    fuzz/corpus/*|abi/*.abi|*/Cargo.lock|Cargo.lock|*.lock|*/py.typed|py.typed) echo skip; return ;;
    # The test command's lists: data, but commented with '#'.
    scripts/test.d/min-tests|scripts/test.d/expected-stages) echo hash; return ;;
  esac
  case $base in
    LICENSE|LICENSE.*|COPYING|*.md|*.rst|.gitignore|.gitattributes|*.json|*.json.in|*.csv|*.svg|*.png) echo skip; return ;;
    CMakeLists.txt) echo hash; return ;;
    *.txt) echo skip; return ;;
    MANIFEST.in) echo hash; return ;;
    .clang-tidy|.clang-format) echo hash; return ;;
  esac
  # A template is commented like the file it becomes.
  case $base in *.in) base=${base%.in} ;; esac
  case $base in
    *.c|*.h|*.map|*.pml|*.css) echo block ;;
    *.rs|*.js|*.mjs|*.cjs|*.ts|*.go|*.java|*.cc|*.cpp|*.hpp) echo slash ;;
    *.sh|*.bash|*.py|*.pyi|*.cmake|*.pc|*.toml|*.yml|*.yaml|*.cfg|*.ini|*.mk|Makefile) echo hash ;;
    *.lua) echo dash ;;
    *)
      if [ -f "$dir/$path" ] && head -c 2 "$dir/$path" | grep -q '^#!'; then
        echo hash   # an extensionless script, like .ci/run
      else
        echo unknown
      fi ;;
  esac
}

# spdx_line STYLE: the licence line in that comment syntax.
spdx_line() {
  case $1 in
    block) printf '/* %s */\n' "$SPDX_ID" ;;
    slash) printf '// %s\n' "$SPDX_ID" ;;
    hash)  printf '# %s\n' "$SPDX_ID" ;;
    dash)  printf -- '-- %s\n' "$SPDX_ID" ;;
  esac
}

# spdx_has FILE: the line is within the first 3 lines, naming MIT alone.
spdx_has() {
  head -n 3 "$1" | grep -Eq 'SPDX-License-Identifier: MIT([[:space:]]|\*/|$)'
}

# spdx_insert_after FILE: how many leading lines must stay first: a shebang
# (#! but not a Rust inner attribute #![), then a Python encoding line, which
# only counts within the first two lines.
spdx_insert_after() {
  local file=$1 n=0 first second
  first=$(sed -n 1p "$file")
  case $first in
    '#!['*) ;;
    '#!'*) n=1 ;;
  esac
  case $file in
    *.py|*.pyi)
      second=$(sed -n "$((n + 1))p" "$file")
      if [ $n -lt 2 ] && printf '%s\n' "$second" | grep -Eq '^[[:space:]]*#.*coding[:=]'; then
        n=$((n + 1))
      fi ;;
  esac
  echo $n
}
