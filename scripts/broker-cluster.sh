#!/usr/bin/env bash
# A local 3-node RabbitMQ cluster on loopback for the scale-out and fault tests: three nodes of
# the Debian rabbitmq-server, each its own Erlang node on its own ports, joined with
# `rabbitmqctl join_cluster`, sharing a private Erlang cookie and a private epmd. Work queues
# are quorum queues (replicated on all three); clients list the nodes in TIANYU_BROKER_NODES.
#
#   start                 start the nodes not running, join them, add the account (idempotent)
#   stop                  stop every node and the private epmd
#   status                one line per node; 0 when all three run clustered, 3 otherwise
#   stop-node N | kill-node N   stop node N (1-3) cleanly, or SIGKILL it (a crash)
#   start-node N          start node N again; it rejoins from its own data
#   queues                name, type, leader, members and online members of every queue
#   rebalance             spread the quorum queues' leaders over the nodes again (a restarted
#                         node leads nothing until then)
#   env                   the TIANYU_BROKER_* lines for clients (the password from the file)
#
# Ports (TIANYU_CLUSTER_PORT, default 56800): node N's AMQP on PORT+N-1, its Erlang
# distribution on PORT+10+N-1, the private epmd on PORT+19; all on 127.0.0.1, none near the
# shared broker's 56720-56723. Data, logs, cookie and credentials under TIANYU_CLUSTER_DIR
# (default run/cluster); the secrets (cookie, password) in files of mode 600/400, never on a
# command line. Started by root, the nodes run as the rabbitmq user, as services.sh does.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${TIANYU_CLUSTER_DIR:-$ROOT/run/cluster}
PORT=${TIANYU_CLUSTER_PORT:-56800}
EPMD_PORT=$((PORT + 19))
BIN=/usr/lib/rabbitmq/bin
NODES=(1 2 3)

log() { echo "broker-cluster: $*"; }
die() { echo "broker-cluster: $*" >&2; exit 1; }

[[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 1024 && PORT < 65500)) || die "TIANYU_CLUSTER_PORT '$PORT' is not a port in 1025-65499"
[[ $EUID -eq 0 ]] || id -un | grep -qx rabbitmq || die "must run as root (the nodes run as the rabbitmq user)"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
tag=$(printf '%s' "$DIR" | sha1sum | cut -c1-6)  # two clusters (two checkouts) never share names
HOME_DIR=$DIR/home                               # the cookie lives here, for nodes and CLI alike

node_name() { echo "tianyu-c${tag}-$1@localhost"; }
amqp_port() { echo $((PORT + $1 - 1)); }
node_dir() { echo "$DIR/node$1"; }

