#!/usr/bin/env bash
# The whole pipeline's wall time: the "paper" preset (2048x2048 frames, 15 s exposures) scaled
# to FRAMES science frames (default 200; the published test had 999), run by
# scripts/run-local.sh with 1 and with 2 consumers of one worker each (the published system's
# unit: one consumer process, one step at a time). The baseline measured in the same run is
# copying the night's raw frames (the I/O floor). The published system took 1490 s for 999
# frames with one consumer (1.49 s per frame). Prints one JSON object.
#   bench/run-pipeline.sh [FRAMES]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
frames=${1:-200}
bash "$root/scripts/build.sh" > /dev/null
bash "$root/scripts/services.sh" start > /dev/null
work=$(mktemp -d /tmp/tianyu-bench-pipeline.XXXXXX)
trap 'rm -rf "$work"' EXIT
seconds() {  # command... -> wall seconds
  local t0 t1
  t0=$(date +%s.%N); "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
sim=$(seconds "$root/build/bin/tianyu-sim" --out "$work/night" --seed 1 --preset paper \
  --config <(echo "{\"frames\": $frames}"))
copy=$(seconds cp -r "$work/night/raw" "$work/raw-copy")
rm -rf "$work/raw-copy"
export TIANYU_CONSUMER_WORKERS=1
run() {  # consumers -> wall seconds of run-local on a fresh output (and a fresh site)
  seconds bash "$root/scripts/run-local.sh" --no-build --raw "$work/night" --out "$work/out-$1" \
    --consumers "$1" --target SIM-PAPER --target-ra 108 --target-dec 46
}
one=$(run 1)
two=$(run 2)
sources=$(($(wc -l < "$work/out-2/sources.csv") - 1))
cat <<JSON
{
  "frames": $frames, "size": "2048x2048", "calibration_frames": 10, "sources": $sources, "cores": $(nproc),
  "simulate_s": $sim,
  "copy_raw_s_io_floor": $copy,
  "pipeline_s_1_consumer": $one,
  "pipeline_s_2_consumers": $two,
  "s_per_frame_1_consumer": $(awk -v a="$one" -v n="$frames" 'BEGIN { printf "%.3f", a / n }'),
  "s_per_frame_2_consumers": $(awk -v a="$two" -v n="$frames" 'BEGIN { printf "%.3f", a / n }'),
  "speedup_2_consumers": $(awk -v a="$one" -v b="$two" 'BEGIN { printf "%.2f", a / b }'),
  "ratio_1_consumer_to_io_floor": $(awk -v a="$one" -v b="$copy" 'BEGIN { printf "%.1f", a / b }'),
  "published_s_per_frame_1_consumer": 1.49,
  "faster_than_published_1_consumer": $(awk -v a="$one" -v n="$frames" 'BEGIN { printf "%.1f", 1.49 / (a / n) }')
}
JSON
