// SPDX-License-Identifier: MIT
//! Error: every C status has a variant, and the text is the library's.

use timefuture::Error;

const CODES: [i32; 14] = [-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14];

#[test]
fn every_status_code_maps_to_its_own_variant_and_back() {
    let errors: Vec<Error> = CODES.iter().map(|&code| Error::from_code(code)).collect();
    for (error, &code) in errors.iter().zip(&CODES) {
        assert!(!matches!(error, Error::Unknown(_)), "{code} is not mapped");
        assert_eq!(error.code(), Some(code));
    }
    for (i, a) in errors.iter().enumerate() {
        for b in &errors[i + 1..] {
            assert_ne!(a, b);
        }
    }
    assert_eq!(Error::from_code(-8), Error::Canceled);
    assert_eq!(Error::from_code(-4), Error::Range);
}

#[test]
fn display_is_the_library_text() {
    let texts: Vec<String> = CODES
        .iter()
        .map(|&code| Error::from_code(code).to_string())
        .collect();
    for (text, code) in texts.iter().zip(CODES) {
        assert!(!text.is_empty());
        assert_ne!(
            text, "unknown status",
            "the library does not explain {code}"
        );
    }
    for (i, a) in texts.iter().enumerate() {
        assert!(
            !texts[i + 1..].contains(a),
            "two codes share the text {a:?}"
        );
    }
    // Unknown codes keep their number and get the library's fallback text.
    let unknown = Error::from_code(-999);
    assert_eq!(unknown, Error::Unknown(-999));
    assert_eq!(unknown.code(), Some(-999));
    assert_eq!(unknown.to_string(), "unknown status (-999)");
}

#[test]
fn panics_have_no_code_and_show_their_message() {
    let error = Error::Panicked("oops".to_owned());
    assert_eq!(error.code(), None);
    assert_eq!(error.to_string(), "task panicked: oops");
}

#[test]
fn error_is_a_std_error_that_crosses_threads() {
    let boxed: Box<dyn std::error::Error + Send + Sync + 'static> = Box::new(Error::Busy);
    assert!(boxed.source().is_none());
    assert_eq!(boxed.to_string(), Error::Busy.to_string());
}

#[test]
fn version_matches_the_version_string() {
    let (major, minor, patch) = timefuture::version();
    assert_eq!(major, 1);
    assert_eq!(
        timefuture::version_string(),
        format!("{major}.{minor}.{patch}")
    );
    let before = timefuture::now_ns();
    assert!(timefuture::now_ns() >= before);
}
