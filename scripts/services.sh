#!/usr/bin/env bash
# Local MariaDB and RabbitMQ for the main job and the integration tests: plain processes bound
# to 127.0.0.1, data under run/ in the checkout (git-ignored), kept between restarts.
#
#   start               start both (no-op for one running); wait; accounts and grants (idempotent)
#   grant [DATABASE]    grant the role accounts their tables of DATABASE (start: tianyu) once
#                       `tianyu-publish db migrate` created them
#   stop | status (0: both up, 3: not) | env | restart mariadb|rabbitmq
#
# Ports: TIANYU_DB_PORT (33061), TIANYU_BROKER_PORT (56720), TIANYU_BROKER_DIST_PORT (+1),
# TIANYU_BROKER_EPMD_PORT (+2: a private epmd on 127.0.0.1, so a host-wide epmd on all
# interfaces is neither used nor needed), TIANYU_BROKER_TLS_PORT (+3, with TLS); remembered in
# run/ports.env. TIANYU_TLS=1: a CA and server certificate in run/tls/, MariaDB with TLS and a
# RabbitMQ TLS listener (127.0.0.1); run/env-tls.sh points the tools at them. Changing it on
# running servers needs `restart`.
# Accounts (secrets generated into run/credentials, mode 600, never committed, never on a
# command line): MariaDB root only over the socket (OS root via unix_socket, or its generated
# password); `tianyu` owns the databases (migrations, tests); tianyu_publisher, tianyu_manager,
# tianyu_consumer, tianyu_reader get config/db-grants.txt. run/env.sh exports the owner,
# run/env-<role>.sh a role. Started by root, MariaDB runs as mysql and RabbitMQ as rabbitmq; a
# run/ they cannot reach puts their data under /var/lib/tianyu-services/<hash>/.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=${TIANYU_RUN_DIR:-$ROOT/run}
ROLES=(publisher manager consumer reader)

log() { echo "services: $*"; }
die() { echo "services: $*" >&2; exit 1; }

mkdir -p "$RUN"
chmod 755 "$RUN"

# ---------------------------------------------------------------- settings

# shellcheck disable=SC1091
[[ -f $RUN/ports.env ]] && source "$RUN/ports.env"
DB_PORT=${TIANYU_DB_PORT:-${SAVED_DB_PORT:-33061}}
BROKER_PORT=${TIANYU_BROKER_PORT:-${SAVED_BROKER_PORT:-56720}}
DIST_PORT=${TIANYU_BROKER_DIST_PORT:-${SAVED_DIST_PORT:-$((BROKER_PORT + 1))}}
EPMD_PORT=${TIANYU_BROKER_EPMD_PORT:-${SAVED_EPMD_PORT:-$((BROKER_PORT + 2))}}
OWN_EPMD_PORT=$EPMD_PORT  # EPMD_PORT follows a running older node; this is the one we start
TLS_PORT=${TIANYU_BROKER_TLS_PORT:-${SAVED_TLS_PORT:-$((BROKER_PORT + 3))}}
TLS=${TIANYU_TLS:-${SAVED_TLS:-0}}
TLS_DIR=$RUN/tls

# Secrets: one line each in run/credentials; a key missing from an older file is added.
umask 077
touch "$RUN/credentials"
chmod 600 "$RUN/credentials"
for key in DB_PASSWORD BROKER_PASSWORD DB_ROOT_PASSWORD DB_PUBLISHER_PASSWORD DB_MANAGER_PASSWORD \
           DB_CONSUMER_PASSWORD DB_READER_PASSWORD; do
  grep -q "^$key=" "$RUN/credentials" \
    || echo "$key=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')" >> "$RUN/credentials"
done
umask 022
# shellcheck disable=SC1091
source "$RUN/credentials"

