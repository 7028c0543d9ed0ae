# Sourced by wine_consumer_test.sh: daemons started and stopped by name, the scratch database,
# the checks. Uses ROOT BIN EXE work db site from the test (WINE: TIANYU_WINE or wine64).
declare -A pids=()
WINE=${TIANYU_WINE:-/usr/lib/wine/wine64}

# Exits 77 (skip), saying why, without Wine, the Windows consumer or the live services (but
# fails when TIANYU_REQUIRE_LIVE=1 asks for the services).
skip_without_wine_or_services() {
  skip() { echo "SKIP: $*"; exit 77; }
  [[ -x "$WINE" ]] || skip "no Wine at $WINE (scripts/setup-deps.sh installs wine64)"
  [[ -f "$EXE" ]] || skip "no Windows consumer at $EXE (scripts/cross-build-mingw.sh builds it)"
  if [[ -z "${TIANYU_DB_HOST:-}" ]]; then
    [[ "${TIANYU_REQUIRE_LIVE:-}" == 1 ]] && { echo "FAIL: TIANYU_REQUIRE_LIVE=1 but TIANYU_DB_HOST is unset: source run/env.sh"; exit 1; }
    skip "needs the live MariaDB and RabbitMQ (scripts/services.sh start; source run/env.sh)"
  fi
}

