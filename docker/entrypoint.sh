#!/usr/bin/env bash
# The Tianyu image's entry point: one role per container, configured by TIANYU_* variables
# (every configuration field has one; see config/README.md).
#
#   migrate    wait for MariaDB, apply the schema migrations, register TIANYU_SITE (root
#              TIANYU_SITE_ROOT) and its groups TIANYU_SITE_GROUPS ("general bigram"); exits
#   register   the same without migrating (a second site joining the first site's database)
#   manager    wait for MariaDB and RabbitMQ, then run tianyu-manager
#   consumer   wait for MariaDB and RabbitMQ, then run tianyu-consumer for TIANYU_SITE/TIANYU_GROUP
#   publish …  tianyu-publish with the arguments (ingest, pipeline, status, export, retry …)
#   web …      tianyu-web with the arguments (the read-only page); an image built before
#              tianyu-web existed says so and exits 0 (compose does not restart it)
#   anything else is run as a command
# A *PASSWORD* variable still holding a `change-me…` placeholder of .env.example stops it.
#
# TIANYU_BIN_DIR (default /usr/local/bin) and TIANYU_CONFIG_DIR (default /etc/tianyu) say where
# the executables and the role configurations are; TIANYU_WAIT_S (default 180) bounds the wait.
set -euo pipefail
bin=${TIANYU_BIN_DIR:-/usr/local/bin}
config_dir=${TIANYU_CONFIG_DIR:-/etc/tianyu}
wait_s=${TIANYU_WAIT_S:-180}
role=${1:-consumer}
[[ $# -gt 0 ]] && shift

log() { printf '%s tianyu-entrypoint %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# The secrets of docker/.env.example are placeholders: a site that did not replace one must not
# start with a password everybody knows.
refuse_placeholders() {
  local var
  for var in $(compgen -e); do
    [[ $var == *PASSWORD* && ${!var} == change-me* ]] || continue
    log "refusing to start: $var is still the placeholder of docker/.env.example; set a secret in docker/.env"
    exit 1
  done
}
refuse_placeholders

# After the migrations: the per-role accounts of config/db-grants.txt (TIANYU_DB_CREATE_ROLES=1,
# set by compose for `migrate`). Needs the mariadb client and an owner account allowed to create
# users (docker/initdb/10-tianyu-owner.sh); the SQL and the passwords go through stdin and an
# option file, never a command line.
create_role_accounts() {
  [[ ${TIANYU_DB_CREATE_ROLES:-0} == 1 ]] || return 0
  local cnf tables
  cnf=$(mktemp)
  printf '[client]\nhost=%s\nport=%s\nuser=%s\npassword=%s\n' "${TIANYU_DB_HOST:-127.0.0.1}" \
    "${TIANYU_DB_PORT:-3306}" "${TIANYU_DB_USER:-tianyu}" "${TIANYU_DB_PASSWORD:-}" > "$cnf"
  tables=$(mariadb --defaults-file="$cnf" -N -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '${TIANYU_DB_NAME:-tianyu}'")
  # shellcheck disable=SC2086
  TIANYU_DB_ROLE_HOSTS=${TIANYU_DB_ROLE_HOSTS:-%} bash "$config_dir/db-roles.sh" "$config_dir/db-grants.txt" $tables \
    | mariadb --defaults-file="$cnf" || { rm -f "$cnf"; log "creating the role accounts failed"; exit 1; }
  rm -f "$cnf"
  log "database role accounts created or updated (config/db-grants.txt)"
}

# Retries `command` until it succeeds or TIANYU_WAIT_S passes (the services start in any order).
wait_for() {
  local what=$1 deadline=$(( $(date +%s) + wait_s ))
  shift
  until "$@" > /dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then
      log "gave up waiting for $what after ${wait_s} s; last attempt:"
      "$@" >&2 || true
      exit 1
    fi
    sleep 2
  done
  log "$what is up"
}

# Runs `command` (idempotent) and runs it again, every 2 s up to TIANYU_WAIT_S, while it fails
# with a client-side connection error (MariaDB error 2000-2099): a container network's DNS can
# miss a lookup under load ("Unknown server host 'mariadb' (-3)", a temporary failure). Any
# other failure (bad input) is final at once.
retry_connection() {
  local deadline=$(( $(date +%s) + wait_s )) out status
  while true; do
    out=$("$@" 2>&1) && { printf '%s\n' "$out"; return 0; }
    status=$?
    if [[ $out != *"(MariaDB error 20"[0-9][0-9]* ]] || (( $(date +%s) >= deadline )); then
      printf '%s\n' "$out" >&2
      return "$status"
    fi
    log "connection failure, retrying: ${out##*$'\n'}"
    sleep 2
  done
}

register_site() {
  : "${TIANYU_SITE:?set TIANYU_SITE (the site this deployment serves)}"
  : "${TIANYU_SITE_ROOT:?set TIANYU_SITE_ROOT (the site root as the consumers see it)}"
  retry_connection "$bin/tianyu-publish" --config "$config_dir/publisher.json" site add "$TIANYU_SITE" \
    --root "$TIANYU_SITE_ROOT"
  for group in ${TIANYU_SITE_GROUPS:-general}; do
    retry_connection "$bin/tianyu-publish" --config "$config_dir/publisher.json" group add --site "$TIANYU_SITE" "$group"
  done
}

case "$role" in
  migrate)
    wait_for "MariaDB" "$bin/tianyu-publish" --config "$config_dir/publisher.json" db migrate
    "$bin/tianyu-publish" --config "$config_dir/publisher.json" db version
    create_role_accounts
    register_site
    ;;
  register)
    wait_for "the schema" "$bin/tianyu-publish" --config "$config_dir/publisher.json" db version
    register_site
    ;;
  manager)
    wait_for "MariaDB and RabbitMQ" "$bin/tianyu-manager" --config "$config_dir/manager.json" --check
    exec "$bin/tianyu-manager" --config "$config_dir/manager.json" "$@"
    ;;
  consumer)
    wait_for "MariaDB and RabbitMQ" "$bin/tianyu-consumer" --config "$config_dir/consumer.json" --check
    exec "$bin/tianyu-consumer" --config "$config_dir/consumer.json" "$@"
    ;;
  web)
    if [[ ! -x $bin/tianyu-web ]]; then
      log "this image has no tianyu-web (built before the web page existed): the page is not served"
      exit 0
    fi
    exec "$bin/tianyu-web" "$@"
    ;;
  publish)
    # A one-off container's network may take a moment to carry traffic: reach the database first.
    wait_for "MariaDB" "$bin/tianyu-publish" --config "$config_dir/publisher.json" db version
    exec "$bin/tianyu-publish" --config "$config_dir/publisher.json" "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
