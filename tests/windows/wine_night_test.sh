#!/usr/bin/env bash
# A simulated night's whole DAG run twice on the live MariaDB and RabbitMQ, each into its own
# scratch database and site root holding the same raw frames:
#  A: a Linux manager and one Linux consumer;
#  B: a Linux manager, one Linux consumer and one Windows consumer (tianyu-consumer.exe under
#     Wine, its site root given as Z:\...), both serving the night's one (site, group) queue.
# Both runs must succeed; the Windows consumer must have run several steps of at least two
# kinds. Then the two runs are compared:
#  - every product file under the site roots (masters, calibrated frames, masks and source
#    lists, stacks, the template), by relative path with its process/attempt tag left out of
#    the name, byte for byte: no FITS card is excluded (none carries a date, host or path);
#  - every science table and view (sources, raw and relative flux, the light curves, frame
#    quality and systematics, image products, the WCS, the field catalogue, transit
#    candidates and vetting ...) across the two databases in SQL, with only process ids, times
#    and durations left out: bit for bit where possible. MinGW-w64's libm is not glibc's
#    (sin, cos, asin, atan, atan2, hypot, exp, log, pow ... round some results differently),
#    and two places of the night meet it: source.ra/dec_deg (pipeline/astrometry/wcs.cpp
#    deproject: std::hypot, 1 ulp apart on ~14 % of arguments) and raw_flux.flux/flux_err
#    (SEP's exact circular overlap, overlap.h area_arc: asin and sin), from which relative
#    flux, the light curves and the photometry summaries inherit. A table that is not
#    identical must agree row by row on its key: every column but the doubles exactly, each
#    double within 1e-12 of its size (NOTE lines say how many values differed and by how
#    much; ~1e-16 in practice). TIANYU_WINE_NIGHT_BITWISE=1 demands bit-identical rows.
# Last, a solve_field (solve-field, which a Windows consumer cannot run) published while only
# the Windows consumer serves is handed back, its attempt not spent, until a Linux consumer
# starts and runs it (wine_night_helpers.sh windows_hands_back_solve_field).
# Prints PASS/FAIL lines; exits 77 (skip) without Wine, the Windows build or the live services.
#   tests/windows/wine_night_test.sh ROOT LINUX_BIN_DIR WINDOWS_EXE WORK_DIR
set -euo pipefail
ROOT=$1 BIN=$2 EXE=$3 STATE=$4
source "$(dirname "${BASH_SOURCE[0]}")/wine_helpers.sh"
skip_without_wine_or_services
source "$(dirname "${BASH_SOURCE[0]}")/wine_night_helpers.sh"

[[ -x "$BIN/tianyu-sim" ]] || { echo "FAIL: no simulator at $BIN/tianyu-sim (build the tianyu-sim target)"; exit 1; }
mkdir -p "$STATE"
work=$(mktemp -d "$STATE/night.XXXXXX")
db_a="tianyu_test_wnight_a_$$" db_b="tianyu_test_wnight_b_$$"
export WINEPREFIX="$STATE/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export TIANYU_GROUP=general TIANYU_LOG_FORMAT=json TIANYU_CONSUMER_WORKERS=2
extra_databases=("$db_a" "$db_b")
trap cleanup EXIT
started=$SECONDS

# A tiny night: 30 science frames (the transit search needs 20 clean points) (three of them bad: a trail, a cloud-out, a doubled image),
# 3 bias and 3 flat frames of 192x192 px; its operator WCS (the simulator's pointing and scale).
"$BIN/tianyu-sim" --out "$work/night" --seed 7 --threads 1 --config <(
  echo '{"width": 192, "height": 192, "frames": 30, "bias_frames": 3, "flat_frames": 3, "stars": 80}') \
  > "$work/sim.log" 2>&1 || fail "tianyu-sim failed"
night_wcs > "$work/field.wcs"

run_night A "$db_a" wna$$ linux
run_night B "$db_b" wnb$$ windows linux
windows_share B
compare_products "$work/A" "$work/B"
compare_rows "$db_a" "$db_b"
echo "PASS: the night ran in $((SECONDS - started)) s"
windows_hands_back_solve_field B
echo "PASS: all done"
