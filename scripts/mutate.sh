#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Mutation testing: does the suite notice plausible one-line bugs?
#
# Each mutant in tests/mutants.txt replaces one exact piece of text in one
# source file. For each, a scratch copy of the tree (never the source tree)
# is rebuilt with the mutant and the mutant's tests are run; a failing or
# hanging test kills it. A mutant that survives is a hole in the suite,
# unless the data file marks it equivalent (no behaviour could tell it
# apart) and says why. The score and every survivor are printed.
#
# A mutant whose text no longer occurs exactly once in its file, or that
# does not compile, is an error: the list must follow the code, and a
# stale entry would otherwise vanish from the score without anyone noticing.
#
# Data file: records of `key value` lines, separated by blank lines:
#   mutant ID, file PATH, from TEXT, to TEXT (exact text; \n is a line
#   break), promise (which documented promise it breaks), what (the bug),
#   and optionally tests REGEX (ctest -R; default: the C suites),
#   ci yes (in the CI subset), equivalent REASON.
#
# Usage: scripts/mutate.sh [--ci] [--check] [--list] [-j N] [ID...]
#   --ci     run only the mutants marked "ci yes" (the fast subset the test
#            command runs); every mutant's text is still checked
#   --check  only check that every mutant's text matches (no build)
#   --list   print the mutants and exit
#   -j N     build jobs (default 2)
#   ID...    run only these mutants
# Environment: TF_MUTATE_DIR  scratch directory (default: a new one under
#              $TMPDIR, removed afterwards unless TF_MUTATE_KEEP=1)
#              TF_MUTANTS     data file (default tests/mutants.txt)
#              TF_STAGE_COUNT (set by scripts/test.sh) gets the number of
#              mutants killed or equivalent, for its summary
# Exit status: 0 every mutant run was killed (or is a marked equivalent),
# 1 a mutant survived, 2 an error (stale or broken mutant, suite failing
# without mutants, bad usage).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export TF_MUTATE_ROOT=$ROOT
exec python3 - "$@" <<'PY'
import os, re, shutil, signal, subprocess, sys, tempfile, time

ROOT = os.environ["TF_MUTATE_ROOT"]
DATA = os.environ.get("TF_MUTANTS", os.path.join(ROOT, "tests", "mutants.txt"))
KEYS = {"mutant", "file", "from", "to", "tests", "ci", "promise", "what",
        "equivalent"}
REQUIRED = ("mutant", "file", "from", "to", "promise", "what")
# The C suites; the bindings, ABI, packaging and docs tests are not built in
# the scratch tree (they test other things than the library's logic).
DEFAULT_LABELS = "^(unit|example)$"
CI_MINIMUM = 10


def die(msg, code=2):
    print("mutate: " + msg, file=sys.stderr)
    sys.exit(code)


def parse(path):
    """Records of `key value` lines, separated by blank lines; # comments."""
    mutants, rec, start = [], {}, 0
    try:
        lines = open(path, encoding="utf-8").read().split("\n")
    except OSError as e:
        die(f"cannot read {path}: {e}")
    errors = []

    def close(lineno):
        nonlocal rec
        if not rec:
            return
        missing = [k for k in REQUIRED if k not in rec]
        if missing:
            errors.append(f"{path}:{start}: mutant {rec.get('mutant', '?')} lacks {', '.join(missing)}")
        elif rec["from"] == rec["to"]:
            errors.append(f"{path}:{start}: mutant {rec['mutant']}: 'to' equals 'from'")
        else:
            rec["line"] = start
            mutants.append(rec)
        rec = {}

    for n, line in enumerate(lines, 1):
        if line.startswith("#"):
            continue
        if not line.strip():
            close(n)
            continue
        m = re.match(r"([a-z]+)(?: (.*))?$", line)
        if not m or m.group(1) not in KEYS:
            errors.append(f"{path}:{n}: not a `key value` line: {line!r}")
            continue
        key, val = m.group(1), (m.group(2) or "")
        # Values keep their text exactly, except the padding that aligns
        # them after the key.
        val = val.lstrip(" ")
        if key in ("from", "to"):
            # One mutant may need the next line for a unique match.
            val = val.replace("\\n", "\n")
        if not rec:
            start = n
        if key in rec:
            errors.append(f"{path}:{n}: {key} given twice")
        rec[key] = val
    close(len(lines))
    ids = [m["mutant"] for m in mutants]
    for i in sorted(set(x for x in ids if ids.count(x) > 1)):
        errors.append(f"{path}: mutant id {i} used twice")
    if errors:
        die("bad data file:\n  " + "\n  ".join(errors))
    return mutants


