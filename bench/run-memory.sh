#!/usr/bin/env bash
# Peak RSS per pipeline step at Tianyu-I size (issue 17): calibrate + extraction, alignment,
# a stack node of 8 in bands (and whole, for the saving), template source detection,
# photometry of 20000 sources and the short-exposure minute co-add, each in its own child
# process, as MB and as a ratio to one float frame; the floor is a child that only allocates
# and touches one frame. Usage: bench/run-memory.sh [SIZE] (frame side, default 8120: ~3.5 GB
# peak for the whole-image stack, ~3.2 GB of scratch files, a few minutes on 2 cores). Run one
# at a time. Prints a table and JSON.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-8120}
build=${TIANYU_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j"$(nproc)" --target memory_bench > /dev/null
nice -n 10 "$build/bin/memory_bench" --size "$size"
