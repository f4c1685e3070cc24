// SPDX-License-Identifier: MIT
//! Benchmark of the Rust binding, run in release mode by bench/bench_rust.sh:
//! 1. TASKS (1,000,000) tasks that each return Pending once (waking
//!    themselves) and then Ready, on one thread, spawning included: the
//!    workload of bench_executor's main figure. Each figure is measured in a
//!    child process of its own (so that its peak RSS, VmHWM, is its own),
//!    pinned to CPU 0 as bench_executor's one-thread contenders are, in
//!    ROUNDS interleaved rounds, and reported as the median with its ratio to
//!    the C API's median from the same run. The "C API" line is the same
//!    workload through the raw C calls with a C-ABI poll function, which is
//!    exactly what a C program pays. A separate run with a counting
//!    allocator shows the heap allocations per task of each Rust path
//!    (task cells come from the crate's pool, which maps its own memory:
//!    they are not among them).
//! 2. The same on 2 worker threads (one run each).
//! 3. Memory after a burst: TASKS tasks made and run to completion while
//!    one lives on (with handles: a finished task's cell, held by its
//!    handle, from the middle of the burst; detached: an unfinished task
//!    spawned before it), in a child process of its own: the resident set
//!    (VmRSS) before, at the peak and after, as bench_memory reports it
//!    for the C library.
//! 4. 1,000 sequential sleeps of 100 us: mean and p99 of the time each took.
//!
//! Usage: bench [TASKS [SLEEPS [ROUNDS]]]

#![warn(unsafe_op_in_unsafe_fn)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::os::raw::{c_int, c_void};
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use timefuture::{Error, Executor};

// ---------------------------------------------------------------------------
// A counting allocator, switched on only for the allocation count run (the
// timed runs pay one predictable branch per allocation).
// ---------------------------------------------------------------------------

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static ALLOCATED_BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            ALLOCATED_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        }
        // SAFETY: the caller's layout is passed on as it is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            ALLOCATED_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        }
        // SAFETY: as for dealloc.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---------------------------------------------------------------------------
// The C API line: raw declarations (the crate keeps its own private).
// ---------------------------------------------------------------------------

#[repr(C)]
struct RawExecutor {
    _private: [u8; 0],
}
#[repr(C)]
struct RawWaker {
    _private: [u8; 0],
}

type PollFn = unsafe extern "C" fn(*mut c_void, *const RawWaker) -> c_int;

extern "C" {
    fn tf_executor_new(threads: u32, out: *mut *mut RawExecutor) -> c_int;
    fn tf_executor_free(executor: *mut RawExecutor) -> c_int;
    fn tf_executor_spawn(
        executor: *mut RawExecutor,
        poll: PollFn,
        drop: Option<unsafe extern "C" fn(*mut c_void)>,
        state: *mut c_void,
    ) -> c_int;
    fn tf_executor_run(executor: *mut RawExecutor) -> c_int;
    fn tf_waker_wake_by_ref(waker: *const RawWaker) -> c_int;
}

/// One bit per task, as in bench_executor.c: the bench's own bookkeeping
/// stays out of the task's memory.
static SEEN: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());

/// bench_executor.c's pending_once.
unsafe extern "C" fn pending_once(state: *mut c_void, waker: *const RawWaker) -> c_int {
    let i = state as usize;
    let bit = 1u8 << (i & 7);
    // SAFETY: SEEN holds TASKS/8+1 bytes for the whole run; one thread.
    let byte = unsafe { &mut *SEEN.load(Ordering::Relaxed).add(i >> 3) };
    if *byte & bit == 0 {
        *byte |= bit;
        // SAFETY: the waker is lent for this call.
        unsafe { tf_waker_wake_by_ref(waker) };
        0
    } else {
        1
    }
}

fn c_api_tasks(tasks: u64) -> f64 {
    let mut seen = vec![0u8; (tasks / 8 + 1) as usize];
    SEEN.store(seen.as_mut_ptr(), Ordering::Relaxed);
    let mut executor = std::ptr::null_mut();
    // SAFETY: plain C calls on an executor this function owns.
    unsafe {
        assert_eq!(tf_executor_new(0, &mut executor), 0);
        let start = Instant::now();
        for i in 0..tasks {
            let status = tf_executor_spawn(executor, pending_once, None, i as usize as *mut c_void);
            assert_eq!(status, 0, "tf_executor_spawn failed");
        }
        assert_eq!(tf_executor_run(executor), 0);
        let seconds = start.elapsed().as_secs_f64();
        tf_executor_free(executor);
        for i in 0..tasks {
            assert!(seen[(i >> 3) as usize] & (1 << (i & 7)) != 0, "task {i} not polled");
        }
        tasks as f64 / seconds
    }
}

// ---------------------------------------------------------------------------
// The Rust lines
// ---------------------------------------------------------------------------