def args():
    opts = {"ci": False, "check": False, "list": False, "jobs": "2", "ids": []}
    a = sys.argv[1:]
    while a:
        x = a.pop(0)
        if x in ("--ci", "--check", "--list"):
            opts[x[2:]] = True
        elif x == "-j" and a:
            opts["jobs"] = a.pop(0)
        elif x.startswith("-j") and x[2:].isdigit():
            opts["jobs"] = x[2:]
        elif x in ("-h", "--help"):
            print(open(os.path.join(ROOT, "scripts", "mutate.sh")).read().split("set -euo")[0])
            sys.exit(0)
        elif x.startswith("-"):
            die(f"unknown option {x}")
        else:
            opts["ids"].append(x)
    return opts


def source_files(root):
    """The tree's own files: tracked and untracked-but-not-ignored when it is
    a git checkout, else everything but build directories."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "-co",
                              "--exclude-standard"], check=True,
                             capture_output=True).stdout
        return [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if not x.startswith(("build", ".git"))]
            files += [os.path.relpath(os.path.join(d, n), root) for n in names]
        return files


def check_patterns(mutants, tree):
    errors = []
    for m in mutants:
        p = os.path.join(tree, m["file"])
        if not os.path.isfile(p):
            errors.append(f"{m['mutant']}: {m['file']} does not exist")
            continue
        n = open(p, encoding="utf-8").read().count(m["from"])
        if n != 1:
            what = "no longer matches" if n == 0 else f"matches {n} times (must be once)"
            errors.append(f"{m['mutant']} ({m['file']}): text {what}: {m['from']!r}")
    return errors


CURRENT = []


def terminate(signum, frame):
    # Stopped from outside: take the running build or tests down too; the
    # finally clauses then put the scratch file back.
    for p in CURRENT:
        try:
            os.killpg(p.pid, 9)
        except OSError:
            pass
    sys.exit(128 + signum)


def run(cmd, log, timeout=None, env=None):
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        try:
            # A new session, so that a hang guard can kill the whole group
            # (ctest and the test programs it started).
            p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env,
                                 start_new_session=True)
            CURRENT[:] = [p]
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()
            return None
        finally:
            CURRENT[:] = []


def ctest_cmds(build, m):
    """The ctest runs for a mutant: its own tests, or the C suites in two
    phases, quick tests first, so that most kills take seconds and only
    the stress tests' hangs wait for the guard."""
    cmd = ["ctest", "--test-dir", build, "--output-on-failure", "-j2",
           "--stop-on-failure", "--no-tests=error"]
    if m.get("tests"):
        return [cmd + ["-R", m["tests"]]]
    return [cmd + ["-L", DEFAULT_LABELS, "-LE", "stress"],
            cmd + ["-L", "stress"]]


def failed_tests(log):
    text = open(log, errors="replace").read()
    names = re.findall(r"Test +#\d+: (\S+) \.+\*+(?:Failed|Timeout|Exception|Not Run)", text)
    names += re.findall(r"^\s+\d+ - (\S+) \(", text, re.M)
    seen = []
    for n in names:
        if n not in seen:
            seen.append(n)
    return seen


