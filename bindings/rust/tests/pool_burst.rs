// SPDX-License-Identifier: MIT
//! Memory comes back after a burst of tasks while one lives on, as
//! bench_memory checks for the C library. The only test of this program,
//! so that nothing else allocates while the resident set is read.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use timefuture::Executor;

const TASKS: usize = 1_000_000;

/// The resident set of this process in MiB (VmRSS).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap();
    kib / 1024.0
}

/// Pending once (after waking itself), then Ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.0 {
            return Poll::Ready(7);
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Pending until its executor is dropped: never woken. Not zero-sized, so
/// that its cell takes pool memory.
struct Forever(#[allow(dead_code)] [u64; 2]);

impl Future for Forever {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// A burst of tasks spawned with `detached` or with a handle while one
/// lives on: with handles, a finished task's cell held by its handle, from
/// the middle of the burst (where a general allocator's heap would keep
/// all below it); detached, an unfinished task spawned just before (as in
/// bench_memory: a C task left in the middle would keep the C library's
/// own memory). Returns the RSS before, at the peak and after.
fn burst(executor: &Executor, detached: bool) -> (f64, f64, f64) {
    let before = rss_mib();
    let mut keeper = None;
    if detached {
        executor.spawn_detached(Forever([1; 2])).unwrap();
    }
    for i in 0..TASKS {
        if detached {
            executor.spawn_detached(YieldOnce(false)).unwrap();
        } else {
            let handle = executor.spawn(YieldOnce(false)).unwrap();
            if i == TASKS / 2 {
                keeper = Some(handle);
            }
        }
    }
    let peak = rss_mib();
    let keep = usize::from(detached) as u64;
    while executor.task_count().unwrap() > keep {
        executor.run_ready().unwrap();
    }
    let after = rss_mib();
    if let Some(handle) = keeper {
        assert!(handle.is_finished());
        assert_eq!(timefuture::block_on(handle).unwrap().unwrap(), 7);
    }
    (before, peak, after)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn map_big_blocks_alone() {
    extern "C" {
        fn mallopt(param: std::os::raw::c_int, value: std::os::raw::c_int) -> std::os::raw::c_int;
    }
    const M_MMAP_THRESHOLD: std::os::raw::c_int = -3;
    // SAFETY: a plain setting of the C allocator, made before the bursts.
    let set = unsafe { mallopt(M_MMAP_THRESHOLD, 128 * 1024) };
    assert_eq!(set, 1, "mallopt(M_MMAP_THRESHOLD) failed");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn map_big_blocks_alone() {}

#[test]
fn a_burst_of_tasks_gives_its_memory_back_while_one_lives_on() {
    // The C library's task chunks come from malloc, and glibc's heap keeps
    // freed memory below any live block (such as the test harness's output
    // buffer, grown meanwhile): that is bench_memory's business. A fixed
    // mmap threshold has glibc map those chunks on their own, so that what
    // stays is what the Rust side keeps. Small blocks (what task cells were
    // before the crate pooled them) still come from the heap.
    map_big_blocks_alone();
    // Twice each: the second burst is served from memory the first gave
    // back.
    for detached in [false, true, false, true] {
        let executor = Executor::new(0).unwrap();
        let (before, peak, after) = burst(&executor, detached);
        println!(
            "detached {detached}: RSS {before:.1} MiB before, {peak:.1} at the peak, {after:.1} after"
        );
        // The burst was seen (at least 16 bytes a task on each side)...
        assert!(
            peak - before > 2.0 * 16.0 * TASKS as f64 / (1 << 20) as f64,
            "the burst did not show in the RSS: {before:.1} -> {peak:.1} MiB"
        );
        // ...and what stays is a few chunks, not a share of the burst.
        assert!(
            after - before < (peak - before) / 8.0,
            "detached {detached}: the burst's memory stayed: RSS {before:.1} MiB before, \
             {peak:.1} at the peak, {after:.1} after"
        );
    }
}
