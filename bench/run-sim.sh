#!/usr/bin/env bash
# Simulator speed: the default night (512x512, 120 science + 10 calibration frames) with 1 and
# with all threads, and the cost of writing the same bytes without simulating them (a copy of
# the night: the I/O floor measured in the same run). Prints one JSON object.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup-deps.sh"
cmake -S "$root" -B "$root/build" > /dev/null
cmake --build "$root/build" -j"$(nproc)" --target tianyu-sim > /dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
seconds() {  # command... -> wall seconds
  local t0 t1
  t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }' 
}
one=$(seconds "$root/build/bin/tianyu-sim" --out "$work/one" --seed 1 --threads 1)
all=$(seconds "$root/build/bin/tianyu-sim" --out "$work/all" --seed 1 --threads 0)
copy=$(seconds cp -r "$work/all" "$work/copy")
paper_frames=20
paper=$(seconds "$root/build/bin/tianyu-sim" --out "$work/paper" --seed 1 --preset paper \
  --config <(echo "{\"frames\": $paper_frames}"))
cat <<JSON
{
  "threads": $(nproc),
  "default_night_s_1_thread": $one,
  "default_night_s_all_threads": $all,
  "speedup_all_threads": $(awk -v a="$one" -v b="$all" 'BEGIN { printf "%.2f", a / b }'),
  "copy_night_s_io_floor": $copy,
  "ratio_to_io_floor": $(awk -v a="$all" -v b="$copy" 'BEGIN { printf "%.1f", a / b }'),
  "paper_preset_s_per_frame": $(awk -v a="$paper" -v n="$paper_frames" 'BEGIN { printf "%.3f", a / (n + 10) }')
}
JSON