def main():
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    o = args()
    mutants = parse(DATA)
    if o["list"]:
        for m in mutants:
            flag = " [ci]" if m.get("ci") == "yes" else ""
            print(f"{m['mutant']:5} {m['file']:22} {m['promise']}{flag}")
        print(f"{len(mutants)} mutants, {sum(m.get('ci') == 'yes' for m in mutants)} in the CI subset")
        return 0
    errs = check_patterns(mutants, ROOT)
    if errs:
        die("stale mutants (fix tests/mutants.txt):\n  " + "\n  ".join(errs))
    if o["check"]:
        print(f"mutate: all {len(mutants)} mutants match their source text")
        return 0
    chosen = mutants
    if o["ci"]:
        chosen = [m for m in mutants if m.get("ci") == "yes"]
        if len(chosen) < CI_MINIMUM:
            die(f"only {len(chosen)} mutants are marked 'ci yes'; the CI subset needs at least {CI_MINIMUM}")
    if o["ids"]:
        known = {m["mutant"] for m in mutants}
        unknown = [i for i in o["ids"] if i not in known]
        if unknown:
            die("unknown mutant ids: " + " ".join(unknown))
        chosen = [m for m in chosen if m["mutant"] in o["ids"]]
    if not chosen:
        die("no mutant selected")

    keep = os.environ.get("TF_MUTATE_KEEP") == "1"
    work = os.environ.get("TF_MUTATE_DIR")
    if work:
        os.makedirs(work, exist_ok=True)
    else:
        work = tempfile.mkdtemp(prefix="timefuture-mutate.")
    tree, build, logs = (os.path.join(work, d) for d in ("tree", "build", "logs"))
    # A fresh tree and build each time: an object left from an earlier
    # mutant must never be taken for an up-to-date one.
    for d in (tree, build, logs):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(logs)
    for f in source_files(ROOT):
        src = os.path.join(ROOT, f)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(tree, f)), exist_ok=True)
            shutil.copy(src, os.path.join(tree, f))
    errs = check_patterns(chosen, tree)
    if errs:
        die("scratch copy differs from the tree:\n  " + "\n  ".join(errs))

    t0 = time.monotonic()
    print(f"mutate: {len(chosen)} mutants; scratch tree and logs in {work}", flush=True)
    # No -g (the ABI gate's scratch libraries are then not built) and no
    # -Werror (a mutant may warn); docs, benchmarks and bindings are off.
    cfg = ["cmake", "-S", tree, "-B", build, "-G", "Ninja",
           "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
           "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -DNDEBUG",
           "-DTF_WERROR=OFF", "-DTF_BUILD_DOCS=OFF", "-DTF_BUILD_BENCH=OFF",
           "-DTF_BUILD_PYTHON=OFF", "-DCMAKE_LINK_DEPENDS_NO_SHARED=ON"]
    blog = os.path.join(logs, "baseline.log")
    bcmd = ["cmake", "--build", build, "-j", o["jobs"]]
    if run(cfg, blog) != 0 or run(bcmd, blog) != 0:
        die(f"the unmutated scratch tree does not build; see {blog}")

    # The suite must pass without mutants, or a kill means nothing. Each
    # distinct test selection runs once; its time sets the hang guard.
    base_time = {}
    for m in chosen:
        key = m.get("tests", "")
        if key in base_time:
            continue
        base_time[key] = []
        for cmd in ctest_cmds(build, m):
            start = time.monotonic()
            if run(cmd, blog, timeout=1800) != 0:
                die(f"the suite fails without mutants ({' '.join(cmd[-2:])}); see {blog}")
            base_time[key].append(time.monotonic() - start)
    print(f"mutate: baseline built and passed in {time.monotonic() - t0:.0f} s", flush=True)

    results = []
    for i, m in enumerate(chosen, 1):
        path = os.path.join(tree, m["file"])
        original = open(path, encoding="utf-8").read()
        log = os.path.join(logs, m["mutant"] + ".log")
        start = time.monotonic()
        with open(path, "w", encoding="utf-8") as f:
            f.write(original.replace(m["from"], m["to"], 1))
        try:
            if run(bcmd, log) != 0:
                status, detail = "error", "does not compile"
            else:
                # A hang guard only (a lost wake-up hangs): three times the
                # unmutated run of the same tests, plus 20 s.
                rc = 0
                for cmd, base in zip(ctest_cmds(build, m), base_time[m.get("tests", "")]):
                    guard = 20 + 3 * base
                    rc = run(cmd, log, timeout=guard)
                    if rc != 0:
                        break
                if rc is None:
                    status, detail = "killed", f"hang (killed after {guard:.0f} s)"
                elif rc != 0:
                    status, detail = "killed", "by " + (", ".join(failed_tests(log)) or "ctest")
                elif m.get("equivalent"):
                    status, detail = "equivalent", m["equivalent"]
                else:
                    status, detail = "SURVIVED", ""
        finally:
            with open(path, "w", encoding="utf-8") as f:
                f.write(original)
        took = time.monotonic() - start
        results.append((m, status, detail, took))
        print(f"[{i:2}/{len(chosen)}] {m['mutant']:5} {status:10} {took:5.0f} s  {m['file']}: {m['what']}"
              + (f"  ({detail})" if detail else ""), flush=True)
    run(bcmd, os.path.join(logs, "restore.log"))

    killed = [r for r in results if r[1] == "killed"]
    survived = [r for r in results if r[1] == "SURVIVED"]
    equivalent = [r for r in results if r[1] == "equivalent"]
    errors = [r for r in results if r[1] == "error"]
    scored = len(killed) + len(survived)
    print()
    print("==== mutation score: %d/%d killed (%.0f%%), %d equivalent, %d errors, %.0f s"
          % (len(killed), scored, 100.0 * len(killed) / scored if scored else 0,
             len(equivalent), len(errors), time.monotonic() - t0))
    for m, _, _, _ in survived:
        print(f"SURVIVED {m['mutant']} {m['file']} ({m['promise']}): {m['what']}")
        print(f"    from: {m['from']}\n    to:   {m['to']}")
    for m, _, why, _ in equivalent:
        print(f"equivalent {m['mutant']} {m['file']}: {why}")
    for m, _, why, _ in errors:
        print(f"ERROR {m['mutant']} {m['file']}: {why} (log: {os.path.join(logs, m['mutant'] + '.log')})")
    # For scripts/test.sh's summary: the mutants this stage checked.
    if os.environ.get("TF_STAGE_COUNT"):
        with open(os.environ["TF_STAGE_COUNT"], "a") as f:
            f.write(f"{len(killed) + len(equivalent)}\n")
    if not keep and not os.environ.get("TF_MUTATE_DIR") and not survived and not errors:
        shutil.rmtree(work, ignore_errors=True)
    if errors:
        return 2
    return 1 if survived else 0


sys.exit(main())
PY
