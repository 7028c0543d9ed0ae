#!/usr/bin/env bash
# Builds the Windows (x86_64, MinGW-w64) static libraries the consumer links, from Debian 12's
# source packages (pinned below) and SEP's upstream release in ../shared/vendor, into a prefix
# outside the source tree:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/tianyu/windows-<toolchain>-<key>
# where <key> hashes the pinned sources' checksums, the toolchain file, the compiler's version
# and these build scripts: a second run with the same key does nothing (a few milliseconds).
#   --print-prefix   print the prefix and exit (building nothing)
#   --jobs N         parallel compile jobs (default 2)
# Needs (scripts/setup-deps.sh): g++-mingw-w64-x86-64-posix, dpkg-dev (apt-get source), cmake,
# libboost-dev (Connector/C++ 1.1 uses Boost's headers), and network access to the machine's
# own Debian mirror on the first run only.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TOOLCHAIN="$ROOT/cmake/mingw-w64-x86_64.cmake"
VENDOR=${TIANYU_VENDOR_DIR:-$ROOT/../shared/vendor}
jobs=2
print_only=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --print-prefix) print_only=1; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    *) echo "build-deps: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done

# Source package, Debian version served by the mirror, its upstream tarball and that file's
# sha256 (from the package's .dsc). Only the upstream tarballs are built: some packages'
# Debian patch tarballs are missing from the mirror, and none of their patches matter here.
pins=(
  "zlib 1:1.2.13.dfsg-1 zlib_1.2.13.dfsg.orig.tar.bz2 71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1"
  "cfitsio 4.2.0-3 cfitsio_4.2.0.orig.tar.gz eba53d1b3f6e345632bb09a7b752ec7ced3d63ec5153a848380f3880c5d61889"
  "librabbitmq 0.11.0-1+deb12u2 librabbitmq_0.11.0.orig.tar.gz 437d45e0e35c18cf3e59bcfe5dfe37566547eb121e69fca64b98f5d2c1c2d424"
  "mariadb 1:10.11.18-0+deb12u1 mariadb_10.11.18.orig.tar.gz a46852c68075be7c31c7b33fee233c5b5a00c8c28117f5204d124e4f2fd56fa8"
  "mysql-connector-c++ 1.1.12-4 mysql-connector-c++_1.1.12.orig.tar.xz b7dc8bf9d3d307f345a7750b79087ecdd43d2c4f6cfd77e003d08ef002169ee6"
  "fmtlib 9.1.0+ds1-2 fmtlib_9.1.0+ds1.orig.tar.gz 84ce1c2d0be3a9863935137969dcec6970125caac032f82474640bfc81463583"
  "spdlog 1:1.10.0+ds-0.4 spdlog_1.10.0+ds.orig.tar.xz 620ca6842b5c21014470bd42eb4716024674214fb973b5ffa3aaea33310ad327"
)
SEP_TARBALL=sep-1.2.1-src.tar.gz
SEP_SHA256=53be1d2d601937844ec03f73efc0772799e89e1447e50585d367e3ceb6736a71

CC=x86_64-w64-mingw32-gcc-posix
command -v "$CC" > /dev/null \
  || { echo "build-deps: $CC not found (scripts/setup-deps.sh installs g++-mingw-w64-x86-64-posix)" >&2; exit 1; }
compiler=$("$CC" -dumpfullversion)
key=$( { printf '%s\n' "${pins[@]}" "$SEP_SHA256" "$compiler"
         cat "$TOOLCHAIN" "$HERE"/{build-deps,fetch-sources,build-libs}.sh "$HERE/glibc_rand_r.h" "$HERE/mysqlcppconn/CMakeLists.txt"; } \
       | sha256sum | cut -c1-16)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tianyu
PREFIX="$CACHE/windows-x86_64-w64-mingw32-gcc$compiler-$key"
if [[ $print_only -eq 1 ]]; then echo "$PREFIX"; exit 0; fi
[[ -f "$PREFIX/.complete" ]] && { echo "build-deps: up to date: $PREFIX"; exit 0; }

mkdir -p "$CACHE/sources"
exec 9> "$CACHE/windows-build.lock"
flock 9  # two builds (two test runs) must not write one prefix at once
[[ -f "$PREFIX/.complete" ]] && { echo "build-deps: up to date: $PREFIX"; exit 0; }
WORK="$CACHE/build-$key"
mkdir -p "$PREFIX/include" "$PREFIX/lib" "$WORK"
started=$SECONDS
source "$HERE/fetch-sources.sh"
source "$HERE/build-libs.sh"

fetch_sources
build_library zlib build_zlib
build_library cfitsio build_cfitsio
build_library rabbitmq build_rabbitmq
build_library mariadb build_mariadb_connector_c
build_library mysqlcppconn build_mysqlcppconn
build_library fmt build_fmt
build_library spdlog build_spdlog
build_library sep build_sep
link_header_only_libraries
rm -rf "$WORK"
touch "$PREFIX/.complete"
echo "build-deps: built in $((SECONDS - started)) s: $PREFIX"
