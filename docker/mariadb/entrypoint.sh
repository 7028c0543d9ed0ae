#!/usr/bin/env bash
# MariaDB's start in the Tianyu MariaDB image. On an empty /var/lib/mysql: initialise it, set
# the root password, create MARIADB_DATABASE and MARIADB_USER (all privileges on it), run the
# /docker-entrypoint-initdb.d scripts (*.sh sourced with docker_process_sql, *.sql piped), all on
# a server that listens on no network, so nothing can connect before the accounts exist. Then
# (every start) the server itself, listening on all of the container's interfaces (the compose
# file decides what the host publishes). Secrets reach the clients through a 0600 option file
# and stdin, never a command line.
set -euo pipefail
datadir=/var/lib/mysql
socket=/run/mysqld/init.sock
log() { printf '%s tianyu-mariadb %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
[[ ${1:-mariadbd} == -* ]] && set -- mariadbd "$@"
[[ ${1:-mariadbd} == mariadbd ]] || exec "$@"
shift || true

sql_string() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }
docker_process_sql() { mariadb --defaults-extra-file=/run/mysqld/root.cnf --protocol=socket --socket="$socket" "$@"; }

initialise() {
  : "${MARIADB_ROOT_PASSWORD:?set MARIADB_ROOT_PASSWORD (the first start sets the root password)}"
  log "initialising an empty $datadir"
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
    --auth-root-authentication-method=normal > /dev/null
  mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" &
  local pid=$! i
  for ((i = 0; i < 60; i++)); do
    mariadb-admin --protocol=socket --socket="$socket" -uroot ping > /dev/null 2>&1 && break
    sleep 1
  done
  (umask 077; printf '[client]\nuser=root\npassword=%s\n' "$MARIADB_ROOT_PASSWORD" > /run/mysqld/root.cnf)
  {
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$MARIADB_ROOT_PASSWORD");"
    echo "DELETE FROM mysql.global_priv WHERE User = '';"
    if [[ -n ${MARIADB_DATABASE:-} ]]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
    fi
    if [[ -n ${MARIADB_USER:-} ]]; then
      echo "CREATE USER $(sql_string "$MARIADB_USER")@'%' IDENTIFIED BY $(sql_string "${MARIADB_PASSWORD:?set MARIADB_PASSWORD}");"
      [[ -n ${MARIADB_DATABASE:-} ]] && echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO $(sql_string "$MARIADB_USER")@'%';"
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --protocol=socket --socket="$socket" -uroot
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) log "running $f"; (. "$f") ;;
      *.sql) log "running $f"; docker_process_sql < "$f" ;;
    esac
  done
  mariadb-admin --defaults-extra-file=/run/mysqld/root.cnf --protocol=socket --socket="$socket" shutdown
  wait "$pid" || true
  rm -f /run/mysqld/root.cnf
  log "initialised"
}

[[ -d $datadir/mysql ]] || initialise
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 "$@"
