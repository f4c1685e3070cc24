# SPDX-License-Identifier: MIT
# A peers test (bench/CMakeLists.txt): runs peer_tokio's subcommand SUB
# with the tiny workload ARGS and checks its result line's form, then runs
# the benchmark BENCH that reads it with the same ARGS and checks that the
# tokio figure (regex WANT) reached its table row.
#   cmake -DPEER=... -DSUB=... -DBENCH=... -DARGS="..." -DWANT=... -P check.cmake
if(NOT EXISTS "${PEER}")
  message("peer_tokio is not built: skipped")
  return()
endif()
separate_arguments(_args UNIX_COMMAND "${ARGS}")
# peer_tokio's own arguments: wake takes the two CPUs (-1: unpinned).
set(_peer_args ${_args})
if(SUB STREQUAL "wake")
  list(APPEND _peer_args -1 -1)
endif()
set(_num "[0-9][0-9.]*")
if(SUB STREQUAL "executor")
  set(_form "result executor tasks ${_num} rounds ${_num} best_mtps ${_num} peak_mib ${_num}")
elseif(SUB STREQUAL "wake")
  set(_form "result wake n ${_num} cpu_a -?[0-9]+ cpu_b -?[0-9]+ median_ns ${_num}")
else()
  set(_form "result arm_ns ${_num} total_ns ${_num} p50 ${_num} p99 ${_num} max ${_num} armed ${_num} armed_p50 ${_num} armed_p99 ${_num} early 0\nresult peak_mib ${_num}")
endif()
execute_process(COMMAND "${PEER}" ${SUB} ${_peer_args}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "(^|\n)${_form}\n")
  message(FATAL_ERROR "peer_tokio ${SUB} ${_peer_args}: exit ${rc}, no result line of the form\n"
    "  ${_form}\noutput:\n${out}${err}")
endif()
execute_process(COMMAND "${BENCH}" ${_args}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REGEX MATCH "(^|\n)@row\t[^\n]*" row "${out}")
if(NOT rc EQUAL 0 OR NOT row MATCHES "${WANT}" OR out MATCHES "tokio[^\n]*FAILED")
  message(FATAL_ERROR "${BENCH} ${ARGS}: exit ${rc}, its table row lacks the tokio figure "
    "(${WANT}):\n${out}${err}")
endif()
message("${SUB}: ${row}")
