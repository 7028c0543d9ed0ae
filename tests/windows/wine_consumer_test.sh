#!/usr/bin/env bash
# The Windows consumer (tianyu-consumer.exe of scripts/cross-build-mingw.sh) under Wine beside
# a Linux consumer, both serving one (site, group) of a scratch database on the live MariaDB and
# RabbitMQ, with a Linux manager:
#  - the Windows consumer is given the site root as a Windows path (Z:\..., backslashes);
#  - a DAG of `touch` steps runs to success, each step's file written exactly once (one
#    touch_effect row with writes = 1 per process), and both consumers completed some of them;
#  - the Windows consumer killed mid-step loses nothing: the step is retried (by the Linux
#    consumer) and succeeds once;
#  - a Windows consumer stops gracefully on Ctrl-C (SIGINT, which Wine turns into CTRL_C_EVENT).
# Prints PASS/FAIL lines; exits 77 (skip) without Wine, the Windows build or the live services.
#   tests/windows/wine_consumer_test.sh ROOT LINUX_BIN_DIR WINDOWS_EXE WORK_DIR
set -euo pipefail
ROOT=$1 BIN=$2 EXE=$3 STATE=$4
source "$(dirname "${BASH_SOURCE[0]}")/wine_helpers.sh"
skip_without_wine_or_services

mkdir -p "$STATE"
work=$(mktemp -d "$STATE/run.XXXXXX")
db="tianyu_test_wine_$$"
site="wine$$"
# A private Wine prefix kept between runs (booting a new one costs ~10 s); no Mono or Gecko
# installer prompts; Wine's own diagnostics off.
export WINEPREFIX="$STATE/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export TIANYU_DB_NAME=$db TIANYU_SITE=$site TIANYU_GROUP=general TIANYU_LOG_FORMAT=json \
       TIANYU_CONSUMER_LEASE_S=6 TIANYU_CONSUMER_WORKERS=2
trap cleanup EXIT

"$BIN/tianyu-publish" db migrate > "$work/migrate.log" 2>&1 || fail "migrating $db failed"
mkdir -p "$work/site"
"$BIN/tianyu-publish" site add "$site" --root "$work/site" > /dev/null
"$BIN/tianyu-publish" group add --site "$site" general > /dev/null
start_linux manager "$BIN/tianyu-manager"
windows_root=$(windows_path "$work/site")
start_windows win1 "$windows_root"
wait_for_log win1 "serving" 120 || fail "the Windows consumer did not start under Wine"
grep -aF 'Z:\\' "$work/win1.log" | grep -q 'site root' \
  || fail "the Windows consumer's log does not show its Windows site root $windows_root"
echo "PASS: the Windows consumer started under Wine with the site root $windows_root"
start_linux linux1 "$BIN/tianyu-consumer"
wait_for_log linux1 "serving" 30 || fail "the Linux consumer did not start"

# 16 touch steps of 0.5 s each: with two workers per consumer, both consumers get some.
steps=16
dag_of_touches "$steps" 500 > "$work/dag.json"
"$BIN/tianyu-publish" dag "$work/dag.json" > "$work/ids.json"
wait_for_successes "$steps" 120 || fail "the DAG did not finish ($(successes) of $steps succeeded)"
check_touch_effects "$steps"
echo "PASS: $steps touch steps ran once each; files and rows equal (writes = 1, one file per process)"
consumers=$(sql "SELECT COUNT(DISTINCT consumer_id) FROM touch_effect")
[[ "$consumers" == 2 ]] || fail "the steps were completed by $consumers consumers, not both"
win_done=$(grep -ac 'attempt 1 succeeded' "$work/win1.log" || true)
[[ "$win_done" -ge 1 ]] || fail "the Windows consumer completed no step"
echo "PASS: the Windows and the Linux consumer shared the queue ($win_done steps on Windows)"

kill_windows_mid_step
graceful_stop_on_ctrl_c
echo "PASS: all done"
