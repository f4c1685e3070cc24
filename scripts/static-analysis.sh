#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static analysis of every C file of the project: the library, the tests,
# the fuzzer, the examples, the benchmarks, the documentation's examples
# and the Python binding. cppcheck first, then clang-tidy (settings and
# the reasons for every disabled check: .clang-tidy). Any finding of
# either fails the script.
#
# Both read the compile commands of a configured tree ($TF_BUILD_ROOT/analysis,
# and .../analysis-fuzz for the fuzzer; outside the source tree), so they see
# the same include paths and definitions as the compiler. Nothing is built.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
. scripts/build-root.sh
A=$TF_BUILD_ROOT/analysis
AF=$TF_BUILD_ROOT/analysis-fuzz

echo "== configure (compile commands only)"
cmake -S . -B "$A" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DTF_BUILD_PYTHON=ON >/dev/null
cmake -S fuzz -B "$AF" -G Ninja -DCMAKE_C_COMPILER=clang >/dev/null

status=0
echo "== cppcheck"
# The Python binding is left to clang-tidy: cppcheck cannot follow CPython's
# Py_BEGIN_ALLOW_THREADS/Py_END_ALLOW_THREADS (one brace pair split across
# two macros) and reports returns as missing there.
CPPCHECK=(cppcheck --enable=warning,style,performance,portability --inline-suppr
  --error-exitcode=1 --quiet --suppress=missingIncludeSystem
  -D__x86_64__ -D__linux__ -D__GNUC__)
"${CPPCHECK[@]}" --project="$A/compile_commands.json" -i "$PWD/bindings/python" || status=1
"${CPPCHECK[@]}" --std=c11 -D_GNU_SOURCE -DTF_STATIC_DEFINE -Iinclude -Isrc fuzz/ || status=1
[ $status -eq 0 ] && echo "cppcheck: no findings"

echo "== clang-tidy"
log=$A/clang-tidy.log
tidy_status=0
# (run-clang-tidy exits 1 if any file has a finding: WarningsAsErrors.)
run-clang-tidy -p "$A" -j "$JOBS" -quiet >"$log.raw" 2>&1 || tidy_status=1
run-clang-tidy -p "$AF" -j "$JOBS" -quiet 'fuzz/' >>"$log.raw" 2>&1 || tidy_status=1
sed 's/\x1b\[[0-9;]*m//g' "$log.raw" >"$log"
# Show the findings (with their source lines), not the progress lines.
grep -E -A3 '(warning|error):' "$log" | grep -v '^clang-tidy' || true
files=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))) + sum("/fuzz/" in e["file"] for e in json.load(open(sys.argv[2]))))' "$A/compile_commands.json" "$AF/compile_commands.json")
if [ $tidy_status -ne 0 ]; then
  n=$(grep -cE '(warning|error):' "$log" || true)
  echo "clang-tidy: $n findings (full log: $log)"
  status=1
else
  echo "clang-tidy: no findings in $files translation units"
fi
exit $status
