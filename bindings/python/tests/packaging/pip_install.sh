#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The pip route, from scratch and offline: installs the library into a
# scratch prefix (cmake --install), makes a fresh venv, installs the binding
# into it with pip against that prefix (pkg-config), then imports it and
# awaits a sleep (check_installed.py) and type-checks a program against it
# with mypy (the stub found through py.typed). The binding is built from a
# copy: pip builds in the source directory (build/, *.egg-info), and the
# source tree must stay untouched, which is checked at the end.
# Usage: pip_install.sh PYTHON BUILD_DIR LIBDIR BINDING_SOURCE_DIR WORKDIR VERSION WHEEL_DIR MYPY_PYTHON
set -euo pipefail
py=$1 build=$2 libdir=$3 src=$4 work=$5 version=$6 wheels=$7 mypy_py=$8
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
t0=$SECONDS
step() { echo "-- $* (+$((SECONDS - t0)) s)"; }

snapshot() { (cd "$src" && find . -printf '%p %y %s %T@\n' | LC_ALL=C sort); }
before=$(snapshot)

rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
step "cmake --install: runtime and dev components into $prefix"
for c in runtime dev; do
  cmake --install "$build" --prefix "$prefix" --component "$c" >/dev/null
done
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac

step "fresh venv ($py -m venv)"
"$py" -m venv "$work/venv" ||
  fail "$py -m venv failed (Debian: apt-get install python3-venv)"
vpy=$work/venv/bin/python
# Only what this script says: no pip settings of the environment or the
# machine (extra find-links, indexes), no cache.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^PIP_' || true)
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# --no-build-isolation needs setuptools (in the venv) and wheel; both come
# from local wheel files only, never from a network index.
if ! "$vpy" -c 'import wheel' 2>/dev/null; then
  step "wheel from $wheels"
  ls "$wheels"/wheel-*.whl >/dev/null 2>&1 ||
    fail "no wheel-*.whl in $wheels (Debian: apt-get install python3-wheel-whl)"
  "$vpy" -m pip install --no-index --find-links "$wheels" wheel
fi

step "pip install a copy of the binding, against $prefix"
cp -r "$src" "$work/src"
rm -rf "$work/src/build" "$work/src"/*.egg-info
# Only the scratch prefix: a timefuture.pc of the machine must not be used.
PKG_CONFIG_LIBDIR=$libdir/pkgconfig PKG_CONFIG_PATH= \
  "$vpy" -m pip install --no-build-isolation --no-index "$work/src"

step "import and await a sleep"
(cd "$work" && "$vpy" "$here/check_installed.py" "$version" "$work/venv" "$prefix")
# The extension carries an RPATH to the scratch library (an interpreter
# built with its own RPATH, like pyenv's, adds that one too).
ext=$(echo "$work"/venv/lib/python*/site-packages/timefuture/_timefuture*.so)
[ -f "$ext" ] || fail "no extension in the venv's timefuture package: $ext"
rpath=$(readelf -d "$ext" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]$/\2/p')
[[ ":$rpath:" == *":$libdir:"* ]] ||
  fail "the extension's RPATH [$rpath] does not name $libdir"

step "mypy type-checks a program against the installed package"
"$mypy_py" -c 'import mypy' 2>/dev/null ||
  fail "$mypy_py has no mypy (Debian: apt-get install mypy)"
out=$(cd "$work" && "$mypy_py" -m mypy --strict --no-incremental \
      --python-executable "$vpy" "$here/typecheck.py" 2>&1) && rc=0 || rc=$?
echo "$out"
[ "$rc" -eq 0 ] || fail "mypy exited $rc"
grep -q 'Revealed type is "builtins.float"' <<<"$out" &&
  grep -q 'Revealed type is "builtins.int"' <<<"$out" ||
  fail "mypy did not type the package from its stub"

step "the source tree is untouched"
after=$(snapshot)
[ "$before" = "$after" ] || fail "the build wrote into $src:
$(diff <(echo "$before") <(echo "$after") | head -20)"
echo "PASS: pip install from scratch into a venv, offline, in $((SECONDS - t0)) s"
