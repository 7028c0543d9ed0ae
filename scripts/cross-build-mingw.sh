#!/usr/bin/env bash
# The portable part built for Windows with MinGW-w64 (Debian's g++-mingw-w64-x86-64-posix):
# every translation unit of src/pipeline and the platform layer (src/common/platform.cpp)
# compiled for x86_64-w64-mingw32 and archived into static libraries, and the platform layer
# linked into a Windows executable. The C headers of CFITSIO and SEP come from the Debian -dev
# packages, Eigen and nlohmann/json are header-only; the C libraries themselves are not
# cross-built here (vcpkg.json provides them for a native Windows build). A POSIX-only call in
# this code fails the build. Output in build/mingw/.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CXX=${MINGW_CXX:-x86_64-w64-mingw32-g++-posix}
AR=${MINGW_AR:-x86_64-w64-mingw32-ar}
command -v "$CXX" > /dev/null || { echo "cross-build-mingw: $CXX not found (scripts/setup-deps.sh installs it)" >&2; exit 1; }
out="$ROOT/build/mingw"
mkdir -p "$out/include" "$out/obj"
# Only these headers from the host: the host's /usr/include would bring glibc along.
for h in fitsio.h longnam.h sep.h; do cp -u "/usr/include/$h" "$out/include/"; done
ln -sfn /usr/include/eigen3/Eigen "$out/include/Eigen"
ln -sfn /usr/include/nlohmann "$out/include/nlohmann"
flags=(-std=c++20 -O0 -Wall -Wextra -DNDEBUG -I "$ROOT/src" -I "$out/include")

mapfile -t sources < <(find src/pipeline -name '*.cpp' | sort; echo src/common/platform.cpp)
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
