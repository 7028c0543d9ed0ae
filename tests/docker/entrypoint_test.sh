#!/usr/bin/env bash
# The image's entry point (docker/entrypoint.sh) run on this machine, without Docker, against
# the local MariaDB and RabbitMQ: the migrate, manager and two consumer services start exactly
# as docker/docker-compose.yml configures them (their environment and command, read from the
# resolved compose file), with only the addresses and secrets pointed at the local services.
# A DAG across the two groups runs to success, and the consumers' JSON log lines carry
# process_id, command, site and group. Prints PASS/FAIL lines; exits non-zero on a failure.
#   tests/docker/entrypoint_test.sh ROOT BIN_DIR     (after: source run/env.sh)
set -euo pipefail
ROOT=$1
BIN=$2
cd "$ROOT"
if [[ -z "${TIANYU_DB_HOST:-}" ]]; then
  [[ "${TIANYU_REQUIRE_LIVE:-}" == 1 ]] && { echo "FAIL: TIANYU_REQUIRE_LIVE=1 but TIANYU_DB_HOST is unset: source run/env.sh"; exit 1; }
  echo "SKIP: needs the live MariaDB and RabbitMQ (scripts/services.sh start; source run/env.sh)"; exit 77
fi
work=$(mktemp -d)
db="tianyu_test_entry_$$"
pids=()
# Every daemon started here is stopped here: `service` execs, so each pid is the entry point
# and then (after its own exec) the daemon itself; one that ignores SIGTERM for 30 s is killed
# and reported.
stop_daemons() {
  local pid i
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2> /dev/null; then
      echo "FAIL: daemon pid $pid ($(tr '\0' ' ' < "/proc/$pid/cmdline")) outlived SIGTERM by 30 s"
      kill -KILL "$pid" 2> /dev/null || true
    fi
    wait "$pid" 2> /dev/null || true
  done
  pids=()
}
cleanup() {
  stop_daemons
  # The password reaches the client through an option file, not its command line.
  mariadb --defaults-file=<(printf '[client]\nuser=%s\npassword=%s\n' "$TIANYU_DB_USER" "$TIANYU_DB_PASSWORD") \
    --protocol=tcp -h "$TIANYU_DB_HOST" -P "$TIANYU_DB_PORT" \
    -e "DROP DATABASE IF EXISTS \`$db\`" 2> /dev/null || true  # a leftover tianyu_test_* database is harmless
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

mkdir -p "$work/secrets"  # the services' secrets files: the local services' secrets are used below
for f in mariadb rabbitmq migrate manager consumer publisher reader; do : > "$work/secrets/$f.env"; done
TIANYU_SECRETS_DIR=$work/secrets docker-compose -f docker/docker-compose.yml --env-file docker/.env.example config > "$work/compose.yml"
# service -> "KEY=VALUE" lines and its command, from the resolved file.
/usr/bin/python3 - "$work/compose.yml" "$work" <<'PY'
import sys, yaml
compose = yaml.safe_load(open(sys.argv[1]))
for name in ["migrate", "manager", "consumer-general", "consumer-bigram"]:
    s = compose["services"][name]
    with open(f"{sys.argv[2]}/{name}.env", "w") as f:
        for k, v in s["environment"].items():
            f.write(f"{k}={v}\n")
    with open(f"{sys.argv[2]}/{name}.cmd", "w") as f:
        f.write(" ".join(s["command"]))
PY
local_env=(TIANYU_DB_HOST="$TIANYU_DB_HOST" TIANYU_DB_PORT="$TIANYU_DB_PORT" TIANYU_DB_USER="$TIANYU_DB_USER"
           TIANYU_DB_PASSWORD="$TIANYU_DB_PASSWORD" TIANYU_DB_NAME="$db"
           TIANYU_BROKER_HOST="$TIANYU_BROKER_HOST" TIANYU_BROKER_PORT="$TIANYU_BROKER_PORT"
           TIANYU_BROKER_USER="$TIANYU_BROKER_USER" TIANYU_BROKER_PASSWORD="$TIANYU_BROKER_PASSWORD"
           TIANYU_SITE="entry$$" TIANYU_SITE_ROOT="$work/site"
           TIANYU_BIN_DIR="$BIN" TIANYU_CONFIG_DIR="$ROOT/config" TIANYU_WAIT_S=60
           # The local owner account serves every service here; it may not create accounts.
           TIANYU_DB_CREATE_ROLES=0 TIANYU_PUBLISHER_DB_PASSWORD=unused TIANYU_MANAGER_DB_PASSWORD=unused
           TIANYU_CONSUMER_DB_PASSWORD=unused TIANYU_READER_DB_PASSWORD=unused)
# Runs the entry point as service $1 would run: its compose environment, then the local one.
service() {
  local name=$1
  shift
  mapfile -t compose_env < "$work/$name.env"
  exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" "${compose_env[@]}" "${local_env[@]}" "$@" \
    bash "$ROOT/docker/entrypoint.sh" $(cat "$work/$name.cmd")
}
mkdir -p "$work/site"
(service migrate) > "$work/migrate.log" 2>&1 || fail "the migrate service failed"
grep -q "group 'bigram' of site 'entry$$'" "$work/migrate.log" || fail "migrate did not register the bigram group"
echo "PASS: migrate applied the schema and registered the site and its groups"
service manager > "$work/manager.log" 2>&1 & pids+=($!)
service consumer-general > "$work/general.log" 2>&1 & pids+=($!)
service consumer-bigram > "$work/bigram.log" 2>&1 & pids+=($!)

cat > "$work/dag.json" <<JSON
[{"key": "calibrate", "command": "touch", "site": "entry$$", "group": "general", "depends_on": []},
 {"key": "stack", "command": "touch", "site": "entry$$", "group": "bigram", "depends_on": ["calibrate"]}]
JSON
ids=$(env "${local_env[@]}" "$BIN/tianyu-publish" dag "$work/dag.json")
for _ in $(seq 1 60); do
  done_count=$(env "${local_env[@]}" "$BIN/tianyu-publish" status --json | sed -E 's/.*"counts":\{[^}]*"success":([0-9]+).*/\1/')
  [[ "$done_count" == 2 ]] && break
  sleep 1
done
[[ "$done_count" == 2 ]] || fail "the DAG did not finish ($done_count of 2 succeeded)"
echo "PASS: a DAG across the general and bigram groups ran to success"
stack_id=$(sed -E 's/.*"stack":([0-9]+).*/\1/' <<< "$ids")
[[ -f "$work/site/touch/$stack_id" ]] || fail "the bigram step's file is missing under the site root"
echo "PASS: the steps wrote under the site root the compose file mounts"
line=$(grep "\"process_id\":$stack_id" "$work/bigram.log" | head -1 || true)
[[ -n "$line" ]] || fail "no JSON log line of the bigram consumer carries process_id $stack_id"
/usr/bin/python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["command"] == "touch" and d["group"] == "bigram" and d["site"] == sys.argv[2], d' "$line" "entry$$" \
  || fail "the log line is not JSON with command, site and group: $line"
echo "PASS: consumer logs are JSON lines with process_id, command, site and group"
daemons=("${pids[@]}")
stop_daemons
for pid in "${daemons[@]}"; do
  kill -0 "$pid" 2> /dev/null && fail "daemon pid $pid is still running after the test stopped it"
done
echo "PASS: the manager and both consumers the test started (pids ${daemons[*]}) are stopped"
