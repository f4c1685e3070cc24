// SPDX-License-Identifier: MIT
//! Find libtimefuture and tell rustc how to link it.
//!
//! 1. `TIMEFUTURE_BUILD_DIR`, if set: a CMake build directory holding
//!    `libtimefuture.so` (an explicit choice beats whatever is installed).
//!    The headers are looked for in `TIMEFUTURE_INCLUDE_DIR`, else in
//!    `include/` inside or next to that directory.
//! 2. Otherwise the `pkg-config` binary (or `$PKG_CONFIG`), module
//!    `timefuture`.
//!
//! Either way the library's directory is added to the rpath of the crate's
//! own tests and examples, so they run without installing, and the header's
//! major version must match the ABI major version this crate was written for
//! (and its minor version be at least the one whose functions it calls).
//!
//! Dependents get the same facts through the `links` metadata:
//! `DEP_TIMEFUTURE_LIBDIR` (the directory holding the library) and
//! `DEP_TIMEFUTURE_INCLUDE` (its headers, when found). Cargo applies this
//! script's `rustc-link-arg` to this package's own targets only, so a
//! dependent's binaries get an rpath only from the dependent's own build.rs
//! (see README.md). For a dependent without one, `cargo run` and
//! `cargo test` still work: the library is also reachable through a link
//! search directory inside the target directory, which cargo puts on the
//! loader path of the programs it runs.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `TF_ABI_MAJOR` of the header the crate's declarations mirror.
const ABI_MAJOR: u32 = 1;
/// The oldest minor version with every function the crate calls
/// (tf_executor_drain and tf_timer_peek are new in 1.1, the tf_driver_*
/// calls and tf_timer_new_on in 1.2, the experimental tf_interval_* calls
/// in 1.3).
const MIN_MINOR: u32 = 3;

fn main() {
    for var in [
        "TIMEFUTURE_BUILD_DIR",
        "TIMEFUTURE_INCLUDE_DIR",
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let found = match env::var_os("TIMEFUTURE_BUILD_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => from_build_dir(Path::new(&dir)),
        None => from_pkg_config(),
    };
    let found = found.unwrap_or_else(|message| {
        panic!(
            "\n\nlibtimefuture was not found: {message}\n\
             Either install it so that `pkg-config --libs timefuture` works \
             (set PKG_CONFIG_PATH for a non-standard prefix), or set \
             TIMEFUTURE_BUILD_DIR to a CMake build directory that contains \
             libtimefuture.so.\n\n"
        )
    });

    for dir in &found.link_dirs {
        println!("cargo:rustc-link-search=native={}", dir.display());
        if !is_system_dir(dir) {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        }
    }
    println!("cargo:rustc-link-lib=dylib=timefuture");

    // The directory that really holds the library (pkg-config may list
    // several), for dependents that set their own rpath.
    let libdir = found
        .link_dirs
        .iter()
        .find(|dir| dir.join("libtimefuture.so").exists())
        .or_else(|| found.link_dirs.first());
    if let Some(libdir) = libdir {
        println!("cargo:libdir={}", libdir.display());
        if !is_system_dir(libdir) {
            if let Err(message) = link_into_out_dir(libdir) {
                println!("cargo:warning={message}");
            }
        }
    }

    match found.include_dir.as_deref().map(read_header_version) {
        Some(Ok((major, minor))) if major == ABI_MAJOR && minor >= MIN_MINOR => {}
        Some(Ok((major, minor))) => panic!(
            "libtimefuture's header has version {major}.{minor}, but this crate \
             needs {ABI_MAJOR}.{MIN_MINOR} or a later {ABI_MAJOR}.x"
        ),
        Some(Err(message)) => println!("cargo:warning={message}"),
        None => println!(
            "cargo:warning=timefuture headers not found; the library's version \
             was not checked at build time"
        ),
    }
    if let Some(include) = &found.include_dir {
        // For crates that build C code against the same headers.
        println!("cargo:include={}", include.display());
    }
}

/// Symlink the library into `OUT_DIR/lib` and add that directory to the
/// link search path. Cargo puts the search directories that lie inside the
/// target directory on the loader path (`LD_LIBRARY_PATH`) of the programs
/// it runs, so `cargo run`/`cargo test` of a dependent find the library
/// even without an rpath. Symlinks, not copies: a rebuilt library is seen
/// at once.
fn link_into_out_dir(libdir: &Path) -> Result<(), String> {
    let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?).join("lib");
    std::fs::create_dir_all(&out).map_err(|e| format!("could not create {}: {e}", out.display()))?;
    let entries =
        std::fs::read_dir(libdir).map_err(|e| format!("could not list {}: {e}", libdir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        // libtimefuture.so and its versioned names (the SONAME the loader
        // looks for), nothing else from the directory.
        if !name.to_string_lossy().starts_with("libtimefuture.so") {
            continue;
        }
        let link = out.join(&name);
        // A link left by an earlier build may point elsewhere.
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(entry.path(), &link)
            .map_err(|e| format!("could not link {}: {e}", link.display()))?;
    }
    println!("cargo:rustc-link-search=native={}", out.display());
    Ok(())
}

struct Found {
    link_dirs: Vec<PathBuf>,
    include_dir: Option<PathBuf>,
}

fn from_build_dir(dir: &Path) -> Result<Found, String> {
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("TIMEFUTURE_BUILD_DIR={}: {e}", dir.display()))?;
    let library = dir.join("libtimefuture.so");
    if !library.exists() {
        return Err(format!(
            "TIMEFUTURE_BUILD_DIR={} holds no libtimefuture.so (build the C library first)",
            dir.display()
        ));
    }
    println!("cargo:rerun-if-changed={}", library.display());
    let include_dir = match env::var_os("TIMEFUTURE_INCLUDE_DIR").filter(|d| !d.is_empty()) {
        Some(include) => Some(PathBuf::from(include)),
        None => [dir.join("include"), dir.join("../include")]
            .into_iter()
            .find(|candidate| candidate.join("timefuture.h").exists()),
    };
    Ok(Found {
        link_dirs: vec![dir],
        include_dir,
    })
}

