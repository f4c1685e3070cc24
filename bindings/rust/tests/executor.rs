// SPDX-License-Identifier: MIT
//! The crate's executor: spawn, run, block_on, JoinHandle, panics, shutdown.

mod common;

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::task::Waker;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::{poll_once, Counter, MiniExecutor};
use timefuture::{sleep, Error, Executor, JoinHandle, Timer};

/// Pending once (after waking itself), then Ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Sets a flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn run_polls_every_task_on_the_caller_thread() {
    let executor = Executor::new(0).unwrap();
    assert_eq!(executor.threads(), 0);
    let done = Arc::new(AtomicUsize::new(0));
    let caller = std::thread::current().id();
    for _ in 0..1000 {
        let done = Arc::clone(&done);
        drop(
            executor
                .spawn(async move {
                    YieldOnce(false).await;
                    assert_eq!(std::thread::current().id(), caller);
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap(),
        );
    }
    assert_eq!(executor.task_count().unwrap(), 1000);
    executor.run().unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 1000);
    assert_eq!(executor.task_count().unwrap(), 0);
}

#[test]
fn run_ready_polls_without_waiting() {
    let executor = Executor::new(0).unwrap();
    let handle = executor.spawn(YieldOnce(false)).unwrap();
    let mut polls = 0;
    while !handle.is_finished() {
        polls += executor.run_ready().unwrap();
        assert!(
            polls <= 2,
            "a task that yields once was polled {polls} times"
        );
    }
    assert_eq!(polls, 2);
    // Nothing is left to poll.
    assert_eq!(executor.run_ready().unwrap(), 0);
}

#[test]
fn join_handles_carry_outputs_across_worker_threads() {
    let executor = Executor::new(2).unwrap();
    let handles: Vec<JoinHandle<u64>> = (0..200u64)
        .map(|i| {
            executor
                .spawn(async move {
                    YieldOnce(false).await;
                    i * i
                })
                .unwrap()
        })
        .collect();
    let sum = executor
        .block_on(async move {
            let mut sum = 0;
            for handle in handles {
                sum += handle.await.unwrap();
            }
            sum
        })
        .unwrap();
    assert_eq!(sum, (0..200u64).map(|i| i * i).sum::<u64>());
}

#[test]
fn a_task_awaits_another_task() {
    for threads in [0, 2] {
        let executor = Arc::new(Executor::new(threads).unwrap());
        let inner = executor.spawn(async { "inner" }).unwrap();
        let outer = executor
            .spawn(async move {
                sleep(Duration::from_millis(1)).await.unwrap();
                format!("{} done", inner.await.unwrap())
            })
            .unwrap();
        assert_eq!(executor.block_on(outer).unwrap().unwrap(), "inner done");
    }
}

#[test]
fn many_concurrent_sleeps_on_the_crate_executor() {
    for threads in [0, 2] {
        let executor = Executor::new(threads).unwrap();
        let handles: Vec<_> = (0..1000u64)
            .map(|i| {
                executor
                    .spawn(async move {
                        let duration = Duration::from_micros(50 * (i % 100));
                        let start = Instant::now();
                        sleep(duration).await?;
                        Ok::<_, Error>(start.elapsed() >= duration)
                    })
                    .unwrap()
            })
            .collect();
        let on_time = executor
            .block_on(async move {
                let mut on_time = 0;
                for handle in handles {
                    if handle.await.unwrap().unwrap() {
                        on_time += 1;
                    }
                }
                on_time
            })
            .unwrap();
        assert_eq!(on_time, 1000, "{threads} workers: some sleeps ended early");
    }
}

#[test]
fn block_on_with_no_workers_drives_spawned_tasks() {
    let executor = Executor::new(0).unwrap();
    let (send, receive) = mpsc::channel();
    let task = executor
        .spawn(async move {
            sleep(Duration::from_millis(2)).await.unwrap();
            send.send(7).unwrap();
        })
        .unwrap();
    // The main future is not Send (Rc) and waits on a plain channel that a
    // spawned task fills: block_on must poll that task in between.
    let local = std::rc::Rc::new(35);
    let value = executor
        .block_on(async move {
            task.await.unwrap();
            *local + receive.recv().unwrap()
        })
        .unwrap();
    assert_eq!(value, 42);
}

