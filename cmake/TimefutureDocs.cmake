# SPDX-License-Identifier: MIT
# Documentation: `cmake --build build --target docs` runs Doxygen (with
# graphviz for the diagrams) over the public headers and the Markdown pages
# in docs/, and fails on any warning: an undocumented symbol, parameter or
# return value fails the build. HTML goes to build/docs/html/index.html.
#
# Also here, under ctest (label "docs"): the example programs the pages
# quote are built and run, the docs build itself runs as a test, and a
# test shows that an undocumented declaration does fail it.

set(TF_DOC_EXAMPLES book_timer embed_poll)
foreach(_ex ${TF_DOC_EXAMPLES})
  add_executable(doc_${_ex} ${PROJECT_SOURCE_DIR}/docs/examples/${_ex}.c)
  target_link_libraries(doc_${_ex} PRIVATE timefuture Threads::Threads)
  target_compile_definitions(doc_${_ex} PRIVATE _GNU_SOURCE)
  set_target_properties(doc_${_ex} PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/docs/examples)
endforeach()
if(BUILD_TESTING)
  add_test(NAME doc_example_book_timer COMMAND doc_book_timer 30)
  set_tests_properties(doc_example_book_timer PROPERTIES LABELS "docs;example" TIMEOUT 60
    PASS_REGULAR_EXPRESSION "howdy!\ndone! \\(after [0-9.]+ ms\\)")
  add_test(NAME doc_example_embed_poll COMMAND doc_embed_poll)
  set_tests_properties(doc_example_embed_poll PROPERTIES LABELS "docs;example" TIMEOUT 60)
  # The code blocks of the front page and of the Python page, extracted
  # from the Markdown and run, so the first example a reader sees works.
  # (Not in sanitizer builds: the page's program is compiled plainly, and
  # a sanitized library cannot be loaded into it.)
  if(NOT TF_SANITIZE)
    add_test(NAME docs_example_front_page
      COMMAND bash ${PROJECT_SOURCE_DIR}/docs/check-docs.sh example-c
        ${PROJECT_SOURCE_DIR}/docs/index.md ${CMAKE_C_COMPILER}
        ${PROJECT_SOURCE_DIR}/include $<TARGET_FILE_DIR:timefuture>
        ${PROJECT_BINARY_DIR}/docs/example-front-page)
    set_tests_properties(docs_example_front_page PROPERTIES LABELS "docs;example" TIMEOUT 120)
  endif()
  if(TARGET timefuture_python)
    # The interpreter bindings/python found (its result is cached), seen
    # from this directory.
    find_package(Python3 QUIET COMPONENTS Interpreter)
    add_test(NAME docs_example_python
      COMMAND bash ${PROJECT_SOURCE_DIR}/docs/check-docs.sh example-python
        ${PROJECT_SOURCE_DIR}/docs/python.md ${Python3_EXECUTABLE}
        ${PROJECT_BINARY_DIR}/docs/example-python 42)
    set_tests_properties(docs_example_python PROPERTIES LABELS "docs;example;python" TIMEOUT 120
      ENVIRONMENT "PYTHONPATH=${PROJECT_BINARY_DIR}/bindings/python/site;PYTHONDONTWRITEBYTECODE=1")
  endif()
endif()

if(TF_BUILD_DOCS)
  find_package(Doxygen REQUIRED COMPONENTS dot)
else()
  find_package(Doxygen QUIET OPTIONAL_COMPONENTS dot)
endif()
if(NOT DOXYGEN_FOUND OR NOT Doxygen_dot_FOUND)
  message(STATUS "No 'docs' target: doxygen and graphviz (dot) are needed")
  return()
endif()

