# SPDX-License-Identifier: MIT
add_subdirectory(abi)
add_subdirectory(packaging)

# The ABI gate must not vanish quietly: tests/abi/ leaves it out when the
# build has no -g (abidw then sees names only, and the gate would pass any
# change of types). Then a test of the same name fails, saying why.
get_directory_property(_tf_abi_tests DIRECTORY abi TESTS)
if(NOT "abi_gate" IN_LIST _tf_abi_tests)
  add_test(NAME abi_gate COMMAND sh -c
    "echo 'abi_gate: not run: the library is built without -g (build type \"${CMAKE_BUILD_TYPE}\"); the ABI gate needs DWARF: configure with -DCMAKE_BUILD_TYPE=RelWithDebInfo'; exit 1")
  set_tests_properties(abi_gate PROPERTIES LABELS abi TIMEOUT 30)
endif()
