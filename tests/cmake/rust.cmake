# The Rust binding's cargo tests and docs, against this build of the library.
find_program(CARGO_EXECUTABLE cargo)
if(CARGO_EXECUTABLE)
  add_test(NAME rust_binding
    COMMAND bash ${PROJECT_SOURCE_DIR}/bindings/rust/run-tests.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(rust_binding PROPERTIES LABELS "rust" TIMEOUT 900)
else()
  # Not silently skipped: the test exists and fails, saying why.
  add_test(NAME rust_binding COMMAND sh -c "echo 'cargo not found: install a Rust toolchain'; exit 1")
  set_tests_properties(rust_binding PROPERTIES LABELS "rust")
endif()
