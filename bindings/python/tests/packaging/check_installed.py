# SPDX-License-Identifier: MIT
"""Run by the packaging tests with an installed timefuture on the path:

    python check_installed.py VERSION PACKAGE_PREFIX LIBRARY_PREFIX

Checks that the package imported is the one under PACKAGE_PREFIX (not a
build tree), that its extension loaded the libtimefuture under
LIBRARY_PREFIX (found through the extension's RPATH, without
LD_LIBRARY_PATH), that the
versions agree, and that a sleep is awaited both under timefuture.run()
and under asyncio (never early).
"""

import asyncio
import importlib.metadata
import os
import sys

import timefuture

version = sys.argv[1]
prefix, lib_prefix = (os.path.realpath(p) for p in sys.argv[2:4])


def fail(message):
    sys.exit(f"FAIL: {message}")


package_dir = os.path.realpath(os.path.dirname(timefuture.__file__))
if not package_dir.startswith(prefix + os.sep):
    fail(f"imported {package_dir}, not a package under {prefix}")
ext = timefuture._timefuture.__file__
if os.path.dirname(os.path.realpath(ext)) != package_dir:
    fail(f"the extension {ext} is not inside the package {package_dir}")
if not os.path.exists(os.path.join(package_dir, "_timefuture.pyi")) or \
        not os.path.exists(os.path.join(package_dir, "py.typed")):
    fail(f"{package_dir} lacks the stub or py.typed")

with open("/proc/self/maps", encoding="utf-8") as f:
    libs = {line.split()[-1] for line in f if "libtimefuture.so" in line}
if len(libs) != 1:
    fail(f"expected one libtimefuture mapped, found {sorted(libs)}")
lib = os.path.realpath(libs.pop())
print(f"library loaded: {lib}")
if not lib.startswith(lib_prefix + os.sep):
    fail(f"loaded {lib}, not the library under {lib_prefix}")
if "LD_LIBRARY_PATH" in os.environ:
    fail("LD_LIBRARY_PATH is set; the RPATH is what must find the library")

if timefuture.__version__ != version:
    fail(f"timefuture.__version__ is {timefuture.__version__}, want {version}")
try:
    meta = importlib.metadata.version("timefuture")
except importlib.metadata.PackageNotFoundError:
    meta = None  # cmake --install writes no distribution metadata
if meta is not None and meta != version:
    fail(f"the distribution's version is {meta}, want {version}")


async def nap(seconds):
    start = timefuture.monotonic_ns()
    await timefuture.sleep(seconds)
    return timefuture.monotonic_ns() - start


for runner in (timefuture.run, asyncio.run):
    elapsed = runner(nap(0.002))
    if elapsed < 2_000_000:
        fail(f"{runner.__module__}.run: sleep(0.002) returned after {elapsed} ns")
    print(f"{runner.__module__}.run: awaited sleep(0.002): {elapsed / 1e6:.3f} ms")
print(f"PASS: timefuture {version} from {package_dir}"
      + (f" (distribution {meta})" if meta else ""))
