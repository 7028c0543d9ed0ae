# Finds every design-card dependency: from Debian 12 packages on Linux, from vcpkg (vcpkg.json,
# CMakePresets.json) on Windows, from the prefix of scripts/windows/build-deps.sh when
# cross-building for Windows with MinGW. A missing one stops the configure step with the Debian
# package that provides it and the script that installs it.

set(_tianyu_install_hint "Run scripts/setup-deps.sh (as root) to install every dependency.")

function(tianyu_require_found found what package)
  if(NOT ${found})
    message(FATAL_ERROR
      "Missing dependency: ${what} (Debian package '${package}'). ${_tianyu_install_hint}")
  endif()
endfunction()

# A C library with one header and one library becomes the imported target tianyu::<name>.
# `library` may list several names (vcpkg's Windows builds name some differently).
function(tianyu_find_c_library name header library package)
  find_path(${name}_INCLUDE_DIR ${header})
  find_library(${name}_LIBRARY NAMES ${library})
  if(NOT ${name}_INCLUDE_DIR OR NOT ${name}_LIBRARY)
    message(FATAL_ERROR
      "Missing dependency: ${name} (header ${header}, library lib${library}; Debian package "
      "'${package}'). ${_tianyu_install_hint}")
  endif()
  add_library(tianyu::${name} UNKNOWN IMPORTED GLOBAL)
  set_target_properties(tianyu::${name} PROPERTIES
    IMPORTED_LOCATION "${${name}_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${${name}_INCLUDE_DIR}")
  message(STATUS "Found ${name}: ${${name}_LIBRARY}")
endfunction()

# A static library of the Windows prefix as tianyu::<name>, with what it needs at link time.
function(tianyu_prefix_library name prefix library)
  cmake_parse_arguments(ARG "" "" "DEFINES;LINKS" ${ARGN})
  if(NOT EXISTS ${prefix}/lib/${library})
    message(FATAL_ERROR "Missing ${prefix}/lib/${library}: run scripts/windows/build-deps.sh")
  endif()
  add_library(tianyu::${name} STATIC IMPORTED GLOBAL)
  set_target_properties(tianyu::${name} PROPERTIES
    IMPORTED_LOCATION ${prefix}/lib/${library}
    INTERFACE_INCLUDE_DIRECTORIES ${prefix}/include
    INTERFACE_COMPILE_DEFINITIONS "${ARG_DEFINES}"
    INTERFACE_LINK_LIBRARIES "${ARG_LINKS}")
endfunction()

# A header-only library of the Windows prefix (linked there from the Debian headers).
function(tianyu_prefix_headers target prefix)
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${prefix}/include)
endfunction()

macro(tianyu_use_windows_prefix prefix)
  message(STATUS "Windows libraries from ${prefix}")
  # M_PI and friends, as glibc gives them to g++ on Linux (_GNU_SOURCE): MinGW's strict C++20
  # mode hides them otherwise.
  add_compile_definitions(_USE_MATH_DEFINES)
  set(_win_sockets ws2_32 advapi32 shlwapi crypt32 secur32)
  tianyu_prefix_library(zlib ${prefix} libz.a)
  tianyu_prefix_library(cfitsio ${prefix} libcfitsio.a LINKS tianyu::zlib)
  tianyu_prefix_library(sep ${prefix} libsep.a)
  tianyu_prefix_library(rabbitmq ${prefix} liblibrabbitmq.4.a DEFINES AMQP_STATIC LINKS "${_win_sockets}")
  tianyu_prefix_library(mariadbclient ${prefix} mariadb/libmariadbclient.a LINKS "tianyu::zlib;${_win_sockets}")
  # CPPCONN_PUBLIC_FUNC empty: the static Connector/C++ exports nothing (no dllimport).
  tianyu_prefix_library(mysqlcppconn ${prefix} libmysqlcppconn.a DEFINES CPPCONN_PUBLIC_FUNC=
    LINKS tianyu::mariadbclient)
  tianyu_prefix_headers(nlohmann_json::nlohmann_json ${prefix})
  tianyu_prefix_headers(Eigen3::Eigen ${prefix})
  tianyu_prefix_headers(CLI11::CLI11 ${prefix})
  find_package(spdlog CONFIG REQUIRED PATHS ${prefix} NO_DEFAULT_PATH)
  find_package(Threads REQUIRED)
endmacro()

# A MinGW cross-build against the static libraries of scripts/windows/build-deps.sh (the
# toolchain file cmake/mingw-w64-x86_64.cmake, -DTIANYU_WINDOWS_PREFIX=<its prefix>).
if(CMAKE_CROSSCOMPILING AND WIN32 AND TIANYU_WINDOWS_PREFIX)
  tianyu_use_windows_prefix(${TIANYU_WINDOWS_PREFIX})
  return()
endif()

tianyu_find_c_library(rabbitmq amqp.h "rabbitmq;rabbitmq.4;librabbitmq.4" librabbitmq-dev)
tianyu_find_c_library(mysqlcppconn cppconn/driver.h "mysqlcppconn;mysqlcppconn8" libmysqlcppconn-dev)
tianyu_find_c_library(cfitsio fitsio.h cfitsio libcfitsio-dev)
include(TianyuSep)  # tianyu::sep: SEP built from its vendored release, or Debian's libsep

find_package(nlohmann_json 3.10 CONFIG QUIET)
tianyu_require_found(nlohmann_json_FOUND "nlohmann/json >= 3.10" nlohmann-json3-dev)
find_package(spdlog CONFIG QUIET)
tianyu_require_found(spdlog_FOUND "spdlog" libspdlog-dev)
find_package(Eigen3 3.3 CONFIG QUIET)
tianyu_require_found(Eigen3_FOUND "Eigen 3" libeigen3-dev)
find_package(CLI11 CONFIG QUIET)
tianyu_require_found(CLI11_FOUND "CLI11" libcli11-dev)
find_package(Threads REQUIRED)

if(TIANYU_BUILD_TESTS)
  find_package(GTest QUIET)
  tianyu_require_found(GTest_FOUND "GoogleTest" "googletest, libgtest-dev")
endif()
