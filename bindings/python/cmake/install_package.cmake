# SPDX-License-Identifier: MIT
# Included by `cmake --install` (install(CODE) in ../CMakeLists.txt) with:
#   TF_PY_EXECUTABLE  the interpreter the extension is built for
#   TF_PY_SITE_DIR    TF_PYTHON_INSTALL_DIR (empty: ask the interpreter)
#   TF_PY_MODULE      the built extension file
#   TF_PY_FILES       the package's Python files, stub and py.typed
#   TF_PY_SITE_SCRIPT site_dir.py
#   TF_PY_LIBDIR      CMAKE_INSTALL_LIBDIR
# The site directory is computed here, not at configure time, because
# `cmake --install --prefix DIR` changes the prefix after configuration and
# the directory depends on it (Debian: /usr -> lib/python3/dist-packages,
# /usr/local -> lib/python3.X/dist-packages).
set(_dir "${TF_PY_SITE_DIR}")
if(_dir STREQUAL "")
  execute_process(
    COMMAND "${TF_PY_EXECUTABLE}" -B "${TF_PY_SITE_SCRIPT}" "${CMAKE_INSTALL_PREFIX}"
    OUTPUT_VARIABLE _dir OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0 OR _dir STREQUAL "")
    message(FATAL_ERROR "${TF_PY_EXECUTABLE} could not name its site directory "
                        "for ${CMAKE_INSTALL_PREFIX}")
  endif()
endif()
if(NOT IS_ABSOLUTE "${_dir}")
  set(_dir "${CMAKE_INSTALL_PREFIX}/${_dir}")
endif()
set(_pkg "${_dir}/timefuture")
set(_libdir "${TF_PY_LIBDIR}")
if(NOT IS_ABSOLUTE "${_libdir}")
  set(_libdir "${CMAKE_INSTALL_PREFIX}/${_libdir}")
endif()

file(INSTALL DESTINATION "${_pkg}" TYPE FILE FILES ${TF_PY_FILES})
file(INSTALL DESTINATION "${_pkg}" TYPE MODULE FILES "${TF_PY_MODULE}")
get_filename_component(_name "${TF_PY_MODULE}" NAME)
# Relative, so the prefix can move (DESTDIR staging, relocated trees); the
# build tree's RPATH was padded for this rewrite by the target's stand-in
# install rule.
file(RELATIVE_PATH _rel "${_pkg}" "${_libdir}")
file(RPATH_SET FILE "$ENV{DESTDIR}${_pkg}/${_name}" NEW_RPATH "\$ORIGIN/${_rel}")
