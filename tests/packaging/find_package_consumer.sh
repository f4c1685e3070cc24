#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds tests/packaging/consumer/ out of tree from an installed prefix with
# find_package(timefuture 1.0 CONFIG), runs its shared and static programs,
# and checks that find_package(timefuture 2.0) is refused.
# Usage: find_package_consumer.sh CMAKE GENERATOR CC PREFIX SOURCE_DIR WORKDIR VERSION
set -euo pipefail
cmake=$1 gen=$2 cc=$3 prefix=$4 src=$5 work=$6 version=$7
rm -rf "$work"
common=(-G "$gen" -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix"
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)

if "$cmake" -S "$src" -B "$work/v2" "${common[@]}" -DTF_WANT_VERSION=2.0 > "$work.v2.log" 2>&1; then
  echo "FAIL: find_package(timefuture 2.0) accepted version $version"; cat "$work.v2.log"; exit 1
fi
grep -q "considered but not accepted" "$work.v2.log" && grep -q "$prefix/.*timefutureConfig.cmake, version: $version" "$work.v2.log" ||
  { echo "FAIL: 2.0 was refused, but not by the version file:"; cat "$work.v2.log"; exit 1; }
echo "find_package(timefuture 2.0) refused, as SameMajorVersion says"

"$cmake" -S "$src" -B "$work/v1" "${common[@]}"
"$cmake" --build "$work/v1"
grep -q "^timefuture_DIR:PATH=$prefix/" "$work/v1/CMakeCache.txt" ||
  { echo "FAIL: the package was not found in $prefix"; grep timefuture_DIR "$work/v1/CMakeCache.txt"; exit 1; }
for kind in shared static; do
  out=$("$work/v1/consumer_$kind")
  echo "$out"
  grep -q "^consumer ($kind): libtimefuture $version, timer fired on time$" <<<"$out"
done
readelf -d "$work/v1/consumer_static" | grep -q 'NEEDED.*libtimefuture' &&
  { echo "FAIL: consumer_static is linked with the shared library"; exit 1; }
echo "PASS: find_package consumers (timefuture::timefuture and timefuture::timefuture_static) built and ran"
