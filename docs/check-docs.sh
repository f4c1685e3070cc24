#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs Doxygen with the configuration of the `docs` target (warnings are
# errors), and the pages' code examples, for ctest.
#
#   check-docs.sh build    DOXYGEN DOXYFILE OUTDIR INCLUDEDIR
#       the real documentation: must build with no warning at all, and
#       every public function must say which threads may call it and what
#       it returns (Doxygen cannot check those two);
#   check-docs.sh selftest DOXYGEN DOXYFILE OUTDIR INCLUDEDIR
#       copies of the public headers, each with one piece of documentation
#       taken away, must each fail the build, naming what is missing (and
#       the untouched copy must pass, so the failures have no other cause);
#   check-docs.sh example-c MD CC INCLUDEDIR LIBDIR WORK
#       the first ```c block of the page MD, compiled against the library
#       in LIBDIR, must build and run (exit status 0);
#   check-docs.sh example-python MD PYTHON WORK EXPECTED
#       the first ```python block of MD must run and print EXPECTED (the
#       caller sets PYTHONPATH to the built package).
# The build mode also checks the front page: its first screen shows the C
# example and links to the Python and Rust pages.
set -uo pipefail
mode=$1
docs_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# block MD LANG: the first fenced block of that language in MD.
block() {
  awk -v lang="$2" '
    !inside && $0 == "```" lang { inside = 1; next }
    inside && $0 == "```" { exit }
    inside { print }' "$1"
}

case $mode in
example-c)
  md=$2 cc=$3 inc=$4 lib=$5 work=$6
  rm -rf "$work" && mkdir -p "$work"
  block "$md" c > "$work/example.c"
  [ -s "$work/example.c" ] || { echo "FAIL: no \`\`\`c block in $md"; exit 1; }
  "$cc" -std=c11 -Wall -Wextra -Werror -I"$inc" "$work/example.c" -o "$work/example" \
    -L"$lib" -ltimefuture -Wl,-rpath,"$lib" || { echo "FAIL: the example of $md does not build"; exit 1; }
  "$work/example" || { echo "FAIL: the example of $md exited with status $?"; exit 1; }
  echo "PASS: the C example of $(basename "$md") ($(wc -l < "$work/example.c") lines) builds and runs"
  exit 0 ;;
example-python)
  md=$2 py=$3 work=$4 expected=$5
  rm -rf "$work" && mkdir -p "$work"
  block "$md" python > "$work/example.py"
  [ -s "$work/example.py" ] || { echo "FAIL: no \`\`\`python block in $md"; exit 1; }
  got=$("$py" "$work/example.py") || { echo "FAIL: the example of $md failed"; exit 1; }
  [ "$got" = "$expected" ] || { echo "FAIL: the example of $md printed '$got', expected '$expected'"; exit 1; }
  echo "PASS: the Python example of $(basename "$md") runs and prints $got"
  exit 0 ;;
esac
doxygen=$2 doxyfile=$3 out=$4

# front_page HTMLDIR: a newcomer sees the example and the bindings' pages
# on the first screen of the front page (its first 40 lines).
front_page() {
  local index=$docs_dir/index.md html=$1 bad=0 screen first_c
  screen=$(head -n 40 "$index")
  first_c=$(grep -n '^```c$' "$index" | head -n 1 | cut -d: -f1)
  if [ -z "$first_c" ] || [ "$first_c" -gt 25 ]; then
    echo "index.md: the C example must start within the first 25 lines"; bad=1
  fi
  grep -q 'tf_block_on' <<<"$(block "$index" c)" || { echo "index.md: the first C example does not call tf_block_on"; bad=1; }
  for page in python rust; do
    grep -q "(@ref $page)" <<<"$screen" || { echo "index.md: no link to @ref $page in the first 40 lines"; bad=1; }
    [ -f "$html/$page.html" ] || { echo "no $html/$page.html"; bad=1; }
    grep -q "href=\"$page.html\"" "$html/index.html" || { echo "index.html does not link to $page.html"; bad=1; }
  done
  # The Rust page includes the tested example file itself.
  grep -q 'howdy!' "$html/rust.html" || { echo "rust.html lacks the included examples/timer.rs"; bad=1; }
  return $bad
}

# lint INCLUDEDIR: the checks Doxygen lacks, on every TF_API function.
lint() {
  python3 - "$1" <<'PY'
import glob, os, re, sys
bad = 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.h"))):
    text = open(path).read()
    for m in re.finditer(r"/\*\*((?:(?!\*/).)*)\*/\s*TF_API([^;]*?)\b(tf_\w+)\s*\(", text, re.S):
        doc, rtype, name = m.group(1), m.group(2).strip(), m.group(3)
        line = text.count("\n", 0, m.end()) + 1
        if "@par Thread safety" not in doc:
            print("%s:%d: %s: no '@par Thread safety' section" % (os.path.basename(path), line, name))
            bad = 1
        if rtype != "void" and not re.search(r"@retval|@return", doc):
            print("%s:%d: %s: documents no return value or error" % (os.path.basename(path), line, name))
            bad = 1
sys.exit(bad)
PY
}

