#!/usr/bin/env bash
# The whole pipeline's wall time: the "paper" preset (2048x2048 frames, 15 s exposures) scaled
# to FRAMES science frames (default 200; the published test had 999), run by
# scripts/run-local.sh with 1, 2 and 4 consumers of one worker each (the published system's
# unit: one consumer process, one step at a time; CONSUMERS="1 2" to choose). The baseline
# measured in the same run is copying the night's raw frames (the I/O floor). The published
# system took 1490 s for 999 frames with one consumer (1.49 s per frame). Prints a
# consumer-scaling table like the published Table 5 (each step's busy time, from the process
# table: started to finished, so it holds the step's own reads and writes), the share of the
# consumers' time outside any step (dispatch, waiting for dependencies, idle), and one JSON object.
# PAPER_FIELD=sky draws the night on the real sky (Tycho-2 stars and fainter synthetic ones,
# about as many as the preset's 3,000, at 0.9"/px: a 30.7' field the index files solve), so
# solve_field costs what it costs on a real night; the default, the preset's synthetic field,
# is on no sky, and solve_field spends its whole CPU limit (20 s) before giving up.
# WORKERS=2 gives each consumer two workers (the consumer's default: one process running two
# steps at once) instead of the published unit's one.
#   bench/run-pipeline.sh [FRAMES]    (TIANYU_BUILD_DIR: another build tree than build/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
frames=${1:-200}
read -r -a consumer_counts <<< "${CONSUMERS:-1 2 4}"
build=${TIANYU_BUILD_DIR:-$root/build}
if [[ -z ${TIANYU_BUILD_DIR:-} ]]; then
  bash "$root/scripts/build.sh" > /dev/null
else
  cmake --build "$build" -j"$(nproc)" --target tianyu-sim tianyu-publish tianyu-manager tianyu-consumer > /dev/null
fi
export TIANYU_BIN_DIR=$build/bin
bash "$root/scripts/services.sh" start > /dev/null
# shellcheck disable=SC1091
source "$root/run/env.sh"
work=$(mktemp -d /tmp/tianyu-bench-pipeline.XXXXXX)
databases=()
cleanup() {
  for d in "${databases[@]}"; do sql "" "DROP DATABASE IF EXISTS \`$d\`" > /dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
sql() {  # database query -> tab-separated rows (the password through the environment, not argv)
  MYSQL_PWD="$TIANYU_DB_PASSWORD" mariadb -N -B -h "$TIANYU_DB_HOST" -P "$TIANYU_DB_PORT" -u "$TIANYU_DB_USER" \
    ${1:+"$1"} -e "$2"
}
seconds() {  # command... -> wall seconds
  local t0 t1
  t0=$(date +%s.%N); "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
field=${PAPER_FIELD:-synthetic}
case "$field" in
  synthetic) echo "{\"frames\": $frames}" > "$work/sim.json"; sky_args=() ;;
  sky) echo "{\"frames\": $frames, \"pixel_scale_arcsec\": 0.9, \"sky\": {\"synthetic_per_deg2\": 10000}}" > "$work/sim.json"
       sky_args=(--sky tycho2 --ra 108 --dec 46) ;;
  *) echo "run-pipeline: PAPER_FIELD must be synthetic or sky, not '$field'" >&2; exit 2 ;;
