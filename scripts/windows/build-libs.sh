# Sourced by build-deps.sh: one function per library, each unpacking its upstream tarball into
# $WORK and installing a static library and its headers into $PREFIX.

# Runs `build_<name>` once: a marker in the prefix records a library already built, so a run
# that failed half-way resumes with the next library.
build_library() {
  local name=$1 builder=$2 t0=$SECONDS
  [[ -f "$PREFIX/.built-$name" ]] && return 0
  echo "build-deps: building $name"
  # Run apart (&, wait) so that `set -e` holds inside it: a function called on the left of ||
  # would ignore a failing command and carry on.
  ( "$builder" ) > "$WORK/$name.log" 2>&1 &
  wait $! \
    || { echo "build-deps: building $name failed; the last lines of $WORK/$name.log:" >&2
         tail -25 "$WORK/$name.log" >&2; exit 1; }
  touch "$PREFIX/.built-$name"
  echo "build-deps: $name built in $((SECONDS - t0)) s"
}

unpack() {  # unpack <tarball in $CACHE/sources or a path> [members...]: into $WORK
  local tarball=$1; shift
  [[ "$tarball" == /* ]] || tarball="$CACHE/sources/$tarball"
  tar -xf "$tarball" -C "$WORK" "$@"
}

cmake_install() {  # cmake_install <source dir> <build dir> [cmake options...]
  local src=$1 bin=$2; shift 2
  cmake -S "$src" -B "$bin" -G "Unix Makefiles" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
    -DTIANYU_WINDOWS_PREFIX="$PREFIX" -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_POSITION_INDEPENDENT_CODE=OFF -DBUILD_SHARED_LIBS=OFF "$@"
  cmake --build "$bin" -j "$jobs"
  cmake --install "$bin"
}

# zlib's fifteen C files compiled directly (Debian's repacked tarball has no win32/ makefile;
# its CMake list would name the static library zlibstatic).
build_zlib() {
  unpack zlib_1.2.13.dfsg.orig.tar.bz2
  local src="$WORK/zlib-1.2.13.dfsg" obj="$WORK/zlib-obj" f
  mkdir -p "$obj"
  for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback inffast inflate \
           inftrees trees uncompr zutil; do
    "$CC" -O2 -I "$src" -c "$src/$f.c" -o "$obj/$f.o"
  done
  x86_64-w64-mingw32-ar rcs "$PREFIX/lib/libz.a" "$obj"/*.o
  cp "$src"/{zlib.h,zconf.h} "$PREFIX/include/"
}

build_cfitsio() {
  unpack cfitsio_4.2.0.orig.tar.gz
  cmake_install "$WORK/cfitsio-4.2.0" "$WORK/cfitsio-build" -DUSE_CURL=OFF -DUSE_PTHREADS=OFF \
    -DTESTS=OFF -DUTILS=OFF -DZLIB_LIBRARY="$PREFIX/lib/libz.a" -DZLIB_INCLUDE_DIR="$PREFIX/include"
}

build_rabbitmq() {
  unpack librabbitmq_0.11.0.orig.tar.gz
  cmake_install "$WORK/rabbitmq-c-0.11.0" "$WORK/rabbitmq-build" -DBUILD_STATIC_LIBS=ON \
    -DENABLE_SSL_SUPPORT=OFF -DBUILD_EXAMPLES=OFF -DBUILD_TESTS=OFF -DBUILD_TESTING=OFF \
    -DBUILD_TOOLS=OFF -DBUILD_API_DOCS=OFF
}

# MariaDB Connector/C 3.3 is the libmariadb/ directory of the server's source; only it is
# unpacked. Its authentication plugins other than mysql_native_password are loadable modules,
# which a static client cannot load: the database users of a Windows consumer must use
# mysql_native_password.
build_mariadb_connector_c() {
  unpack mariadb_10.11.18.orig.tar.gz mariadb-10.11.18/libmariadb
  local bin="$WORK/mariadb-build"
  cmake -S "$WORK/mariadb-10.11.18/libmariadb" -B "$bin" -G "Unix Makefiles" \
    -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DTIANYU_WINDOWS_PREFIX="$PREFIX" \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_BUILD_TYPE=Release -DWITH_SSL=OFF \
    -DWITH_UNIT_TESTS=OFF -DWITH_CURL=OFF -DWITH_EXTERNAL_ZLIB=ON \
    -DZLIB_LIBRARY="$PREFIX/lib/libz.a" -DZLIB_INCLUDE_DIR="$PREFIX/include"
  # Only the static client and its headers (the DLL and plugin modules are not wanted).
  cmake --build "$bin" -j "$jobs" --target mariadbclient
  cmake --install "$bin" --component Development
}

build_mysqlcppconn() {
  mkdir -p "$WORK/mysqlcppconn-src"
  tar -xf "$CACHE/sources/mysql-connector-c++_1.1.12.orig.tar.xz" -C "$WORK/mysqlcppconn-src"
  local d="$WORK/mysqlcppconn-src/mysql-connector-c++-1.1.12/driver"
  # Blocks written for MSVC are guarded by _WIN32: on MinGW they must not apply (ui64 literals,
  # _strnicmp, _snprintf). OPT_SSL_MODE is MySQL 5.7's, absent from Connector/C 3.3 (unused here).
  sed -i 's/^#ifdef _WIN32$/#ifdef _MSC_VER/; s/^#ifndef _WIN32$/#ifndef _MSC_VER/' "$d/mysql_util.h"
  sed -i 's/(_MSC_VER < 1900)/defined(_MSC_VER) \&\& (_MSC_VER < 1900)/' "$d/nativeapi/mysql_private_iface.h"
  sed -i '0,/^#ifdef _WIN32$/s//#ifdef _MSC_VER/; /{"OPT_SSL_MODE", *MYSQL_OPT_SSL_MODE/d' "$d/mysql_connection.cpp"
  mkdir -p "$WORK/host-headers"
  ln -sfn /usr/include/boost "$WORK/host-headers/boost"  # header-only parts of Boost
  cmake_install "$HERE/mysqlcppconn" "$WORK/mysqlcppconn-build" \
    -DCONNECTOR_SOURCE="$WORK/mysqlcppconn-src/mysql-connector-c++-1.1.12" \
    -DBOOST_INCLUDE_DIR="$WORK/host-headers" -DMYSQL_VERSION=5.6.99
}

build_fmt() {
  unpack fmtlib_9.1.0+ds1.orig.tar.gz
  cmake_install "$WORK/fmtlib-9.1.0+ds1" "$WORK/fmt-build" -DFMT_DOC=OFF -DFMT_TEST=OFF
}

build_spdlog() {
  unpack spdlog_1.10.0+ds.orig.tar.xz
  cmake_install "$WORK/spdlog-1.10.0" "$WORK/spdlog-build" -DSPDLOG_FMT_EXTERNAL=ON \
    -DSPDLOG_BUILD_EXAMPLE=OFF -DSPDLOG_BUILD_TESTS=OFF -DSPDLOG_BUILD_BENCH=OFF
}

# SEP's own CMake list builds a shared library; its eight C files are compiled directly, with
# glibc's rand_r (see glibc_rand_r.h) so that deblending matches the Linux library.
build_sep() {
  unpack "$VENDOR/$SEP_TARBALL"
  local src="$WORK/sep-1.2.1/src" obj="$WORK/sep-obj" f
  mkdir -p "$obj"
  for f in analyse convolve deblend extract lutz aperture background util; do
    "$CC" -O2 -std=gnu99 -D_USE_MATH_DEFINES -include "$HERE/glibc_rand_r.h" -I "$src" \
      -c "$src/$f.c" -o "$obj/$f.o"
  done
  x86_64-w64-mingw32-ar rcs "$PREFIX/lib/libsep.a" "$obj"/*.o
  cp "$src/sep.h" "$PREFIX/include/"
}

# Header-only libraries come from the Debian packages (the same headers serve Windows).
link_header_only_libraries() {
  ln -sfn /usr/include/nlohmann "$PREFIX/include/nlohmann"
  ln -sfn /usr/include/eigen3/Eigen "$PREFIX/include/Eigen"
  ln -sfn /usr/include/CLI "$PREFIX/include/CLI"
  ln -sfn /usr/include/nanoflann.hpp "$PREFIX/include/nanoflann.hpp"
}
