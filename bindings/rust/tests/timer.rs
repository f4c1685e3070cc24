// SPDX-License-Identifier: MIT
//! Timer and sleep: under a hand-written executor, with hand-made wakers,
//! cancellation, reset, drop and waker replacement.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use common::{clone_counting_waker, poll_once, wait_until, Counter, MiniExecutor};
use timefuture::{sleep, Error, Executor, Timer};

#[test]
fn sleep_under_a_hand_written_executor() {
    let executor = MiniExecutor::new();
    let done = Arc::new(AtomicUsize::new(0));
    for ms in [3u64, 1, 2] {
        let done = Arc::clone(&done);
        executor.spawn(async move {
            let start = Instant::now();
            sleep(Duration::from_millis(ms)).await.expect("sleep");
            assert!(start.elapsed() >= Duration::from_millis(ms), "woke early");
            done.fetch_add(1, Ordering::SeqCst);
        });
    }
    let polls = executor.run();
    assert_eq!(done.load(Ordering::SeqCst), 3);
    // Each task is polled once, and once more if its timer was pending and
    // woke it (not if it was already due: that depends on the machine's
    // speed). A timer wakes at most once.
    assert!((3..=6).contains(&polls), "{polls} polls");
}

#[test]
fn many_concurrent_sleeps_under_a_hand_written_executor() {
    let executor = MiniExecutor::new();
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..500u64 {
        let done = Arc::clone(&done);
        executor.spawn(async move {
            let duration = Duration::from_micros(100 * (i % 50));
            let start = Instant::now();
            sleep(duration).await.expect("sleep");
            assert!(start.elapsed() >= duration, "woke early");
            done.fetch_add(1, Ordering::SeqCst);
        });
    }
    executor.run();
    assert_eq!(done.load(Ordering::SeqCst), 500);
}

#[test]
fn timer_fires_and_wakes_once_and_stays_ready() {
    let counter = Counter::new();
    let waker = Waker::from(Arc::clone(&counter));
    let start = Instant::now();
    let mut timer = Timer::new(Duration::from_millis(2)).unwrap();
    if poll_once(&mut timer, &waker).is_pending() {
        assert_eq!(counter.wait_for(1), 1);
    }
    assert!(start.elapsed() >= Duration::from_millis(2));
    assert_eq!(poll_once(&mut timer, &waker), Poll::Ready(Ok(())));
    // Polling after Ready gives Ready again.
    assert_eq!(poll_once(&mut timer, &waker), Poll::Ready(Ok(())));
}

#[test]
fn deadline_matches_the_duration() {
    let before = timefuture::now_ns();
    let timer = Timer::new(Duration::from_secs(5)).unwrap();
    let after = timefuture::now_ns();
    let deadline = timer.deadline_ns().unwrap();
    assert!(deadline >= before + 5_000_000_000 && deadline <= after + 5_000_000_000);

    let at = Timer::new_at(before + 123).unwrap();
    assert_eq!(at.deadline_ns().unwrap(), before + 123);
}

#[test]
fn deadline_in_the_past_fires_at_once() {
    let timer = Timer::new_at(timefuture::now_ns().saturating_sub(1_000)).unwrap();
    assert_eq!(timefuture::block_on(timer).unwrap(), Ok(()));
    assert_eq!(timefuture::block_on(sleep(Duration::ZERO)).unwrap(), Ok(()));
}

#[test]
fn out_of_range_durations_are_errors() {
    assert_eq!(Timer::new(Duration::MAX).unwrap_err(), Error::Range);
    assert_eq!(Timer::new_at(u64::MAX).unwrap_err(), Error::Range);
    // sleep reports the creation error as its output.
    assert_eq!(
        timefuture::block_on(sleep(Duration::MAX)).unwrap(),
        Err(Error::Range)
    );
    assert_eq!(sleep(Duration::MAX).into_timer().unwrap_err(), Error::Range);

    let mut timer = Timer::new(Duration::from_secs(1)).unwrap();
    assert_eq!(timer.reset(Duration::MAX), Err(Error::Range));
    assert_eq!(timer.reset_at(u64::MAX), Err(Error::Range));
}

#[test]
fn cancel_wakes_the_waiting_task_once() {
    let counter = Counter::new();
    let waker = Waker::from(Arc::clone(&counter));
    let mut timer = Timer::new(Duration::from_secs(60)).unwrap();
    assert!(poll_once(&mut timer, &waker).is_pending());
    // The C timer holds the task's waker (through the crate's wrapper).
    assert!(Arc::strong_count(&counter) > 2);

    assert_eq!(timer.cancel(), Ok(true));
    // The waiting task is woken by cancel itself, so that it polls again
    // and learns of the cancellation.
    assert_eq!(counter.wakes(), 1);
    assert_eq!(
        poll_once(&mut timer, &waker),
        Poll::Ready(Err(Error::Canceled))
    );
    // Nothing holds the waker any more, and nothing else woke it.
    assert_eq!(Arc::strong_count(&counter), 2);
    assert_eq!(counter.wakes(), 1);
    // Cancelling again changes nothing.
    assert_eq!(timer.cancel(), Ok(false));
}

