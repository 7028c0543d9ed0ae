#!/usr/bin/env bash
# The main job, shown end to end: simulate the default night (120 frames of a 512x512 CMOS
# field with a transiting target, bias and flat frames), run the whole pipeline on it with
# scripts/run-local.sh (local MariaDB and RabbitMQ, a manager and two consumers), and print the
# transit found in the target's light curve beside the simulator's truth. Everything lands in
# run/demo/ (git-ignored): night/ (frames and truth), out/ (sources.csv, lightcurves/, plot).
# Idempotent: a second run reuses the night and the finished pipeline. --web also serves the
# operators' pages (tianyu-web) while it runs and prints their URL.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
demo="$ROOT/run/demo"
seed=${TIANYU_DEMO_SEED:-1}
web=()
[[ "${1:-}" == --web ]] && web=(--web)

echo "== build"
bash scripts/build.sh > /dev/null
mkdir -p "$demo"
if [[ ! -f "$demo/night/truth/signals.json" ]]; then
  echo "== simulate the default night (seed $seed)"
  rm -rf "$demo/night.part"
  build/bin/tianyu-sim --out "$demo/night.part" --seed "$seed" > /dev/null
  mv "$demo/night.part" "$demo/night"
fi

# The target is star 0 of the truth; the simulator points at RA 108, Dec +46.
read -r x y < <(awk -F, 'NR == 2 { print $4, $5 }' "$demo/night/truth/stars.csv")
bash scripts/run-local.sh --no-build --raw "$demo/night" --out "$demo/out" --target SIM-FIELD-1 \
  --target-ra 108 --target-dec 46 --plot-near "$x,$y" "${web[@]}"

source=$(awk -F, -v x="$x" -v y="$y" 'NR > 1 { d = ($2 - x)^2 + ($3 - y)^2; if (best == "" || d < best) { best = d; id = $1 } } END { print id }' "$demo/out/sources.csv")
fit=$(build/bin/tianyu-transit fit "$demo/out/lightcurves/$source.csv" --json)
truth=$(tr -d ' \n' < "$demo/night/truth/signals.json")
field() { sed -E "s/.*\"$1\":([-0-9.eE+]+).*/\1/" <<< "$2"; }
transit_truth=$(sed -E 's/.*"transit":\{([^}]*)\}.*/\1/' <<< "$truth")
echo
echo "The target (source $source at $x, $y) in $demo/out/lightcurves/$source.csv:"
awk -v fm="$(field mid_time_bjd_tdb "$fit")" -v fd="$(field depth "$fit")" -v fe="$(field depth_err "$fit")" \
    -v fw="$(field duration_d "$fit")" -v tm="$(field t_mid_bjd_tdb "$transit_truth")" \
    -v td="$(field depth "$transit_truth")" -v tw="$(field duration_d "$transit_truth")" 'BEGIN {
  printf "                 %-22s %-22s\n", "found", "simulator truth"
  printf "  mid-time       %-22.5f %-22.5f (BJD_TDB; off by %.1f min)\n", fm, tm, (fm - tm) * 1440
  printf "  depth          %-22s %-22s\n", sprintf("%.3f +- %.3f %%", 100 * fd, 100 * fe), sprintf("%.3f %%", 100 * td)
  printf "  duration       %-22s %-22s\n", sprintf("%.1f min", fw * 1440), sprintf("%.1f min", tw * 1440)
}'
echo "  plot: $(ls "$demo"/out/lightcurve_*.png | head -1)"
