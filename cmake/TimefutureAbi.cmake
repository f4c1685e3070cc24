# SPDX-License-Identifier: MIT
# The ABI gate as build targets, and the dlopen example.
#
#   cmake --build build --target abi-check   # the library vs abi/ (CI runs
#                                             # the same as the ctest abi_gate)
#   cmake --build build --target abi-update  # regenerate the baseline after
#                                             # an accepted addition
#
# Both need a build with -g (RelWithDebInfo) and abigail-tools. The gate
# itself, and the procedure for adding functions, are in
# scripts/abi-check.sh; the ctest tests are in tests/abi/.

set(_tf_gate ${PROJECT_SOURCE_DIR}/scripts/abi-check.sh)
add_custom_target(abi-check
  COMMAND bash ${_tf_gate} --history $<TARGET_FILE:timefuture>
  DEPENDS timefuture
  COMMENT "Comparing libtimefuture's ABI with abi/libtimefuture.abi"
  USES_TERMINAL VERBATIM)
add_custom_target(abi-update
  COMMAND bash ${_tf_gate} --update --history $<TARGET_FILE:timefuture>
  DEPENDS timefuture
  COMMENT "Regenerating abi/libtimefuture.abi (additions in a new version node only)"
  USES_TERMINAL VERBATIM)

# examples/dlopen_timer.c is deliberately not linked with the library: it
# only dlopen()s libtimefuture.so.1. It is built after the library so that
# running it from the build tree finds a fresh one.
if(TF_BUILD_EXAMPLES AND NOT TARGET dlopen_timer)
  add_executable(dlopen_timer ${PROJECT_SOURCE_DIR}/examples/dlopen_timer.c)
  target_include_directories(dlopen_timer PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(dlopen_timer PRIVATE ${CMAKE_DL_LIBS})
  set_target_properties(dlopen_timer PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/examples)
  add_dependencies(dlopen_timer timefuture)
endif()