/// Pending once (after asking to be polled again), then Ready.
struct YieldOnce {
    yielded: bool,
}

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// `Executor::spawn` with the JoinHandle dropped at once (detached).
fn rust_tasks(tasks: u64, threads: u32) -> Result<f64, Error> {
    let executor = Executor::new(threads)?;
    let start = Instant::now();
    for _ in 0..tasks {
        drop(executor.spawn(YieldOnce { yielded: false })?);
    }
    executor.run()?;
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(executor.task_count()?, 0, "tasks left after run()");
    Ok(tasks as f64 / seconds)
}

/// `Executor::spawn_detached`: no JoinHandle at all.
fn rust_detached_tasks(tasks: u64) -> Result<f64, Error> {
    let executor = Executor::new(0)?;
    let start = Instant::now();
    for _ in 0..tasks {
        executor.spawn_detached(YieldOnce { yielded: false })?;
    }
    executor.run()?;
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(executor.task_count()?, 0, "tasks left after run()");
    Ok(tasks as f64 / seconds)
}

/// A figure of /proc/self/status given in kB (`key` with its colon), in MiB.
fn status_mib(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with(key))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Peak resident set size of this process in MiB (VmHWM).
fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Resident set size of this process in MiB (VmRSS).
fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

/// Pending until its executor is dropped (never woken).
struct Forever(#[allow(dead_code)] u64);

impl Future for Forever {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// One burst of `tasks` tasks while one lives on (see the top comment):
/// the RSS before, at the peak and after, in MiB.
fn burst(tasks: u64, detached: bool) -> Result<[f64; 3], Error> {
    let executor = Executor::new(0)?;
    let before = rss_mib();
    let mut keeper = None;
    if detached {
        executor.spawn_detached(Forever(0))?;
        for _ in 0..tasks {
            executor.spawn_detached(YieldOnce { yielded: false })?;
        }
    } else {
        for i in 0..tasks {
            let handle = executor.spawn(YieldOnce { yielded: false })?;
            if i == tasks / 2 {
                keeper = Some(handle);
            }
        }
    }
    let peak = rss_mib();
    let left = u64::from(detached);
    while executor.task_count()? > left {
        executor.run_ready()?;
    }
    let after = rss_mib();
    assert!(keeper.map_or(true, |handle| handle.is_finished()));
    Ok([before, peak, after])
}

/// Child process: both bursts, printing "before peak after" for each.
fn burst_child(tasks: u64) -> Result<(), Box<dyn std::error::Error>> {
    let mut figures = Vec::new();
    for detached in [false, true] {
        figures.extend(burst(tasks, detached)?);
    }
    let text: Vec<String> = figures.iter().map(f64::to_string).collect();
    println!("{}", text.join(" "));
    Ok(())
}

fn bench_burst(tasks: u64) -> Result<(), Box<dyn std::error::Error>> {
    let figures = spawn_child("burst", tasks, false)?;
    println!(
        "memory after a burst of {tasks} tasks made and run while one lives on (own process):"
    );
    let labels = ["Executor::spawn", "Executor::spawn_detached"];
    for (label, figures) in labels.iter().zip(figures.chunks(3)) {
        let (before, peak, after) = (figures[0], figures[1], figures[2]);
        println!(
            "  {label}: RSS {before:.1} MiB before, {peak:.1} MiB peak, {after:.1} MiB after \
             ({:+.1} MiB, {:.0}% of the burst's {:.1} MiB kept)",
            after - before,
            100.0 * (after - before) / (peak - before),
            peak - before,
        );
    }
    Ok(())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The workloads, each run in a child process of its own.
const MODES: [(&str, &str); 3] = [
    ("c", "C API (raw tf_executor_spawn)"),
    ("spawn", "Rust Executor::spawn, JoinHandle dropped"),
    ("detached", "Rust Executor::spawn_detached"),
];

fn run_mode(mode: &str, tasks: u64) -> Result<f64, Error> {
    match mode {
        "c" => Ok(c_api_tasks(tasks)),
        "spawn" => rust_tasks(tasks, 0),
        "detached" => rust_detached_tasks(tasks),
        _ => panic!("unknown mode {mode}"),
    }
}

extern "C" {
    // glibc's; the mask is a cpu_set_t, 1024 bits.
    fn sched_setaffinity(pid: c_int, cpusetsize: usize, mask: *const u64) -> c_int;
}

/// Runs the calling process on CPU 0 alone, as bench_executor runs its
/// one-thread contenders: unpinned, a round here is slowed by half
/// whenever the scheduler moves it between CPUs, and the C API's rounds
/// and the binding's would not be compared alike.
fn pin_to_cpu0() {
    let mut mask = [0u64; 16];
    mask[0] = 1;
    // SAFETY: the mask outlives the call; a failure leaves the process
    // unpinned, which only makes the figures noisier.
    unsafe { sched_setaffinity(0, std::mem::size_of_val(&mask), mask.as_ptr()) };
}

/// Child process: run one workload, print "tasks/s peak-MiB".
fn child(mode: &str, tasks: u64, count: bool) -> Result<(), Box<dyn std::error::Error>> {
    pin_to_cpu0(); // every mode runs on one thread
    if count {
        COUNTING.store(true, Ordering::Relaxed);
    }
    let rate = run_mode(mode, tasks)?;
    COUNTING.store(false, Ordering::Relaxed);
    println!(
        "{rate} {} {} {}",
        peak_rss_mib(),
        ALLOCATIONS.load(Ordering::Relaxed),
        ALLOCATED_BYTES.load(Ordering::Relaxed)
    );
    Ok(())
}

fn spawn_child(mode: &str, tasks: u64, count: bool) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg("--child").arg(mode).arg(tasks.to_string());
    if count {
        command.arg("count");
    }
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!(
            "child {mode} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let text = String::from_utf8(output.stdout)?;
    Ok(text
        .split_whitespace()
        .map(|field| field.parse::<f64>())
        .collect::<Result<_, _>>()?)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn bench_one_thread(tasks: u64, rounds: usize) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "{tasks} tasks, each Pending once (self-wake) then Ready, on the calling thread, \
         spawning included; {rounds} interleaved rounds, one process per figure \
         (loadavg before: {})",
        loadavg()
    );
    let mut rates = vec![Vec::new(); MODES.len()];
    let mut rss = vec![Vec::new(); MODES.len()];
    for round in 0..rounds {
        let mut line = format!("  round {}:", round + 1);
        for (index, (mode, _)) in MODES.iter().enumerate() {
            let figures = spawn_child(mode, tasks, false)?;
            line += &format!(" {mode} {:.2} M/s {:.1} MiB;", figures[0] / 1e6, figures[1]);
            rates[index].push(figures[0]);
            rss[index].push(figures[1]);
        }
        println!("{line}");
    }
    let c_rate = median(rates[0].clone());
    for (index, (mode, label)) in MODES.iter().enumerate() {
        let counted = spawn_child(mode, tasks, true)?;
        let rate = median(rates[index].clone());
        println!(
            "  {label}: median {:.2} M tasks/s (x{:.2} the C API), peak RSS {:.1} MiB, \
             {:.2} Rust heap allocations ({:.0} bytes) per task",
            rate / 1e6,
            rate / c_rate,
            median(rss[index].clone()),
            counted[2] / tasks as f64,
            counted[3] / tasks as f64,
        );
    }
    println!("  loadavg after: {}", loadavg());
    Ok(())
}

// ---------------------------------------------------------------------------
// Sleeps
// ---------------------------------------------------------------------------

fn report_sleeps(label: &str, mut micros: Vec<f64>, target_us: f64) {
    micros.sort_by(f64::total_cmp);
    let n = micros.len();
    let mean = micros.iter().sum::<f64>() / n as f64;
    // Rounded up by hand: usize::div_ceil is newer than Rust 1.63.
    let p99 = micros[(n * 99 + 99) / 100 - 1];
    let early = micros.iter().filter(|&&us| us < target_us).count();
    println!(
        "rust sleep: {n} x {target_us:.0} us {label}: mean {mean:.1} us, p99 {p99:.1} us, \
         min {:.1} us, max {:.1} us, early {early}",
        micros[0],
        micros[n - 1]
    );
}

async fn sleeps(count: usize, duration: Duration) -> Result<Vec<f64>, Error> {
    let mut micros = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        timefuture::sleep(duration).await?;
        micros.push(start.elapsed().as_secs_f64() * 1e6);
    }
    Ok(micros)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let mode = args.get(1).ok_or("--child needs a mode")?;
        let tasks = args.get(2).ok_or("--child needs a task count")?.parse()?;
        if mode == "burst" {
            return burst_child(tasks);
        }
        return child(mode, tasks, args.get(3).map(String::as_str) == Some("count"));
    }
    let tasks: u64 = args.first().map(|a| a.parse()).transpose()?.unwrap_or(1_000_000);
    let count: usize = args.get(1).map(|a| a.parse()).transpose()?.unwrap_or(1_000);
    let rounds: usize = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(3);
    if tasks == 0 || count == 0 || rounds == 0 {
        return Err("TASKS, SLEEPS and ROUNDS must be at least 1".into());
    }
    let duration = Duration::from_micros(100);
    let target_us = duration.as_secs_f64() * 1e6;

    println!("timefuture {} (Rust binding)", timefuture::version_string());
    bench_one_thread(tasks, rounds)?;
    println!(
        "rust tasks, 2 worker threads plus the spawning thread: {:.2} M tasks/s",
        rust_tasks(tasks, 2)? / 1e6
    );
    bench_burst(tasks)?;

    // A task on the executor's worker, awaited from this thread.
    let executor = Executor::new(1)?;
    let task = executor.spawn(sleeps(count, duration))?;
    report_sleeps(
        "in a task on Executor::new(1)",
        executor.block_on(task)???,
        target_us,
    );
    // The same loop driven by the library's tf_block_on on this thread.
    report_sleeps(
        "under timefuture::block_on",
        timefuture::block_on(sleeps(count, duration))??,
        target_us,
    );
    Ok(())
}
