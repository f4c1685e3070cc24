// SPDX-License-Identifier: MIT
//! What both programs of this dependent do: await a timer of libtimefuture
//! and say so. run-tests.sh checks the line, which only appears if the
//! program could load the library.

use std::time::{Duration, Instant};

/// Sleep for `ms` milliseconds on the library's timer; true if the timer
/// fired no earlier than asked.
pub fn sleep_ms(ms: u64) -> Result<bool, timefuture::Error> {
    let start = Instant::now();
    timefuture::block_on(timefuture::sleep(Duration::from_millis(ms)))??;
    Ok(start.elapsed() >= Duration::from_millis(ms))
}

/// Await a 10 ms timer, print the line the test expects (prefixed with
/// `name`), and exit non-zero if anything went wrong.
pub fn main_of(name: &str) {
    match sleep_ms(10) {
        Ok(true) => println!("{name}: timer fired after 10 ms"),
        Ok(false) => {
            eprintln!("{name}: timer fired early");
            std::process::exit(1);
        }
        Err(error) => {
            eprintln!("{name}: {error}");
            std::process::exit(1);
        }
    }
}
