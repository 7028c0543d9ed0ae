# SEP compiled into the executables from its vendored upstream release (../shared/vendor, the
# tarball the Windows build uses), when that tarball is there and its sha256 is the pinned one.
# The same C files with the flags of SEP's own Makefile (-O3, hidden visibility) as Debian's
# libsep.so, so the catalogues are the same bytes; what changes is the linking. Debian's
# position-independent shared library reaches SEP's thread-local pixel-list offsets through
# __tls_get_addr on every access and its functions through the PLT: SEP linked statically
# extracts a calibrated 2048^2 frame 25 % faster (111 vs 155 ms CPU, 10 frames of the paper
# night, identical catalogues). Without the tarball, Debian's libsep-dev is used as before.
#
# Sets tianyu::sep and TIANYU_SEP_BUILD ("vendored static" or "Debian shared"). The tarball is
# unpacked into the build tree (never into the source tree).

set(TIANYU_SEP_TARBALL "${CMAKE_SOURCE_DIR}/../shared/vendor/sep-1.2.1-src.tar.gz" CACHE FILEPATH
    "SEP 1.2.1's source tarball, built into the executables; empty or absent: Debian's libsep")
set(_tianyu_sep_sha256 53be1d2d601937844ec03f73efc0772799e89e1447e50585d367e3ceb6736a71)

function(tianyu_sep_from_tarball tarball result)
  set(${result} FALSE PARENT_SCOPE)
  if(NOT tarball OR NOT EXISTS "${tarball}")
    return()
  endif()
  file(SHA256 "${tarball}" actual)
  if(NOT actual STREQUAL _tianyu_sep_sha256)
    message(WARNING "${tarball}: sha256 ${actual} is not SEP 1.2.1's pinned ${_tianyu_sep_sha256}; "
                    "using Debian's libsep instead")
    return()
  endif()
  set(root "${CMAKE_BINARY_DIR}/_deps/sep-${actual}")
  set(src "${root}/sep-1.2.1/src")
  if(NOT EXISTS "${root}/.unpacked")
    file(REMOVE_RECURSE "${root}")
    file(ARCHIVE_EXTRACT INPUT "${tarball}" DESTINATION "${root}" PATTERNS sep-1.2.1/src)
    file(TOUCH "${root}/.unpacked")
  endif()
  set(files analyse aperture background convolve deblend extract lutz util)
  list(TRANSFORM files PREPEND "${src}/")
  list(TRANSFORM files APPEND ".c")
  add_library(tianyu_sep STATIC ${files})
  # SEP's Makefile flags, after the build type's; -w: its warnings are upstream's to fix.
  target_compile_options(tianyu_sep PRIVATE -O3 -fvisibility=hidden -w)
  set_target_properties(tianyu_sep PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  target_include_directories(tianyu_sep SYSTEM INTERFACE "${src}")
  target_link_libraries(tianyu_sep PUBLIC m)
  add_library(tianyu::sep ALIAS tianyu_sep)
  set(${result} TRUE PARENT_SCOPE)
endfunction()

tianyu_sep_from_tarball("${TIANYU_SEP_TARBALL}" _tianyu_sep_vendored)
if(_tianyu_sep_vendored)
  set(TIANYU_SEP_BUILD "vendored static")
  message(STATUS "SEP: built from ${TIANYU_SEP_TARBALL} into the executables")
else()
  set(TIANYU_SEP_BUILD "Debian shared")
  tianyu_find_c_library(sep sep.h sep libsep-dev)
  message(STATUS "SEP: Debian's shared libsep (no vendored tarball at '${TIANYU_SEP_TARBALL}'; "
                 "extraction is about a quarter slower)")
endif()