# run_doxygen OUTDIR [EXTRA CONFIG LINES...]: sets rc and log.
run_doxygen() {
  local dir=$1; shift
  rm -rf "$dir" && mkdir -p "$dir"
  { cat "$doxyfile"; echo "OUTPUT_DIRECTORY = $dir"; printf '%s\n' "$@"; } |
    "$doxygen" - > "$dir.log" 2>&1
  rc=$?
  log=$(grep -v '^$' "$dir.log" || true)
}

case $mode in
build)
  lint "$5" || { echo "FAIL: public functions lack thread-safety or return documentation"; exit 1; }
  run_doxygen "$out"
  [ -z "$log" ] || printf '%s\n' "$log"
  if [ $rc -ne 0 ] || [ -n "$log" ]; then
    echo "FAIL: the documentation has warnings (status $rc)"
    exit 1
  fi
  [ -f "$out/html/index.html" ] || { echo "FAIL: no $out/html/index.html"; exit 1; }
  front_page "$out/html" || { echo "FAIL: the front page does not show the example and the bindings' pages first"; exit 1; }
  echo "PASS: documentation built with no warning: $out/html/index.html"
  ;;
selftest)
  inc=$5
  work=$out/headers
  fails=0
  # variant NAME PYTHON-EDIT EXPECTED-REGEX...
  variant() {
    local name=$1 edit=$2; shift 2
    rm -rf "$work" && mkdir -p "$work" && cp "$inc"/*.h "$work/"
    if [ -n "$edit" ]; then
      python3 - "$work/timefuture.h" "$edit" <<'PY' || { echo "FAIL ($name): the edit did not apply"; fails=1; return; }
import re, sys
path, edit = sys.argv[1], sys.argv[2]
s = open(path).read()
old, new = edit.split("=>", 1)
n = len(re.findall(old, s, flags=re.S))
if n != 1:
    sys.exit("pattern matched %d times" % n)
open(path, "w").write(re.sub(old, new, s, flags=re.S))
PY
    fi
    run_doxygen "$out/$name" "INPUT = $work/timefuture.h $work/timefuture_version.h" \
      "USE_MDFILE_AS_MAINPAGE =" "FILE_PATTERNS = *.h"
    local lint_out
    if ! lint_out=$(lint "$work"); then
      rc=1
      log=$(printf '%s\n%s' "$log" "$lint_out")
    fi
    if [ $# -eq 0 ]; then
      if [ $rc -ne 0 ] || [ -n "$log" ]; then
        printf '%s\n' "$log"; echo "FAIL ($name): the untouched headers do not build cleanly"; fails=1
      else
        echo "ok ($name): builds cleanly"
      fi
      return
    fi
    if [ $rc -eq 0 ]; then
      printf '%s\n' "$log"; echo "FAIL ($name): the docs build passed"; fails=1; return
    fi
    local re
    for re in "$@"; do
      if ! grep -Eq -- "$re" <<<"$log"; then
        printf '%s\n' "$log"; echo "FAIL ($name): failed, but without /$re/"; fails=1; return
      fi
    done
    echo "ok ($name): the build failed (status $rc): $(grep -E -- "$1" <<<"$log" | head -n1 | sed 's/.*timefuture.h:/timefuture.h:/')"
  }
  variant control ""
  variant undocumented_function \
    '/\*\*\n \* @brief Disarm the timer\..*?\*/\nTF_API int tf_timer_cancel=>TF_API int tf_timer_cancel' \
    'tf_timer_cancel.*is not documented|is not documented.*tf_timer_cancel'
  variant undocumented_parameter \
    ' \* @param duration_ns Nanoseconds from now; 0 fires at once\.\n=>' \
    'parameter.*duration_ns.*not documented|duration_ns.*not .*documented'
  variant undocumented_return \
    ' \* @return A static string; never NULL, never to be freed\.\n=>' \
    'return.*tf_version_string|tf_version_string.*return'
  variant undocumented_table_entry \
    '    /\*\* tf_block_on\(\) \*/\n    int \(\*block_on\)=>    int (*block_on)' \
    'block_on.*is not documented'
  variant no_thread_safety \
    '(\* @retval TF_ESTATE The timer had already fired or been cancelled\.\n(?: \* @retval[^\n]*\n)*) \* @par Thread safety\n \* Any thread\.\n=>\1' \
    "tf_timer_cancel: no '@par Thread safety' section"
  [ $fails -eq 0 ] || exit 1
  echo "PASS: every removed piece of documentation failed the docs build"
  ;;
*)
  echo "usage: check-docs.sh build|selftest ..." >&2; exit 2 ;;
esac
