#!/usr/bin/env bash
# Runs after every other test (a ctest fixture cleanup): fails, naming them, when a
# tianyu-manager, tianyu-consumer or tianyu-publish started from this build's bin directory is
# still alive. Matched by /proc/PID/exe, so the daemons of other build trees sharing the
# machine are not ours to report.
#   tests/support/no_leaked_daemons.sh BIN_DIR
set -uo pipefail
BIN=$(realpath "$1")
leaked=0
for exe in /proc/[0-9]*/exe; do
  target=$(readlink "$exe" 2> /dev/null) || continue
  target=${target% (deleted)}
  case "$(basename "$target")" in
    tianyu-manager | tianyu-consumer | tianyu-publish) ;;
    *) continue ;;
  esac
  [[ "$(dirname "$target")" == "$BIN" ]] || continue
  pid=${exe#/proc/}
  pid=${pid%/exe}
  echo "FAIL: leaked daemon pid $pid: $(tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null)"
  leaked=$((leaked + 1))
done
if ((leaked > 0)); then
  echo "FAIL: $leaked daemons started from $BIN outlived the tests"
  exit 1
fi
echo "PASS: no daemon started from $BIN is alive"
