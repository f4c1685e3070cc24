# SPDX-License-Identifier: MIT
# cmake -DBUILD_DIR=... -DPREFIX=... -DCONFIG=... -DLIBDIR=... -DINCLUDEDIR=... -DLICENSE=... -P install.cmake
# Installs the build into a fresh scratch prefix and checks that every file
# the packaging promises is there.
file(REMOVE_RECURSE "${PREFIX}")
set(_cfg)
if(CONFIG)
  set(_cfg --config "${CONFIG}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${_cfg}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
set(_missing)
foreach(f
    ${INCLUDEDIR}/timefuture.h
    ${INCLUDEDIR}/timefuture_version.h
    ${LIBDIR}/libtimefuture.so
    ${LIBDIR}/libtimefuture.so.1
    ${LIBDIR}/libtimefuture.a
    ${LIBDIR}/pkgconfig/timefuture.pc
    ${LIBDIR}/cmake/timefuture/timefutureConfig.cmake
    ${LIBDIR}/cmake/timefuture/timefutureConfigVersion.cmake
    ${LIBDIR}/cmake/timefuture/timefutureTargets.cmake
    ${LICENSE})
  if(NOT EXISTS "${PREFIX}/${f}")
    list(APPEND _missing ${f})
  endif()
endforeach()
if(_missing)
  message(FATAL_ERROR "not installed: ${_missing}")
endif()
# The .pc file is written at install time and must name this prefix.
file(STRINGS "${PREFIX}/${LIBDIR}/pkgconfig/timefuture.pc" _pc REGEX "^prefix=")
if(NOT _pc STREQUAL "prefix=${PREFIX}")
  message(FATAL_ERROR "timefuture.pc has '${_pc}', expected 'prefix=${PREFIX}'")
endif()
# The installed library has the soname and no build-tree rpath.
execute_process(COMMAND readelf -d "${PREFIX}/${LIBDIR}/libtimefuture.so.1"
  OUTPUT_VARIABLE _dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf failed on the installed library")
endif()
string(REGEX MATCH "Library soname: \\[([^]]*)\\]" _ "${_dyn}")
set(_soname "${CMAKE_MATCH_1}")
if(NOT _soname STREQUAL "libtimefuture.so.1")
  message(FATAL_ERROR "installed SONAME is '${_soname}'")
endif()
if(_dyn MATCHES "R(UN)?PATH")
  message(FATAL_ERROR "the installed library keeps a build-tree rpath:\n${_dyn}")
endif()
message(STATUS "installed into ${PREFIX}: all files present, SONAME ${_soname}")
