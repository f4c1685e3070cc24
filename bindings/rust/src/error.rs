// SPDX-License-Identifier: MIT
//! The crate's error type: one variant per `TF_E*` status of the C library,
//! plus the failures that only exist on the Rust side (a task that panicked).

use std::ffi::CStr;
use std::os::raw::c_int;
use std::fmt;

use crate::sys;

/// An error reported by libtimefuture, or by a task run on an
/// [`Executor`](crate::Executor).
///
/// Every negative status code of the C library has its own variant; its
/// [`Display`](fmt::Display) text is the library's own explanation
/// (`tf_strerror`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `TF_EINVAL`: an argument is invalid.
    Invalid,
    /// `TF_EHANDLE`: a handle is not a live object of the expected type.
    Handle,
    /// `TF_ENOMEM`: memory could not be allocated.
    NoMemory,
    /// `TF_ERANGE`: a duration or deadline lies outside the representable
    /// range.
    Range,
    /// `TF_ESHUTDOWN`: the executor has been shut down. A
    /// [`JoinHandle`](crate::JoinHandle) resolves to this when its task was
    /// dropped unfinished because its executor was dropped.
    Shutdown,
    /// `TF_ETIMEDOUT`: the timeout passed before anything became ready.
    TimedOut,
    /// `TF_EEMPTY`: no task exists that could ever become ready.
    Empty,
    /// `TF_ECANCELED`: the timer was cancelled and will not fire until it is
    /// reset.
    Canceled,
    /// `TF_ESTATE`: the call is not valid in the object's current state.
    State,
    /// `TF_EBUSY`: the resource is in use.
    Busy,
    /// `TF_ETHREAD`: a thread could not be created.
    Thread,
    /// `TF_ESYS`: a system call failed.
    System,
    /// `TF_EVERSION`: the requested ABI version or table size is not
    /// supported.
    Version,
    /// `TF_EFORK`: the object was created before `fork()` and cannot be used
    /// in the child.
    Fork,
    /// A negative status this version of the crate does not know (a newer
    /// library); the code is kept so that nothing is lost.
    Unknown(i32),
    /// A task spawned on an [`Executor`](crate::Executor) panicked while
    /// being polled; the panic was caught at the C boundary and its message
    /// is kept here.
    Panicked(String),
}

impl Error {
    /// Map a negative status code of the C library to its variant.
    ///
    /// Non-negative values are not errors; they map to
    /// [`Error::Unknown`] so that a caller's mistake is never silently
    /// turned into success.
    pub fn from_code(code: i32) -> Error {
        match code {
            sys::TF_EINVAL => Error::Invalid,
            sys::TF_EHANDLE => Error::Handle,
            sys::TF_ENOMEM => Error::NoMemory,
            sys::TF_ERANGE => Error::Range,
            sys::TF_ESHUTDOWN => Error::Shutdown,
            sys::TF_ETIMEDOUT => Error::TimedOut,
            sys::TF_EEMPTY => Error::Empty,
            sys::TF_ECANCELED => Error::Canceled,
            sys::TF_ESTATE => Error::State,
            sys::TF_EBUSY => Error::Busy,
            sys::TF_ETHREAD => Error::Thread,
            sys::TF_ESYS => Error::System,
            sys::TF_EVERSION => Error::Version,
            sys::TF_EFORK => Error::Fork,
            other => Error::Unknown(other),
        }
    }

    /// The C library's status code for this error, or `None` for
    /// [`Error::Panicked`], which has no C counterpart.
    pub fn code(&self) -> Option<i32> {
        Some(match self {
            Error::Invalid => sys::TF_EINVAL,
            Error::Handle => sys::TF_EHANDLE,
            Error::NoMemory => sys::TF_ENOMEM,
            Error::Range => sys::TF_ERANGE,
            Error::Shutdown => sys::TF_ESHUTDOWN,
            Error::TimedOut => sys::TF_ETIMEDOUT,
            Error::Empty => sys::TF_EEMPTY,
            Error::Canceled => sys::TF_ECANCELED,
            Error::State => sys::TF_ESTATE,
            Error::Busy => sys::TF_EBUSY,
            Error::Thread => sys::TF_ETHREAD,
            Error::System => sys::TF_ESYS,
            Error::Version => sys::TF_EVERSION,
            Error::Fork => sys::TF_EFORK,
            Error::Unknown(code) => *code,
            Error::Panicked(_) => return None,
        })
    }
}

/// The library's explanation of a status code.
pub(crate) fn strerror(code: c_int) -> &'static str {
    // SAFETY: tf_strerror returns a static NUL-terminated string, never NULL.
    let text = unsafe { CStr::from_ptr(sys::tf_strerror(code)) };
    text.to_str().unwrap_or("(status text is not UTF-8)")
}

/// Turn a status into `Ok(value)` when it is non-negative.
#[inline]
pub(crate) fn check(code: c_int) -> Result<c_int, Error> {
    if code < 0 {
        Err(Error::from_code(code))
    } else {
        Ok(code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Panicked(message) => write!(f, "task panicked: {message}"),
            Error::Unknown(code) => write!(f, "{} ({code})", strerror(*code)),
            other => f.write_str(strerror(
                other
                    .code()
                    .expect("every variant but Panicked has a C code"),
            )),
        }
    }
}

impl std::error::Error for Error {}
