#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds tests/packaging/consumer/main.c out of tree from an installed
# prefix with nothing but `pkg-config --cflags --libs timefuture` (shared)
# and `pkg-config --static ...` (static), and runs both.
# Usage: pkgconfig_consumer.sh PREFIX LIBDIR CC SOURCE WORKDIR VERSION [SYSROOT]
# SYSROOT: the files were unpacked under SYSROOT, but timefuture.pc names
# PREFIX as it will be on the target (a Debian package: /usr); pkg-config
# then prepends SYSROOT (PKG_CONFIG_SYSROOT_DIR).
set -euo pipefail
prefix=$1 libdir=$2 cc=$3 src=$4 work=$5 version=$6 sysroot=${7:-}
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
if [ -n "$sysroot" ]; then
  export PKG_CONFIG_SYSROOT_DIR=$sysroot
  prefix=$sysroot$prefix libdir=$sysroot$libdir
else
  unset PKG_CONFIG_SYSROOT_DIR
fi
rm -rf "$work" && mkdir -p "$work"
# Only the scratch prefix: a timefuture.pc installed on the machine must not
# be found instead.
export PKG_CONFIG_LIBDIR=$libdir/pkgconfig PKG_CONFIG_PATH=
pc() { pkg-config "$@" timefuture; }

[ "$(pc --modversion)" = "$version" ] || { echo "FAIL: modversion $(pc --modversion), want $version"; exit 1; }
pc --atleast-version=1.0 || { echo "FAIL: does not satisfy timefuture >= 1.0"; exit 1; }
! pc --atleast-version=2.0 || { echo "FAIL: claims to satisfy timefuture >= 2.0"; exit 1; }
# (pkgconf prepends the sysroot to variables too; pkg-config does not.)
case $(pc --variable=prefix) in
  "$prefix"|"${prefix#"$sysroot"}") ;;
  *) echo "FAIL: prefix is $(pc --variable=prefix)"; exit 1 ;;
esac
echo "pkg-config: --cflags --libs: $(pc --cflags --libs)"
echo "pkg-config: --static --cflags --libs: $(pc --static --cflags --libs)"

# Shared: the rpath stands in for an ld.so.conf entry of a real prefix.
# (Word splitting of the flags is intended.)
# shellcheck disable=SC2046
"$cc" -std=c11 $(pc --cflags) "$src" -o "$work/consumer_shared" $(pc --libs) \
  -Wl,-rpath,"$libdir"
readelf -d "$work/consumer_shared" | grep -q 'NEEDED.*\[libtimefuture\.so\.1\]' ||
  { echo "FAIL: the shared consumer does not need libtimefuture.so.1"; exit 1; }
out=$("$work/consumer_shared")
echo "$out"
grep -q "^consumer (shared): libtimefuture $version, timer fired on time$" <<<"$out"

# Static: a fully static program, so the .a and Libs.private are what
# make it link.
# shellcheck disable=SC2046
"$cc" -std=c11 $(pc --static --cflags) "$src" -o "$work/consumer_static" -static \
  $(pc --static --libs)
if readelf -d "$work/consumer_static" | grep -q 'NEEDED'; then
  echo "FAIL: the static consumer needs shared libraries:"; readelf -d "$work/consumer_static"; exit 1
fi
out=$("$work/consumer_static")
echo "$out"
grep -q "^consumer (static): libtimefuture $version, timer fired on time$" <<<"$out"
echo "PASS: pkg-config consumers (shared and static) built and ran"
