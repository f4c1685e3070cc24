#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages (cmake/TimefuturePackaging.cmake), in four steps that
# ctest runs as separate tests:
#
#   deb.sh build    WORK SRC CMAKE CPACK GENERATOR CC
#       configures SRC for /usr in WORK/build, builds the two libraries and
#       runs `cpack -G DEB`; the packages go to WORK/debs
#   deb.sh contents WORK VERSION
#       names, versions, Depends, shlibs, the ldconfig call and the exact
#       file list of each package
#   deb.sh unpacked WORK VERSION SRC CMAKE GENERATOR CC
#       unpacks both into WORK/root and builds tests/packaging/consumer with
#       pkg-config (sysroot) and with find_package against that root
#   deb.sh system   WORK VERSION SRC CMAKE GENERATOR CC
#       only with TF_TEST_SYSTEM_INSTALL=1, as root, on a machine where the
#       packages are not installed: dpkg -i both, the consumers against
#       /usr, dpkg -r both, and checks that nothing is left; otherwise it
#       exits 77 (ctest: skipped)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
step=$1 work=$2
debs=$work/debs
fail() { echo "FAIL: $*"; exit 1; }
need() { command -v "$1" > /dev/null || fail "$1 not found (Debian's dpkg${2:+ and $2} are needed)"; }

# The package files of this version, and the build's libdir.
find_debs() {
  local version=$1 arch
  arch=$(dpkg --print-architecture)
  runtime=$debs/libtimefuture1_${version}-1_${arch}.deb
  dev=$debs/libtimefuture-dev_${version}-1_${arch}.deb
  [ -f "$runtime" ] && [ -f "$dev" ] || fail "no $runtime and $dev (the build step failed?)"
  libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$work/build/CMakeCache.txt")
  [ -n "$libdir" ] || fail "no CMAKE_INSTALL_LIBDIR in $work/build/CMakeCache.txt"
}

# consumers ROOT_OR_EMPTY PREFIX OUT: the pkg-config and find_package
# consumers of tests/packaging against PREFIX (under ROOT when unpacked).
consumers() {
  local root=$1 prefix=$2 out=$3
  bash "$here/pkgconfig_consumer.sh" "$prefix" "$prefix/$libdir" "$cc" \
    "$here/consumer/main.c" "$out/pkgconfig" "$version" ${root:+"$root"}
  bash "$here/find_package_consumer.sh" "$cmake" "$gen" "$cc" "$root$prefix" \
    "$here/consumer" "$out/find_package" "$version"
  # The programs run with the packaged library, not some other copy.
  # (Compared as real paths: with a merged /usr, ld.so may say /lib/...)
  local prog loaded want
  want=$(readlink -f "$root/usr/$libdir/libtimefuture.so.1")
  for prog in "$out/pkgconfig/consumer_shared" "$out/find_package/v1/consumer_shared"; do
    loaded=$(ldd "$prog" | sed -n 's/^[[:space:]]*libtimefuture\.so\.1 => \(.*\) (0x.*/\1/p')
    [ -n "$loaded" ] && [ "$(readlink -f "$loaded")" = "$want" ] ||
      fail "$prog does not load $root/usr/$libdir/libtimefuture.so.1 but '$loaded'"
  done
  echo "both shared consumers load $root/usr/$libdir/libtimefuture.so.1"
}

