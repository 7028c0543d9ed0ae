# SEP's C library (src/*.c, sep.h) built with the small CMakeLists beside this file: upstream
# ships a Makefile for Unix only. Not yet run on Windows (our CI has no network to GitHub):
# SHA512 0 makes vcpkg stop on the first build and print the archive's hash; pin it here then.
vcpkg_from_github(
  OUT_SOURCE_PATH SOURCE_PATH
  REPO kbarbary/sep
  REF v1.2.1
  SHA512 0
  HEAD_REF main
)
file(COPY "${CMAKE_CURRENT_LIST_DIR}/CMakeLists.txt" DESTINATION "${SOURCE_PATH}")
vcpkg_cmake_configure(SOURCE_PATH "${SOURCE_PATH}")
vcpkg_cmake_install()
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/include")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/licenses/LGPL_LICENSE")
