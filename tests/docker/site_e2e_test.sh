#!/usr/bin/env bash
# The site deployment run for real: scripts/site.sh brings docker/docker-compose.yml up in
# containers (images built here FROM the local Debian base, no registry; the service image
# copies this build's executables, target `prebuilt`), a simulated night placed in the site root
# is ingested and its pipeline published from `publish` containers, one general consumer
# container is killed (SIGKILL) while it runs a step, and the night still completes: every step
# succeeds, the killed step shows a second attempt, and the light-curve rows counted with SQL
# inside the database container equal scripts/run-local.sh's for the same night (and sources x
# good frames). Afterwards no container or network of the project is left.
#   tests/docker/site_e2e_test.sh ROOT BIN_DIR
# Exit 77 (skip) with the reason when containers cannot run here. Prints PASS/FAIL lines.
set -euo pipefail
ROOT=$1
BIN=$(cd "$2" && pwd)
cd "$ROOT"
started=$SECONDS
say() { printf '== %s (%d s)\n' "$*" $((SECONDS - started)); }
fail() { echo "FAIL: $*"; exit 1; }

probe=$(bash scripts/site.sh probe 2>&1) || { code=$?; echo "$probe"; [[ $code == 77 ]] && { echo "SKIP: containers cannot run here (see above)"; exit 77; }; fail "site.sh probe: $probe"; }
[[ -f docker/.env ]] && { echo "SKIP: docker/.env exists and podman-compose 1.0.3 would let it override the test's settings"; exit 77; }
engine=${TIANYU_CONTAINER_ENGINE:-$(command -v podman > /dev/null && echo podman || echo docker)}
[[ $engine == podman && -z ${CONTAINERS_CONF:-} && -f run/site/containers.conf ]] && export CONTAINERS_CONF=$ROOT/run/site/containers.conf

work=$(mktemp -d /var/tmp/tianyu-site-e2e.XXXXXX)
project=tianyu-e2e-$$
export TIANYU_SITE=e2e$$ TIANYU_IMAGE=localhost/tianyu:suite TIANYU_STOP_GRACE=10s TIANYU_SITE_ROOT_HOST=$work/site-root
site=(bash scripts/site.sh --env "$work/site.env" --project "$project")
ref_db=tianyu_test_site_e2e_$$
cleanup() {
  "${site[@]:0:2}" down --env "$work/site.env" --project "$project" --purge > /dev/null 2>&1 || true
  local left
  left=$("$engine" ps -a --format '{{.Names}}' | grep -c "^$project" || true)
  [[ $left == 0 ]] && echo "PASS: after down, $engine ps -a shows no container of $project" || echo "FAIL: $left containers of $project are left"
  "$engine" network ls --format '{{.Name}}' | grep -q "^$project" && echo "FAIL: the network of $project is left" \
    || echo "PASS: after down, $engine network ls shows no network of $project"
  if [[ -n ${TIANYU_DB_HOST:-} ]]; then
    mariadb --defaults-file=<(printf '[client]\nuser=%s\npassword=%s\n' "$TIANYU_DB_USER" "$TIANYU_DB_PASSWORD") \
      --protocol=tcp -h "$TIANYU_DB_HOST" -P "$TIANYU_DB_PORT" -e "DROP DATABASE IF EXISTS \`$ref_db\`" 2> /dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
sql() { "${site[@]:0:2}" sql --env "$work/site.env" --project "$project" -- "$@"; }
publish() { "${site[@]:0:2}" publish --env "$work/site.env" --project "$project" -- "$@"; }

# A small night: 40 frames of 512x512 (the kill needs steps long enough to be caught running).
printf '{"width": 512, "height": 512, "frames": 40, "bias_frames": 3, "flat_frames": 3, "stars": 200}\n' > "$work/sim.json"
"$BIN/tianyu-sim" --out "$work/site-root/night" --config "$work/sim.json" --seed 20 > "$work/sim.log" 2>&1 || fail "tianyu-sim: $(tail -3 "$work/sim.log")"
say "night simulated in the site root"

up_started=$SECONDS
bash scripts/site.sh up --env "$work/site.env" --project "$project" --prebuilt "$BIN" > "$work/up.log" 2>&1 \
  || { cat "$work/up.log"; fail "scripts/site.sh up failed"; }
grep -E "images ready|up in" "$work/up.log"
echo "PASS: scripts/site.sh up built the images and started the site in $((SECONDS - up_started)) s"
# A daemon that lost a race with a starting broker exits and its restart policy brings it back:
# each service must have a running container within 60 s.
for service in mariadb rabbitmq manager consumer-general consumer-bigram; do
  for ((i = 0; i < 30; i++)); do
    "$engine" ps --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$service" \
      --format '{{.Names}}' | grep -q . && break
    sleep 2
  done
  if (( i == 30 )); then
    "$engine" ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}} {{.Status}}'
    for c in $("$engine" ps -a --filter "label=com.docker.compose.project=$project" \
                 --filter "label=com.docker.compose.service=$service" --format '{{.Names}}'); do
      "$engine" logs "$c" 2>&1 | tail -5
    done
    fail "no running $service container"
  fi
done
echo "PASS: database, broker, manager and consumers of groups general and bigram run in containers"

