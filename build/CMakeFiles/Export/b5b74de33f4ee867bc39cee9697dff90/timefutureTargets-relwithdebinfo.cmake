#----------------------------------------------------------------
# Generated CMake target import file for configuration "RelWithDebInfo".
#----------------------------------------------------------------

# Commands may need to know the format version.
set(CMAKE_IMPORT_FILE_VERSION 1)

# Import target "timefuture::timefuture" for configuration "RelWithDebInfo"
set_property(TARGET timefuture::timefuture APPEND PROPERTY IMPORTED_CONFIGURATIONS RELWITHDEBINFO)
set_target_properties(timefuture::timefuture PROPERTIES
  IMPORTED_LOCATION_RELWITHDEBINFO "${_IMPORT_PREFIX}/lib/libtimefuture.so.1.0.0"
  IMPORTED_SONAME_RELWITHDEBINFO "libtimefuture.so.1"
  )

list(APPEND _cmake_import_check_targets timefuture::timefuture )
list(APPEND _cmake_import_check_files_for_timefuture::timefuture "${_IMPORT_PREFIX}/lib/libtimefuture.so.1.0.0" )

# Import target "timefuture::timefuture_static" for configuration "RelWithDebInfo"
set_property(TARGET timefuture::timefuture_static APPEND PROPERTY IMPORTED_CONFIGURATIONS RELWITHDEBINFO)
set_target_properties(timefuture::timefuture_static PROPERTIES
  IMPORTED_LINK_INTERFACE_LANGUAGES_RELWITHDEBINFO "C"
  IMPORTED_LOCATION_RELWITHDEBINFO "${_IMPORT_PREFIX}/lib/libtimefuture.a"
  )

list(APPEND _cmake_import_check_targets timefuture::timefuture_static )
list(APPEND _cmake_import_check_files_for_timefuture::timefuture_static "${_IMPORT_PREFIX}/lib/libtimefuture.a" )

# Commands beyond this point should not need to know the version.
set(CMAKE_IMPORT_FILE_VERSION)
