add_subdirectory(abi)
add_subdirectory(packaging)
