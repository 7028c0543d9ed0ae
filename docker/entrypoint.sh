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
#   anything else is run as a command
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

register_site() {
  : "${TIANYU_SITE:?set TIANYU_SITE (the site this deployment serves)}"
  : "${TIANYU_SITE_ROOT:?set TIANYU_SITE_ROOT (the site root as the consumers see it)}"
  "$bin/tianyu-publish" --config "$config_dir/publisher.json" site add "$TIANYU_SITE" --root "$TIANYU_SITE_ROOT"
  for group in ${TIANYU_SITE_GROUPS:-general}; do
    "$bin/tianyu-publish" --config "$config_dir/publisher.json" group add --site "$TIANYU_SITE" "$group"
  done
}

case "$role" in
  migrate)
    wait_for "MariaDB" "$bin/tianyu-publish" --config "$config_dir/publisher.json" db migrate
    "$bin/tianyu-publish" --config "$config_dir/publisher.json" db version
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
  publish)
    exec "$bin/tianyu-publish" --config "$config_dir/publisher.json" "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
