#!/usr/bin/env bash
# The portable part built for Windows with MinGW-w64 (Debian's g++-mingw-w64-x86-64-posix):
# every translation unit of src/ (pipeline, common, publisher, manager, consumer and its steps,
# the command lines) compiled for x86_64-w64-mingw32; src/pipeline and the platform layer
# (src/common/platform.cpp) archived into static libraries, and the platform layer linked into a
# Windows executable. The headers of the C and C++ libraries come from the Debian -dev packages
# (they are the same on Windows); the libraries themselves are not cross-built here, so only the
# platform layer is linked (vcpkg.json provides them for a native Windows build). A POSIX-only
# call anywhere fails the build. Output in build/mingw/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CXX=${MINGW_CXX:-x86_64-w64-mingw32-g++-posix}
AR=${MINGW_AR:-x86_64-w64-mingw32-ar}
command -v "$CXX" > /dev/null || { echo "cross-build-mingw: $CXX not found (scripts/setup-deps.sh installs it)" >&2; exit 1; }
out="$ROOT/build/mingw"
mkdir -p "$out/include" "$out/obj"
# Only these headers from the host: the host's /usr/include would bring glibc along.
for h in fitsio.h longnam.h sep.h nanoflann.hpp httplib.h amqp.h amqp_framing.h amqp_tcp_socket.h mysql_connection.h \
         mysql_driver.h mysql_error.h; do
  cp -u "/usr/include/$h" "$out/include/"
done
for d in cppconn fmt spdlog CLI nlohmann; do ln -sfn "/usr/include/$d" "$out/include/$d"; done
ln -sfn /usr/include/eigen3/Eigen "$out/include/Eigen"
mkdir -p "$out/generated/common"
version=$(sed -nE 's/^project\(tianyu VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
sed "s/@PROJECT_VERSION@/$version/" src/common/version.h.in > "$out/generated/common/version.h"
flags=(-std=c++20 -O0 -Wall -Wextra -DNDEBUG -DSPDLOG_FMT_EXTERNAL -I "$ROOT/src" -isystem "$out/include"
       -I "$out/generated")

mapfile -t sources < <(find src -name '*.cpp' | sort)
# Each source to build/mingw/obj/<path with _>.o, in parallel (always rebuilt: headers change too).
export CXX out
export FLAGS="${flags[*]}"
printf '%s\n' "${sources[@]}" | xargs -P "$(nproc)" -I{} bash -c '
  $CXX $FLAGS -c "{}" -o "$out/obj/$(tr / _ <<< "{}").o"' \
  || { echo "cross-build-mingw: compilation failed" >&2; exit 1; }
rm -f "$out/libtianyu_pipeline.a" "$out/libtianyu_platform.a"
"$AR" rcs "$out/libtianyu_pipeline.a" "$out"/obj/src_pipeline_*.o
"$AR" rcs "$out/libtianyu_platform.a" "$out/obj/src_common_platform.cpp.o"
"$CXX" "${flags[@]}" "$ROOT/tests/portability/platform_smoke.cpp" "$out/libtianyu_platform.a" -static -o "$out/platform_smoke.exe"
kind=$(file -b "$out/platform_smoke.exe")
[[ "$kind" == PE32+* ]] || { echo "cross-build-mingw: platform_smoke.exe is '$kind', not a Windows executable" >&2; exit 1; }
echo "cross-build-mingw: ${#sources[@]} translation units built for Windows: $out/libtianyu_pipeline.a, $out/libtianyu_platform.a, $out/platform_smoke.exe ($kind)"