#[test]
fn free_block_on_runs_any_future() {
    let start = Instant::now();
    let local = std::rc::Rc::new(5);
    let out = timefuture::block_on(async move {
        sleep(Duration::from_millis(3)).await.unwrap();
        *local
    })
    .unwrap();
    assert_eq!(out, 5);
    assert!(start.elapsed() >= Duration::from_millis(3));
}

#[test]
fn a_panicking_task_is_reported_through_its_join_handle() {
    for threads in [0, 2] {
        let executor = Executor::new(threads).unwrap();
        let panicking = executor
            .spawn(async {
                YieldOnce(false).await;
                panic!("boom {}", 42);
            })
            .unwrap();
        let result: Result<(), Error> = executor.block_on(panicking).unwrap();
        match result {
            Err(Error::Panicked(message)) => assert_eq!(message, "boom 42"),
            other => panic!("expected a panic, got {other:?}"),
        }
        // The executor is unharmed.
        let fine = executor.spawn(async { 1 }).unwrap();
        assert_eq!(executor.block_on(fine).unwrap(), Ok(1));
    }
}

#[test]
fn a_panic_in_block_on_reaches_the_caller() {
    let caught = std::panic::catch_unwind(|| {
        timefuture::block_on(async {
            sleep(Duration::from_millis(1)).await.unwrap();
            panic!("inside block_on");
        })
    });
    let payload = caught.expect_err("the panic was swallowed");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"inside block_on"));
}

#[test]
fn dropping_the_executor_drops_unfinished_tasks() {
    for threads in [0, 2] {
        let executor = Executor::new(threads).unwrap();
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = DropFlag(Arc::clone(&dropped));
        let handle = executor
            .spawn(async move {
                let _flag = flag;
                Timer::new(Duration::from_secs(3600))
                    .unwrap()
                    .await
                    .unwrap();
            })
            .unwrap();
        // Let it start waiting on its timer.
        if threads == 0 {
            executor.run_ready().unwrap();
        }
        drop(executor);
        assert!(
            dropped.load(Ordering::SeqCst),
            "the task's future was not dropped"
        );
        assert!(handle.is_finished());
        assert_eq!(timefuture::block_on(handle).unwrap(), Err(Error::Shutdown));
    }
}

/// Panics when dropped.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("dropped");
    }
}

#[test]
fn a_panic_while_dropping_an_unfinished_task_is_reported() {
    let executor = Executor::new(0).unwrap();
    let guard = PanicOnDrop;
    let handle = executor
        .spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        })
        .unwrap();
    executor.run_ready().unwrap();
    // The drop function runs inside tf_executor_free: it must not unwind.
    drop(executor);
    assert_eq!(
        timefuture::block_on(handle).unwrap(),
        Err(Error::Panicked("dropped".to_owned()))
    );
}

#[test]
fn dropping_the_last_handle_inside_a_task_frees_the_executor() {
    let executor = Arc::new(Executor::new(2).unwrap());
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(Arc::clone(&dropped));
    // A task that never finishes: freeing the executor drops it.
    let waiting = executor
        .spawn(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        })
        .unwrap();
    let (send, receive) = mpsc::channel();
    let own = Arc::clone(&executor);
    drop(executor);
    // Give the executor's last handle to one of its own tasks.
    let spawner = Arc::clone(&own);
    let detached = spawner
        .spawn(async move {
            receive.recv().unwrap();
            drop(own);
        })
        .unwrap();
    drop(detached);
    drop(spawner);
    send.send(()).unwrap();
    assert_eq!(timefuture::block_on(waiting).unwrap(), Err(Error::Shutdown));
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn c_wakers_work_under_a_foreign_executor() {
    // A library task's waker, cloned by a future, woken from another thread.
    let executor = Executor::new(1).unwrap();
    let (send, receive) = mpsc::channel::<std::task::Waker>();
    let ready = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&ready);
    let task = executor
        .spawn(common::poll_fn(move |cx| {
            if seen.load(Ordering::SeqCst) {
                return Poll::Ready("woken");
            }
            send.send(cx.waker().clone()).unwrap();
            Poll::Pending
        }))
        .unwrap();
    let waker = receive.recv().unwrap();
    ready.store(true, Ordering::SeqCst);
    std::thread::spawn(move || waker.wake()).join().unwrap();
    // Awaited on the hand-written executor, whose waker is a Rust one.
    let mini = MiniExecutor::new();
    let out = Arc::new(std::sync::Mutex::new(None));
    let slot = Arc::clone(&out);
    mini.spawn(async move {
        *slot.lock().unwrap() = Some(task.await);
    });
    mini.run();
    assert_eq!(out.lock().unwrap().take(), Some(Ok("woken")));
}

