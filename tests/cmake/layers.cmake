# SPDX-License-Identifier: MIT
# The sources import only downward, allocation at the bottom importing
# nothing above the basics (docs/design.md, "Layers"); the selftest shows
# the check fails on upward includes and on a file in no layer.
find_program(TF_PYTHON3 python3)
if(TF_PYTHON3)
  add_test(NAME source_layers
    COMMAND ${TF_PYTHON3} ${PROJECT_SOURCE_DIR}/scripts/check-layers.py ${PROJECT_SOURCE_DIR}/src)
  add_test(NAME source_layers_selftest
    COMMAND ${TF_PYTHON3} ${PROJECT_SOURCE_DIR}/scripts/check-layers.py --selftest ${PROJECT_SOURCE_DIR}/src)
else()
  add_test(NAME source_layers COMMAND ${CMAKE_COMMAND} -E echo "python3 is needed to check the source layers")
  set_tests_properties(source_layers PROPERTIES WILL_FAIL TRUE)
endif()
set_tests_properties(source_layers PROPERTIES LABELS "unit" TIMEOUT 60)
if(TF_PYTHON3)
  set_tests_properties(source_layers_selftest PROPERTIES LABELS "unit" TIMEOUT 60)
endif()

# The one list of the ABI (src/api_list.h) against the header, the version
# script and the Rust binding's declarations; its selftest shows each check
# can fail. The Rust part is a test of its own, so that what the binding
# still lacks is reported apart, by name.
if(TF_PYTHON3)
  add_test(NAME abi_list
    COMMAND ${TF_PYTHON3} ${PROJECT_SOURCE_DIR}/scripts/check-abi-list.py --only header,map)
  add_test(NAME abi_list_rust
    COMMAND ${TF_PYTHON3} ${PROJECT_SOURCE_DIR}/scripts/check-abi-list.py --only rust)
  add_test(NAME abi_list_selftest
    COMMAND ${TF_PYTHON3} ${PROJECT_SOURCE_DIR}/scripts/check-abi-list.py --selftest)
  set_tests_properties(abi_list abi_list_rust abi_list_selftest PROPERTIES LABELS "abi" TIMEOUT 60)
endif()
