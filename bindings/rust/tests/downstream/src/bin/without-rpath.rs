// SPDX-License-Identifier: MIT
//! The same program without an rpath (build.rs adds none to it): it finds
//! the library only through the loader path `cargo run` sets.

fn main() {
    timefuture_downstream::main_of("without-rpath");
}
