#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the one list of the stable ABI, src/api_list.h, against the rest.

  scripts/check-abi-list.py [--root DIR] [--only header,map,rust]
  scripts/check-abi-list.py --selftest [--root DIR]

  header: every TF_API function that include/timefuture.h declares outside
          the experimental fence (#ifdef TF_EXPERIMENTAL), except
          tf_get_api, is in the list, and nothing else is; the list's
          indexes run 0, 1, 2... and since_minor never goes down;
  map:    src/timefuture.map puts each listed function in TF_1.<since>
          (TF_1.0 by its glob: then no later node names it), and each
          function of the fence in a TF_EXPERIMENTAL_* node;
  rust:   bindings/rust/src/sys.rs declares every listed function.

Each problem is printed on a line of its own, naming the function and the
file to fix; the exit status is 1 if there is any. --selftest runs the
checks on scratch copies with one entry removed, one in the wrong node,
one misplaced index and one Rust declaration dropped, and fails unless
each is caught (and the untouched copy passes)."""
import os
import re
import shutil
import sys
import tempfile

ENTRY = re.compile(r"X\(\s*(\d+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*(\d+)\s*\)")


def strip_c(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return f.read()


def the_list(root):
    text = strip_c(read(root, "src/api_list.h"))
    return [(int(i), m, fn, int(s)) for i, m, fn, s in ENTRY.findall(text)]


def declared(root):
    """(stable, experimental): TF_API function names of the public header,
    outside and inside the TF_EXPERIMENTAL fence."""
    stable, experimental = set(), set()
    depth, fence = 0, None
    stmt = []
    for line in strip_c(read(root, "include/timefuture.h")).split("\n"):
        s = line.strip()
        if re.match(r"#\s*if", s):
            depth += 1
            if re.match(r"#\s*ifdef\s+TF_EXPERIMENTAL\b", s) or \
               re.match(r"#\s*if\s+defined\s*\(\s*TF_EXPERIMENTAL\s*\)", s):
                fence = depth
            continue
        if re.match(r"#\s*endif", s):
            if fence == depth:
                fence = None
            depth -= 1
            continue
        if s.startswith("#"):
            continue
        stmt.append(line)
        if ";" in line or "{" in line or "}" in line:
            joined = " ".join(stmt)
            stmt = []
            m = re.match(r"\s*TF_API\b.*?\b(tf_\w+)\s*\(", joined)
            if m:
                (experimental if fence else stable).add(m.group(1))
    return stable, experimental


def parse_map(root):
    text = re.sub(r"/\*.*?\*/", " ", read(root, "src/timefuture.map"), flags=re.S)
    nodes = {}
    for name, body in re.findall(r"([A-Za-z_][\w.]*)\s*\{(.*?)\}", text, flags=re.S):
        body = re.sub(r"\b(global|local)\s*:", " ", body)
        nodes[name] = [p.strip() for p in body.split(";") if p.strip()]
    return nodes


def check_header(root):
    problems = []
    entries = the_list(root)
    if not entries:
        return ["src/api_list.h: no X(index, member, function, since_minor) entry found"]
    listed = [fn for _, _, fn, _ in entries]
    stable, experimental = declared(root)
    stable.discard("tf_get_api")
    for fn in sorted(stable - set(listed)):
        problems.append("%s: declared in include/timefuture.h but missing from src/api_list.h "
                        "(add X(%d, %s, %s, <minor>) at the end)"
                        % (fn, len(entries), fn[3:], fn))
    for fn in sorted(set(listed) - stable):
        where = ("inside the TF_EXPERIMENTAL fence: experimental functions stay out of the list"
                 if fn in experimental else "not declared with TF_API in include/timefuture.h")
        problems.append("%s: in src/api_list.h but %s" % (fn, where))
    for k, (i, member, fn, since) in enumerate(entries):
        if i != k:
            problems.append("%s: src/api_list.h gives index %d, but it is entry %d of the list"
                            % (fn, i, k))
        if k and since < entries[k - 1][3]:
            problems.append("%s: since_minor %d after an entry of %d: the list is append-only"
                            % (fn, since, entries[k - 1][3]))
    dups = sorted({fn for fn in listed if listed.count(fn) > 1})
    for fn in dups:
        problems.append("%s: listed more than once in src/api_list.h" % fn)
    return problems


def check_map(root):
    problems = []
    nodes = parse_map(root)
    where = {}
    for node, names in nodes.items():
        for n in names:
            if "*" not in n:
                where.setdefault(n, []).append(node)
    for _, _, fn, since in the_list(root):
        want = "TF_1.%d" % since
        got = where.get(fn, [])
        if since == 0:
            if got:
                problems.append("%s: since 1.0 (TF_1.0, by its glob), but src/timefuture.map "
                                "also names it in %s" % (fn, ", ".join(got)))
        elif got != [want]:
            problems.append("%s: src/api_list.h says since 1.%d, so src/timefuture.map must name it "
                            "in %s only, not in %s" % (fn, since, want, ", ".join(got) or "no node"))
    _, experimental = declared(root)
    for fn in sorted(experimental):
        got = where.get(fn, [])
        if len(got) != 1 or not got[0].startswith("TF_EXPERIMENTAL_"):
            problems.append("%s: declared in the TF_EXPERIMENTAL fence, so src/timefuture.map must "
                            "name it in one TF_EXPERIMENTAL_* node, not in %s"
                            % (fn, ", ".join(got) or "no node"))
    return problems


def check_rust(root):
    path = "bindings/rust/src/sys.rs"
    try:
        text = read(root, path)
    except FileNotFoundError:
        return ["%s: missing" % path]
    text = re.sub(r"//[^\n]*", " ", text)
    have = set(re.findall(r"\bfn\s+(tf_\w+)\s*\(", text))
    missing = [fn for _, _, fn, _ in the_list(root) if fn not in have]
    return ["%s: not declared in %s (extern \"C\" block)" % (fn, path) for fn in missing]


CHECKS = {"header": check_header, "map": check_map, "rust": check_rust}


def run(root, only):
    problems = []
    for name in only:
        problems += CHECKS[name](root)
    return problems


def scratch(root):
    d = tempfile.mkdtemp(prefix="tf-abi-list-")
    for rel in ("src/api_list.h", "include/timefuture.h", "src/timefuture.map",
                "bindings/rust/src/sys.rs"):
        os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
        shutil.copy(os.path.join(root, rel), os.path.join(d, rel))
    return d


def edit(d, rel, fn):
    p = os.path.join(d, rel)
    with open(p, encoding="utf-8") as f:
        text = f.read()
    new = fn(text)
    if new == text:
        raise SystemExit("selftest: the edit of %s changed nothing" % rel)
    with open(p, "w", encoding="utf-8") as f:
        f.write(new)


def selftest(root):
    entries = the_list(root)
    last = entries[-1]
    late = next(e for e in entries if e[3] > 0)
    cases = [
        ("an entry removed", "src/api_list.h", "header",
         lambda t: re.sub(r"\n\s*X\(%d,[^\n]*" % last[0], "", t, count=1),
         r"%s: declared in include/timefuture.h but missing" % last[2]),
        ("an entry in the wrong node", "src/api_list.h", "map",
         lambda t: t.replace("X(%d, %s, %s, %d)" % late, "X(%d, %s, %s, %d)" % (late[:3] + (late[3] + 1,))),
         r"%s: src/api_list.h says since 1.%d" % (late[2], late[3] + 1)),
        ("two entries swapped", "src/api_list.h", "header",
         lambda t: t.replace("X(0, ", "X(@, ", 1).replace("X(1, ", "X(0, ", 1).replace("X(@, ", "X(1, ", 1),
         r"gives index 1, but it is entry 0"),
        ("a Rust declaration dropped", "bindings/rust/src/sys.rs", "rust",
         lambda t: re.sub(r"\bfn\s+tf_strerror\s*\(", "fn tfx_strerror(", t),
         r"tf_strerror: not declared in bindings/rust/src/sys.rs"),
        ("an experimental function in a stable node", "src/timefuture.map", "map",
         lambda t: re.sub(r"TF_EXPERIMENTAL_[\d.]+(\s*\{)", r"TF_1.99\1", t),
         None),
    ]
    failed = 0
    base = scratch(root)
    clean_header_map = run(base, ["header", "map"])
    if clean_header_map:
        print("selftest: the untouched copy fails:\n  " + "\n  ".join(clean_header_map))
        failed += 1
    shutil.rmtree(base)
    _, experimental = declared(root)
    for what, rel, check, fn, expect in cases:
        if expect is None and not experimental:
            continue
        d = scratch(root)
        try:
            edit(d, rel, fn)
            problems = run(d, [check])
        finally:
            shutil.rmtree(d)
        pattern = expect or r"declared in the TF_EXPERIMENTAL fence"
        if not any(re.search(pattern, p) for p in problems):
            print("selftest: %s was not caught (wanted /%s/, got %r)" % (what, pattern, problems))
            failed += 1
        else:
            print("selftest: %s: caught" % what)
    print("selftest: %s" % ("FAILED" if failed else "OK"))
    return 1 if failed else 0


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    only = list(CHECKS)
    test = False
    args = argv[1:]
    while args:
        a = args.pop(0)
        if a == "--root":
            root = args.pop(0)
        elif a == "--only":
            only = args.pop(0).split(",")
            if any(o not in CHECKS for o in only):
                sys.stderr.write(__doc__)
                return 2
        elif a == "--selftest":
            test = True
        else:
            sys.stderr.write(__doc__)
            return 2
    if test:
        return selftest(root)
    problems = run(root, only)
    for p in problems:
        print(p)
    if not problems:
        print("check-abi-list: %s: OK (%d stable entries)" % (",".join(only), len(the_list(root))))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