#[test]
fn reset_after_cancel_fires() {
    let counter = Counter::new();
    let waker = Waker::from(Arc::clone(&counter));
    let mut timer = Timer::new(Duration::from_secs(60)).unwrap();
    assert!(poll_once(&mut timer, &waker).is_pending());
    assert_eq!(timer.cancel(), Ok(true));
    assert_eq!(counter.wakes(), 1);
    timer.reset(Duration::from_millis(1)).unwrap();
    if poll_once(&mut timer, &waker).is_pending() {
        counter.wait_for(2);
    }
    assert_eq!(poll_once(&mut timer, &waker), Poll::Ready(Ok(())));
    // A fired timer cannot be cancelled, but it can be reset.
    assert_eq!(timer.cancel(), Ok(false));
    timer.reset(Duration::from_secs(60)).unwrap();
    assert!(poll_once(&mut timer, &waker).is_pending());
}

#[test]
fn reset_moves_a_pending_deadline_and_keeps_the_waker() {
    let counter = Counter::new();
    let waker = Waker::from(Arc::clone(&counter));
    let mut timer = Timer::new(Duration::from_secs(60)).unwrap();
    assert!(poll_once(&mut timer, &waker).is_pending());
    let start = Instant::now();
    timer.reset(Duration::from_millis(2)).unwrap();
    // No new poll: the waker stored by the first one is woken.
    assert_eq!(counter.wait_for(1), 1);
    assert!(start.elapsed() >= Duration::from_millis(2));
    assert_eq!(poll_once(&mut timer, &waker), Poll::Ready(Ok(())));
}

#[test]
fn dropping_a_pending_timer_cancels_it() {
    let counter = Counter::new();
    let waker = Waker::from(Arc::clone(&counter));
    let mut timer = Timer::new(Duration::from_secs(60)).unwrap();
    assert!(poll_once(&mut timer, &waker).is_pending());
    assert!(Arc::strong_count(&counter) > 2);
    drop(timer);
    // tf_timer_free released the stored waker and our cached one.
    assert_eq!(Arc::strong_count(&counter), 2);
    assert_eq!(counter.wakes(), 0);
}

#[test]
fn no_wake_arrives_after_a_timer_is_dropped() {
    let counter = Counter::new();
    let waker = Waker::from(Arc::clone(&counter));
    let mut timer = Timer::new(Duration::from_millis(5)).unwrap();
    // On a slow machine the timer may be due at the poll, or fire before
    // the drop: what must hold is that nothing arrives after the drop.
    let _ = poll_once(&mut timer, &waker);
    drop(timer);
    // tf_timer_free waits for a wake the driver is making: by now every
    // reference it held is back.
    assert_eq!(Arc::strong_count(&counter), 2);
    let at_drop = counter.wakes();
    assert!(at_drop <= 1, "{at_drop} wakes from one timer");
    // Well past the deadline: no wake may arrive from a freed timer.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(counter.wakes(), at_drop);
}

#[test]
fn polling_again_from_the_same_task_reuses_the_waker() {
    let (waker, clones) = clone_counting_waker();
    let mut timer = Timer::new(Duration::from_secs(60)).unwrap();
    assert!(poll_once(&mut timer, &waker).is_pending());
    // The first poll keeps one clone, inside the C waker made for it.
    assert_eq!(clones.load(Ordering::SeqCst), 1);
    for _ in 0..100 {
        assert!(poll_once(&mut timer, &waker).is_pending());
    }
    assert_eq!(
        clones.load(Ordering::SeqCst),
        1,
        "a poll from the same task cloned the waker"
    );

    // A waker of another task is cloned, and the old clone let go: only
    // `clones` itself and `waker` hold the counter then.
    assert_eq!(Arc::strong_count(&clones), 3);
    let (other, other_clones) = clone_counting_waker();
    assert!(poll_once(&mut timer, &other).is_pending());
    assert_eq!(other_clones.load(Ordering::SeqCst), 1);
    assert_eq!(Arc::strong_count(&clones), 2);
}