#[test]
fn nested_block_on_without_workers_is_busy() {
    let executor = Arc::new(Executor::new(0).unwrap());
    let inner = Arc::clone(&executor);
    let handle = executor
        .spawn(async move { inner.block_on(std::future::pending::<()>()).err() })
        .unwrap();
    executor.run().unwrap();
    assert_eq!(timefuture::block_on(handle).unwrap(), Ok(Some(Error::Busy)));
}

#[test]
fn bad_arguments_are_errors() {
    assert_eq!(Executor::new(100_000).unwrap_err(), Error::Invalid);
}

#[test]
fn executors_and_handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Executor>();
    assert_send_sync::<JoinHandle<String>>();
    // As with the Mutex the handle's state once sat behind.
    fn assert_unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    assert_unwind_safe::<JoinHandle<String>>();
}

/// One side of a ping-pong with another thread: `Step(n)` is ready once the
/// other thread has released step `n`, which it does only after the waiting
/// future has registered its waker. Every step thus needs one wake; a lost
/// wake hangs the test (and the watchdog ends it).
struct PingPong {
    state: Mutex<(u64, Option<Waker>)>,
    registered: Condvar,
}

impl PingPong {
    fn new() -> Arc<PingPong> {
        Arc::new(PingPong {
            state: Mutex::new((0, None)),
            registered: Condvar::new(),
        })
    }

    /// Await `steps` steps, one after the other.
    async fn await_steps(self: Arc<Self>, steps: u64) -> u64 {
        for step in 1..=steps {
            let this = Arc::clone(&self);
            common::poll_fn(move |cx| {
                let mut state = this.state.lock().unwrap();
                if state.0 >= step {
                    return Poll::Ready(());
                }
                state.1 = Some(cx.waker().clone());
                this.registered.notify_all();
                Poll::Pending
            })
            .await;
        }
        steps
    }

    /// On another thread: release `steps` steps, each once the future waits
    /// for it, waking it from this thread.
    fn release_from_a_thread(self: &Arc<Self>, steps: u64) -> std::thread::JoinHandle<()> {
        let this = Arc::clone(self);
        std::thread::spawn(move || {
            for step in 1..=steps {
                let waker = {
                    let mut state = this.state.lock().unwrap();
                    while state.1.is_none() {
                        state = this.registered.wait(state).unwrap();
                    }
                    state.0 = step;
                    state.1.take().unwrap()
                };
                waker.wake();
            }
        })
    }
}

/// Tasks that keep a clone of their waker and finish once polled after the
/// last of `ROUNDS` rounds, in each of which another thread wakes every one
/// of them, back to back: wakes race with the polls and with the driver
/// going to sleep. A task whose wake is lost is never polled again.
struct WakeRounds {
    round: AtomicUsize,
    wakers: Mutex<Vec<Waker>>,
    all_cloned: Condvar,
}

impl WakeRounds {
    const ROUNDS: usize = 5;

    fn new() -> Arc<WakeRounds> {
        Arc::new(WakeRounds {
            round: AtomicUsize::new(0),
            wakers: Mutex::new(Vec::new()),
            all_cloned: Condvar::new(),
        })
    }

