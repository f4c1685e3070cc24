// SPDX-License-Identifier: MIT
//! The memory of task cells (the crate's pool), seen from outside: cells of
//! every size class and alignment, and of none (too big, zero-sized), made
//! on some threads and freed on others, keep their values and alignment.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};

use timefuture::{Executor, JoinHandle};

/// A future of `N` bytes aligned to `A` (through `Align`) that checks its
/// own address and contents on every poll, yields once, and returns its
/// tag: a cell handed out twice, or misaligned, shows here.
struct Checked<Align, const N: usize> {
    _align: [Align; 0],
    bytes: [u8; N],
    tag: u64,
    yielded: bool,
}

impl<Align, const N: usize> Checked<Align, N> {
    fn new(tag: u64) -> Self {
        Checked {
            _align: [],
            bytes: [tag as u8; N],
            tag,
            yielded: false,
        }
    }
}

impl<Align, const N: usize> Future for Checked<Align, N> {
    type Output = u64;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        // SAFETY: nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let address = this as *const Self as usize;
        assert_eq!(
            address % std::mem::align_of::<Self>(),
            0,
            "a misaligned task cell"
        );
        assert!(
            this.bytes.iter().all(|&b| b == this.tag as u8),
            "a task cell overwritten"
        );
        if this.yielded {
            Poll::Ready(this.tag)
        } else {
            this.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[repr(align(16))]
struct A16;
#[repr(align(64))]
struct A64;
#[repr(align(128))]
struct A128;

/// One task of each kind, tagged `tag`; the handles of those spawned with
/// one.
fn spawn_kinds(executor: &Executor, tag: u64, done: &Arc<AtomicUsize>) -> Vec<JoinHandle<u64>> {
    let handles = vec![
        executor.spawn(Checked::<u8, 1>::new(tag)).unwrap(),
        executor.spawn(Checked::<A16, 40>::new(tag)).unwrap(),
        executor.spawn(Checked::<A64, 100>::new(tag)).unwrap(),
        executor.spawn(Checked::<u64, 230>::new(tag)).unwrap(),
        // Too big, and too aligned, for any class: the global allocator.
        executor.spawn(Checked::<u8, 600>::new(tag)).unwrap(),
        executor.spawn(Checked::<A128, 8>::new(tag)).unwrap(),
    ];
    for _ in 0..2 {
        let done = Arc::clone(done);
        executor
            .spawn_detached(async move {
                let output = Checked::<u32, 20>::new(tag).await;
                assert_eq!(output, tag);
                done.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
    }
    // Zero-sized: no memory at all.
    executor.spawn_detached(std::future::ready(())).unwrap();
    handles
}

#[test]
fn cells_made_and_freed_on_different_threads_keep_their_values() {
    const SPAWNERS: u64 = 3;
    const ROUNDS: u64 = 3000;
    let executor = Arc::new(Executor::new(2).unwrap());
    let done = Arc::new(AtomicUsize::new(0));
    let (sender, receiver) = mpsc::channel::<(u64, JoinHandle<u64>)>();
    let spawners: Vec<_> = (0..SPAWNERS)
        .map(|spawner| {
            let executor = Arc::clone(&executor);
            let done = Arc::clone(&done);
            let sender = sender.clone();
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    let tag = spawner * ROUNDS + round;
                    for (kind, handle) in spawn_kinds(&executor, tag, &done).into_iter().enumerate()
                    {
                        if kind % 3 == 2 {
                            // Detached while the task may still run: the
                            // worker frees the cell.
                            drop(handle);
                        } else {
                            sender.send((tag, handle)).unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    drop(sender);
    // The handles are awaited, and their cells freed, on this thread.
    let mut joined = 0u64;
    for (tag, handle) in receiver {
        assert_eq!(timefuture::block_on(handle).unwrap().unwrap(), tag);
        joined += 1;
    }
    for spawner in spawners {
        spawner.join().unwrap();
    }
    assert_eq!(joined, SPAWNERS * ROUNDS * 4);
    // The detached tasks finish on the workers.
    let executor = Arc::try_unwrap(executor).unwrap();
    while executor.task_count().unwrap() > 0 {
        std::thread::yield_now();
    }
    drop(executor);
    assert_eq!(done.load(Ordering::Relaxed) as u64, SPAWNERS * ROUNDS * 2);
}

#[test]
fn a_cell_freed_on_an_exiting_thread_is_reused() {
    // Cells freed by threads that then exit go back with the thread's
    // list; whatever is spawned after must still be sound.
    let executor = Executor::new(0).unwrap();
    for round in 0..50u64 {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                executor
                    .spawn(Checked::<u64, 16>::new(round * 100 + i))
                    .unwrap()
            })
            .collect();
        executor.run().unwrap();
        std::thread::spawn(move || {
            for (i, handle) in handles.into_iter().enumerate() {
                let output = timefuture::block_on(handle).unwrap().unwrap();
                assert_eq!(output, round * 100 + i as u64);
            }
        })
        .join()
        .unwrap();
    }
}