fn from_pkg_config() -> Result<Found, String> {
    let program = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_owned());
    let run = |args: &[&str]| -> Result<String, String> {
        let output = Command::new(&program)
            .args(args)
            .arg("timefuture")
            .output()
            .map_err(|e| format!("could not run `{program}`: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "`{program} {} timefuture` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };

    let version = run(&["--modversion"])?;
    let mut parts = version.split('.').map(|part| part.parse::<u32>().ok());
    let (major, minor) = (parts.next().flatten(), parts.next().flatten());
    if major != Some(ABI_MAJOR) || minor.map_or(true, |minor| minor < MIN_MINOR) {
        return Err(format!(
            "pkg-config reports libtimefuture {version}; this crate needs \
             {ABI_MAJOR}.{MIN_MINOR} or a later {ABI_MAJOR}.x"
        ));
    }
    let libs = run(&["--libs-only-L"])?;
    let mut link_dirs: Vec<PathBuf> = libs
        .split_whitespace()
        .filter_map(|flag| flag.strip_prefix("-L"))
        .map(PathBuf::from)
        .collect();
    if link_dirs.is_empty() {
        // A library in a default directory: keep its libdir for the rpath
        // decision and the search path alike.
        if let Ok(libdir) = run(&["--variable=libdir"]) {
            if !libdir.is_empty() {
                link_dirs.push(PathBuf::from(libdir));
            }
        }
    }
    let include_dir = run(&["--variable=includedir"])
        .ok()
        .filter(|dir| !dir.is_empty())
        .map(|dir| {
            let dir = PathBuf::from(dir);
            // Headers may sit in a subdirectory named after the library.
            let nested = dir.join("timefuture");
            if nested.join("timefuture.h").exists() {
                nested
            } else {
                dir
            }
        });
    Ok(Found {
        link_dirs,
        include_dir,
    })
}

/// Directories the dynamic loader searches anyway: no rpath needed.
fn is_system_dir(dir: &Path) -> bool {
    ["/lib", "/lib64", "/usr/lib", "/usr/lib64"]
        .iter()
        .any(|system| {
            dir == Path::new(system)
                // Debian's multiarch directories, e.g. /usr/lib/x86_64-linux-gnu.
                || (dir.parent() == Some(Path::new(system))
                    && dir.file_name().map_or(false, |name| name.to_string_lossy().contains("-linux-")))
        })
}

/// `TF_VERSION_MAJOR` and `TF_VERSION_MINOR` from `timefuture_version.h`
/// in `include`.
fn read_header_version(include: &Path) -> Result<(u32, u32), String> {
    let header = include.join("timefuture_version.h");
    println!("cargo:rerun-if-changed={}", header.display());
    let text = std::fs::read_to_string(&header)
        .map_err(|e| format!("could not read {}: {e}", header.display()))?;
    let find = |name: &str| {
        text.lines()
            .find_map(|line| {
                let rest = line.trim().strip_prefix("#define")?.trim_start();
                let value = rest.strip_prefix(name)?;
                // Not a longer name that starts with this one.
                if !value.starts_with(char::is_whitespace) {
                    return None;
                }
                value.trim().parse().ok()
            })
            .ok_or_else(|| format!("no {name} in {}", header.display()))
    };
    Ok((find("TF_VERSION_MAJOR")?, find("TF_VERSION_MINOR")?))
}