    fn task(self: &Arc<Self>) -> impl Future<Output = ()> + Send {
        let this = Arc::clone(self);
        let mut cloned = false;
        common::poll_fn(move |cx| {
            if !cloned {
                cloned = true;
                this.wakers.lock().unwrap().push(cx.waker().clone());
                this.all_cloned.notify_all();
            }
            if this.round.load(Ordering::SeqCst) >= WakeRounds::ROUNDS {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }

    /// On another thread: once `tasks` tasks kept their wakers, run the
    /// rounds of wakes.
    fn wake_from_a_thread(self: &Arc<Self>, tasks: usize) -> std::thread::JoinHandle<()> {
        let this = Arc::clone(self);
        std::thread::spawn(move || {
            let mut wakers = this.wakers.lock().unwrap();
            while wakers.len() < tasks {
                wakers = this.all_cloned.wait(wakers).unwrap();
            }
            let wakers = std::mem::take(&mut *wakers);
            for round in 1..=WakeRounds::ROUNDS {
                this.round.store(round, Ordering::SeqCst);
                for waker in &wakers {
                    waker.wake_by_ref();
                }
            }
        })
    }
}

/// Abort the whole test run with a message if `done` is not dropped or
/// sent to within 60 s: a hang guard far above any expected duration.
fn watchdog(what: &'static str) -> mpsc::Sender<()> {
    let (done, finished) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(Duration::from_secs(60)) {
            // Straight to the process's stderr: the test harness captures
            // eprintln!, and the abort would lose what it captured.
            let _ = writeln!(
                std::io::stderr(),
                "watchdog: {what} did not finish within 60 s (a lost wake?); aborting"
            );
            std::process::abort();
        }
    });
    done
}

#[test]
fn two_thousand_wakes_from_another_thread_complete_under_block_on() {
    const STEPS: u64 = 2_000;
    for threads in [0, 2] {
        let _done = watchdog("2,000 wakes under Executor::block_on");
        let executor = Executor::new(threads).unwrap();
        // A spawned task woken from one thread (through the executor's
        // queue and, without workers, its eventfd)...
        let task_side = PingPong::new();
        let task_waker = task_side.release_from_a_thread(STEPS);
        let task = executor
            .spawn(Arc::clone(&task_side).await_steps(STEPS))
            .unwrap();
        // ...and the future given to block_on, woken from another.
        let main_side = PingPong::new();
        let main_waker = main_side.release_from_a_thread(STEPS);
        let (own, spawned) = executor
            .block_on(async move {
                let own = main_side.await_steps(STEPS).await;
                (own, task.await)
            })
            .unwrap();
        assert_eq!(own, STEPS, "{threads} workers");
        assert_eq!(spawned, Ok(STEPS), "{threads} workers");
        task_waker.join().unwrap();
        main_waker.join().unwrap();
    }
}

#[test]
fn two_thousand_tasks_woken_from_another_thread_complete_under_block_on() {
    const TASKS: usize = 2_000;
    for threads in [0, 2] {
        for _ in 0..3 {
            let _done = watchdog("2,000 tasks woken under Executor::block_on");
            let executor = Executor::new(threads).unwrap();
            let wakes = WakeRounds::new();
            let handles: Vec<JoinHandle<()>> = (0..TASKS)
                .map(|_| executor.spawn(wakes.task()).unwrap())
                .collect();
            let waker_thread = wakes.wake_from_a_thread(TASKS);
            let finished = executor
                .block_on(async move {
                    let mut finished = 0;
                    for handle in handles {
                        handle.await.unwrap();
                        finished += 1;
                    }
                    finished
                })
                .unwrap();
            assert_eq!(finished, TASKS, "{threads} workers");
            waker_thread.join().unwrap();
        }
    }
}

#[test]
fn detached_tasks_run_and_drop_their_future_and_output() {
    let executor = Executor::new(0).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let outputs_dropped = Arc::new(AtomicBool::new(false));
    for _ in 0..100 {
        let done = Arc::clone(&done);
        executor
            .spawn_detached(async move {
                YieldOnce(false).await;
                done.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    // Zero-sized futures need no allocation; they must still run.
    for _ in 0..100 {
        executor.spawn_detached(YieldOnce(false)).unwrap();
    }
    let output = DropFlag(Arc::clone(&outputs_dropped));
    executor.spawn_detached(async move { output }).unwrap();
    assert_eq!(executor.task_count().unwrap(), 201);
    executor.run().unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 100);
    assert!(outputs_dropped.load(Ordering::SeqCst), "the output was not dropped");
    assert_eq!(executor.task_count().unwrap(), 0);
}

#[test]
fn a_panicking_detached_task_ends_alone() {
    let executor = Executor::new(0).unwrap();
    let after = Arc::new(AtomicBool::new(false));
    executor
        .spawn_detached(async {
            YieldOnce(false).await;
            panic!("detached boom");
        })
        .unwrap();
    let flag = Arc::clone(&after);
    executor
        .spawn_detached(async move { flag.store(true, Ordering::SeqCst) })
        .unwrap();
    executor.run().unwrap();
    assert!(after.load(Ordering::SeqCst));
    assert_eq!(executor.task_count().unwrap(), 0);
}

#[test]
fn freeing_the_executor_drops_unfinished_detached_tasks() {
    let executor = Executor::new(0).unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(Arc::clone(&dropped));
    executor
        .spawn_detached(async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        })
        .unwrap();
    // A panic while dropping must not unwind into the library either.
    let guard = PanicOnDrop;
    executor
        .spawn_detached(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        })
        .unwrap();
    executor.run_ready().unwrap();
    assert!(!dropped.load(Ordering::SeqCst));
    drop(executor);
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn an_output_nobody_awaits_is_dropped_with_the_task() {
    // The handle is dropped first: the task alone frees its cell.
    let executor = Executor::new(0).unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let output = DropFlag(Arc::clone(&dropped));
    drop(executor.spawn(async move { output }).unwrap());
    executor.run().unwrap();
    assert!(dropped.load(Ordering::SeqCst));
    // The task finishes first: the output waits in the handle's cell until
    // the handle goes.
    let dropped = Arc::new(AtomicBool::new(false));
    let output = DropFlag(Arc::clone(&dropped));
    let handle = executor.spawn(async move { output }).unwrap();
    executor.run().unwrap();
    assert!(handle.is_finished());
    assert!(!dropped.load(Ordering::SeqCst), "dropped before its handle");
    drop(handle);
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn a_handle_outlives_its_task_and_executor() {
    let executor = Executor::new(0).unwrap();
    let finished = executor.spawn(async { String::from("kept") }).unwrap();
    let unfinished = executor.spawn(std::future::pending::<u8>()).unwrap();
    executor.run_ready().unwrap();
    drop(executor);
    assert!(finished.is_finished() && unfinished.is_finished());
    assert_eq!(timefuture::block_on(finished).unwrap(), Ok("kept".to_owned()));
    assert_eq!(timefuture::block_on(unfinished).unwrap(), Err(Error::Shutdown));
}

#[test]
fn a_join_handle_wakes_only_the_waker_of_its_latest_poll() {
    let executor = Executor::new(0).unwrap();
    let mut handle = executor
        .spawn(async {
            YieldOnce(false).await;
            7u64
        })
        .unwrap();
    let (first, second) = (Counter::new(), Counter::new());
    let first_waker = Waker::from(Arc::clone(&first));
    let second_waker = Waker::from(Arc::clone(&second));
    assert!(poll_once(&mut handle, &first_waker).is_pending());
    // The same waker again is kept; another one replaces it.
    assert!(poll_once(&mut handle, &first_waker).is_pending());
    assert!(poll_once(&mut handle, &second_waker).is_pending());
    assert!(!handle.is_finished());
    executor.run().unwrap();
    assert!(handle.is_finished());
    assert_eq!((first.wakes(), second.wakes()), (0, 1));
    assert_eq!(poll_once(&mut handle, &first_waker), Poll::Ready(Ok(7)));
    // Polled again after it returned the output.
    assert_eq!(
        poll_once(&mut handle, &first_waker),
        Poll::Ready(Err(Error::State))
    );
    // The stored waker goes with the task's cell, with the last holder.
    drop((first_waker, second_waker, executor));
    assert_eq!(Arc::strong_count(&second), 2, "the handle let go of its waker");
    drop(handle);
    assert_eq!((Arc::strong_count(&first), Arc::strong_count(&second)), (1, 1));
}

#[test]
fn join_handles_polled_while_their_tasks_finish_on_workers() {
    // Each poll may store or replace the handle's waker while a worker
    // completes the task, which wakes the waker it finds, if any, once.
    let executor = Executor::new(2).unwrap();
    let counters = [Counter::new(), Counter::new()];
    let wakers = [
        Waker::from(Arc::clone(&counters[0])),
        Waker::from(Arc::clone(&counters[1])),
    ];
    // Tasks whose handle left a waker; those seen finished before the poll
    // that returned the output, whose waker was left there at completion.
    let (mut left_a_waker, mut must_wake) = (0, 0);
    for i in 0..2000u64 {
        let mut handle = executor
            .spawn(async move {
                YieldOnce(false).await;
                i
            })
            .unwrap();
        let mut polls = 0;
        let output = loop {
            let finished = handle.is_finished();
            match poll_once(&mut handle, &wakers[polls % 2]) {
                Poll::Ready(output) => {
                    if polls > 0 {
                        left_a_waker += 1;
                        must_wake += usize::from(finished);
                    }
                    break output;
                }
                Poll::Pending => polls += 1,
            }
            std::thread::yield_now();
        };
        assert_eq!(output, Ok(i));
    }
    let wakes = || counters[0].wakes() + counters[1].wakes();
    common::wait_until("the wakes due have come", || wakes() >= must_wake);
    drop(executor);
    assert!(wakes() <= left_a_waker, "more wakes than wakers left");
}

/// Counts its drops.
struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn outputs_are_dropped_once_whichever_side_lets_go_last() {
    for threads in [0, 2] {
        let executor = Executor::new(threads).unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for i in 0..2000 {
            let output = CountDrop(Arc::clone(&drops));
            let handle = executor
                .spawn(async move {
                    YieldOnce(false).await;
                    output
                })
                .unwrap();
            // Some handles go at once (perhaps while a worker completes the
            // task), the others after their task is done.
            if i % 2 == 0 {
                drop(handle);
            } else {
                handles.push(handle);
            }
        }
        executor.run().unwrap();
        drop(handles);
        drop(executor);
        assert_eq!(drops.load(Ordering::SeqCst), 2000);
    }
}

#[test]
fn a_handle_dropped_while_pending_leaves_its_waker_to_the_task() {
    // The handle's first Pending poll puts its waker in a slot of its own,
    // whose address the cell's state word keeps: the task, last to let go,
    // frees it with the cell, and wakes nobody (the handle is gone).
    let executor = Executor::new(0).unwrap();
    let mut handle = executor
        .spawn(async {
            YieldOnce(false).await;
            5u8
        })
        .unwrap();
    let counter = Counter::new();
    let waker = Waker::from(Arc::clone(&counter));
    assert!(poll_once(&mut handle, &waker).is_pending());
    assert_eq!(Arc::strong_count(&counter), 3, "the slot holds a clone");
    drop(handle);
    assert_eq!(Arc::strong_count(&counter), 3, "the slot goes with the cell");
    executor.run().unwrap();
    assert_eq!(Arc::strong_count(&counter), 2, "the task freed the slot");
    assert_eq!(counter.wakes(), 0);
    // The same after the slot's waker was replaced, and on shutdown.
    let mut handle = executor.spawn(std::future::pending::<u8>()).unwrap();
    let other = Counter::new();
    let other_waker = Waker::from(Arc::clone(&other));
    assert!(poll_once(&mut handle, &waker).is_pending());
    assert!(poll_once(&mut handle, &other_waker).is_pending());
    assert_eq!((Arc::strong_count(&counter), Arc::strong_count(&other)), (2, 3));
    drop(handle);
    drop(executor);
    assert_eq!((Arc::strong_count(&counter), Arc::strong_count(&other)), (2, 2));
    assert_eq!((counter.wakes(), other.wakes()), (0, 0));
}

#[test]
fn waker_slots_are_freed_once_while_tasks_finish_on_workers() {
    // A handle's first poll makes a waker slot and hands it over in the
    // step that sets WAKER, unless the task completed meanwhile: then the
    // slot is still the handle's to free. Every waker clone a poll keeps
    // must go once, whichever way each race went.
    let counters = [Counter::new(), Counter::new()];
    let wakers = [
        Waker::from(Arc::clone(&counters[0])),
        Waker::from(Arc::clone(&counters[1])),
    ];
    for threads in [1, 2] {
        let executor = Executor::new(threads).unwrap();
        let mut kept = Vec::new();
        for i in 0..2000u64 {
            let mut handle = executor.spawn(async move { i }).unwrap();
            // Poll until Ready, alternating the wakers: the poll races the
            // worker's completion of the task.
            let mut polls = 0;
            let output = loop {
                match poll_once(&mut handle, &wakers[polls % 2]) {
                    Poll::Ready(output) => break output,
                    Poll::Pending => polls += 1,
                }
                if polls > 2 {
                    std::thread::yield_now();
                }
            };
            assert_eq!(output, Ok(i));
            // Half the handles outlive their executor.
            if i % 2 == 0 {
                kept.push(handle);
            }
        }
        drop(executor);
        drop(kept);
    }
    // Each clone the slots took was dropped: only ours are left.
    drop(wakers);
    assert_eq!(Arc::strong_count(&counters[0]), 1, "a waker slot leaked");
    assert_eq!(Arc::strong_count(&counters[1]), 1, "a waker slot leaked");
}

#[test]
fn a_refused_spawn_drops_the_future_and_frees_its_cell() {
    // In a child of fork() the library refuses to spawn on an executor of
    // the parent: both spawns give the future back to be dropped at once.
    extern "C" {
        fn fork() -> i32;
        fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
        fn _exit(status: i32) -> !;
    }
    let executor = Executor::new(0).unwrap();
    // SAFETY: the child only spawns (which fails), checks flags and exits.
    let pid = unsafe { fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let with = Arc::new(AtomicBool::new(false));
            let without = Arc::new(AtomicBool::new(false));
            let flag = DropFlag(Arc::clone(&with));
            let refused = executor.spawn(async move {
                let _flag = flag;
            });
            let ok = matches!(refused, Err(Error::Fork)) && with.load(Ordering::SeqCst);
            let flag = DropFlag(Arc::clone(&without));
            let refused = executor.spawn_detached(async move {
                let _flag = flag;
            });
            ok && refused == Err(Error::Fork) && without.load(Ordering::SeqCst)
        }));
        // SAFETY: ends the child without running the parent's exit code.
        unsafe { _exit(if matches!(code, Ok(true)) { 0 } else { 1 }) };
    }
    let mut status = -1;
    // SAFETY: our child; status is a valid place.
    assert_eq!(unsafe { waitpid(pid, &mut status, 0) }, pid);
    assert_eq!(status, 0, "the child's spawns were not refused cleanly");
    // The parent's executor still works.
    let handle = executor.spawn(async { 3 }).unwrap();
    executor.run().unwrap();
    assert_eq!(timefuture::block_on(handle).unwrap(), Ok(3));
}

