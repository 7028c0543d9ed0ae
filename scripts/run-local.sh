#!/usr/bin/env bash
# The main job on one machine: a whole observation, raw frames to light curves.
#
#   scripts/run-local.sh --raw DIR --out OUT [--target NAME] [--target-ra RA --target-dec DEC]
#                        [--consumers N] [--fan-out K] [--calibration JSON] [--photometry JSON]
#                        [--plot-near X,Y ...] [--field-search JSON] [--exposure-mode auto|long|short]
#                        [--minute-parts N] [--database NAME] [--no-build] [--web]
#
# Builds what is needed, starts the local MariaDB and RabbitMQ, migrates, registers OUT/site as
# a site whose raw/ links to DIR (frames stay where they are), ingests DIR (searched
# recursively; science, bias, dark and flat frames told apart by IMAGETYP), publishes the
# observation's DAG, runs a manager and N consumers with a progress display until every step
# has ended, exports to OUT (sources.csv, lightcurves/<source_id>.csv, plots) and stops the
# daemons it started. Exits non-zero if any step failed for good. Running it again with the
# same OUT publishes nothing new and exports again. --database uses another database of the
# local MariaDB (tests use a scratch one); --no-build trusts build/bin as it is. --web also runs
# tianyu-web (the operators' read-only pages) under the reader account on $TIANYU_WEB_LISTEN
# (default 127.0.0.1:8080), prints its URL, and stops it at the end (on a terminal, after Enter).
# --field-search JSON ends the night with the periodic search of its field across every night
# run into the same database (field_search parameters, e.g. '{}'). --exposure-mode short co-adds
# the frames per minute first (coadd_minute; auto, the default, does so when the median
# exposure is at most 1 s, as in Tianyu-I's 0.3-s mode); --minute-parts N shares each minute
# among N consumers (coadd_minute parts added up by combine_minute).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() { sed -n '4,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
raw="" out="" target="" ra="" dec="" consumers=2 fan_out=8 calibration="{}" photometry="{}"
plots=() database="" build=1 web=0 search=() exposure_mode=auto minute_parts=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --raw) raw=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --target-ra) ra=$2; shift 2 ;;
    --target-dec) dec=$2; shift 2 ;;
    --consumers) consumers=$2; shift 2 ;;
    --fan-out) fan_out=$2; shift 2 ;;
    --calibration) calibration=$2; shift 2 ;;
    --photometry) photometry=$2; shift 2 ;;
    --plot-near) plots+=(--plot-near "$2"); shift 2 ;;
    --field-search) search=(--field-search "$2"); shift 2 ;;
    --exposure-mode) exposure_mode=$2; shift 2 ;;
    --minute-parts) minute_parts=$2; shift 2 ;;
    --database) database=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --web) web=1; shift ;;
    -h|--help) usage ;;
    *) echo "run-local: unknown option '$1'" >&2; usage ;;
  esac
