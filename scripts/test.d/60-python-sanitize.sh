#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Python binding under AddressSanitizer + UndefinedBehaviorSanitizer: the
# library and the extension built with -DTF_SANITIZE=address,undefined, and
# the binding's tests (ctest -L python, packaging left out) run by the
# ordinary interpreter with the compiler's ASan runtime preloaded (it must
# come first in the process; the interpreter is not built with it).
#   ASAN_OPTIONS detect_leaks=0  the interpreter keeps memory until exit by
#                                design; leak reports would be its own.
#   PYTHONMALLOC=malloc          objects come from malloc, not pymalloc's
#                                arenas, so a use of a freed object is seen.
#   UBSan halts on the first report (-fno-sanitize-recover=all, and
#                                halt_on_error for the runtime's own checks).
# Builds in $PYTHON_SANITIZE_BUILD_DIR if set (kept, for reuse), otherwise in
# a temporary directory that is removed; never in the source tree.
# Usage: scripts/test.d/60-python-sanitize.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
JOBS=${JOBS:-$(nproc)}
dir=${PYTHON_SANITIZE_BUILD_DIR:-}
if [ -z "$dir" ]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/timefuture-python-asan.XXXXXX")
  trap 'rm -rf "$dir"' EXIT
fi
# The real interpreter, not a wrapper script (pyenv's shims are bash
# scripts; the preload would sanitize bash instead).
py=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
start=$SECONDS

echo "== python-asan: configure and build the extension in $dir (interpreter $py)"
cmake -S "$src" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTF_SANITIZE=address,undefined -DTF_WERROR=ON -DTF_BUILD_PYTHON=ON \
  -DPython3_EXECUTABLE="$py" -DTF_PYTHON_SYSTEM_INTERPRETER= \
  -DTF_BUILD_BENCH=OFF -DTF_BUILD_EXAMPLES=OFF -DTF_BUILD_DOCS=OFF >/dev/null
cmake --build "$dir" -j"$JOBS" --target timefuture_python

cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$dir/CMakeCache.txt")
asan=$("$cc" -print-file-name=libasan.so)
if [ ! -e "$asan" ]; then
  echo "FAIL: $cc has no libasan.so to preload (got '$asan')"; exit 1
fi
# The extension really is sanitized (a plain build would pass vacuously).
ext=$(echo "$dir"/bindings/python/site/timefuture/_timefuture*.so)
if ! readelf -d "$ext" | grep -q 'NEEDED.*libasan'; then
  echo "FAIL: $ext is not linked with AddressSanitizer"; exit 1
fi

echo "== python-asan: ctest -L python -LE packaging, preloading $asan"
n=$(ctest --test-dir "$dir" -N -L python -LE packaging | sed -n 's/^Total Tests: //p')
if [ "${n:-0}" -eq 0 ]; then
  echo "FAIL: no Python test is registered in $dir"; exit 1
fi
LD_PRELOAD=$asan PYTHONMALLOC=malloc \
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS" -L python -LE packaging
echo "== python-asan: $n tests passed in $((SECONDS - start)) s (build included)"
