# SPDX-License-Identifier: MIT
# Debian packages with CPack, from the "runtime" and "dev" install
# components (cmake/TimefutureInstall.cmake):
#
#   cmake -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build-deb --target timefuture timefuture_static
#   cd build-deb && cpack -G DEB
#
# gives libtimefuture1_<version>-1_<arch>.deb (libtimefuture.so.1 and the
# real file it names; shlibs, an ldconfig trigger, Depends on libc6 from
# dpkg-shlibdeps) and libtimefuture-dev_<version>-1_<arch>.deb (headers,
# libtimefuture.so, libtimefuture.a, timefuture.pc, the CMake package;
# Depends on exactly the same libtimefuture1). Configured with the prefix
# /usr, GNUInstallDirs gives Debian's multiarch libdir. The Python module
# (component "python") is not packaged here.
# tests/packaging/deb.sh builds, inspects, unpacks and installs them.

set(TF_DEB_RELEASE 1 CACHE STRING "Debian revision of the packages (the -N in 1.3.0-N)")
set(TF_DEB_MAINTAINER "libtimefuture authors" CACHE STRING
  "Maintainer field of the Debian packages (Name <address>)")

set(CPACK_PACKAGE_NAME timefuture)
set(CPACK_PACKAGE_VENDOR "the libtimefuture authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGE_CONTACT "${TF_DEB_MAINTAINER}")
set(CPACK_GENERATOR DEB)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Install with DESTDIR and the real prefix, so that timefuture.pc, written
# at install time, says prefix=/usr and not CPack's staging directory.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${TF_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${TF_DEB_MAINTAINER}")
set(_tf_deb_version "${PROJECT_VERSION}-${TF_DEB_RELEASE}")
# The control files' Description: CPack puts the project description first
# as the summary line and indents these lines itself.
set(_tf_deb_about "libtimefuture brings Rust's model of asynchronous code to C: poll futures
and wakers, timers served by one driver thread from a hierarchical timing
wheel, and a task executor whose eventfd fits into any event loop, behind a
stable C ABI that other languages call without libffi.
")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libtimefuture${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "${_tf_deb_about}
This package holds the shared library.")
# The shlibs file (and the ldconfig trigger) that a shared library package
# carries: programs built against 1.y depend on libtimefuture1 (>= 1.y.z).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
find_program(TF_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(TF_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
else()
  # No dpkg-dev: name the C library by hand (the oldest glibc with every
  # symbol the library uses in Debian 12's toolchain).
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "libc6 (>= 2.34)")
endif()

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libtimefuture-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "${CPACK_DEBIAN_RUNTIME_PACKAGE_NAME} (= ${_tf_deb_version})")
set(CPACK_DEBIAN_DEV_DESCRIPTION "${_tf_deb_about}
This package holds the headers, the static library, the pkg-config file
and the CMake package.")

# A source tarball (cpack --config CPackSourceConfig.cmake) of the tree
# without build output or version-control data.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_PACKAGE_FILE_NAME timefuture-${PROJECT_VERSION})
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/\\\\.git$" "/build[^/]*/" "/target/" "__pycache__")

include(CPack)
