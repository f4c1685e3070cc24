#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# mypy's stubtest imports the built package and compares it with its stub
# (timefuture/_timefuture.pyi, and __init__.py which re-exports it): every
# name, signature, positional-only marker, @final and default. A stub that
# cannot be checked fails the test rather than skipping it.
# Usage: stubtest.sh PYTHON SITE_DIR WORKDIR
set -euo pipefail
py=$1 site=$2 work=$3
if [ ! -x "$py" ]; then
  echo "FAIL: $py does not exist; stubtest needs an interpreter with mypy (Debian: apt-get install mypy)"
  exit 1
fi
if ! "$py" -c 'import mypy.stubtest' 2>/dev/null; then
  echo "FAIL: $py cannot import mypy.stubtest (Debian: apt-get install mypy)"
  exit 1
fi
if ! PYTHONPATH=$site "$py" -c 'import timefuture' ; then
  echo "FAIL: $py cannot import the built timefuture from $site (a different SOABI?)"
  exit 1
fi
echo "stubtest: $("$py" -m mypy --version) with $py"
rm -rf "$work" && mkdir -p "$work" && cd "$work"
# The mypy cache goes to the scratch directory; the build tree's package is
# the one checked (no config file of another project is picked up there).
PYTHONPATH=$site PYTHONDONTWRITEBYTECODE=1 \
  exec "$py" -m mypy.stubtest --mypy-config-file /dev/null timefuture