esac
sim=$(seconds "$build/bin/tianyu-sim" --out "$work/night" --seed 1 --preset paper "${sky_args[@]}" --config "$work/sim.json")
copy=$(seconds cp -r "$work/night/raw" "$work/raw-copy")
rm -rf "$work/raw-copy"
workers=${WORKERS:-1}
export TIANYU_CONSUMER_WORKERS=$workers
declare -A wall
for n in "${consumer_counts[@]}"; do
  db="tianyu_bench_pipeline_$$_$n"
  databases+=("$db")
  # The simulator's night (1.7 GB) and the last run's products are on disk before the clock
  # starts, as a camera's frames are: their writeback is not the pipeline's time.
  sync
  wall[$n]=$(seconds bash "$root/scripts/run-local.sh" --no-build --raw "$work/night" --out "$work/out-$n" \
    --consumers "$n" --target SIM-PAPER --target-ra 108 --target-dec 46 --database "$db")
  # Per step: processes, busy seconds in all, mean ms per process.
  sql "$db" "SELECT command, COUNT(*), SUM(TIMESTAMPDIFF(MICROSECOND, started_at, finished_at)) / 1e6
             FROM process WHERE state = 'success' GROUP BY command ORDER BY command" > "$work/steps-$n.tsv"
done
sources=$(($(wc -l < "$work/out-${consumer_counts[0]}/sources.csv") - 1))

echo "consumer scaling, $frames frames of 2048x2048 ($sources sources, $field field), $workers worker(s) a consumer, $(nproc) cores:"
printf '| step | processes |'; for n in "${consumer_counts[@]}"; do printf ' busy s, %s consumer(s) |' "$n"; done; echo
printf '|---|---:|'; for n in "${consumer_counts[@]}"; do printf -- '---:|'; done; echo
cut -f1,2 "$work/steps-${consumer_counts[0]}.tsv" | while IFS=$'\t' read -r step count; do
  printf '| %s | %s |' "$step" "$count"
  for n in "${consumer_counts[@]}"; do
    printf ' %s |' "$(awk -F'\t' -v s="$step" '$1 == s { printf "%.1f", $3 }' "$work/steps-$n.tsv")"
  done
  echo
done
printf '| **wall** | |'; for n in "${consumer_counts[@]}"; do printf ' **%s** |' "${wall[$n]}"; done; echo
# Outside any step: the workers' time (wall x consumers x workers) not spent inside a step.
printf '| outside steps (share of workers x wall) | |'
for n in "${consumer_counts[@]}"; do
  busy=$(awk -F'\t' '{ s += $3 } END { printf "%.2f", s }' "$work/steps-$n.tsv")
  printf ' %s |' "$(awk -v b="$busy" -v w="${wall[$n]}" -v n="$((n * workers))" 'BEGIN { printf "%.0f %%", 100 * (1 - b / (w * n)) }')"
done
echo

one=${wall[${consumer_counts[0]}]}
# SEP inside the consumer (cmake/TianyuSep.cmake) or Debian's shared libsep: a quarter apart.
sep_build=$(ldd "$build/bin/tianyu-consumer" | grep -q 'libsep\.so' && echo "Debian shared" || echo "vendored static")
{
  echo "{"
  echo "  \"frames\": $frames, \"size\": \"2048x2048\", \"field\": \"$field\", \"calibration_frames\": 10, \"sources\": $sources, \"workers_per_consumer\": $workers, \"cores\": $(nproc),"
  echo "  \"sep\": \"$sep_build\", \"simulate_s\": $sim, \"copy_raw_s_io_floor\": $copy,"
  for n in "${consumer_counts[@]}"; do
    echo "  \"pipeline_s_${n}_consumers\": ${wall[$n]}, \"s_per_frame_${n}_consumers\": $(awk -v a="${wall[$n]}" -v f="$frames" 'BEGIN { printf "%.3f", a / f }'), \"speedup_${n}_consumers\": $(awk -v a="$one" -v b="${wall[$n]}" 'BEGIN { printf "%.2f", a / b }'),"
  done
  echo "  \"ratio_first_to_io_floor\": $(awk -v a="$one" -v b="$copy" 'BEGIN { printf "%.1f", a / b }'),"
  echo "  \"published_s_per_frame_1_consumer\": 1.49,"
  echo "  \"faster_than_published_first\": $(awk -v a="$one" -v f="$frames" 'BEGIN { printf "%.2f", 1.49 / (a / f) }')"
  echo "}"
}
