#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""XML-level checks of libtimefuture's ABI, for scripts/abi-check.sh.

abidiff tells whether two ABI dumps differ; this tool checks what abidiff
cannot: the project's ABI rules, the version-script structure, and that the
versioned tables only grew at the end. It reads the XML that abidw writes.

  abi_tool.py rules  CURRENT.abi
  abi_tool.py map    MAPFILE VERSION_HEADER CURRENT.abi
  abi_tool.py compat OLD.abi NEW.abi
  abi_tool.py header HEADERS_DIR CURRENT.abi
  abi_tool.py symbols ABI
  abi_tool.py prune  IN.abi OUT.abi HEADERS_DIR

Every check prints one line per problem and exits 1 if there was any.
"""
import re
import sys
import xml.etree.ElementTree as ET


class Corpus:
    def __init__(self, path):
        self.root = ET.parse(path).getroot()
        self.soname = self.root.get("soname", "")
        self.types = {}
        for el in self.root.iter():
            tid = el.get("id")
            if tid is not None:
                self.types[tid] = el
        # (name, version) of every exported symbol, functions and variables.
        self.symbols = {}
        for kind in ("elf-function-symbols", "elf-variable-symbols"):
            for sec in self.root.iter(kind):
                for sym in sec.iter("elf-symbol"):
                    if sym.get("is-defined") == "yes":
                        self.symbols[sym.get("name")] = sym.get("version", "")
        self.variables = set()
        for sec in self.root.iter("elf-variable-symbols"):
            for sym in sec.iter("elf-symbol"):
                self.variables.add(sym.get("name"))
        # Defined public structs/unions by name (each translation unit has its
        # own copy; they are identical, so the first is enough).
        self.records = {}
        for tag in ("class-decl", "union-decl"):
            for el in self.root.iter(tag):
                if el.get("is-declaration-only") == "yes":
                    continue
                self.records.setdefault(el.get("name"), el)
        self.functions = {}
        for fn in self.root.iter("function-decl"):
            if fn.get("elf-symbol-id"):
                self.functions.setdefault(fn.get("name"), fn)

    def strip(self, tid):
        """Follow typedefs and qualifiers to the type that gives the layout."""
        seen = 0
        el = self.types.get(tid)
        while el is not None and el.tag in ("typedef-decl", "qualified-type-def") and seen < 64:
            el = self.types.get(el.get("type-id"))
            seen += 1
        return el

    def spell(self, tid, depth=0):
        """A stable spelling of a type, independent of type ids."""
        el = self.types.get(tid)
        if el is None or depth > 32:
            return "?"
        tag = el.tag
        if tag in ("type-decl", "typedef-decl"):
            return el.get("name")
        if tag in ("class-decl", "union-decl", "enum-decl"):
            return {"class-decl": "struct ", "union-decl": "union ",
                    "enum-decl": "enum "}[tag] + el.get("name", "")
        if tag == "qualified-type-def":
            quals = [q for q in ("const", "volatile", "restrict") if el.get(q) == "yes"]
            return " ".join(quals + [self.spell(el.get("type-id"), depth + 1)])
        if tag == "pointer-type-def":
            inner = self.spell(el.get("type-id"), depth + 1)
            return ("(%s)*" if inner.startswith("fn(") else "%s*") % inner
        if tag == "array-type-def":
            return self.spell(el.get("type-id"), depth + 1) + "[%s]" % el.get("size-in-bits", "")
        if tag == "function-type":
            return "fn(%s)->%s" % (", ".join(self.params(el, depth)),
                                   self.spell(self.ret(el), depth + 1))
        return tag

    def params(self, fn, depth=0):
        out = []
        for p in fn.findall("parameter"):
            out.append("..." if p.get("is-variadic") == "yes" else self.spell(p.get("type-id"), depth + 1))
        return out

    @staticmethod
    def ret(fn):
        r = fn.find("return")
        return r.get("type-id") if r is not None else None

    def members(self, rec):
        out = []
        for dm in rec.findall("data-member"):
            var = dm.find("var-decl")
            out.append((var.get("name"), dm.get("layout-offset-in-bits", "0"),
                        self.spell(var.get("type-id"))))
        return out


def layout_problem(c, tid):
    """Why a value of this type may not cross the ABI, or None."""
    el = c.strip(tid)
    if el is None:
        return None
    if el.tag in ("class-decl", "union-decl"):
        return "a struct or union passed by value (%s)" % c.spell(tid)
    if el.tag == "enum-decl":
        return "an enum, whose size the compiler chooses (%s)" % c.spell(tid)
    if el.tag == "type-decl" and el.get("name") in ("bool", "_Bool"):
        return "a bool, whose size is not fixed across languages"
    return None


def check_signature(c, what, fn, problems):
    for i, p in enumerate(fn.findall("parameter")):
        if p.get("is-variadic") == "yes":
            problems.append("%s: variadic (needs libffi to call from other languages)" % what)
            continue
        why = layout_problem(c, p.get("type-id"))
        if why:
            problems.append("%s: parameter %d is %s" % (what, i + 1, why))
    why = layout_problem(c, c.ret(fn))
    if why:
        problems.append("%s: returns %s" % (what, why))


def cmd_rules(args):
    c = Corpus(args[0])
    problems = []
    if not c.functions:
        problems.append("no exported function has debug info: was the library built with -g?")
    for name in sorted(c.symbols):
        if not name.startswith("tf_"):
            problems.append("%s: exported, but only tf_* symbols may be" % name)
    for name in sorted(c.variables):
        problems.append("%s: an exported variable; the ABI has functions only" % name)
    for name, fn in sorted(c.functions.items()):
        check_signature(c, "function %s" % name, fn, problems)
    # Callback types (tf_poll_fn, table entries) obey the same rules.
    for ft in c.root.iter("function-type"):
        check_signature(c, "function type %s" % c.spell(ft.get("id")), ft, problems)
    for name, rec in sorted(c.records.items()):
        if rec.tag == "union-decl":
            problems.append("union %s: public unions are not allowed" % name)
            continue
        mem = c.members(rec)
        if not mem or mem[0][0] != "size" or mem[0][1] != "0" or mem[0][2] != "uint32_t":
            problems.append("struct %s: a public struct must be a versioned table "
                            "whose first member is `uint32_t size`" % name)
        for dm in rec.findall("data-member"):
            var = dm.find("var-decl")
            why = layout_problem(c, var.get("type-id"))
            if why:
                problems.append("struct %s: member %s is %s" % (name, var.get("name"), why))
    return problems


def parse_map(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"#[^\n]*", " ", text)
    nodes = []
    pos = 0
    node_re = re.compile(r"\s*([A-Za-z_][\w.]*)\s*\{(.*?)\}\s*([A-Za-z_][\w.]*)?\s*;", re.S)
    while text[pos:].strip():
        m = node_re.match(text, pos)
        if not m:
            raise ValueError("cannot parse the version script near: %r" % text[pos:pos + 40])
        body = m.group(2)
        scopes = {"global": [], "local": []}
        scope = "global"
        for part in re.split(r";", body):
            part = part.strip()
            if not part:
                continue
            sm = re.match(r"(global|local)\s*:\s*(.*)", part, re.S)
            if sm:
                scope = sm.group(1)
                part = sm.group(2).strip()
                if not part:
                    continue
            scopes[scope].append(part)
        nodes.append({"name": m.group(1), "parent": m.group(3), "global": scopes["global"],
                      "local": scopes["local"]})
        pos = m.end()
    return nodes


def cmd_map(args):
    map_path, version_h, abi_path = args
    problems = []
    vtext = open(version_h, encoding="utf-8").read()
    ver = {}
    for part in ("MAJOR", "MINOR"):
        m = re.search(r"#define\s+TF_VERSION_%s\s+(\d+)" % part, vtext)
        if not m:
            return ["%s: no TF_VERSION_%s" % (version_h, part)]
        ver[part] = int(m.group(1))
    try:
        nodes = parse_map(map_path)
    except ValueError as e:
        return [str(e)]
    if not nodes:
        return ["%s: no version node" % map_path]
    minors = []
    stable = [n for n in nodes if not is_experimental(n["name"])]
    for n in nodes:
        if not is_experimental(n["name"]):
            continue
        # The experimental tier: its own chain of names, each node hanging
        # off a stable one, listing names; free to change (cmd_compat).
        m = re.fullmatch(r"TF_EXPERIMENTAL_(\d+)\.(\d+)", n["name"])
        if not m:
            problems.append("node %s: experimental nodes are named TF_EXPERIMENTAL_<major>.<minor>"
                            % n["name"])
        elif int(m.group(1)) != ver["MAJOR"] or int(m.group(2)) > ver["MINOR"]:
            problems.append("node %s: experimental node of another version than %d.%d"
                            % (n["name"], ver["MAJOR"], ver["MINOR"]))
        if n["parent"] not in [x["name"] for x in stable]:
            problems.append("node %s: an experimental node inherits a stable node" % n["name"])
        for pat in n["global"]:
            if any(ch in pat for ch in "*?["):
                problems.append("node %s: later nodes list names, not patterns (%s)" % (n["name"], pat))
        if n["local"]:
            problems.append("node %s: only the first node has a local: part" % n["name"])
    for i, n in enumerate(stable):
        m = re.fullmatch(r"TF_(\d+)\.(\d+)", n["name"])
        if not m:
            problems.append("node %s: nodes are named TF_<major>.<minor> "
                            "(or TF_EXPERIMENTAL_<major>.<minor>)" % n["name"])
            continue
        if int(m.group(1)) != ver["MAJOR"]:
            problems.append("node %s: major differs from TF_VERSION_MAJOR %d" % (n["name"], ver["MAJOR"]))
        minors.append(int(m.group(2)))
        if i == 0:
            if n["parent"]:
                problems.append("node %s: the first node inherits from nothing" % n["name"])
            if n["global"] != ["tf_*"] or n["local"] != ["*"]:
                problems.append("node %s: the first node must be `global: tf_*; local: *;`" % n["name"])
        else:
            if n["parent"] != stable[i - 1]["name"]:
                problems.append("node %s: must inherit from the node before it, %s"
                                % (n["name"], stable[i - 1]["name"]))
            for pat in n["global"]:
                if any(ch in pat for ch in "*?["):
                    problems.append("node %s: later nodes list names, not patterns (%s)" % (n["name"], pat))
            if n["local"]:
                problems.append("node %s: only the first node has a local: part" % n["name"])
    if minors != sorted(set(minors)):
        problems.append("version nodes must have strictly increasing minor numbers: %s"
                        % ", ".join(n["name"] for n in stable))
    if minors and minors[-1] > ver["MINOR"]:
        problems.append("node %s is newer than the library version %d.%d: raise TF_VERSION_MINOR"
                        % (stable[-1]["name"], ver["MAJOR"], ver["MINOR"]))
    c = Corpus(abi_path)
    names = [n["name"] for n in nodes]
    used = {}
    for sym, v in c.symbols.items():
        used.setdefault(v, []).append(sym)
        if v not in names:
            problems.append("%s: version %r is not a node of %s" % (sym, v, map_path))
    for n in nodes:
        if n["name"] not in used:
            problems.append("node %s: no exported symbol has this version (empty node, or the "
                            "baseline was not regenerated)" % n["name"])
        for sym in n["global"] if n is not nodes[0] else []:
            if c.symbols.get(sym) != n["name"]:
                problems.append("node %s lists %s, which the library does not export with "
                                "that version" % (n["name"], sym))
    return problems


def is_experimental(version):
    """Symbols of the experimental tier (TF_EXPERIMENTAL_* nodes) may change
    or go in any release: the stable rules of growth do not hold them."""
    return (version or "").startswith("TF_EXPERIMENTAL_")


def cmd_compat(args):
    old, new = Corpus(args[0]), Corpus(args[1])
    problems = []
    if old.soname != new.soname:
        problems.append("SONAME changed from %r to %r" % (old.soname, new.soname))
    old_versions = set(v for v in old.symbols.values() if not is_experimental(v))
    for sym, v in sorted(old.symbols.items()):
        if is_experimental(v):
            continue  # may be changed, removed or made stable
        if sym not in new.symbols:
            problems.append("%s@%s: removed" % (sym, v))
        elif new.symbols[sym] != v:
            problems.append("%s: version changed from %s to %s" % (sym, v, new.symbols[sym]))
    for sym, v in sorted(new.symbols.items()):
        if is_experimental(v):
            continue
        if sym not in old.symbols and v in old_versions:
            problems.append("%s: added to the existing version node %s; new symbols need a new "
                            "node (TF_1.N { global: %s; } TF_1.N-1;)" % (sym, v, sym))
    for name, rec in sorted(old.records.items()):
        nrec = new.records.get(name)
        if nrec is None:
            problems.append("struct %s: removed" % name)
            continue
        om, nm = old.members(rec), new.members(nrec)
        if nm[:len(om)] != om:
            problems.append("struct %s: members changed; versioned tables only grow at the end" % name)
            for a, b in zip(om, nm):
                if a != b:
                    problems.append("  was %s at bit %s: %s; now %s at bit %s: %s" % (a + b))
                    break
            else:
                problems.append("  %d member(s) removed" % (len(om) - len(nm)))
        osize, nsize = int(rec.get("size-in-bits", "0")), int(nrec.get("size-in-bits", "0"))
        if nsize < osize:
            problems.append("struct %s: shrank" % name)
        elif nsize > osize and not {v for v in new.symbols.values()
                                    if not is_experimental(v)} - old_versions:
            # A caller must be able to tell from the version whether the new
            # members exist, so growth comes with a new node like any addition.
            problems.append("struct %s: grew, but the library has no new version node" % name)
    return problems


def cmd_header(args):
    """Every function a public header declares carries TF_API and is
    exported; every exported function is declared in a public header."""
    import glob
    import os
    hdir, abi_path = args
    problems = []
    declared, with_api = {}, set()
    for path in sorted(glob.glob(os.path.join(hdir, "*.h"))):
        text = open(path, encoding="utf-8").read()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        text = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
        # Statements at any depth; struct members and typedefs of function
        # pointers never put a tf_ name right before "(".
        for stmt in re.split(r"[;{}]", text):
            if re.match(r"\s*typedef\b", stmt):
                continue
            for name in re.findall(r"\b(tf_\w+)\s*\(", stmt):
                declared[name] = os.path.basename(path)
                if re.match(r"\s*TF_API\b", stmt):
                    with_api.add(name)
    for name in sorted(set(declared) - with_api):
        problems.append("%s (%s): declared without TF_API, so it is hidden" % (name, declared[name]))
    c = Corpus(abi_path)
    exported = {n for n in c.symbols if n not in c.variables}
    for name in sorted(with_api - exported):
        problems.append("%s: declared with TF_API but not exported" % name)
    for name in sorted(exported - set(declared)):
        problems.append("%s: exported but declared in no public header" % name)
    return problems


def cmd_prune(args):
    """Keep only the public ABI in an abidw dump.

    abidw --load-all-types is needed for tf_api_v1, which no signature
    reaches, but it also loads every type of every translation unit: the
    library's private types and the system's (pthread, timespec), which
    --drop-private-types and suppressions do not fully remove. Internal
    refactoring would then show up as ABI changes. So this keeps the
    exported declarations and the defined public tf_* structs, and then
    only the types those reach; source paths are cut to base names so the
    file names no directory of the build machine."""
    import glob
    import os
    src, dst, hdir = args
    public = set()
    for path in glob.glob(os.path.join(hdir, "*.h")):
        text = open(path, encoding="utf-8").read()
        public.update(re.findall(r"\b(?:struct|union|enum)\s+(tf_\w+)\s*\{", text))
    tree = ET.parse(src)
    root = tree.getroot()
    byid = {}
    for el in root.iter():
        if el.get("id") is not None:
            byid[el.get("id")] = el
    # A record the public headers only declare (tf_timer, tf_waker) stays
    # opaque even where a compiler's debug info describes its private
    # layout.
    for el in list(byid.values()):
        if (el.tag in ("class-decl", "union-decl", "enum-decl")
                and el.get("is-declaration-only") != "yes"
                and el.get("name") not in public):
            for child in list(el):
                el.remove(child)
            for attr in ("size-in-bits", "alignment-in-bits"):
                el.attrib.pop(attr, None)
            el.set("is-declaration-only", "yes")

    def is_public_record(el):
        return (el.tag in ("class-decl", "union-decl", "enum-decl")
                and el.get("is-declaration-only") != "yes"
                and el.get("name") in public)

    roots = []
    for instr in root.iter("abi-instr"):
        for el in instr:
            if el.tag in ("function-decl", "var-decl"):
                if el.get("elf-symbol-id"):
                    roots.append(el)
            elif is_public_record(el):
                roots.append(el)
            elif el.tag == "typedef-decl" and (el.get("name") or "").startswith("tf_"):
                target = byid.get(el.get("type-id"))
                if target is not None and is_public_record(target):
                    roots.append(el)
    def closure(start):
        seen = set()
        todo = list(start)
        while todo:
            el = todo.pop()
            for sub in el.iter():
                for attr in ("type-id", "naming-typedef-id"):
                    ref = sub.get(attr)
                    if ref and ref not in seen and ref in byid:
                        seen.add(ref)
                        todo.append(byid[ref])
        return seen

    keep = closure(roots)
    # Which types count as reachable from the functions is recomputed here,
    # so that it does not depend on which unit happened to mention a type.
    reachable = closure([r for r in roots if r.tag in ("function-decl", "var-decl")])
    for tid, el in byid.items():
        if tid in reachable:
            el.attrib.pop("is-non-reachable", None)
        elif tid in keep or el in roots:
            el.set("is-non-reachable", "yes")
    for instr in list(root.iter("abi-instr")):
        for el in list(instr):
            if el.get("id") is not None:
                if el.get("id") not in keep and el not in roots:
                    instr.remove(el)
            elif el.tag in ("function-decl", "var-decl") and not el.get("elf-symbol-id"):
                instr.remove(el)
        if instr.get("path"):
            instr.set("path", instr.get("path").replace("\\", "/").rsplit("/", 1)[-1])
    for parent in list(root.iter()):
        for instr in list(parent.findall("abi-instr")):
            if len(instr) == 0:
                parent.remove(instr)
    ET.indent(tree, space="  ")
    tree.write(dst, encoding="unicode")
    with open(dst, "a", encoding="utf-8") as f:
        f.write("\n")
    return []


def cmd_symbols(args):
    c = Corpus(args[0])
    for sym, v in sorted(c.symbols.items()):
        print("%s@%s" % (sym, v))
    return []


def main():
    cmds = {"rules": (cmd_rules, 1), "map": (cmd_map, 3), "compat": (cmd_compat, 2),
            "header": (cmd_header, 2), "prune": (cmd_prune, 3),
            "symbols": (cmd_symbols, 1)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) - 2 != cmds[sys.argv[1]][1]:
        sys.stderr.write(__doc__)
        return 2
    problems = cmds[sys.argv[1]][0](sys.argv[2:])
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
