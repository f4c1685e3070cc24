#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that the library's sources import only downward.

Every file in src/ belongs to one layer (the table below, drawn in
docs/design.md, "Layers"); a file may include headers of its own layer and
of the layers below, never above, so the layers form no cycle. Allocation,
the bottom, imports nothing but the basics. A file missing from the table
is an error too, so the table follows the code.

Usage: check-layers.py SRC_DIR        check the tree
       check-layers.py --selftest SRC_DIR
           check that the check fails on copies of the tree with upward
           includes and an unknown file (in a scratch
           directory; the tree is only read)
"""
import os
import re
import shutil
import sys
import tempfile

# Bottom first. A module is a .c file with its .h and *_internal.h.
LAYERS = [
    ("basics", ["internal.h", "timefuture.h", "clock", "error", "hook"]),
    ("allocation", ["alloc"]),
    ("system", ["thread", "fork", "pool"]),
    ("executor", ["parker", "waker", "task", "queue", "executor", "block_on"]),
    ("timers", ["timer_wheel", "timer", "driver", "interval", "timeout"]),
    ("api", ["allocator", "api", "api_list"]),
]
# What the bottom layer may include.
ALLOC_MAY_INCLUDE = {"internal.h", "alloc.h"}
# Not library code.
IGNORED = {"timefuture.map"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(name):
    if name in ("internal.h", "timefuture.h"):
        return name
    stem = name.rsplit(".", 1)[0]
    if stem.endswith("_internal"):
        stem = stem[: -len("_internal")]
    return stem


def layer_table():
    table = {}
    for rank, (_, mods) in enumerate(LAYERS):
        for m in mods:
            table[m] = rank
    return table


def check(src):
    table = layer_table()
    errors = []
    graph = {}
    for name in sorted(os.listdir(src)):
        if name in IGNORED or not name.endswith((".c", ".h")):
            continue
        mod = module_of(name)
        if mod not in table:
            errors.append(f"{name}: not in any layer (scripts/check-layers.py)")
            continue
        with open(os.path.join(src, name), encoding="utf-8") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            target = module_of(os.path.basename(inc))
            if target not in table:
                errors.append(f"{name}: includes {inc}, which is in no layer")
                continue
            if target != mod:
                graph.setdefault(mod, set()).add(target)
            if table[target] > table[mod]:
                errors.append(
                    f"{name}: includes {inc} from the higher layer "
                    f"'{LAYERS[table[target]][0]}' (it is in '{LAYERS[table[mod]][0]}')"
                )
            if mod == "alloc" and os.path.basename(inc) not in ALLOC_MAY_INCLUDE:
                errors.append(f"{name}: allocation may include only {sorted(ALLOC_MAY_INCLUDE)}, not {inc}")
    # Cycles between layers cannot exist if every include goes down or
    # sideways; say which cycle a sideways include closes across layers
    # anyway, should the table ever be edited into one.
    seen, stack = set(), []

    def visit(m):
        if m in stack:
            cyc = stack[stack.index(m):] + [m]
            ranks = {table[x] for x in cyc}
            if len(ranks) > 1:
                errors.append("include cycle across layers: " + " -> ".join(cyc))
            return
        if m in seen:
            return
        seen.add(m)
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            visit(n)
        stack.pop()

    for m in sorted(graph):
        visit(m)
    return errors


def selftest(src):
    def mutated(edit):
        d = tempfile.mkdtemp(prefix="tf-layers-")
        try:
            for name in os.listdir(src):
                p = os.path.join(src, name)
                if os.path.isfile(p):
                    shutil.copy(p, d)
            edit(d)
            return check(d)
        finally:
            shutil.rmtree(d)

    def upward(d):  # the allocation layer reaching up into the drivers
        with open(os.path.join(d, "alloc.c"), "a", encoding="utf-8") as f:
            f.write('\n#include "driver.h"\n')

    def unknown(d):
        with open(os.path.join(d, "stray.c"), "w", encoding="utf-8") as f:
            f.write('#include "internal.h"\n')

    def pool_up(d):  # a lower layer importing the executor
        with open(os.path.join(d, "pool.c"), "a", encoding="utf-8") as f:
            f.write('\n#include "executor_internal.h"\n')

    failures = 0
    if check(src):
        print("selftest: the tree itself fails:", *check(src), sep="\n  ")
        failures += 1
    for what, edit, expect in [
        ("alloc.c including driver.h", upward, "higher layer"),
        ("a file in no layer", unknown, "not in any layer"),
        ("pool.c including executor_internal.h", pool_up, "higher layer"),
    ]:
        errs = mutated(edit)
        if not any(expect in e for e in errs):
            print(f"selftest: {what} was not reported (got {errs})")
            failures += 1
        else:
            print(f"selftest: {what}: reported")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--selftest":
        return selftest(argv[2])
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    errors = check(argv[1])
    for e in errors:
        print("layers:", e, file=sys.stderr)
    if not errors:
        print("layers: every include goes down; allocation imports only the basics")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