fail() {
  echo "FAIL: $*"
  local f
  for f in "$work"/*.log; do [[ -f "$f" ]] && { echo "--- $f"; tail -15 "$f" | tr -d '\r'; }; done
  exit 1
}

# The scratch database through the owner account; the password reaches the client through an
# option file, never its command line.
sql() {
  mariadb --defaults-file=<(printf '[client]\nuser=%s\npassword=%s\n' "$TIANYU_DB_USER" "$TIANYU_DB_PASSWORD") \
    --protocol=tcp -h "$TIANYU_DB_HOST" -P "$TIANYU_DB_PORT" -N -B "$db" -e "$1"
}

start_linux() {  # start_linux NAME EXECUTABLE
  "$2" > "$work/$1.log" 2>&1 &
  pids[$1]=$!
}

# A Windows consumer under Wine with the site root given as a Windows path; everything else
# (database, broker, site, group, log format) from the same TIANYU_* variables as Linux.
start_windows() {  # start_windows NAME WINDOWS_SITE_ROOT
  TIANYU_CONSUMER_SITE_ROOT=$2 "$WINE" "$EXE" > "$work/$1.log" 2>&1 &
  pids[$1]=$!
}

stop_daemon() {  # stop_daemon NAME [SIGNAL]: stops it and waits up to 30 s
  local pid=${pids[$1]:-} i
  [[ -n "$pid" ]] || return 0
  kill "-${2:-TERM}" "$pid" 2> /dev/null || true
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2> /dev/null && { echo "FAIL: $1 (pid $pid) outlived SIG${2:-TERM} by 30 s"; kill -KILL "$pid" 2> /dev/null || true; }
  wait "$pid" 2> /dev/null || true
  unset "pids[$1]"
}

cleanup() {
  local name
  for name in "${!pids[@]}"; do stop_daemon "$name"; done
  # This test's Wine prefix only: its wineserver ends with the programs it served.
  [[ -n "${WINEPREFIX:-}" ]] && "$(dirname "$WINE")/wineserver" -k 2> /dev/null || true
  # TIANYU_KEEP_WORK=1 keeps the work directory and the databases for a post-mortem. A test
  # with several databases lists them in extra_databases. A leftover tianyu_test_* is harmless.
  [[ "${TIANYU_KEEP_WORK:-}" == 1 ]] && { echo "kept $work and the databases"; return 0; }
  for name in "${db:-}" ${extra_databases[@]+"${extra_databases[@]}"}; do
    [[ -n "$name" ]] && { db=$name sql "DROP DATABASE IF EXISTS \`$name\`" 2> /dev/null || true; }
  done
  rm -rf "$work"
}

windows_path() {  # /a/b -> Z:\a\b (Wine maps the Unix root to drive Z:)
  local p=${1//\//\\}
  printf 'Z:%s' "$p"
}

wait_for_log() {  # wait_for_log NAME PATTERN SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -aq "$2" "$work/$1.log" 2> /dev/null && return 0
    sleep 0.1
  done
  return 1
}

dag_of_touches() {  # dag_of_touches COUNT SLEEP_MS: independent touch steps of the general group
  local i sep=""
  printf '['
  for ((i = 1; i <= $1; i++)); do
    printf '%s{"key": "t%d", "command": "touch", "params": {"sleep_ms": %d}, "site": "%s", "group": "general", "depends_on": []}' \
      "$sep" "$i" "$2" "$site"
    sep=$',\n'
  done
  printf ']\n'
}

successes() { sql "SELECT COUNT(*) FROM process WHERE state = 'success'"; }

wait_for_successes() {  # wait_for_successes COUNT SECONDS
  local i
  for ((i = 0; i < $2; i++)); do
    [[ "$(successes)" == "$1" ]] && return 0
    sleep 1
  done
  return 1
}

# Every touch process has one row written once and its file, which names the same process.
check_touch_effects() {  # check_touch_effects COUNT
  local rows once id
  rows=$(sql "SELECT COUNT(*) FROM touch_effect")
  once=$(sql "SELECT COUNT(*) FROM touch_effect WHERE writes = 1")
  [[ "$rows" == "$1" && "$once" == "$1" ]] || fail "touch_effect has $rows rows, $once written once; expected $1"
  for id in $(sql "SELECT process_id FROM touch_effect"); do
    [[ "$(cut -d' ' -f1 "$work/site/touch/$id" 2> /dev/null)" == "$id" ]] \
      || fail "the file touch/$id under the site root is missing or names another process"
  done
}

# Only the Windows consumer serves while a 20 s step starts; it is killed (SIGKILL, no
# goodbye) mid-step; a Linux consumer takes the step over once the lease lapses.
kill_windows_mid_step() {
  stop_daemon linux1
  local id i state
  id=$("$BIN/tianyu-publish" process touch --site "$site" --group general --params '{"sleep_ms": 20000}')
  for ((i = 0; i < 600; i++)); do
    state=$(sql "SELECT state FROM process WHERE process_id = $id")
    [[ "$state" == running ]] && break
    sleep 0.1
  done
  [[ "$state" == running ]] || fail "the Windows consumer did not start process $id (state $state)"
  stop_daemon win1 KILL
  start_linux linux2 "$BIN/tianyu-consumer"
  for ((i = 0; i < 90; i++)); do
    state=$(sql "SELECT state FROM process WHERE process_id = $id")
    [[ "$state" == success ]] && break
    sleep 1
  done
  [[ "$state" == success ]] || fail "process $id killed mid-step on Windows did not succeed later (state $state)"
  local row
  row=$(sql "SELECT attempt, writes FROM touch_effect WHERE process_id = $id")
  read -r attempt writes <<< "$row"
  [[ "$writes" == 1 && "$attempt" -ge 2 ]] || fail "process $id: attempt $attempt, writes $writes (want a retry, written once)"
  [[ "$(cut -d' ' -f2 "$work/site/touch/$id")" == "$attempt" ]] || fail "touch/$id is not the file of attempt $attempt"
  echo "PASS: the Windows consumer killed mid-step lost nothing: process $id succeeded once, on attempt $attempt"
}

# Ctrl-C: Wine turns SIGINT into CTRL_C_EVENT; the consumer drains and says it stopped.
graceful_stop_on_ctrl_c() {
  start_windows win2 "$(windows_path "$work/site")"
  wait_for_log win2 "serving" 120 || fail "the second Windows consumer did not start"
  local pid=${pids[win2]}
  stop_daemon win2 INT
  wait_for_log win2 "consumer [^ ]* stopped" 1 || fail "the Windows consumer (pid $pid) did not stop gracefully on Ctrl-C"
  echo "PASS: the Windows consumer stopped gracefully on Ctrl-C"
}
