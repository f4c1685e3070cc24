# SPDX-License-Identifier: MIT
"""Builds the extension timefuture._timefuture against libtimefuture.

The library is found with pkg-config (set PKG_CONFIG_PATH to
<prefix>/lib/pkgconfig for a library in another prefix), or, when
TIMEFUTURE_BUILD_DIR names a CMake build directory of the library, in that
build tree. The package's version is the library's (timefuture_version.h).
A library outside the linker's default directories is found at run time
through an RPATH to its directory.
"""

import glob
import os
import re
import shlex
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
# Directories the dynamic linker searches anyway: no RPATH for them.
SYSTEM_LIBDIRS = {"/lib", "/lib64", "/usr/lib", "/usr/lib64"}


def fail(message):
    sys.exit(f"timefuture setup.py: {message}")


def from_pkg_config():
    def query(*args):
        try:
            out = subprocess.run(["pkg-config", *args, "timefuture"],
                                 check=True, capture_output=True, text=True)
        except FileNotFoundError:
            fail("pkg-config is not installed, and TIMEFUTURE_BUILD_DIR is "
                 "not set")
        except subprocess.CalledProcessError as e:
            fail("pkg-config cannot find timefuture "
                 f"({e.stderr.strip()}); install the library, set "
                 "PKG_CONFIG_PATH to <prefix>/lib/pkgconfig, or set "
                 "TIMEFUTURE_BUILD_DIR to a CMake build directory")
        return shlex.split(out.stdout)

    include_dirs = [f[2:] for f in query("--cflags-only-I") if f.startswith("-I")]
    library_dirs = [f[2:] for f in query("--libs-only-L") if f.startswith("-L")]
    return include_dirs, library_dirs


def from_build_tree(build_dir):
    cache = os.path.join(build_dir, "CMakeCache.txt")
    try:
        with open(cache, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        fail(f"TIMEFUTURE_BUILD_DIR: cannot read {cache}: {e.strerror}")
    m = re.search(r"^timefuture_SOURCE_DIR:STATIC=(.*)$", text, re.M)
    if not m:
        fail(f"TIMEFUTURE_BUILD_DIR: {build_dir} is not a build of libtimefuture")
    if not glob.glob(os.path.join(build_dir, "libtimefuture.so*")):
        fail(f"TIMEFUTURE_BUILD_DIR: {build_dir} has no libtimefuture.so; "
             "build it first")
    return [os.path.join(m.group(1), "include")], [os.path.abspath(build_dir)]


def library_version(include_dirs):
    # The system include directory is not in pkg-config's -I output.
    for d in include_dirs + ["/usr/local/include", "/usr/include"]:
        path = os.path.join(d, "timefuture_version.h")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            parts = [re.search(rf"^#define TF_VERSION_{p} (\d+)", text, re.M)
                     for p in ("MAJOR", "MINOR", "PATCH")]
            if all(parts):
                return ".".join(m.group(1) for m in parts)
            fail(f"{path} has no TF_VERSION_MAJOR/MINOR/PATCH")
    fail("timefuture_version.h not found in " + ", ".join(include_dirs))


def sources():
    # The extension's C sources, one file per concern; relative paths, as
    # setuptools wants.
    found = sorted(os.path.relpath(p, HERE)
                   for p in glob.glob(os.path.join(HERE, "src", "*.c")))
    if not found:
        fail(f"no C sources in {os.path.join(HERE, 'src')}")
    return found


build_dir = os.environ.get("TIMEFUTURE_BUILD_DIR")
include_dirs, library_dirs = (from_build_tree(build_dir) if build_dir
                              else from_pkg_config())
multiarch = sysconfig.get_config_var("MULTIARCH")
system = SYSTEM_LIBDIRS | ({f"/usr/lib/{multiarch}", f"/lib/{multiarch}"}
                           if multiarch else set())
rpath = [d for d in library_dirs if os.path.normpath(d) not in system]

setup(
    version=library_version(include_dirs),
    ext_modules=[
        Extension(
            "timefuture._timefuture",
            sources=sources(),
            include_dirs=["src"] + include_dirs,
            library_dirs=library_dirs,
            libraries=["timefuture"],
            runtime_library_dirs=rpath,
            extra_compile_args=["-std=c11", "-fvisibility=hidden"],
        )
    ],
)