#[test]
fn waker_is_replaced_when_the_timer_moves_to_another_task() {
    let first = Counter::new();
    let second = Counter::new();
    let first_waker = Waker::from(Arc::clone(&first));
    let second_waker = Waker::from(Arc::clone(&second));
    // Far off, so that both polls surely find it pending; the reset below
    // brings the deadline near without replacing the stored waker.
    let mut timer = Timer::new(Duration::from_secs(60)).unwrap();
    assert!(poll_once(&mut timer, &first_waker).is_pending());
    assert!(Arc::strong_count(&first) > 2);

    assert!(poll_once(&mut timer, &second_waker).is_pending());
    // The first task's waker was let go at once...
    assert_eq!(Arc::strong_count(&first), 2);
    // ...and only the second task is woken.
    timer.reset(Duration::from_millis(1)).unwrap();
    assert_eq!(second.wait_for(1), 1);
    assert_eq!(first.wakes(), 0);
    assert_eq!(poll_once(&mut timer, &second_waker), Poll::Ready(Ok(())));
    // Ready releases every waker: ours at once, the C timer's once the
    // driver thread, which may still be returning from the wake, drops it.
    wait_until("the fired timer let go of the waker", || {
        Arc::strong_count(&second) == 2
    });
    // Dropping the timer waits for the driver: nothing is held after it.
    drop(timer);
    assert_eq!(Arc::strong_count(&second), 2);
    assert_eq!(second.wakes(), 1);
}

#[test]
fn timer_moves_from_a_library_task_to_a_foreign_task() {
    // Polled first on the library's executor (its own C waker is passed
    // straight through), then awaited on the hand-written executor (a
    // wrapper around a foreign waker).
    let executor = Executor::new(1).unwrap();
    let (send, receive) = mpsc::channel();
    let first = executor
        .spawn(async move {
            // Far off, so that it surely is pending here; the foreign task
            // brings the deadline near.
            let mut timer = Timer::new(Duration::from_secs(60)).unwrap();
            let mut send = Some(send);
            common::poll_fn(move |cx| {
                let poll = std::pin::Pin::new(&mut timer).poll(cx);
                assert!(poll.is_pending(), "60 s passed in one poll");
                // Hand the registered timer over and finish this task.
                send.take()
                    .unwrap()
                    .send(std::mem::replace(
                        &mut timer,
                        Timer::new(Duration::ZERO).unwrap(),
                    ))
                    .unwrap();
                Poll::Ready(())
            })
            .await
        })
        .unwrap();
    executor.block_on(first).unwrap().unwrap();
    let timer = receive.recv().unwrap();

    let mini = MiniExecutor::new();
    let done = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&done);
    mini.spawn(async move {
        let mut timer = timer;
        // The first poll from this task replaces the library task's waker;
        // the reset keeps the replacement.
        let first = common::poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut timer).poll(cx))).await;
        assert!(first.is_pending(), "60 s passed");
        timer.reset(Duration::from_millis(1)).unwrap();
        timer.await.expect("timer");
        seen.fetch_add(1, Ordering::SeqCst);
    });
    mini.run();
    assert_eq!(done.load(Ordering::SeqCst), 1);
}

#[test]
fn timers_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Timer>();
    assert_send_sync::<timefuture::Sleep>();
}

#[test]
fn peek_tells_the_state_and_keeps_the_waiting_task() {
    let counter = Counter::new();
    let waker = Waker::from(Arc::clone(&counter));
    let mut timer = Timer::new(Duration::from_secs(60)).unwrap();
    assert!(timer.peek().is_pending());
    assert!(poll_once(&mut timer, &waker).is_pending());
    let registered = Arc::strong_count(&counter);
    for _ in 0..10 {
        assert!(timer.peek().is_pending());
    }
    // Nothing was stored, dropped or woken.
    assert_eq!(Arc::strong_count(&counter), registered);
    assert_eq!(counter.wakes(), 0);

    // The task registered by the poll is still the one woken.
    timer.reset(Duration::from_millis(1)).unwrap();
    assert_eq!(counter.wait_for(1), 1);
    // The wake is made after the timer is marked fired.
    assert_eq!(timer.peek(), Poll::Ready(Ok(())));
    assert_eq!(poll_once(&mut timer, &waker), Poll::Ready(Ok(())));

    timer.reset(Duration::from_secs(60)).unwrap();
    assert!(timer.peek().is_pending());
    assert_eq!(timer.cancel(), Ok(true));
    assert_eq!(timer.peek(), Poll::Ready(Err(Error::Canceled)));
}

#[test]
fn peek_leaves_a_due_timer_to_the_driver() {
    // Never polled: no waker anywhere, and the driver still fires it.
    let timer = Timer::new_at(timefuture::now_ns().saturating_sub(1)).unwrap();
    wait_until("the driver fired a due timer", || timer.peek().is_ready());
    assert_eq!(timer.peek(), Poll::Ready(Ok(())));
}
