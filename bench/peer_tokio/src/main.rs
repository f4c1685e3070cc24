// SPDX-License-Identifier: MIT
//! The workloads of bench_executor, bench_wake and bench_timers on tokio's
//! current-thread runtime, for a comparison in the same run. Each prints
//! one machine-readable "result ..." line (numbers after names) that the C
//! benchmarks parse and print beside their own figures:
//!
//!   peer_tokio executor TASKS [ROUNDS]
//!       result executor tasks N rounds R best_mtps X peak_mib Y
//!   peer_tokio wake ROUND_TRIPS CPU_A CPU_B      (a CPU of -1: unpinned)
//!       result wake n N cpu_a A cpu_b B median_ns X
//!   peer_tokio timers TIMERS [SPREAD_MS]
//!       result arm_ns .. total_ns .. p50 .. p99 .. max .. armed .. armed_p50 ..
//!              armed_p99 .. early ..        (peer_libuv's line, on one line)
//!       result peak_mib X
//!
//! It builds with Debian's rustc (1.63) and Debian's tokio; no libc crate:
//! the two C functions it needs are declared here.

use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

extern "C" {
    fn sched_setaffinity(pid: i32, cpusetsize: usize, mask: *const u8) -> i32;
    fn sysconf(name: i32) -> i64;
}
const SC_NPROCESSORS_ONLN: i32 = 84; // glibc's value on Linux

/// Pins the calling thread to one CPU, or (cpu < 0) lets it run anywhere,
/// like bench_pin in bench/bench_util.h.
fn pin(cpu: i64) {
    let mut set = [0u8; 128]; // a glibc cpu_set_t: 1024 CPUs
    let mut set_bit = |c: usize| {
        if c < set.len() * 8 {
            set[c / 8] |= 1 << (c % 8);
        }
    };
    if cpu >= 0 {
        set_bit(cpu as usize);
    } else {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { sysconf(SC_NPROCESSORS_ONLN) }.max(1);
        for c in 0..n as usize {
            set_bit(c);
        }
    }
    // SAFETY: set is a live buffer of the size passed; pid 0 is this thread.
    unsafe { sched_setaffinity(0, set.len(), set.as_ptr()) };
}

/// Peak resident set size of this process in MiB (VmHWM).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmHWM:") {
            let kib: f64 = rest.trim().trim_end_matches("kB").trim().parse().unwrap_or(0.0);
            return kib / 1024.0;
        }
    }
    0.0
}

/// The p-th percentile of v (sorted in place), as bench_percentile picks it.
fn percentile(v: &mut [u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let i = (p / 100.0 * (v.len() - 1) as f64 + 0.5) as usize;
    v[i.min(v.len() - 1)]
}

fn current_thread(time: bool) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_current_thread();
    if time {
        b.enable_time();
    }
    b.build().expect("a current-thread runtime")
}

// --- executor ------------------------------------------------------------
// bench_executor's workload: N tasks, each pending once (waking itself)
// and then ready, spawning included, on one thread. The tasks are detached
// (their JoinHandles dropped, as tf_executor_spawn keeps none); the last
// one to finish wakes block_on through a Notify. The counter and the
// Notify are leaked statics: no reference count per task in the figure.

struct PendingOnce {
    polled: bool,
}

impl Future for PendingOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polled {
            return Poll::Ready(());
        }
        self.polled = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn executor(n: usize, rounds: usize) {
    let mut best = 0f64;
    let left: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let done: &'static Notify = Box::leak(Box::new(Notify::new()));
    for _ in 0..rounds.max(1) {
        let rt = current_thread(false);
        left.store(n, Ordering::Relaxed);
        let t0 = Instant::now();
        rt.block_on(async {
            for _ in 0..n {
                drop(tokio::spawn(async move {
                    PendingOnce { polled: false }.await;
                    if left.fetch_sub(1, Ordering::Relaxed) == 1 {
                        done.notify_one();
                    }
                }));
            }
            if n > 0 {
                done.notified().await;
            }
        });
        let secs = t0.elapsed().as_secs_f64();
        drop(rt);
        let mtps = n as f64 / secs / 1e6;
        if mtps > best {
            best = mtps;
        }
    }
    println!(
        "result executor tasks {} rounds {} best_mtps {:.3} peak_mib {:.1}",
        n,
        rounds.max(1),
        best,
        peak_rss_mib()
    );
}

// --- wake ----------------------------------------------------------------
// bench_wake's workload: two current-thread runtimes, each on its own
// thread, each running one task; task A wakes B's waker and waits, B wakes
// A's. A round trip is the time between two consecutive polls of A. Each
// task's waker is cloned once, at its first poll, as bench_wake does. A
// side that is done says so before its last wake, and the other side ends
// at its next poll: two wakes that coalesced at the start (a self-wake
// while the other waker was unknown) cannot leave one side waiting.

struct Player {
    mine: AtomicPtr<Waker>, // set once, freed at the end
    rounds: AtomicUsize,
    finished: AtomicBool,
}

struct Play {
    me: Arc<Player>,
    other: Arc<Player>,
    target: usize,
    last: Option<Instant>,
    samples: Option<Vec<u64>>, // only A records
}

