// SPDX-License-Identifier: MIT
//! The dependent's program, linked with the rpath its build.rs adds: it
//! starts when run directly, without LD_LIBRARY_PATH.

fn main() {
    timefuture_downstream::main_of("downstream");
}
