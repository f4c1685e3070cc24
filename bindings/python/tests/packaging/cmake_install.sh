#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `cmake --install` puts the package where the interpreter looks:
# 1. a scratch prefix: the package lands in one of the interpreter's site
#    directories for that prefix (site.getsitepackages([prefix])), and
#    imports from there with PYTHONPATH, its extension finding the library
#    of the same prefix through its relative RPATH;
# 2. staged with DESTDIR, for the interpreter's own prefix and for
#    <prefix>/local: where such a directory is on the interpreter's own
#    sys.path (Debian: /usr/lib/python3/dist-packages and
#    /usr/local/lib/python3.X/dist-packages), the package must be in it;
#    the staged copy imports too.
# Usage: cmake_install.sh PYTHON BUILD_DIR WORKDIR VERSION
set -euo pipefail
py=$1 build=$2 work=$3 version=$4
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
unset PYTHONPATH LD_LIBRARY_PATH

# The one installed package directory under $1 (a staging root or prefix).
package_dir() {
  local found
  found=$(find "$1" -path '*/timefuture/__init__.py' -printf '%h\n')
  [ "$(wc -l <<<"$found")" -eq 1 ] && [ -n "$found" ] ||
    fail "expected one installed timefuture package under $1, found: ${found:-none}"
  echo "$found"
}

# Scratch prefix.
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
pkg=$(package_dir "$prefix")
site_dir=$(dirname "$pkg")
echo "scratch prefix: package in ${site_dir#"$prefix"/}"
"$py" - "$prefix" "$site_dir" <<'PY' || fail "$site_dir is not a site directory of $py for $prefix"
import site, sys
prefix, d = sys.argv[1:]
dirs = site.getsitepackages([prefix])
print("  site directories for the prefix:", " ".join(p[len(prefix) + 1:] for p in dirs))
sys.exit(d not in dirs)
PY
for f in __init__.py py.typed _timefuture.pyi; do
  [ -f "$pkg/$f" ] || fail "$f is not installed in $pkg"
done
(cd "$work" && PYTHONPATH=$site_dir "$py" "$here/check_installed.py" "$version" "$prefix" "$prefix")

# The interpreter's own prefix and <prefix>/local, staged.
own=$("$py" -c 'import sys; print(sys.prefix)')
for p in "$own" "$own/local"; do
  root=$work/root${p//\//_}
  DESTDIR=$root cmake --install "$build" --prefix "$p" >/dev/null
  pkg=$(package_dir "$root")
  site_dir=${pkg%/timefuture}
  d=${site_dir#"$root"}
  "$py" - "$p" "$d" <<'PY' || fail "prefix $p: installed into $d, not where $py looks"
import os, site, sys
prefix, d = sys.argv[1:]
paths = [os.path.normpath(x) for x in sys.path if x]
searched = [x for x in paths if x.startswith(prefix + "/") and x.endswith(("-packages"))]
if searched:
    print(f"  prefix {prefix}: {d}; {sys.executable} searches {' '.join(searched)}")
    sys.exit(d not in searched)
print(f"  prefix {prefix}: {d}; no site directory of it is on sys.path, so: "
      "one of site.getsitepackages([prefix])")
sys.exit(d not in site.getsitepackages([prefix]))
PY
  (cd "$work" && PYTHONPATH=$site_dir "$py" "$here/check_installed.py" "$version" "$root" "$root")
done
echo "PASS: cmake --install puts the package where $py looks"
