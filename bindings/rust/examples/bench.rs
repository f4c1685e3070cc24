// SPDX-License-Identifier: MIT
//! Benchmark of the Rust binding, run in release mode by bench/bench_rust.sh:
//! 1. 1,000,000 tasks that each return Pending once (waking themselves) and
//!    then Ready, spawned on the crate's executor: tasks per second;
//! 2. 1,000 sequential sleeps of 100 us: mean and p99 of the time each took.
//!
//! Usage: bench [TASKS] [SLEEPS]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use timefuture::{Error, Executor};

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

fn bench_tasks(tasks: u64, threads: u32) -> Result<(), Error> {
    let executor = Executor::new(threads)?;
    let start = Instant::now();
    for _ in 0..tasks {
        // Detached: the benchmark waits for all of them with run().
        drop(executor.spawn(YieldOnce { yielded: false })?);
    }
    executor.run()?;
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(executor.task_count()?, 0, "tasks left after run()");
    println!(
        "rust tasks: {tasks} tasks (Pending once, then Ready), {threads} worker thread(s): \
         {:.0} tasks/s ({seconds:.3} s, spawn included)",
        tasks as f64 / seconds
    );
    Ok(())
}

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
    let mut args = std::env::args().skip(1);
    let tasks: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let count: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000);
    if count == 0 {
        return Err("SLEEPS must be at least 1".into());
    }
    let duration = Duration::from_micros(100);
    let target_us = duration.as_secs_f64() * 1e6;

    println!("timefuture {} (Rust binding)", timefuture::version_string());
    bench_tasks(tasks, 0)?;
    bench_tasks(tasks, 2)?;

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