set(DOXYGEN_PROJECT_NAME "libtimefuture")
set(DOXYGEN_PROJECT_NUMBER ${PROJECT_VERSION})
set(DOXYGEN_PROJECT_BRIEF "${PROJECT_DESCRIPTION}")
set(DOXYGEN_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/docs)
set(DOXYGEN_OPTIMIZE_OUTPUT_FOR_C YES)
set(DOXYGEN_USE_MDFILE_AS_MAINPAGE ${PROJECT_SOURCE_DIR}/docs/index.md)
set(DOXYGEN_EXAMPLE_PATH ${PROJECT_SOURCE_DIR}/docs/examples ${PROJECT_SOURCE_DIR}/examples
  ${PROJECT_SOURCE_DIR}/bindings/rust/examples)
set(DOXYGEN_STRIP_FROM_PATH ${PROJECT_SOURCE_DIR})
set(DOXYGEN_STRIP_FROM_INC_PATH ${PROJECT_SOURCE_DIR}/include)
set(DOXYGEN_GENERATE_TREEVIEW YES)
set(DOXYGEN_SORT_MEMBER_DOCS NO) # keep the header's order
set(DOXYGEN_QUIET YES)
# TF_API expands to an attribute Doxygen must not read as part of the type.
set(DOXYGEN_MACRO_EXPANSION YES)
set(DOXYGEN_EXPAND_ONLY_PREDEF YES)
set(DOXYGEN_PREDEFINED "TF_API=" "TF_EXPERIMENTAL")
# Every public symbol documented, every parameter and return value too,
# and any warning fails the build (after listing all of them).
set(DOXYGEN_EXTRACT_ALL NO)
set(DOXYGEN_WARNINGS YES)
set(DOXYGEN_WARN_IF_UNDOCUMENTED YES)
set(DOXYGEN_WARN_IF_DOC_ERROR YES)
set(DOXYGEN_WARN_IF_INCOMPLETE_DOC YES)
set(DOXYGEN_WARN_NO_PARAMDOC YES)
set(DOXYGEN_WARN_AS_ERROR FAIL_ON_WARNINGS)
set(DOXYGEN_HAVE_DOT YES)
set(DOXYGEN_DOT_IMAGE_FORMAT svg)
set(DOXYGEN_INTERACTIVE_SVG NO)

set(TF_DOC_INPUTS
  ${PROJECT_SOURCE_DIR}/include/timefuture.h
  ${PROJECT_SOURCE_DIR}/include/timefuture_version.h
  ${PROJECT_SOURCE_DIR}/docs/index.md
  ${PROJECT_SOURCE_DIR}/docs/tutorial.md
  ${PROJECT_SOURCE_DIR}/docs/embedding.md
  ${PROJECT_SOURCE_DIR}/docs/python.md
  ${PROJECT_SOURCE_DIR}/docs/rust.md
  ${PROJECT_SOURCE_DIR}/docs/design.md)
if(TF_BUILD_DOCS)
  set(_tf_docs_all ALL)
endif()
doxygen_add_docs(docs ${TF_DOC_INPUTS} ${_tf_docs_all}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  COMMENT "Generating the HTML documentation (warnings are errors)")

if(BUILD_TESTING)
  # The same configuration, run as a test, into a directory of its own.
  add_test(NAME docs_build
    COMMAND bash ${PROJECT_SOURCE_DIR}/docs/check-docs.sh build
      ${DOXYGEN_EXECUTABLE} ${PROJECT_BINARY_DIR}/Doxyfile.docs
      ${CMAKE_CURRENT_BINARY_DIR}/docs-test ${PROJECT_SOURCE_DIR}/include)
  add_test(NAME docs_gate_rejects_undocumented
    COMMAND bash ${PROJECT_SOURCE_DIR}/docs/check-docs.sh selftest
      ${DOXYGEN_EXECUTABLE} ${PROJECT_BINARY_DIR}/Doxyfile.docs
      ${CMAKE_CURRENT_BINARY_DIR}/docs-selftest ${PROJECT_SOURCE_DIR}/include)
  set_tests_properties(docs_build docs_gate_rejects_undocumented PROPERTIES
    LABELS docs TIMEOUT 300 WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endif()