impl Future for Play {
    type Output = Option<Vec<u64>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.me.mine.load(Ordering::Acquire).is_null() {
            let w = Box::into_raw(Box::new(cx.waker().clone()));
            self.me.mine.store(w, Ordering::Release);
        }
        let peer = self.other.mine.load(Ordering::Acquire);
        if peer.is_null() {
            // The other side has not been polled yet.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // SAFETY: a published waker is freed only after both threads ended.
        let peer = unsafe { &*peer };
        let this = &mut *self;
        if let Some(s) = this.samples.as_mut() {
            let now = Instant::now();
            if let Some(last) = this.last {
                s.push((now - last).as_nanos() as u64);
            }
            this.last = Some(now);
        }
        let r = this.me.rounds.fetch_add(1, Ordering::Relaxed);
        if r >= this.target || this.other.finished.load(Ordering::Acquire) {
            this.me.finished.store(true, Ordering::Release);
            peer.wake_by_ref(); // the peer finishes too
            return Poll::Ready(this.samples.take());
        }
        peer.wake_by_ref();
        Poll::Pending
    }
}

fn wake(n: usize, cpu_a: i64, cpu_b: i64) {
    let n = n.max(2);
    let player = || Player {
        mine: AtomicPtr::new(ptr::null_mut()),
        rounds: AtomicUsize::new(0),
        finished: AtomicBool::new(false),
    };
    let (a, b) = (Arc::new(player()), Arc::new(player()));
    let side = |me: &Arc<Player>, other: &Arc<Player>, cpu: i64, record: bool| {
        let play = Play {
            me: me.clone(),
            other: other.clone(),
            target: n,
            last: None,
            samples: if record { Some(Vec::with_capacity(n + 1)) } else { None },
        };
        std::thread::spawn(move || {
            pin(cpu);
            let rt = current_thread(false);
            rt.block_on(async move { tokio::spawn(play).await.expect("the player task") })
        })
    };
    let ta = side(&a, &b, cpu_a, true);
    let tb = side(&b, &a, cpu_b, false);
    let mut samples = ta.join().expect("thread A").expect("A's samples");
    tb.join().expect("thread B");
    for p in [&a, &b] {
        let w = p.mine.swap(ptr::null_mut(), Ordering::AcqRel);
        if !w.is_null() {
            // SAFETY: made by Box::into_raw above; both threads are gone.
            drop(unsafe { Box::from_raw(w) });
        }
    }
    let median = percentile(&mut samples, 50.0);
    println!("result wake n {} cpu_a {} cpu_b {} median_ns {}", n, cpu_a, cpu_b, median);
}

// --- timers --------------------------------------------------------------
// bench_timers' workload: N timers with deadlines spread uniformly over
// SPREAD (the same random sequence), each awaited by its own task, until
// all fired. tokio's timer wheel has millisecond slots, so a deadline
// fires at the end of its millisecond at the earliest.

const BLOCK: usize = 1024; // the arming time is sampled once per block

fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn timers(n: usize, spread_ms: u64) {
    let n = n.max(1);
    let spread = spread_ms.max(1) * 1_000_000;
    let rt = current_thread(true);
    // Per timer: when it fired, in ns since start (0: not yet).
    let fired: &'static [AtomicU64] =
        Box::leak((0..n).map(|_| AtomicU64::new(0)).collect());
    let mut offsets = Vec::with_capacity(n);
    let mut armed_at = vec![0u64; n / BLOCK + 1];
    let left: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(n)));
    let done: &'static Notify = Box::leak(Box::new(Notify::new()));
    let start = Instant::now();
    let mut armed = 0u64;
    rt.block_on(async {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..n {
            let off = rng(&mut seed) % spread;
            offsets.push(off);
            let deadline = tokio::time::Instant::from_std(start + Duration::from_nanos(off));
            drop(tokio::spawn(async move {
                tokio::time::sleep_until(deadline).await;
                fired[i].store(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                if left.fetch_sub(1, Ordering::Relaxed) == 1 {
                    done.notify_one();
                }
            }));
            if i % BLOCK == BLOCK - 1 {
                armed_at[i / BLOCK] = start.elapsed().as_nanos() as u64;
            }
        }
        armed = start.elapsed().as_nanos() as u64;
        armed_at[n / BLOCK] = armed;
        done.notified().await;
    });
    let total = start.elapsed().as_nanos() as u64;
    let mut late = Vec::with_capacity(n);
    let mut armed_late = Vec::with_capacity(n);
    let mut early = 0usize;
    for i in 0..n {
        let at = fired[i].load(Ordering::Relaxed);
        if at < offsets[i] {
            early += 1;
        }
        let l = at.saturating_sub(offsets[i]);
        late.push(l);
        if offsets[i] > armed_at[i / BLOCK] {
            armed_late.push(l);
        }
    }
    let na = armed_late.len();
    let (p50, p99) = (percentile(&mut late, 50.0), percentile(&mut late, 99.0));
    let (a50, a99) = (percentile(&mut armed_late, 50.0), percentile(&mut armed_late, 99.0));
    println!(
        "result arm_ns {} total_ns {} p50 {} p99 {} max {} armed {} armed_p50 {} armed_p99 {} early {}",
        armed, total, p50, p99, late[n - 1], na, a50, a99, early
    );
    println!("result peak_mib {:.1}", peak_rss_mib());
    drop(rt);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize, default: i64| -> i64 {
        args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    match args.get(1).map(String::as_str) {
        Some("executor") => executor(num(2, 1_000_000).max(0) as usize, num(3, 1).max(1) as usize),
        Some("wake") => wake(num(2, 100_000).max(2) as usize, num(3, -1), num(4, -1)),
        Some("timers") => timers(num(2, 1_000_000).max(1) as usize, num(3, 1000).max(1) as u64),
        _ => {
            eprintln!(
                "usage: peer_tokio executor TASKS [ROUNDS] | wake ROUND_TRIPS CPU_A CPU_B | \
                 timers TIMERS [SPREAD_MS]"
            );
            std::process::exit(2);
        }
    }
}
