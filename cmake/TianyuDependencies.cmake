# Finds every design-card dependency: from Debian 12 packages on Linux, from vcpkg (vcpkg.json,
# CMakePresets.json) on Windows. A missing one stops the configure step with the Debian package
# that provides it and the script that installs it.

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

tianyu_find_c_library(rabbitmq amqp.h "rabbitmq;rabbitmq.4;librabbitmq.4" librabbitmq-dev)
tianyu_find_c_library(mysqlcppconn cppconn/driver.h "mysqlcppconn;mysqlcppconn8" libmysqlcppconn-dev)
tianyu_find_c_library(cfitsio fitsio.h cfitsio libcfitsio-dev)
tianyu_find_c_library(sep sep.h sep libsep-dev)

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
