#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs examples/dlopen_timer: checks that it has no link-time dependency on
# the library, then that it loads libtimefuture.so.1 by soname from LIBDIR
# and runs the timer example through the function table.
# Usage: run_dlopen_example.sh EXAMPLE LIBDIR
set -euo pipefail
exe=$1 libdir=$2
needed=$(readelf -d "$exe" | grep NEEDED || true)
if grep -q timefuture <<<"$needed"; then
  echo "FAIL: $exe is linked with the library:"; echo "$needed"; exit 1
fi
out=$(LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$exe" 50 2>&1)
echo "$out"
for line in "loaded libtimefuture [0-9]+\.[0-9]+\.[0-9]+ through one symbol" "^howdy!$" "^done! \(waited [0-9.]+ ms\)$"; do
  grep -Eq "$line" <<<"$out" || { echo "FAIL: no line matching /$line/"; exit 1; }
done
echo "PASS: dlopen_timer ran through the table without linking the library"
