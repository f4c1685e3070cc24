# SPDX-License-Identifier: MIT
"""Prints the directory, relative to PREFIX, where this interpreter looks
for (or would look for) packages installed under PREFIX:

    python3 site_dir.py PREFIX

- PREFIX is the interpreter's own prefix: the platlib of its system scheme
  (Debian's "deb_system", lib/python3/dist-packages, for /usr/bin/python3
  and /usr; otherwise the default scheme, e.g. lib/python3.X/site-packages).
- Debian's /usr/local: its "posix_local" platlib (lib/python3.X/dist-packages),
  which Debian's interpreter searches.
- Any other prefix: the same layout as the interpreter's own, so that the
  interpreter installed there, or PYTHONPATH, finds it.

`cmake --install` runs it with the prefix it installs to (which may differ
from the configured one), and the install test runs it to check the result.
"""

import os
import sys
import sysconfig


def site_dir(prefix):
    prefix = os.path.normpath(os.path.abspath(prefix))
    schemes = sysconfig.get_scheme_names()
    system = "deb_system" if "deb_system" in schemes else None
    own = os.path.normpath(sys.prefix)
    base = os.path.normpath(sys.base_prefix)
    if prefix == own:
        scheme = system if (system and own == base) else sysconfig.get_default_scheme()
        path = sysconfig.get_path("platlib", scheme)
    elif "posix_local" in schemes and prefix == os.path.join(base, "local"):
        path = sysconfig.get_path("platlib", "posix_local")
    else:
        scheme = system or "posix_prefix"
        path = sysconfig.get_path("platlib", scheme,
                                  vars={"base": prefix, "platbase": prefix})
    rel = os.path.relpath(path, prefix)
    if rel.startswith(os.pardir):
        # A scheme that puts packages outside the prefix cannot be honoured.
        sys.exit(f"site_dir.py: {path} is not under {prefix}")
    return rel


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: site_dir.py PREFIX")
    print(site_dir(sys.argv[1]))