# As the rabbitmq user with HOME at the private cookie (the Debian wrappers would reset HOME to
# /var/lib/rabbitmq and its shared cookie); every node and rabbitmqctl uses the same epmd.
RUNAS=(env HOME="$HOME_DIR" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$EPMD_PORT" LANG=C.UTF-8 LC_ALL=C.UTF-8
       RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
[[ $EUID -eq 0 ]] && RUNAS=(runuser -u rabbitmq -- "${RUNAS[@]}")
as_rabbitmq() { "${RUNAS[@]}" "$@"; }
ctl() {  # ctl N ARGS...: rabbitmqctl against node N
  local n=$1
  shift
  as_rabbitmq "$BIN/rabbitmqctl" -n "$(node_name "$n")" -q "$@"
}

prepare() {
  mkdir -p "$HOME_DIR"
  umask 077
  [[ -s $HOME_DIR/.erlang.cookie ]] || head -c 96 /dev/urandom | base64 -w0 | tr -dc 'A-Z' | head -c 20 > "$HOME_DIR/.erlang.cookie"
  [[ -s $DIR/credentials ]] || echo "BROKER_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')" > "$DIR/credentials"
  umask 022
  chmod 600 "$DIR/credentials"
  chmod 400 "$HOME_DIR/.erlang.cookie"  # Erlang refuses a cookie others can read
  chmod 755 "$DIR"
  if [[ $EUID -eq 0 ]]; then
    runuser -u rabbitmq -- test -x "$DIR" || die "the rabbitmq user cannot reach $DIR; set TIANYU_CLUSTER_DIR"
    chown -R rabbitmq:rabbitmq "$HOME_DIR"
    chmod 700 "$HOME_DIR"
  fi
}

pid_of() {  # the live beam of node N, or nothing
  local f pid
  f=$(node_dir "$1")/rabbitmq.pid
  [[ -f $f ]] || return 1
  pid=$(tr -dc '0-9' < "$f")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q beam && echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_node_config() {  # N
  local d
  d=$(node_dir "$1")
  mkdir -p "$d/mnesia" "$d/log"
  # consumer_timeout as services.sh (acks come after the step committed). 3.10 has no
  # default_queue_type setting: the clients declare their queues quorum (work queues always,
  # dead letters with broker.dead_letter_queue_type = quorum).
  cat > "$d/rabbitmq.conf" <<CONF
loopback_users.guest = true
consumer_timeout = 10800000
heartbeat = 15
log.console = false
log.file.level = info
cluster_partition_handling = pause_minority
CONF
  echo '[].' > "$d/enabled_plugins"
  : > "$d/rabbitmq-env.conf"
  [[ $EUID -eq 0 ]] && chown -R rabbitmq:rabbitmq "$d"
  return 0
}

start_node() {  # N: start it unless running; wait until it answers
  local n=$1 d
  d=$(node_dir "$n")
  if pid_of "$n" > /dev/null; then return 0; fi
  for p in "$(amqp_port "$n")" $((PORT + 10 + n - 1)); do
    port_open "$p" && die "port 127.0.0.1:$p (node $n) is in use by another program; set TIANYU_CLUSTER_PORT"
  done
  write_node_config "$n"
  rm -f "$d/rabbitmq.pid"
  (
    # Each node in its own session, no descriptor above 2 inherited (see services.sh).
    for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; ((fd > 2)) && eval "exec $fd>&-"; done
    export RABBITMQ_MNESIA_BASE=$d/mnesia RABBITMQ_LOG_BASE=$d/log RABBITMQ_NODENAME=$(node_name "$n")
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$(amqp_port "$n")
    export RABBITMQ_DIST_PORT=$((PORT + 10 + n - 1)) RABBITMQ_PID_FILE=$d/rabbitmq.pid
    export RABBITMQ_FEATURE_FLAGS_FILE=$d/feature_flags RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins
    export RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf RABBITMQ_CONF_ENV_FILE=$d/rabbitmq-env.conf
    # One scheduler each and no busy-waiting: three nodes share two cores with everything else.
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none"
    exec setsid "${RUNAS[@]}" "$BIN/rabbitmq-server" < /dev/null > "$d/log/stdout.log" 2>&1
  ) &
  wait_started "$n" || {
    tail -20 "$d/log/stdout.log" >&2 || true
    die "node $n ($(node_name "$n")) did not start within 120 s (logs: $d/log)"
  }
  log "node $n started (pid $(pid_of "$n"), 127.0.0.1:$(amqp_port "$n"), $(node_name "$n"))"
}

# `rabbitmqctl wait` sits out its whole timeout when the boot fails: watch the log meanwhile.
wait_started() {  # N
  local d waiter i
  d=$(node_dir "$1")
  ctl "$1" wait "$d/rabbitmq.pid" --timeout 120 > /dev/null 2>&1 &
  waiter=$!
  for ((i = 0; i < 1200; i++)); do
    kill -0 "$waiter" 2>/dev/null || { wait "$waiter"; return; }
    if grep -q 'BOOT FAILED\|Kernel pid terminated' "$d/log/stdout.log" 2>/dev/null; then
      kill "$waiter" 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
  kill "$waiter" 2>/dev/null || true
  return 1
}

running_nodes() {  # N: the running members as node N sees them, one per line
  ctl "$1" cluster_status --formatter json 2>/dev/null | jq -r '.running_nodes[]' 2>/dev/null || true
}
members() { ctl "$1" cluster_status --formatter json 2>/dev/null | jq -r '.disk_nodes[]' 2>/dev/null || true; }

join_node() {  # N: make node N a member of node 1's cluster unless it is one
  local n=$1
  members 1 | grep -qx "$(node_name "$n")" && return 0
  # The CLI logs the cluster's transient "node not running" noise while a node joins: to a file.
  local out
  out=$(node_dir "$n")/log/join.log
  {
    ctl "$n" stop_app
    ctl "$n" reset  # a fresh node only: its data would be lost, so never a member's
    ctl "$n" join_cluster "$(node_name 1)"
    ctl "$n" start_app
  } > "$out" 2>&1 || { cat "$out" >&2; die "node $n could not join $(node_name 1) (log: $out)"; }
  log "node $n joined $(node_name 1)"
}

provision() {  # the account, from the credentials file via stdin (never a command line)
  # shellcheck disable=SC1091
  source "$DIR/credentials"
  local marker
  marker=$(printf '%s' "$BROKER_PASSWORD" | sha1sum | cut -c1-16)
  [[ "$(cat "$DIR/provisioned" 2>/dev/null)" == "$marker" ]] && return 0
  ctl 1 list_users | grep -q '^tianyu[[:space:]]' || printf '%s\n' "$BROKER_PASSWORD" | ctl 1 add_user tianyu > /dev/null
  printf '%s\n' "$BROKER_PASSWORD" | ctl 1 change_password tianyu > /dev/null
  ctl 1 set_permissions -p / tianyu '.*' '.*' '.*' > /dev/null
  ctl 1 delete_user guest > /dev/null 2>&1 || true
  echo "$marker" > "$DIR/provisioned"
}

node_list() {
  local out="" n
  for n in "${NODES[@]}"; do out+="${out:+,}127.0.0.1:$(amqp_port "$n")"; done
  echo "$out"
}

cluster_start() {
  prepare
  local n
  for n in "${NODES[@]}"; do start_node "$n"; done
  for n in 2 3; do join_node "$n"; done
  provision
  local running
  running=$(running_nodes 1 | wc -l)
  ((running == 3)) || die "only $running of 3 nodes run in the cluster (see '$0 status')"
  log "cluster of 3 up: nodes $(node_list), data $DIR"
}

stop_node() {  # N [kill]
  local n=$1 pid
  pid=$(pid_of "$n") || { log "node $n not running"; return 0; }
  if [[ ${2:-} == kill ]]; then
    kill -KILL "$pid"
  else
    ctl "$n" stop "$(node_dir "$n")/rabbitmq.pid" > /dev/null 2>&1 || kill -TERM "$pid"
  fi
  local i
  for ((i = 0; i < 600; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && die "node $n (pid $pid) did not stop within 60 s"
  rm -f "$(node_dir "$n")/rabbitmq.pid"
  log "node $n $([[ ${2:-} == kill ]] && echo killed || echo stopped)"
}

cluster_stop() {
  local n
  for n in 3 2 1; do stop_node "$n"; done
  # The private epmd the nodes started (nothing else registers with it); never the host's.
  as_rabbitmq epmd -port "$EPMD_PORT" -kill > /dev/null 2>&1 || true
}

cluster_status() {
  local n rc=0 running
  for n in "${NODES[@]}"; do
    if pid_of "$n" > /dev/null && port_open "$(amqp_port "$n")"; then
      running=$(running_nodes "$n" | wc -l)
      echo "node $n: up   (pid $(pid_of "$n"), 127.0.0.1:$(amqp_port "$n"), $(node_name "$n"), sees $running running)"
      ((running == 3)) || rc=3
    else
      echo "node $n: down (127.0.0.1:$(amqp_port "$n"), $(node_name "$n"))"
      rc=3
    fi
  done
  return $rc
}

node_arg() { [[ ${1:-} =~ ^[123]$ ]] || die "name a node: 1, 2 or 3 (got '${1:-}')"; echo "$1"; }

# Any node that answers, for the queue listing.
some_node() { local n; for n in "${NODES[@]}"; do pid_of "$n" > /dev/null && { echo "$n"; return; }; done; die "no node runs"; }

exec 9> "$DIR/cluster.lock"
flock 9
case "${1:-}" in
  start) cluster_start ;;
  stop) cluster_stop ;;
  status) cluster_status ;;
  stop-node) stop_node "$(node_arg "${2:-}")" ;;
  kill-node) stop_node "$(node_arg "${2:-}")" kill ;;
  start-node) prepare; start_node "$(node_arg "${2:-}")" ;;
  rebalance)
    as_rabbitmq "$BIN/rabbitmq-queues" -n "$(node_name "$(some_node)")" -q rebalance quorum --formatter json > /dev/null
    log "quorum queue leaders spread over the running nodes"
    ;;
  queues) ctl "$(some_node)" list_queues name type leader members online --formatter json ;;
  env)
    [[ -s $DIR/credentials ]] || die "no $DIR/credentials yet: run '$0 start' first"
    # shellcheck disable=SC1091
    source "$DIR/credentials"
    printf "export TIANYU_BROKER_NODES=%s\nexport TIANYU_BROKER_USER=tianyu\nexport TIANYU_BROKER_PASSWORD='%s'\nexport TIANYU_BROKER_DEAD_LETTER_QUEUE_TYPE=quorum\n" \
      "$(node_list)" "$BROKER_PASSWORD"
    ;;
  *) echo "usage: $0 start|stop|status|stop-node N|kill-node N|start-node N|queues|rebalance|env" >&2; exit 2 ;;
esac
