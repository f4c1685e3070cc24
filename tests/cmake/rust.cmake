# SPDX-License-Identifier: MIT
# The Rust binding's cargo tests, docs and downstream crate, against this
# build of the library, with every Rust toolchain run-tests.sh finds
# (Debian's, and a newer one first on PATH). With no cargo at all the test
# fails, saying why, instead of being skipped.
add_test(NAME rust_binding
  COMMAND bash ${PROJECT_SOURCE_DIR}/bindings/rust/run-tests.sh ${PROJECT_BINARY_DIR})
set_tests_properties(rust_binding PROPERTIES LABELS "rust" TIMEOUT 900)
