#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's benchmark table, measured now on this machine:
#
#   scripts/bench-table.sh [--quick] [--readme]
#
# Configures a Release build under $TF_BUILD_ROOT/bench-table (see
# scripts/build-root.sh; never in the source tree), builds the benchmarks
# (and peer_libuv when libuv is installed), runs each of them, then the
# Rust binding's (when cargo is there) and the Node.js binding's (when
# node is there and its addon builds), and prints a Markdown table on
# stdout: each row a workload, libtimefuture's figure, the best peer's and
# the machine floor's, all from this one run. Progress goes to stderr, each
# benchmark's full output to a log in the build directory.
#
#   --quick   smaller sizes (a smoke run of the whole pipeline; its figures
#             are not the README's)
#   --readme  also replace the block between the bench-table markers in
#             README.md with the table: the one write into the source tree,
#             done only on this explicit request
#
# TF_BENCH_QUICK=1 is --quick; TF_BENCH_HANG_GUARD (seconds, default 900)
# bounds each benchmark, so one that never finishes fails the run.
#
# A benchmark that fails, or prints fewer table rows than it should (a row
# is a line "@row<TAB>workload<TAB>tf<TAB>peer<TAB>floor", see bench_row in
# bench/bench_util.h), fails the script: a stale or partial table is never
# printed. The Node.js figures are skipped with a note when its output does
# not parse.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=build-root.sh
source "$root/scripts/build-root.sh"

quick=${TF_BENCH_QUICK:-0}
readme=0
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --readme) readme=1 ;;
        -h|--help) sed -n '3,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-table.sh: unknown argument '$arg' (--quick, --readme)" >&2; exit 2 ;;
    esac
done
if [[ $quick == 1 && $readme == 1 ]]; then
    echo "bench-table.sh: --quick figures do not go into the README" >&2
    exit 2
fi

build="$TF_BUILD_ROOT/bench-table"
logs="$build/bench-table-logs"
mkdir -p "$logs"
rows="$logs/rows.tsv"
notes="$logs/notes.txt"
: >"$rows"
: >"$notes"