# A service user that cannot reach run/ (a checkout under a private home directory) gets its
# data under /var/lib instead; the node name and that directory come from run/'s path.
node_hash=$(printf '%s' "$RUN" | sha1sum | cut -c1-8)
service_dir() {  # service_dir USER NAME
  if [[ $EUID -eq 0 ]] && ! runuser -u "$1" -- test -x "$RUN" 2>/dev/null; then
    echo "/var/lib/tianyu-services/$node_hash/$2"
  else
    echo "$RUN/$2"
  fi
}
DB_DIR=$(service_dir mysql mariadb)
DB_DATA=$DB_DIR/data
DB_SOCK=$DB_DIR/mariadb.sock
DB_PID=$DB_DIR/mariadb.pid
DB_LOG=$DB_DIR/error.log
DB_ROOT_CNF=$RUN/mariadb-root.cnf
NODE="tianyu-${node_hash}@localhost"
RMQ_DIR=$(service_dir rabbitmq rabbitmq)
RMQ_PID=$RMQ_DIR/rabbitmq.pid

# Erlang distribution (the node and every rabbitmqctl) and its private epmd on loopback only.
rmq_env() {
  export RABBITMQ_MNESIA_BASE=$RMQ_DIR/mnesia RABBITMQ_LOG_BASE=$RMQ_DIR/log
  export RABBITMQ_NODENAME=$NODE RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$BROKER_PORT RABBITMQ_DIST_PORT=$DIST_PORT
  export RABBITMQ_PID_FILE=$RMQ_PID RABBITMQ_FEATURE_FLAGS_FILE=$RMQ_DIR/feature_flags
  export RABBITMQ_ENABLED_PLUGINS_FILE=$RMQ_DIR/enabled_plugins
  export RABBITMQ_CONFIG_FILE=$RMQ_DIR/rabbitmq.conf
  export RABBITMQ_CONF_ENV_FILE=$RMQ_DIR/rabbitmq-env.conf
  export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$EPMD_PORT
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# ---------------------------------------------------------------- helpers

# pid_alive PIDFILE PATTERN: the pid file names a live process whose command line matches.
pid_alive() {
  [[ -f $1 ]] || return 1
  local pid
  pid=$(tr -dc '0-9' < "$1")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "$2"
}

# Runs a daemon in its own session with stdin closed and no descriptor above 2 inherited, so it
# holds neither our lock nor a caller's pipe (a CI runner waits for those to close).
spawn_detached() {
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec $fd>&-"
    done
    exec setsid "$@" < /dev/null
  ) &
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_gone() {  # wait_gone PID SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# A CA and one server certificate for 127.0.0.1/localhost (both as DNS names too: rabbitmq-c
# compares the host text with the DNS names), made once; the CA key never leaves run/tls.
make_certificates() {
  [[ -f $TLS_DIR/server.pem && -f $TLS_DIR/ca.pem ]] && return
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  (
    cd "$TLS_DIR"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=tianyu local CA $node_hash" \
      -keyout ca.key -out ca.pem > /dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key \
      -out server.csr > /dev/null 2>&1
    printf 'subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1\n' > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem > /dev/null 2>&1
    rm -f server.csr server.ext ca.srl
    chmod 644 ca.pem server.pem
  ) || die "openssl could not make the TLS certificates in $TLS_DIR"
  chmod 755 "$TLS_DIR"
  log "made a CA and server certificate in $TLS_DIR"
}

# Copies the server certificate and key where service user $1 reads them: $2/tls.
install_certificates() {
  mkdir -p "$2/tls"
  cp "$TLS_DIR/ca.pem" "$TLS_DIR/server.pem" "$TLS_DIR/server.key" "$2/tls/"
  chmod 600 "$2/tls/server.key"
  [[ $EUID -eq 0 ]] && chown -R "$1:$1" "$2/tls"
  return 0
}

write_env() {
  cat > "$RUN/ports.env" <<PORTS
SAVED_DB_PORT=$DB_PORT
SAVED_BROKER_PORT=$BROKER_PORT
SAVED_DIST_PORT=$DIST_PORT
SAVED_EPMD_PORT=$OWN_EPMD_PORT
SAVED_TLS_PORT=$TLS_PORT
SAVED_TLS=$TLS
PORTS
  umask 077
  cat > "$RUN/env.sh" <<ENV
# Generated by scripts/services.sh: points the tianyu tools at the local services (as the owner
# account; run/env-<role>.sh for a daemon's own account, run/env-tls.sh for TLS).
export TIANYU_DB_HOST=127.0.0.1
export TIANYU_DB_PORT=$DB_PORT
export TIANYU_DB_USER=tianyu
export TIANYU_DB_PASSWORD='$DB_PASSWORD'
export TIANYU_DB_NAME=tianyu
export TIANYU_BROKER_HOST=127.0.0.1
export TIANYU_BROKER_PORT=$BROKER_PORT
export TIANYU_BROKER_USER=tianyu
export TIANYU_BROKER_PASSWORD='$BROKER_PASSWORD'
export TIANYU_BROKER_VHOST=/
ENV
  local role var
  for role in "${ROLES[@]}"; do
    var="DB_${role^^}_PASSWORD"
    cat > "$RUN/env-$role.sh" <<ENV
# Generated by scripts/services.sh: the local services as the $role database account.
source "$RUN/env.sh"
export TIANYU_DB_USER=tianyu_$role
export TIANYU_DB_PASSWORD='${!var}'
ENV
  done
  if [[ $TLS == 1 ]]; then
    cat > "$RUN/env-tls.sh" <<ENV
# Generated by scripts/services.sh (TIANYU_TLS=1): source after env.sh or env-<role>.sh.
export TIANYU_DB_TLS_ENABLED=1
export TIANYU_DB_TLS_CA=$TLS_DIR/ca.pem
export TIANYU_BROKER_PORT=$TLS_PORT
export TIANYU_BROKER_TLS_ENABLED=1
export TIANYU_BROKER_TLS_CA=$TLS_DIR/ca.pem
ENV
  else
    rm -f "$RUN/env-tls.sh"
  fi
  umask 022
}

# ---------------------------------------------------------------- MariaDB

# Root over the socket, credentials from an option file (never -p on a command line). Tries the
# generated password first, then none (OS root via unix_socket, or an older unhardened server).
db_root_cnf() {
  umask 077
  printf '[client]\nuser=root\nsocket=%s\n' "$DB_SOCK" > "$DB_ROOT_CNF"
  [[ ${1:-} == password ]] && printf 'password=%s\n' "$DB_ROOT_PASSWORD" >> "$DB_ROOT_CNF"
  umask 022
}
db_sql() { mariadb --defaults-file="$DB_ROOT_CNF" "$@"; }
db_root_login() {
  local how
  for how in password none; do
    db_root_cnf "$how"
    db_sql -e 'SELECT 1' > /dev/null 2>&1 && return 0
  done
  die "cannot log in to MariaDB as root over $DB_SOCK (see $DB_ROOT_CNF and $DB_LOG)"
}

db_install() {
  # Initialise aside and rename, so a half-initialised directory is never taken as data.
  rm -rf "$DB_DATA.init"
  local auth=(--auth-root-authentication-method=normal)
  if [[ $EUID -eq 0 ]]; then
    mkdir -p "$DB_DATA.init"
    chown mysql:mysql "$DB_DATA.init"
    auth=(--auth-root-authentication-method=socket --user=mysql)
  fi
  mariadb-install-db --no-defaults --datadir="$DB_DATA.init" "${auth[@]}" --skip-test-db \
    > "$DB_DIR/install.log" 2>&1 || { cat "$DB_DIR/install.log" >&2; die "mariadb-install-db failed"; }
  mv "$DB_DATA.init" "$DB_DATA"
}

db_launch() {
  port_open "$DB_PORT" && die "port 127.0.0.1:$DB_PORT is in use by another program; set TIANYU_DB_PORT"
  local opts=()
  # The server runs as mysql, which then owns its directory (an older run/ was root's).
  [[ $EUID -eq 0 ]] && { chown -R mysql:mysql "$DB_DIR"; opts+=(--user=mysql); }
  if [[ $TLS == 1 ]]; then
    install_certificates mysql "$DB_DIR"
    opts+=(--ssl-ca="$DB_DIR/tls/ca.pem" --ssl-cert="$DB_DIR/tls/server.pem" --ssl-key="$DB_DIR/tls/server.key")
  fi
  spawn_detached mariadbd --no-defaults --datadir="$DB_DATA" --socket="$DB_SOCK" --port="$DB_PORT" \
    --bind-address=127.0.0.1 "${opts[@]}" --pid-file="$DB_PID" --log-error="$DB_LOG" \
    --skip-name-resolve --max-connections=1000 --max-allowed-packet=256M \
    --innodb-buffer-pool-size=256M --innodb-log-file-size=256M > /dev/null 2>&1
  local i
  for ((i = 0; i < 600; i++)); do
    mariadb-admin --no-defaults --socket="$DB_SOCK" ping > /dev/null 2>&1 && break
    if ((i > 20)) && ! pid_alive "$DB_PID" mariadbd && ! pgrep -f "datadir=$DB_DATA" > /dev/null; then
      tail -20 "$DB_LOG" >&2 || true
      die "mariadb exited during start (log: $DB_LOG)"
    fi
    sleep 0.1
  done
  ((i < 600)) || die "mariadb did not answer within 60 s (log: $DB_LOG)"
  log "mariadb started (pid $(cat "$DB_PID"), 127.0.0.1:$DB_PORT$([[ $TLS == 1 ]] && echo ', TLS'))"
}

db_start() {
  mkdir -p "$DB_DIR"
  if pid_alive "$DB_PID" mariadbd; then
    log "mariadb already running (pid $(cat "$DB_PID"), 127.0.0.1:$DB_PORT)"
    [[ $(stat -c %U "/proc/$(tr -dc '0-9' < "$DB_PID")") == root ]] \
      && log "mariadb runs as OS root (started by an older services.sh): '$0 restart mariadb' runs it as mysql"
  else
    [[ -d $DB_DATA/mysql ]] || db_install
    db_launch
  fi
  db_root_login
  db_provision
}

# Root: the socket only (unix_socket for OS root, or the generated password); every other root
# account (127.0.0.1, ::1, the host name) and anonymous accounts dropped. The owner account
# and the role accounts; the SQL goes on stdin, so no secret reaches a command line.
db_provision() {
  local tables marker
  tables=$(db_sql -N -e "SELECT table_name FROM information_schema.tables WHERE table_schema = 'tianyu'" | sort | tr '\n' ' ')
  marker=$( { cat "$RUN/credentials" "$ROOT/config/db-grants.txt"; echo "$tables"; } | sha1sum | cut -c1-16)
  [[ "$(cat "$DB_DIR/provisioned" 2>/dev/null)" == "$marker" ]] && return 0
  db_sql <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('$DB_ROOT_PASSWORD');
CREATE DATABASE IF NOT EXISTS tianyu CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'tianyu'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS 'tianyu'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER 'tianyu'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER 'tianyu'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
-- tianyu, and the scratch databases the integration tests create (tianyu_test_*).
GRANT ALL PRIVILEGES ON \`tianyu%\`.* TO 'tianyu'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`tianyu%\`.* TO 'tianyu'@'localhost';
SQL
  db_root_cnf password
  db_sql -N -e "SELECT CONCAT('DROP USER ', QUOTE(user), '@', QUOTE(host), ';') FROM mysql.global_priv
                WHERE (user = 'root' AND host <> 'localhost') OR user = ''" | db_sql
  db_grant_roles tianyu
  echo "$marker" > "$DB_DIR/provisioned"
  log "mariadb accounts provisioned (root socket-only; owner tianyu; roles ${ROLES[*]} on: ${tables:-no tables yet})"
}

# db_grant_roles DATABASE: the role accounts (passwords through the environment of the SQL
# generator, SQL through stdin) and their grants on the tables DATABASE has.
db_grant_roles() {
  [[ $1 =~ ^[A-Za-z0-9_]+$ ]] || die "database name '$1' is not a plain name"
  local tables
  tables=$(db_sql -N -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '$1'")
  # shellcheck disable=SC2086
  TIANYU_DB_NAME=$1 TIANYU_PUBLISHER_DB_PASSWORD=$DB_PUBLISHER_PASSWORD \
    TIANYU_MANAGER_DB_PASSWORD=$DB_MANAGER_PASSWORD TIANYU_CONSUMER_DB_PASSWORD=$DB_CONSUMER_PASSWORD \
    TIANYU_READER_DB_PASSWORD=$DB_READER_PASSWORD \
    bash "$ROOT/docker/db-roles.sh" "$ROOT/config/db-grants.txt" $tables | db_sql
  db_sql -e 'FLUSH PRIVILEGES'
  [[ $1 == tianyu ]] || log "role accounts granted their tables of database '$1'"
}

db_stop() {
  if pid_alive "$DB_PID" mariadbd; then
    local pid
    pid=$(tr -dc '0-9' < "$DB_PID")
    kill -TERM "$pid"
    wait_gone "$pid" 120 || die "mariadb (pid $pid) did not stop within 120 s"
    log "mariadb stopped"
  else
    log "mariadb not running"
  fi
  rm -f "$DB_PID"
}

db_status() {
  if pid_alive "$DB_PID" mariadbd && port_open "$DB_PORT"; then
    echo "mariadb:  up   (pid $(cat "$DB_PID"), 127.0.0.1:$DB_PORT, data $DB_DATA)"
  else
    echo "mariadb:  down (127.0.0.1:$DB_PORT, data $DB_DATA)"
    return 1
  fi
}

# ---------------------------------------------------------------- RabbitMQ

rmqctl() { rmq_env; rabbitmqctl -n "$NODE" -q "$@"; }

# A node started by an older services.sh registered with the host-wide epmd (4369) and listens
# for distribution on all interfaces until it is restarted: reach it where it is, and say so.
rmq_follow_running_node() {
  local pid port
  pid=$(tr -dc '0-9' < "$RMQ_PID")
  port=$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | sed -n 's/^ERL_EPMD_PORT=//p')
  if [[ -z $port ]]; then
    EPMD_PORT=4369
    log "rabbitmq was started by an older services.sh: its Erlang distribution listens on all interfaces; '$0 restart rabbitmq' binds it to 127.0.0.1"
  else
    EPMD_PORT=$port
  fi
}

rmq_config() {
  # consumer_timeout: a delivery is acked only after its step committed, so it must outlast
  # the longest step (the 30 min default would bounce long stacking steps).
  cat > "$RMQ_DIR/rabbitmq.conf" <<CONF
loopback_users.guest = true
consumer_timeout = 10800000
heartbeat = 15
log.console = false
log.file.level = info
CONF
  if [[ $TLS == 1 ]]; then
    install_certificates rabbitmq "$RMQ_DIR"
    cat >> "$RMQ_DIR/rabbitmq.conf" <<CONF
listeners.ssl.default = 127.0.0.1:$TLS_PORT
ssl_options.cacertfile = $RMQ_DIR/tls/ca.pem
ssl_options.certfile = $RMQ_DIR/tls/server.pem
ssl_options.keyfile = $RMQ_DIR/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
  fi
  echo '[].' > "$RMQ_DIR/enabled_plugins"
  : > "$RMQ_DIR/rabbitmq-env.conf"
}

rmq_start() {
  [[ $EUID -eq 0 ]] || id -un | grep -qx rabbitmq \
    || die "rabbitmq-server must be started as root (it drops to the rabbitmq user)"
  mkdir -p "$RMQ_DIR/mnesia" "$RMQ_DIR/log"
  if pid_alive "$RMQ_PID" beam; then
    log "rabbitmq already running (pid $(cat "$RMQ_PID"), 127.0.0.1:$BROKER_PORT)"
    rmq_follow_running_node
  else
    local port
    for port in "$BROKER_PORT" "$DIST_PORT" "$EPMD_PORT" $([[ $TLS == 1 ]] && echo "$TLS_PORT"); do
      # Our private epmd outlives a node that crashed or was killed: the new node reuses it.
      [[ $port == "$EPMD_PORT" ]] && ss -ltnpH "sport = :$port" 2>/dev/null | grep -q '"epmd"' && continue
      port_open "$port" && die "port 127.0.0.1:$port is in use by another program; set TIANYU_BROKER_PORT (or the port's own variable)"
    done
    rmq_config
    [[ $EUID -eq 0 ]] && chown -R rabbitmq:rabbitmq "$RMQ_DIR"
    rm -f "$RMQ_PID"
    (rmq_env; spawn_detached rabbitmq-server > "$RMQ_DIR/log/stdout.log" 2>&1)
    if ! rmqctl wait "$RMQ_PID" --timeout 120 > /dev/null 2>&1; then
      tail -20 "$RMQ_DIR/log/stdout.log" >&2 || true
      die "rabbitmq did not start within 120 s (logs: $RMQ_DIR/log)"
    fi
    log "rabbitmq started (pid $(cat "$RMQ_PID"), 127.0.0.1:$BROKER_PORT$([[ $TLS == 1 ]] && echo ", TLS 127.0.0.1:$TLS_PORT"), node $NODE)"
  fi
  rmq_provision
}

# The password reaches rabbitmqctl on stdin (it reads it there when the argument is left out),
# never on its command line.
rmq_provision() {
  local marker
  marker=$(printf '%s' "$BROKER_PASSWORD" | sha1sum | cut -c1-16)
  [[ "$(cat "$RMQ_DIR/provisioned" 2>/dev/null)" == "$marker" ]] && return 0
  if ! rmqctl list_users | grep -q '^tianyu[[:space:]]'; then
    printf '%s\n' "$BROKER_PASSWORD" | rmqctl add_user tianyu > /dev/null
  fi
  printf '%s\n' "$BROKER_PASSWORD" | rmqctl change_password tianyu > /dev/null
  rmqctl set_permissions -p / tianyu '.*' '.*' '.*' > /dev/null
  rmqctl delete_user guest > /dev/null 2>&1 || true
  echo "$marker" > "$RMQ_DIR/provisioned"
}

rmq_stop() {
  if pid_alive "$RMQ_PID" beam; then
    rmq_follow_running_node
    local pid
    pid=$(tr -dc '0-9' < "$RMQ_PID")
    rmqctl stop "$RMQ_PID" > /dev/null 2>&1 || kill -TERM "$pid"
    wait_gone "$pid" 120 || die "rabbitmq (pid $pid) did not stop within 120 s"
    log "rabbitmq stopped"
  else
    log "rabbitmq not running"
  fi
  rm -f "$RMQ_PID"
  # The private epmd this node started (nothing else registers with it); never the host's.
  if [[ $EPMD_PORT != 4369 ]]; then
    (rmq_env; epmd -port "$EPMD_PORT" -kill > /dev/null 2>&1) || true
  fi
  EPMD_PORT=$OWN_EPMD_PORT
}

rmq_status() {
  if pid_alive "$RMQ_PID" beam && port_open "$BROKER_PORT"; then
    echo "rabbitmq: up   (pid $(cat "$RMQ_PID"), 127.0.0.1:$BROKER_PORT, node $NODE, data $RMQ_DIR)"
  else
    echo "rabbitmq: down (127.0.0.1:$BROKER_PORT, node $NODE, data $RMQ_DIR)"
    return 1
  fi
}

# The default ports lie in Linux's range of outgoing connections' source ports (32768-60999):
# a session given 56720 as its source port made a restarted broker fail to listen (eaddrinuse,
# CI of cf28033). Reserving them keeps the kernel from handing them out; listeners still bind.
# Only where we may (root, a writable /proc); elsewhere nothing changes.
reserve_listen_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports current port
  [[ -w $file ]] || return 0
  current=$(cat "$file" 2> /dev/null) || return 0
  for port in "$DB_PORT" "$BROKER_PORT" "$DIST_PORT" "$OWN_EPMD_PORT" "$TLS_PORT"; do
    current=${current:+$current,}$port
  done
  echo "$current" > "$file" 2> /dev/null || true
}

# ---------------------------------------------------------------- main

exec 9> "$RUN/services.lock"
flock 9
[[ $TLS == 1 ]] && make_certificates

case "${1:-}" in
  start)
    reserve_listen_ports
    db_start
    rmq_start
    write_env
    ;;
  grant)
    db_root_login
    db_provision
    if [[ -n ${2:-} ]]; then db_grant_roles "$2"; fi
    ;;
  stop)
    rmq_stop
    db_stop
    ;;
  status)
    rc=0
    db_status || rc=3
    rmq_status || rc=3
    exit $rc
    ;;
  restart)
    reserve_listen_ports
    case "${2:-}" in
      mariadb) db_stop; db_start ;;
      rabbitmq) rmq_stop; rmq_start ;;
      *) echo "usage: $0 restart mariadb|rabbitmq" >&2; exit 2 ;;
    esac
    write_env
    ;;
  env)
    [[ -f $RUN/env.sh ]] || die "no $RUN/env.sh yet: run '$0 start' first"
    cat "$RUN/env.sh"
    ;;
  *)
    echo "usage: $0 start|grant|stop|status|env|restart mariadb|rabbitmq" >&2
    exit 2
    ;;
esac
