# SPDX-License-Identifier: MIT
# Install rules: shared and static libraries, public headers, timefuture.pc
# and a CMake package (find_package(timefuture 1.0 CONFIG)).
#
# Components: "runtime" holds only libtimefuture.so.1*; "dev" holds
# everything needed to build against the library.

include(CMakePackageConfigHelpers)

set(TF_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/timefuture)

install(TARGETS timefuture timefuture_static
  EXPORT timefutureTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT runtime
    NAMELINK_COMPONENT dev
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    COMPONENT runtime)

install(FILES
    ${PROJECT_SOURCE_DIR}/include/timefuture.h
    ${PROJECT_SOURCE_DIR}/include/timefuture_version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT dev)

install(EXPORT timefutureTargets
  NAMESPACE timefuture::
  DESTINATION ${TF_CMAKE_INSTALL_DIR}
  COMPONENT dev)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/timefutureConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/timefutureConfig.cmake
  INSTALL_DESTINATION ${TF_CMAKE_INSTALL_DIR})
# 1.x is backward compatible: a request for 1.0 accepts 1.7, never 2.0.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/timefutureConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
    ${PROJECT_BINARY_DIR}/cmake/timefutureConfig.cmake
    ${PROJECT_BINARY_DIR}/cmake/timefutureConfigVersion.cmake
  DESTINATION ${TF_CMAKE_INSTALL_DIR}
  COMPONENT dev)

# timefuture.pc is written at install time: `cmake --install --prefix DIR`
# changes the prefix after configuration, and the .pc file must name the
# directories the files really went to.
foreach(_tf_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_tf_dir}}")
    set(_tf_pc_${_tf_dir} "${CMAKE_INSTALL_${_tf_dir}}")
  else()
    set(_tf_pc_${_tf_dir} "\${prefix}/${CMAKE_INSTALL_${_tf_dir}}")
  endif()
endforeach()
set(_tf_pc_out ${PROJECT_BINARY_DIR}/pkgconfig/timefuture.pc)
install(CODE "
  set(TF_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(TF_PC_LIBDIR [=[${_tf_pc_LIBDIR}]=])
  set(TF_PC_INCLUDEDIR [=[${_tf_pc_INCLUDEDIR}]=])
  set(PROJECT_VERSION [=[${PROJECT_VERSION}]=])
  set(PROJECT_DESCRIPTION [=[${PROJECT_DESCRIPTION}]=])
  configure_file([=[${PROJECT_SOURCE_DIR}/timefuture.pc.in]=] [=[${_tf_pc_out}]=] @ONLY)
  if(IS_ABSOLUTE [=[${CMAKE_INSTALL_LIBDIR}]=])
    set(_tf_pc_dest [=[${CMAKE_INSTALL_LIBDIR}/pkgconfig]=])
  else()
    set(_tf_pc_dest \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
  endif()
  file(INSTALL DESTINATION \"\${_tf_pc_dest}\" TYPE FILE FILES [=[${_tf_pc_out}]=])
" COMPONENT dev)

# The licence. A distribution build (prefix /usr) puts it where Debian
# policy wants it for each package: /usr/share/doc/<package>/copyright.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libtimefuture${PROJECT_VERSION_MAJOR}
    RENAME copyright COMPONENT runtime)
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libtimefuture-dev
    RENAME copyright COMPONENT dev)
else()
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE
    DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
endif()

# Debian packages of these components (cpack -G DEB).
include(${CMAKE_CURRENT_LIST_DIR}/TimefuturePackaging.cmake)
