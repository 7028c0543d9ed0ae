#!/usr/bin/env bash
# The Windows consumer: tianyu-consumer.exe cross-built with MinGW-w64 (Debian's
# g++-mingw-w64-x86-64-posix, cmake/mingw-w64-x86_64.cmake) against the static Windows libraries
# of scripts/windows/build-deps.sh (built once into a cache outside the source tree, then reused).
# The main CMake project is configured with -DTIANYU_CONSUMER_ONLY=ON: the consumer and what it
# links (src/common, src/steps, src/pipeline, src/consumer), one self-contained .exe.
#   scripts/cross-build-mingw.sh [BUILD_DIR]      (default build/mingw)
# Prints "tianyu-consumer.exe built for Windows: PATH" on success. vcpkg.json stays the path for
# a native Windows build.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$ROOT/build/mingw}
started=$SECONDS
command -v x86_64-w64-mingw32-g++-posix > /dev/null \
  || { echo "cross-build-mingw: x86_64-w64-mingw32-g++-posix not found (scripts/setup-deps.sh installs it)" >&2; exit 1; }

bash "$ROOT/scripts/windows/build-deps.sh" --jobs "${TIANYU_JOBS:-2}"
prefix=$(bash "$ROOT/scripts/windows/build-deps.sh" --print-prefix)
deps_s=$((SECONDS - started))

launcher=()
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
# Configure once (or again when the prefix changed); later runs only rebuild what changed.
if [[ ! -f "$out/CMakeCache.txt" ]] || ! grep -qxF "TIANYU_WINDOWS_PREFIX:PATH=$prefix" "$out/CMakeCache.txt"; then
  cmake -S "$ROOT" -B "$out" -G "Unix Makefiles" -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw-w64-x86_64.cmake" \
    -DTIANYU_WINDOWS_PREFIX="$prefix" -DTIANYU_CONSUMER_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
    "${launcher[@]}" > "$out.configure.log" 2>&1 \
    || { tail -30 "$out.configure.log" >&2; echo "cross-build-mingw: configure failed (log: $out.configure.log)" >&2; exit 1; }
fi
cmake --build "$out" --target tianyu-consumer -j "${TIANYU_JOBS:-2}" > "$out.build.log" 2>&1 \
  || { grep -E 'error|Error' "$out.build.log" | head -30 >&2; echo "cross-build-mingw: build failed (log: $out.build.log)" >&2; exit 1; }
exe="$out/bin/tianyu-consumer.exe"
kind=$(file -b "$exe")
[[ "$kind" == PE32+* ]] || { echo "cross-build-mingw: $exe is '$kind', not a Windows executable" >&2; exit 1; }
echo "cross-build-mingw: libraries ready in ${deps_s} s ($prefix); consumer in $((SECONDS - started - deps_s)) s"
echo "tianyu-consumer.exe built for Windows: $exe ($kind)"
