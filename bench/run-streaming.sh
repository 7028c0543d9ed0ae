#!/usr/bin/env bash
# The short-exposure streaming co-add (issue 17): one minute of the "tianyu" preset's short
# frames (174 x 0.3 s) calibrated, registered and co-added in memory; the input pixel rate
# against Tianyu-I's camera (191 Mpix/s), the 20-s budget (573 Mpix/s) and a copy of the same
# bytes in the same run. Usage: bench/run-streaming.sh [SIZE] (frame side, default 8120; the
# minute's simulation takes ~2 min at 8120 on 2 cores, and ~2.5 GB of memory). Prints JSON.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-8120}
build=${TIANYU_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j"$(nproc)" --target streaming_bench > /dev/null
"$build/bin/streaming_bench" --size "$size" --frames 174 --repeats 3