report=$(publish ingest /data/tianyu/night --site "$TIANYU_SITE" --target SIM-FIELD-1 --ra 108 --dec 46 --json) || fail "ingest in the publish container failed: $report"
observation=$(sed -nE 's/.*"observation_id":([0-9]+).*/\1/p' <<< "$report")
[[ -n $observation ]] || fail "no observation id in the ingest report: $report"
grep -q '"science":40' <<< "$report" || fail "the publish container did not ingest 40 science frames: $report"
echo "PASS: the publish container ingested the night from the site root (observation $observation)"
publish pipeline --observation "$observation" --fan-out 8 > /dev/null || fail "publishing the pipeline failed"
say "pipeline published"

# Kill (SIGKILL) the general consumer container holding a step that has run for 0.7 s already
# (a long one, such as the transit search, so the kill lands before it commits): its lease
# owner starts with the container's host name (its short id).
killed="" killed_step=""
for ((i = 0; i < 300; i++)); do
  [[ -n $killed ]] && break
  row=$(sql "SELECT p.process_id, p.lease_owner FROM process p JOIN process_group g ON g.group_id = p.group_id WHERE p.state = 'running' AND g.name = 'general' AND p.lease_owner IS NOT NULL AND p.started_at < NOW(6) - INTERVAL 0.7 SECOND LIMIT 1" 2> /dev/null || true)
  if [[ -n $row ]]; then
    read -r step owner <<< "$row"
    for c in $("$engine" ps --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=consumer-general" --format '{{.Names}}'); do
      if [[ $owner == "$("$engine" inspect --format '{{.Config.Hostname}}' "$c")"-* ]]; then
        "$engine" kill "$c" > /dev/null
        # Landed mid-step only if the step is still running under the dead owner; a step that
        # committed just before the kill does not count, and the next one is tried.
        after=$(sql "SELECT state = 'running' AND lease_owner = '$owner' FROM process WHERE process_id = $step")
        if [[ $after == 1 ]]; then killed=$c killed_step=$step; else echo "(kill of $c landed after step $step committed; trying again)"; fi
        break
      fi
    done
  fi
  [[ -z $killed ]] && sleep 0.2
done
[[ -n $killed ]] || fail "no general consumer was caught running a step to kill"
echo "PASS: killed consumer container $killed (SIGKILL) while it ran step $killed_step"

for ((i = 0; i < 120; i++)); do
  counts=$(sql "SELECT SUM(state = 'success'), SUM(state IN ('failed', 'cancelled')), COUNT(*) FROM process")
  read -r ok bad total <<< "$counts"
  (( ok + bad == total )) && break
  sleep 5
done
say "night ended: $ok of $total steps succeeded, $bad failed or cancelled"
(( ok == total && bad == 0 )) || fail "the night did not complete after the kill ($counts); $(sql "SELECT command, state, error FROM process WHERE state <> 'success' LIMIT 5")"
echo "PASS: the night completed after the kill: all $total steps succeeded"
attempts=$(sql "SELECT attempt FROM process WHERE process_id = $killed_step")
(( attempts >= 2 )) && echo "PASS: the killed step $killed_step succeeded on attempt $attempts (the retry after its lease expired)" \
  || fail "the killed step $killed_step shows attempt $attempts (expected a retry)"
echo "retried steps (process_id command attempt): $(sql "SELECT process_id, command, attempt FROM process WHERE attempt > 1" | tr '\t\n' ' ;')"

light_curves=$(sql "SELECT COUNT(*) FROM light_curve WHERE observation_id = $observation")
expected=$(sql "SELECT (SELECT COUNT(*) FROM source) * (SELECT COUNT(*) FROM frame_quality WHERE observation_id = $observation AND good = 1)")
duplicates=$(sql "SELECT COUNT(*) FROM (SELECT frame_id, source_id, aperture_index FROM raw_flux GROUP BY 1, 2, 3 HAVING COUNT(*) > 1) d")
[[ $light_curves -gt 0 && $light_curves == "$expected" ]] \
  && echo "PASS: $light_curves light-curve rows (SQL in the database container) = sources x good frames" \
  || fail "$light_curves light-curve rows, but sources x good frames is $expected"
[[ $duplicates == 0 ]] && echo "PASS: no duplicated flux row after the retry" || fail "$duplicates duplicated raw_flux keys"

# The reference: scripts/run-local.sh on the same night, with the local services.
bash scripts/services.sh start > /dev/null
# shellcheck disable=SC1091
source run/env.sh
mariadb --defaults-file=<(printf '[client]\nuser=%s\npassword=%s\n' "$TIANYU_DB_USER" "$TIANYU_DB_PASSWORD") \
  --protocol=tcp -h "$TIANYU_DB_HOST" -P "$TIANYU_DB_PORT" -e "CREATE DATABASE IF NOT EXISTS \`$ref_db\`"
TIANYU_BIN_DIR=$BIN bash scripts/run-local.sh --no-build --raw "$work/site-root/night" --out "$work/ref" \
  --database "$ref_db" --consumers 2 --target SIM-FIELD-1 --target-ra 108 --target-dec 46 > "$work/ref.log" 2>&1 \
  || { tail -20 "$work/ref.log"; fail "scripts/run-local.sh failed on the same night"; }
reference=$(mariadb --defaults-file=<(printf '[client]\nuser=%s\npassword=%s\n' "$TIANYU_DB_USER" "$TIANYU_DB_PASSWORD") \
  --protocol=tcp -h "$TIANYU_DB_HOST" -P "$TIANYU_DB_PORT" -N -B "$ref_db" -e "SELECT COUNT(*) FROM light_curve")
[[ $light_curves == "$reference" ]] && echo "PASS: containers $light_curves light-curve rows = run-local $reference" \
  || fail "containers gave $light_curves light-curve rows, run-local $reference"
say "done"