done
[[ -n "$raw" && -n "$out" ]] || usage
[[ -d "$raw" ]] || { echo "run-local: --raw '$raw' is not a directory" >&2; exit 2; }
[[ "$consumers" =~ ^[1-9][0-9]*$ ]] || { echo "run-local: --consumers must be a positive integer" >&2; exit 2; }
raw=$(cd "$raw" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
target=${target:-$(basename "$raw")}
started=$(date +%s)
say() { printf '== %s (%ds)\n' "$*" $(($(date +%s) - started)); }

if (( build )); then
  say "build"
  bash "$ROOT/scripts/build.sh" > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
fi
bin="${TIANYU_BIN_DIR:-$ROOT/build/bin}"  # tests point it at their own build tree

say "local services"
bash "$ROOT/scripts/services.sh" start
# shellcheck disable=SC1091
source "$ROOT/run/env.sh"
[[ -n "$database" ]] && export TIANYU_DB_NAME=$database
"$bin/tianyu-publish" db migrate
# Least privilege: the manager and the consumers connect with their own accounts, granted on
# this database's tables now that the migrations made them.
bash "$ROOT/scripts/services.sh" grant "$TIANYU_DB_NAME" > /dev/null

# One site per output directory: its root is OUT/site, whose raw/ is a link to DIR.
site="local-$(printf '%s' "$out" | cksum | cut -d' ' -f1)"
mkdir -p "$out/site" "$out/logs"
ln -sfn "$raw" "$out/site/raw"
"$bin/tianyu-publish" site add "$site" --root "$out/site" > /dev/null
"$bin/tianyu-publish" group add --site "$site" general > /dev/null

say "ingest $raw"
ingest_args=(ingest "$out/site/raw" --site "$site" --target "$target" --json)
[[ -n "$ra" ]] && ingest_args+=(--ra "$ra")
[[ -n "$dec" ]] && ingest_args+=(--dec "$dec")
report=$("$bin/tianyu-publish" "${ingest_args[@]}")
echo "$report" > "$out/ingest.json"
observation=$(sed -E 's/.*"observation_id":([0-9]+).*/\1/' <<< "$report")
echo "observation $observation: $(sed -E 's/.*"added":(\{[^}]*\}).*/\1/' <<< "$report") added, $(sed -E 's/.*"already_ingested":([0-9]+).*/\1/' <<< "$report") already ingested"
if grep -q '"skipped":\[{' <<< "$report"; then
  echo "skipped files (see $out/ingest.json):"
  grep -o '"error":"[^"]*","path":"[^"]*"' <<< "$report" | sed 's/^/  /' || true
fi

# counts [--wait S]: the observation's processes per state; --wait returns as soon as all have
# ended (or after S seconds), so the loop below notices the end of the night at once.
counts() { "$bin/tianyu-publish" status --observation "$observation" --json "$@" | sed -E 's/.*"counts":\{([^}]*)\}.*"total":([0-9]+).*/\1,"total":\2/'; }
count() { sed -E "s/.*\"$1\":([0-9]+).*/\1/" <<< "$2"; }
if [[ $(count total "$(counts)") -eq 0 ]]; then
  say "publish the pipeline of observation $observation"
  "$bin/tianyu-publish" pipeline --observation "$observation" --fan-out "$fan_out" \
    --calibration "$calibration" --photometry "$photometry" --exposure-mode "$exposure_mode" \
    --minute-parts "$minute_parts" "${search[@]}"
else
  say "observation $observation already has its pipeline; running what is left of it"
fi

web_pid=""
stop_web() {
  [[ -n "$web_pid" ]] || return 0
  if [[ -t 0 && -t 1 ]]; then read -r -p "tianyu-web is still serving; press Enter to stop it " _ || true; fi
  kill -TERM "$web_pid" 2> /dev/null || true
  wait "$web_pid" 2> /dev/null || true
  web_pid=""
}
if (( web )); then
  # The read-only account: the pages can show everything and change nothing.
  ( source "$ROOT/run/env-reader.sh"; [[ -n "$database" ]] && export TIANYU_DB_NAME=$database
    exec "$bin/tianyu-web" --listen "${TIANYU_WEB_LISTEN:-127.0.0.1:8080}" ) > "$out/logs/web.log" 2>&1 &
  web_pid=$!
  trap stop_web EXIT
  for _ in $(seq 1 50); do grep -q 'listening on' "$out/logs/web.log" && break; sleep 0.1; done
  grep -o 'http://[^ ]*' "$out/logs/web.log" | head -1 | sed 's/^/web: /' ||
    { echo "run-local: tianyu-web did not start; see $out/logs/web.log" >&2; exit 1; }
fi

pids=()
stop_daemons() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  pids=()
}
trap 'stop_daemons; stop_web' EXIT
say "a manager and $consumers consumers (logs in $out/logs)"
# Each daemon under its role's account (run/env-<role>.sh re-sources env.sh, so the database
# name is set again; exec makes $! the daemon itself).
( source "$ROOT/run/env-manager.sh"; [[ -n "$database" ]] && export TIANYU_DB_NAME=$database
  TIANYU_SITE=$site exec "$bin/tianyu-manager" --config "$ROOT/config/manager.json" ) > "$out/logs/manager.log" 2>&1 &
pids+=($!)
for i in $(seq 1 "$consumers"); do
  ( source "$ROOT/run/env-consumer.sh"; [[ -n "$database" ]] && export TIANYU_DB_NAME=$database
    TIANYU_SITE=$site TIANYU_GROUP=general exec "$bin/tianyu-consumer" --config "$ROOT/config/consumer.json" ) \
    > "$out/logs/consumer-$i.log" 2>&1 &
  pids+=($!)
done

last_line=0
while true; do
  c=$(counts --wait "$([[ -t 1 ]] && echo 1 || echo 5)")  # a terminal's line refreshes every second
  total=$(count total "$c")
  ended=$(( $(count success "$c") + $(count failed "$c") + $(count cancelled "$c") ))
  failed=$(count failed "$c")
  running=$(count running "$c")
  now=$(date +%s)
  line=$(printf '%4d/%d steps ended (%d running, %d failed) %ds' "$ended" "$total" "$running" "$failed" $((now - started)))
  if [[ -t 1 ]]; then
    printf '\r%s ' "$line"
  elif (( now - last_line >= 10 || ended == total )); then
    echo "$line"
    last_line=$now
  fi
  (( ended == total )) && break
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2> /dev/null || { echo; echo "run-local: a daemon (pid $pid) died; see $out/logs" >&2; exit 1; }
  done
done
[[ -t 1 ]] && echo
stop_daemons

say "export to $out"
"$bin/tianyu-publish" export --observation "$observation" --out "$out" "${plots[@]}" || true
"$bin/tianyu-publish" status --observation "$observation" | grep -E '^(astrometry|noise):' || true
if (( failed > 0 )); then
  "$bin/tianyu-publish" status --observation "$observation" | sed -n '/^failed:/,$p' >&2
  echo "run-local: $failed steps failed for good (tianyu-publish retry ID re-runs one)" >&2
  exit 1
fi
say "done: observation $observation, $(($(wc -l < "$out/sources.csv") - 1)) sources in $out/sources.csv"
