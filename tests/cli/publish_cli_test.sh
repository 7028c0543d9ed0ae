#!/usr/bin/env bash
# tianyu-publish end to end on a scratch database: site/group registration, a DAG file (a bad
# one refused naming the process, a good one answered with key -> id JSON), status --json, and
# retry of a process that has not failed.
set -euo pipefail
bin=$1
src=$2
if [[ -z ${TIANYU_DB_HOST:-} ]]; then
  [[ ${TIANYU_REQUIRE_LIVE:-} == 1 ]] && { echo "TIANYU_DB_HOST unset"; exit 1; }
  echo "skipped: needs the live services (source run/env.sh)"; exit 0
fi
export TIANYU_DB_NAME="tianyu_test_cli_$$"
work=$(mktemp -d)
cleanup() {
  mariadb --no-defaults -h"$TIANYU_DB_HOST" -P"$TIANYU_DB_PORT" -u"$TIANYU_DB_USER" \
    -p"$TIANYU_DB_PASSWORD" -e "DROP DATABASE IF EXISTS $TIANYU_DB_NAME" || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$bin/tianyu-publish" db migrate > /dev/null
"$bin/tianyu-publish" site add cli --root "$work" > /dev/null
"$bin/tianyu-publish" group add --site cli general > /dev/null

cat > "$work/cycle.json" <<JSON
[{"key": "a", "command": "noop", "site": "cli", "group": "general", "depends_on": ["b"]},
 {"key": "b", "command": "noop", "site": "cli", "group": "general", "depends_on": ["a"]}]
JSON
if out=$("$bin/tianyu-publish" dag "$work/cycle.json" 2>&1); then fail "a cycle was accepted"; fi
grep -q "dependency cycle" <<< "$out" || fail "cycle error does not say so: $out"

cat > "$work/unknown.json" <<JSON
[{"key": "x", "command": "noop", "site": "cli", "group": "gpu"}]
JSON
if out=$("$bin/tianyu-publish" dag "$work/unknown.json" 2>&1); then fail "unknown group accepted"; fi
grep -q "process 'x': unknown group 'gpu' at site 'cli'" <<< "$out" || fail "unclear error: $out"

cat > "$work/good.json" <<JSON
[{"key": "bias", "command": "noop", "site": "cli", "group": "general"},
 {"key": "flat", "command": "noop", "site": "cli", "group": "general", "depends_on": ["bias"]},
 {"key": "science", "command": "touch", "params": {"sleep_ms": 1}, "site": "cli",
  "group": "general", "depends_on": ["bias", "flat"]}]
JSON
ids=$("$bin/tianyu-publish" dag "$work/good.json")
for key in bias flat science; do
  grep -Eq "\"$key\":[0-9]+" <<< "$ids" || fail "no id for '$key' in: $ids"
done
status=$("$bin/tianyu-publish" status --json)
grep -q '"ready":1' <<< "$status" || fail "expected 1 ready process: $status"
grep -q '"waiting":2' <<< "$status" || fail "expected 2 waiting processes: $status"
grep -q '"total":3' <<< "$status" || fail "expected 3 processes: $status"

bias=$(sed -E 's/.*"bias":([0-9]+).*/\1/' <<< "$ids")
if out=$("$bin/tianyu-publish" retry "$bias" 2>&1); then fail "retry of a ready process accepted"; fi
grep -q "is ready, not failed" <<< "$out" || fail "unclear retry error: $out"

one=$("$bin/tianyu-publish" process noop --site cli --group general --depends-on "$bias")
[[ $one =~ ^[0-9]+$ ]] || fail "process did not print an id: $one"
echo "publish CLI: cycle and unknown group refused, DAG of 3 and 1 more published, status and retry checked"