/// A waker whose clone first runs a hook (once), counting its live clones:
/// user code that runs inside JoinHandle::poll, between its reads of the
/// state word.
mod hooked_waker {
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{RawWaker, RawWakerVTable, Waker};

    thread_local! {
        static HOOK: RefCell<Option<Box<dyn FnOnce()>>> = RefCell::new(None);
    }
    /// Clones alive (the waker made by `new` included).
    pub static LIVE: AtomicUsize = AtomicUsize::new(0);

    fn clone(_: *const ()) -> RawWaker {
        let hook = HOOK.with(|hook| hook.borrow_mut().take());
        if let Some(hook) = hook {
            hook();
        }
        LIVE.fetch_add(1, Ordering::SeqCst);
        RawWaker::new(std::ptr::null(), &TABLE)
    }
    fn noop(_: *const ()) {}
    fn release(_: *const ()) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
    // Waking by value consumes the clone.
    static TABLE: RawWakerVTable = RawWakerVTable::new(clone, release, noop, release);

    /// A waker whose next clone on this thread runs `hook` first.
    pub fn new(hook: impl FnOnce() + 'static) -> Waker {
        HOOK.with(|slot| *slot.borrow_mut() = Some(Box::new(hook)));
        LIVE.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the table's functions keep the (empty) contract.
        unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &TABLE)) }
    }
}

#[test]
fn a_waker_slot_made_as_the_task_completes_is_freed_by_the_handle() {
    // The handle's first poll finds the task unfinished, and makes a waker
    // slot for a clone of its waker; the clone runs the task to completion,
    // so the step that would hand the slot over finds COMPLETE: the slot
    // never reaches the cell, and the handle must free it (every time).
    let executor = Arc::new(Executor::new(0).unwrap());
    let mut handle = executor.spawn(async { 9u32 }).unwrap();
    let runner = Arc::clone(&executor);
    let waker = hooked_waker::new(move || {
        runner.run_ready().unwrap();
    });
    assert_eq!(poll_once(&mut handle, &waker), Poll::Ready(Ok(9)));
    assert_eq!(hooked_waker::LIVE.load(Ordering::SeqCst), 1, "the slot's clone leaked");
    drop(handle);
    drop(waker);
    assert_eq!(hooked_waker::LIVE.load(Ordering::SeqCst), 0);
    assert_eq!(executor.task_count().unwrap(), 0);
}
