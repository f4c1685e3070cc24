// SPDX-License-Identifier: MIT
//! The rpath a dependent needs: cargo applies the timefuture crate's own
//! rpath only to that crate's targets, so the dependent adds the library
//! directory it is told through the `links` metadata.

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TIMEFUTURE_LIBDIR");
    let libdir = std::env::var("DEP_TIMEFUTURE_LIBDIR")
        .expect("the timefuture crate exports DEP_TIMEFUTURE_LIBDIR");
    // One program only (README.md's snippet uses rustc-link-arg, for every
    // target): `without-rpath` checks that `cargo run` of a dependent finds
    // the library anyway.
    println!("cargo:rustc-link-arg-bin=timefuture-downstream=-Wl,-rpath,{libdir}");
}
