# Cross-compiling for 64-bit Windows with Debian's MinGW-w64 (g++-mingw-w64-x86-64-posix: the
# posix thread model, which std::thread and std::mutex need). Used by scripts/windows/build-deps.sh
# for the libraries and by scripts/cross-build-mingw.sh for tianyu-consumer.exe.
#   TIANYU_WINDOWS_PREFIX  the prefix of the cross-built libraries (searched before anything else)
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
# Windows 10: some libraries (Connector/C++) read this to pick their Windows API level.
set(CMAKE_SYSTEM_VERSION 10)

set(_tianyu_mingw x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_tianyu_mingw}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_tianyu_mingw}-g++-posix)
set(CMAKE_RC_COMPILER ${_tianyu_mingw}-windres)
set(CMAKE_AR ${_tianyu_mingw}-ar CACHE FILEPATH "archiver")
set(CMAKE_RANLIB ${_tianyu_mingw}-ranlib CACHE FILEPATH "ranlib")

# Configure-time checks that run a program (try_run) run it under Wine when it is installed.
if(EXISTS /usr/lib/wine/wine64)
  set(CMAKE_CROSSCOMPILING_EMULATOR /usr/lib/wine/wine64)
endif()

# Libraries and headers only from the MinGW sysroot and the cross-built prefix: the host's
# /usr/include would bring glibc along. Programs (cmake helpers) still come from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${_tianyu_mingw})
if(DEFINED ENV{TIANYU_WINDOWS_PREFIX})
  set(TIANYU_WINDOWS_PREFIX "$ENV{TIANYU_WINDOWS_PREFIX}" CACHE PATH "cross-built Windows libraries")
endif()
if(TIANYU_WINDOWS_PREFIX)
  list(PREPEND CMAKE_FIND_ROOT_PATH ${TIANYU_WINDOWS_PREFIX})
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# One self-contained .exe: the GCC runtime, libstdc++ and winpthread linked in statically, so a
# Windows node needs no MinGW DLLs beside it.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