case $step in
build)
  src=$3 cmake=$4 cpack=$5 gen=$6 cc=$7
  need dpkg-deb
  rm -rf "$work" && mkdir -p "$work"
  started=$SECONDS
  # Only what the two packages hold: no tests, examples, benchmarks or
  # Python module. RelWithDebInfo as a distribution builds; CPack strips.
  "$cmake" -S "$src" -B "$work/build" -G "$gen" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
    -DBUILD_TESTING=OFF -DTF_BUILD_EXAMPLES=OFF -DTF_BUILD_BENCH=OFF \
    -DTF_BUILD_PYTHON=OFF -DTF_BUILD_DOCS=OFF > "$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; fail "configuring the package build failed"; }
  "$cmake" --build "$work/build" --target timefuture timefuture_static
  (cd "$work/build" && "$cpack" -G DEB -B "$debs")
  ls -l "$debs"/*.deb
  echo "PASS: built the packages in $((SECONDS - started)) s"
  ;;

contents)
  version=$3
  need dpkg-deb
  find_debs "$version"
  field() { dpkg-deb -f "$1" "$2"; }
  check_field() { # check_field DEB FIELD REGEX
    local v; v=$(field "$1" "$2")
    [[ $v =~ $3 ]] || fail "$(basename "$1"): $2 is '$v', expected /$3/"
    echo "$(basename "$1"): $2: $v"
  }
  arch=$(dpkg --print-architecture)
  vq=${version//./\\.}
  check_field "$runtime" Package '^libtimefuture1$'
  check_field "$runtime" Version "^$vq-1\$"
  check_field "$runtime" Architecture "^$arch\$"
  check_field "$runtime" Section '^libs$'
  # From dpkg-shlibdeps (or the fallback): the C library, nothing else.
  check_field "$runtime" Depends '^libc6 \(>= [0-9][0-9.]*\)$'
  check_field "$dev" Package '^libtimefuture-dev$'
  check_field "$dev" Version "^$vq-1\$"
  check_field "$dev" Architecture "^$arch\$"
  check_field "$dev" Section '^libdevel$'
  check_field "$dev" Depends "^libtimefuture1 \(= $vq-1\)\$"
  for d in "$runtime" "$dev"; do
    [ "$(field "$d" Description | head -n 1)" != "" ] || fail "$(basename "$d") has no summary"
  done
  # What lets dpkg-shlibdeps of other packages depend on this one, and
  # ld.so find it after installation.
  shlibs=$(dpkg-deb -I "$runtime" shlibs)
  [ "$shlibs" = "libtimefuture 1 libtimefuture1 (>= $version-1)" ] ||
    fail "libtimefuture1's shlibs file is '$shlibs'"
  echo "shlibs: $shlibs"
  grep -q '^[[:space:]]*ldconfig' <<<"$(dpkg-deb -I "$runtime" postinst)" ||
    fail "libtimefuture1's postinst does not run ldconfig"
  ! dpkg-deb -I "$dev" shlibs > /dev/null 2>&1 || fail "libtimefuture-dev carries a shlibs file"

  # The exact file lists (directories aside): the SONAME link and the real
  # file in the runtime package, everything for building in -dev.
  list() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ { $1=$2=$3=$4=$5=""; sub(/^ +/, ""); print }' | LC_ALL=C sort; }
  so=libtimefuture.so
  want_runtime=$(printf '%s\n' \
    "./usr/$libdir/$so.1 -> $so.$version" \
    "./usr/$libdir/$so.$version" \
    "./usr/share/doc/libtimefuture1/copyright" | LC_ALL=C sort)
  want_dev=$(printf '%s\n' \
    ./usr/include/timefuture.h ./usr/include/timefuture_version.h \
    "./usr/$libdir/$so -> $so.1" "./usr/$libdir/libtimefuture.a" \
    "./usr/$libdir/pkgconfig/timefuture.pc" \
    "./usr/$libdir/cmake/timefuture/timefutureConfig.cmake" \
    "./usr/$libdir/cmake/timefuture/timefutureConfigVersion.cmake" \
    "./usr/$libdir/cmake/timefuture/timefutureTargets.cmake" \
    "./usr/$libdir/cmake/timefuture/timefutureTargets-relwithdebinfo.cmake" \
    "./usr/share/doc/libtimefuture-dev/copyright" | LC_ALL=C sort)
  for p in runtime dev; do
    deb=${!p} want_var=want_$p
    got=$(list "$deb")
    if [ "$got" != "${!want_var}" ]; then
      diff <(echo "${!want_var}") <(echo "$got") || true
      fail "$(basename "$deb") holds other files than expected (< expected, > packaged)"
    fi
    echo "$(basename "$deb"): $(wc -l <<<"$got") files, as expected"
  done
  # Debian's multiarch directory, when dpkg-dev can name it.
  if command -v dpkg-architecture > /dev/null; then
    ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
    [ "$libdir" = "lib/$ma" ] || fail "libdir is $libdir, not Debian's lib/$ma"
  fi
  echo "PASS: package names, dependencies, shlibs and file lists"
  ;;

unpacked)
  version=$3 src=$4 cmake=$5 gen=$6 cc=$7
  need dpkg-deb
  find_debs "$version"
  root=$work/root
  rm -rf "$root" "$work/unpacked" && mkdir -p "$root"
  dpkg-deb -x "$runtime" "$root"
  dpkg-deb -x "$dev" "$root"
  lib=$root/usr/$libdir/libtimefuture.so
  [ "$(readlink "$lib")" = libtimefuture.so.1 ] || fail "libtimefuture.so links to '$(readlink "$lib")'"
  [ -f "$lib.$version" ] && [ -e "$lib.1" ] && [ -e "$lib" ] ||
    fail "the symlinks do not resolve in the unpacked root"
  dyn=$(readelf -d "$lib.$version")
  grep -q 'Library soname: \[libtimefuture\.so\.1\]' <<<"$dyn" || fail "SONAME: $(grep soname <<<"$dyn")"
  grep -q 'NEEDED.*\[libc\.so\.6\]' <<<"$dyn" || fail "the library does not need libc.so.6"
  ! grep -Eq 'R(UN)?PATH' <<<"$dyn" || fail "the packaged library has an rpath"
  # (Outputs are read whole: grep -q in a pipe would stop early and, with
  # pipefail, fail on the writer's broken pipe.)
  ! grep -q '\.debug_info' <<<"$(readelf -S -W "$lib.$version")" || fail "the packaged library is not stripped"
  # The version nodes survive stripping.
  grep -q 'tf_executor_new@@TF_1\.0' <<<"$(readelf --dyn-syms -W "$lib.$version")" ||
    fail "tf_executor_new@@TF_1.0 is not exported"
  echo "unpacked into $root: SONAME libtimefuture.so.1, NEEDED libc.so.6, no rpath, stripped"
  consumers "$root" /usr "$work/unpacked"
  echo "PASS: consumers built and ran against the unpacked packages"
  ;;

system)
  version=$3 src=$4 cmake=$5 gen=$6 cc=$7
  if [ "${TF_TEST_SYSTEM_INSTALL:-0}" != 1 ] || [ "$(id -u)" != 0 ]; then
    echo "SKIPPED: installing into the system needs TF_TEST_SYSTEM_INSTALL=1 and root"
    exit 77
  fi
  need dpkg-deb
  find_debs "$version"
  installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
  for p in libtimefuture1 libtimefuture-dev; do
    ! dpkg-query -W "$p" > /dev/null 2>&1 || [ "$(dpkg-query -W -f='${Status}' "$p")" = "unknown ok not-installed" ] ||
      fail "$p is already known to dpkg; this test would remove it"
  done
  # Whatever happens, the machine is left as it was found.
  cleanup() { dpkg --purge libtimefuture-dev libtimefuture1 > /dev/null 2>&1 || true; }
  trap cleanup EXIT
  dpkg -i "$runtime" "$dev"
  installed libtimefuture1 && installed libtimefuture-dev || fail "dpkg does not list both as installed"
  # (/lib is /usr/lib on a merged-/usr system; ldconfig may name either.)
  grep -Eq "libtimefuture\.so\.1 .*=> (/usr)?/$libdir/libtimefuture\.so\.1$" <<<"$(ldconfig -p)" ||
    fail "ld.so's cache does not have libtimefuture.so.1 after installation"
  consumers "" /usr "$work/system"
  files=$(dpkg -L libtimefuture1 libtimefuture-dev | while read -r f; do [ -d "$f" ] || echo "$f"; done)
  dpkg -r libtimefuture-dev libtimefuture1
  ! installed libtimefuture1 && ! installed libtimefuture-dev || fail "still installed after dpkg -r"
  left=$(while read -r f; do [ -e "$f" ] || [ -L "$f" ] && echo "$f"; done <<<"$files" || true)
  [ -z "$left" ] || fail "left after dpkg -r: $left"
  ! grep -q 'libtimefuture\.so\.1 ' <<<"$(ldconfig -p)" || fail "ld.so's cache still has libtimefuture.so.1"
  # The maintainer scripts keep a removed package known to dpkg ("rc");
  # purging forgets it, so the next run finds the machine as this one did.
  dpkg --purge libtimefuture-dev libtimefuture1
  trap - EXIT
  for p in libtimefuture1 libtimefuture-dev; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ -z "$st" ] || [ "$st" = "unknown ok not-installed" ] || fail "$p is left in dpkg's database: $st"
  done
  echo "PASS: installed with dpkg -i, consumers built against /usr, removed with dpkg -r ($(wc -l <<<"$files") files gone)"
  ;;
*)
  echo "usage: deb.sh build|contents|unpacked|system WORK ..." >&2; exit 2 ;;
esac
