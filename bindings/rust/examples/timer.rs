// SPDX-License-Identifier: MIT
//! The async book's timer-and-executor example ("howdy!", two seconds,
//! "done!"), run on libtimefuture: the book's thread-per-timer TimerFuture
//! becomes a timer of the library's single driver thread, and its
//! channel-based executor becomes the library's executor, polled here by the
//! calling thread.

use std::time::Duration;

use timefuture::{sleep, Error, Executor};

fn main() -> Result<(), Error> {
    // No worker threads: like the book's executor, `run` polls the tasks
    // on this thread until none is left.
    let executor = Executor::new(0)?;

    let task = executor.spawn(async {
        println!("howdy!");
        // Wait for our timer future to complete after two seconds.
        sleep(Duration::new(2, 0)).await?;
        println!("done!");
        Ok::<(), Error>(())
    })?;

    executor.run()?;
    // The task has finished; surface a timer error or a panic, if any.
    timefuture::block_on(task)??
}
