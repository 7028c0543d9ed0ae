#!/usr/bin/env bash
# RabbitMQ's start in the Tianyu RabbitMQ image (runs as the rabbitmq user). The configuration
# is /etc/rabbitmq/conf.d/*.conf (the site's, mounted by the compose file) plus the default
# account from RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS, written to a 0600 file (never a
# command line); RabbitMQ creates that account only when its database is empty.
set -euo pipefail
conf=/etc/rabbitmq/rabbitmq.conf
(
  umask 077
  {
    for f in /etc/rabbitmq/conf.d/*.conf; do [[ -f $f ]] && cat "$f"; done
    [[ -n ${RABBITMQ_DEFAULT_USER:-} ]] && printf 'default_user = %s\n' "$RABBITMQ_DEFAULT_USER"
    [[ -n ${RABBITMQ_DEFAULT_PASS:-} ]] && printf 'default_pass = %s\n' "$RABBITMQ_DEFAULT_PASS"
    echo 'loopback_users = none'
  } > "$conf.tmp"
  mv "$conf.tmp" "$conf"
)
# The environment's copy of the password is not needed any more (rabbitmq reads the file).
unset RABBITMQ_DEFAULT_PASS
export RABBITMQ_CONFIG_FILE=$conf
exec /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