say() { echo "bench-table: $*" >&2; }
note() { echo "$*" >>"$notes"; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(loadavg)

say "configuring a Release build in $build"
node_opt=OFF
command -v node >/dev/null 2>&1 && node_opt=ON
# TF_WERROR stays off: a Release build's optimiser warns differently from
# the Debug build the warnings gate checks.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DTF_BUILD_EXAMPLES=OFF -DTF_BUILD_PYTHON=OFF -DTF_BUILD_DOCS=OFF \
    -DTF_BUILD_NODE="$node_opt" >"$logs/configure.log" 2>&1 ||
    { cat "$logs/configure.log" >&2; exit 1; }
benches=(bench_executor bench_wake bench_sleep bench_timers bench_memory bench_driver bench_slack)
targets=("${benches[@]}")
have_libuv=0
if grep -q '^LIBUV_FOUND:INTERNAL=1' "$build/CMakeCache.txt"; then
    have_libuv=1
    targets+=(peer_libuv)
fi
say "building ${targets[*]}"
nice -n 10 cmake --build "$build" -j2 --target "${targets[@]}" >"$logs/build.log" 2>&1 ||
    { tail -40 "$logs/build.log" >&2; exit 1; }
[[ $have_libuv == 1 ]] || note "libuv is not installed: no libuv peer figures."
# bench_executor, bench_wake and bench_timers build peer_tokio themselves
# and print its figures in their peer column.
grep -q '^TF_BENCH_TOKIO:BOOL=ON' "$build/CMakeCache.txt" ||
    note "tokio's packaged crates (librust-tokio-dev) or cargo are missing: no tokio peer figures."

# A hang guard, not a speed limit: a benchmark that waits forever for a
# timer (a lost wake) must fail the run rather than stall it.
hang_guard=${TF_BENCH_HANG_GUARD:-900}

# run NAME ROWS CMD...: runs a benchmark, keeps its output in the log and
# its table rows; fails unless it exits 0 and prints exactly ROWS rows.
run() {
    local name=$1 want=$2 log="$logs/$1.log" rc=0
    shift 2
    say "running $name: $*"
    (cd "$build/bench" && timeout -k 10 "$hang_guard" "$@") >"$log" 2>&1 || rc=$?
    if [[ $rc != 0 ]]; then
        tail -30 "$log" >&2
        if [[ $rc == 124 ]]; then
            say "FAILED: $name did not finish within the ${hang_guard} s hang guard (full output: $log)"
        else
            say "FAILED: $name exited with status $rc (full output: $log)"
        fi
        exit 1
    fi
    local got
    got=$(grep -c $'^@row\t' "$log" || true)
    if [[ $got != "$want" ]]; then
        tail -30 "$log" >&2
        say "FAILED: $name printed $got table row(s), expected $want (full output: $log)"
        exit 1
    fi
    grep $'^@row\t' "$log" | cut -f2- >>"$rows"
}

if [[ $quick == 1 ]]; then
    run bench_executor 1 ./bench_executor 100000 3
    run bench_executor_workers 1 ./bench_executor 100000 3 2
    run bench_wake 1 ./bench_wake 10000
    run bench_sleep 2 ./bench_sleep 100
    run bench_timers 1 ./bench_timers 200000 1000 1
    run bench_timers_small 1 ./bench_timers 20000 1000 1
    run bench_memory 1 ./bench_memory 100000
    run bench_driver 1 ./bench_driver 20000 3
    run bench_slack 1 ./bench_slack --quick
    sleeps=100
else
    run bench_executor 1 ./bench_executor 1000000 5
    run bench_executor_workers 1 ./bench_executor 1000000 5 2
    run bench_wake 1 ./bench_wake 100000
    run bench_sleep 2 ./bench_sleep 1000
    run bench_timers 1 ./bench_timers 1000000 1000 1
    run bench_timers_small 1 ./bench_timers 100000 1000 1
    run bench_memory 1 ./bench_memory 1000000
    run bench_driver 1 ./bench_driver 200000 5
    run bench_slack 1 ./bench_slack
    sleeps=1000
fi

# libuv's sleeps join bench_sleep's rows as one more peer: libuv's timers
# take whole milliseconds, so 100 us is asked as 1 ms.
if [[ $have_libuv == 1 ]]; then
    say "running peer_libuv sleep $sleeps"
    (cd "$build/bench" && ./peer_libuv sleep "$sleeps") >"$logs/peer_libuv_sleep.log" 2>&1 ||
        { cat "$logs/peer_libuv_sleep.log" >&2; say "FAILED: peer_libuv sleep"; exit 1; }
    uv_mean=$(sed -n 's/^libuv .* sleeps of .*: mean \([0-9.]*\) us.*/\1/p' "$logs/peer_libuv_sleep.log")
    if [[ -z $uv_mean ]]; then
        cat "$logs/peer_libuv_sleep.log" >&2
        say "FAILED: peer_libuv sleep printed no mean"
        exit 1
    fi
    awk -F'\t' -v OFS='\t' -v uv="$uv_mean" '
        $1 ~ /^[0-9,]+ sleeps of .* us in a row, mean/ {
            $3 = $3 sprintf("; libuv %.0f us (asked as 1 ms)", uv)
        }
        { print }' "$rows" >"$rows.new"
    mv "$rows.new" "$rows"
fi

# The Rust binding: its task figures are medians of interleaved rounds
# beside the C API's from the same run.
if command -v cargo >/dev/null 2>&1; then
    if [[ $quick == 1 ]]; then rust_args=(100000 100 1); else rust_args=(1000000 1000 9); fi
    say "running bench/bench_rust.sh ${rust_args[*]}"
    if ! "$root/bench/bench_rust.sh" "$build" "${rust_args[@]}" >"$logs/bench_rust.log" 2>&1; then
        tail -30 "$logs/bench_rust.log" >&2
        say "FAILED: bench/bench_rust.sh (full output: $logs/bench_rust.log)"
        exit 1
    fi
    if ! awk -F'\t' -v OFS='\t' -v tasks="${rust_args[0]}" -v rounds="${rust_args[2]}" '
        # "  <label>: median X M tasks/s (xR the C API), peak RSS Y MiB, ..."
        /^  .*: median .* M tasks\/s \(x.* the C API\), peak RSS / {
            label = $0; sub(/^  /, "", label); sub(/: median .*/, "", label)
            s = $0; sub(/.*: median /, "", s); rate = s; sub(/ M tasks\/s.*/, "", rate)
            ratio = s; sub(/.*\(x/, "", ratio); sub(/ the C API.*/, "", ratio)
            rss = s; sub(/.*peak RSS /, "", rss); sub(/ MiB.*/, "", rss)
            if (label ~ /^C API/) c = rate " M/s, " rss " MiB"
            else if (label ~ /spawn_detached/) det = rate " M/s (x" ratio "), " rss " MiB"
            else if (label ~ /Executor::spawn/) sp = rate " M/s (x" ratio "), " rss " MiB"
        }
        # "rust sleep: N x 100 us <label>: mean M us, ..."
        /^rust sleep: / {
            n = $0; sub(/^rust sleep: /, "", n); sub(/ x .*/, "", n)
            m = $0; sub(/.*: mean /, "", m); sub(/ us.*/, "", m)
            if ($0 ~ /in a task/) st = m; else if ($0 ~ /block_on/) sb = m
        }
        function commas(x,   r) {
            r = ""
            while (length(x) > 3) { r = "," substr(x, length(x) - 2) r; x = substr(x, 1, length(x) - 3) }
            return x r
        }
        END {
            if (c == "" || sp == "" || det == "" || st == "" || sb == "") exit 1
            printf "Rust binding: %s tasks, pending once then ready, one thread; median of %s rounds, peak RSS\tExecutor::spawn %s; spawn_detached %s\tthe C API in the same run %s\t-\n", commas(tasks), rounds, sp, det, c
            printf "Rust binding: %s sleeps of 100 us in a row, mean\t%.0f us (a task on Executor::new(1)); %.0f us (timefuture::block_on)\t-\t-\n", commas(n), st, sb
        }' "$logs/bench_rust.log" >>"$rows"; then
        tail -30 "$logs/bench_rust.log" >&2
        say "FAILED: the Rust benchmark's figures did not parse (full output: $logs/bench_rust.log)"
        exit 1
    fi
else
    note "cargo is not installed: no Rust binding figures."
fi

# The Node.js binding. bench/bench_node.js prints for humans; its lines are
# parsed here, and Node is skipped with a note (not a failure) when they
# do not parse.
node_pkg="$build/bindings/node/package"
if [[ $node_opt == ON ]] &&
    nice -n 10 cmake --build "$build" -j2 --target timefuture_node >"$logs/build_node.log" 2>&1 &&
    [[ -f $node_pkg/package.json ]]; then
    if [[ $quick == 1 ]]; then scale=0.05; else scale=1; fi
    say "running bench/bench_node.js $scale"
    if TIMEFUTURE_PACKAGE="$node_pkg" node "$root/bench/bench_node.js" "$scale" \
        >"$logs/bench_node.log" 2>&1 &&
        awk -F'\t' '
        # "== 1,000,000 timers, deadlines uniform over 1 s, all awaited ..."
        /^== .* timers, deadlines uniform over 1 s/ { n = $0; sub(/^== /, "", n); sub(/ timers.*/, "", n) }
        # "  <variant>  X.XXX s   peak RSS Y MiB ..."
        /^  (many_tf|many_node_promises|many_node_callback|floor_promise) +[0-9.]+ s +peak RSS [0-9.]+ MiB/ {
            split($0, f, " +"); fig[f[2]] = f[3] " s / " f[7] " MiB"; secs[f[2]] = f[3]
        }
        # "  tf.sleep(100_000n)   n=1000 mean 140.1 us ..."
        /^  (tf\.sleep\(100_000n\)|node setTimeout\(0\.1\)) +n=[0-9]+ mean [0-9.]+ us/ {
            s = $0; sub(/^  /, "", s); name = s; sub(/ +n=.*/, "", name)
            m = s; sub(/.* mean /, "", m); sub(/ us.*/, "", m); mean[name] = m
            cnt = s; sub(/.* n=/, "", cnt); sub(/ .*/, "", cnt); count[name] = cnt
        }
        function commas(x,   r) {
            r = ""
            while (length(x) > 3) { r = "," substr(x, length(x) - 2) r; x = substr(x, 1, length(x) - 3) }
            return x r
        }
        END {
            if (n == "" || !("many_tf" in fig) || !("many_node_promises" in fig) ||
                !("many_node_callback" in fig) || !("floor_promise" in fig) ||
                !("tf.sleep(100_000n)" in mean) || !("node setTimeout(0.1)" in mean)) exit 1
            printf "Node.js binding: %s timers over 1 s, each awaited in turn: total / peak RSS\ttf.setTimeout %s\tnode:timers/promises %s (x%.2f); callbacks %s (x%.2f)\tplain promises awaited so %s\n",
                n, fig["many_tf"], fig["many_node_promises"], secs["many_tf"] / secs["many_node_promises"],
                fig["many_node_callback"], secs["many_tf"] / secs["many_node_callback"], fig["floor_promise"]
            printf "Node.js binding: %s sleeps of 100 us in a row, mean\ttf.sleep %.0f us\tNode setTimeout(0.1) %.0f us (%s sleeps)\t-\n",
                commas(count["tf.sleep(100_000n)"]), mean["tf.sleep(100_000n)"], mean["node setTimeout(0.1)"], commas(count["node setTimeout(0.1)"])
        }' "$logs/bench_node.log" >"$logs/node_rows.tsv"; then
        cat "$logs/node_rows.tsv" >>"$rows"
    else
        say "note: bench/bench_node.js failed or its output did not parse; Node.js skipped"
        note "Node.js figures skipped: bench/bench_node.js failed or its output did not parse."
    fi
else
    note "Node.js figures skipped: node or the addon's build is missing."
fi

load_end=$(loadavg)

# The table: a header saying where and when, then one line per row.
os=$( (. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown OS}") || echo "unknown OS")
table="$logs/table.md"
{
    echo "Measured $(date -u +%F) by \`scripts/bench-table.sh$([[ $quick == 1 ]] && echo ' --quick')\`" \
        "on $(nproc) CPUs, $os, Linux $(uname -r); load average (1, 5, 15 min)" \
        "$load_start at the start, $load_end at the end."
    echo "Peers and floors were measured in the same run on the same machine; on a shared" \
        "machine their ratios to libtimefuture matter more than the absolute figures." \
        "(xN) is libtimefuture's figure over the other's: for rates, above 1 is faster;" \
        "for times, below 1 is faster."
    echo "No libtimefuture timer fired before its deadline (bench_timers and bench_slack" \
        "fail the run when one does; a sleep that ends early shows in its row)."
    while IFS= read -r line; do echo "$line"; done <"$notes"
    echo
    echo "| workload | libtimefuture | best peer | machine floor |"
    echo "|---|---|---|---|"
    # A "|" inside a field would end its cell.
    sed 's/|/\\|/g; s/\t/ | /g; s/^/| /; s/$/ |/' "$rows"
    echo
} >"$table"
cat "$table"

if [[ $readme == 1 ]]; then
    readme_file="$root/README.md"
    begin='<!-- bench-table:begin -->'
    end='<!-- bench-table:end -->'
    if [[ $(grep -cxF "$begin" "$readme_file") != 1 || $(grep -cxF "$end" "$readme_file") != 1 ]]; then
        say "FAILED: README.md must hold each bench-table marker once, on a line of its own"
        exit 1
    fi
    awk -v begin="$begin" -v end="$end" -v table="$table" '
        $0 == begin { print; while ((getline l < table) > 0) print l; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }' "$readme_file" >"$logs/README.md.new"
    cat "$logs/README.md.new" >"$readme_file"
    say "README.md's benchmark table replaced"
fi
