#!/usr/bin/env bash
# Accounts and transport of the local services (scripts/services.sh), on an instance of its own
# (own run directory and ports, TLS on) so the shared one is not disturbed; stopped at the end.
#   - MariaDB refuses root without a password over TCP (the client and our db client);
#   - no listener of the instance (mariadbd, beam, its epmd) on a non-loopback address;
#   - no secret on the command line of any of its processes;
#   - TLS to both with the right CA works, with a wrong CA is refused (our clients:
#     security_transport_test); the reader account reads and cannot write.
# Prints PASS/FAIL lines; exits non-zero on a failure, 77 when it cannot run (not root).
#   tests/security/security_test.sh ROOT TRANSPORT_TEST_BINARY
set -euo pipefail
ROOT=$1
TRANSPORT_TEST=$2
[[ $EUID -eq 0 ]] || { echo "SKIP: services.sh starts RabbitMQ as root"; exit 77; }
command -v ss > /dev/null || { echo "FAIL: ss (iproute2) is not installed"; exit 1; }
run=$(mktemp -d /tmp/tianyu-security.XXXXXX)
export TIANYU_RUN_DIR=$run TIANYU_TLS=1
export TIANYU_DB_PORT=${TIANYU_SECURITY_DB_PORT:-33261} TIANYU_BROKER_PORT=${TIANYU_SECURITY_BROKER_PORT:-56920}
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cleanup() {
  bash "$ROOT/scripts/services.sh" stop > /dev/null 2>&1 || echo "FAIL: the test's services did not stop"
  rm -rf "$run" "/var/lib/tianyu-services/$(printf '%s' "$run" | sha1sum | cut -c1-8)"
  [[ -d /var/lib/tianyu-services ]] && rmdir /var/lib/tianyu-services 2>/dev/null || true
}
trap cleanup EXIT

start=$(date +%s)
bash "$ROOT/scripts/services.sh" start > "$run/start.log" 2>&1 || { cat "$run/start.log"; echo "FAIL: services.sh start"; exit 1; }
echo "started the test's MariaDB and RabbitMQ (TLS) in $(( $(date +%s) - start )) s"
# The data lives in run/ or, when the service users cannot reach it, under /var/lib.
state="/var/lib/tianyu-services/$(printf '%s' "$run" | sha1sum | cut -c1-8)"
db_pid=$(cat "$run/mariadb/mariadb.pid" "$state/mariadb/mariadb.pid" 2>/dev/null | tr -dc "0-9\n" | head -1 || true)
rmq_pid=$(cat "$run/rabbitmq/rabbitmq.pid" "$state/rabbitmq/rabbitmq.pid" 2>/dev/null | tr -dc "0-9\n" | head -1 || true)
[[ -n $db_pid && -n $rmq_pid ]] || { echo "FAIL: no pid file of the test's mariadb or rabbitmq"; exit 1; }
epmd_port=$(( TIANYU_BROKER_PORT + 2 ))

# Root without a password over TCP, with the stock client.
if out=$(mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$TIANYU_DB_PORT" -u root -e 'SELECT 1' 2>&1); then
  fail "root logged in over TCP without a password"
else
  [[ $out == *"Access denied for user 'root'"* ]] && pass "root without a password over TCP: $out" || fail "unexpected error: $out"
fi
[[ $(ps -o user= -p "$db_pid") == mysql ]] && pass "mariadbd runs as OS user mysql" || fail "mariadbd runs as $(ps -o user= -p "$db_pid")"
[[ $(stat -c '%a' "$run/credentials") == 600 ]] && pass "run/credentials is mode 600" || fail "run/credentials mode $(stat -c '%a' "$run/credentials")"

# Listeners: every socket of the instance's processes is on 127.0.0.1 or ::1.
epmd_pid=$(ss -ltnpH "sport = :$epmd_port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
[[ -n $epmd_pid ]] && pass "the broker has a private epmd on port $epmd_port" || fail "no epmd on port $epmd_port"
listeners=$(ss -ltnpH | grep -E "pid=($db_pid|$rmq_pid|${epmd_pid:-0})," || true)
echo "$listeners" | awk '{print "  listener:", $4, $6}'
count=$(grep -c . <<< "$listeners" || true)
bad=$(awk '$4 !~ /^(127\.0\.0\.1|\[::1\]):/' <<< "$listeners")
[[ $count -ge 5 && -z $bad ]] && pass "$count listeners of mariadbd, beam and epmd, all on loopback" \
  || fail "listeners not on loopback (or fewer than 5: db, amqp, amqps, dist, epmd): $bad"

# No secret of run/credentials on any process's command line (the daemons and their children).
leaked=0
while IFS='=' read -r _ secret; do
  [[ -n $secret ]] || continue
  grep -lsF -- "$secret" /proc/[0-9]*/cmdline > "$run/leak" 2>/dev/null && leaked=1
done < "$run/credentials"
[[ $leaked == 0 ]] && pass "no secret on a command line" || fail "a secret is on the command line of $(cat "$run/leak")"

# The reader account: a probe table made by the owner, granted by `services.sh grant`.
# shellcheck disable=SC1091
source "$run/env.sh"
printf '[client]\nuser=tianyu\npassword=%s\n' "$TIANYU_DB_PASSWORD" > "$run/owner.cnf"
mariadb --defaults-file="$run/owner.cnf" --protocol=tcp -h 127.0.0.1 -P "$TIANYU_DB_PORT" tianyu \
  -e 'CREATE TABLE IF NOT EXISTS security_probe (n INT); INSERT INTO security_probe VALUES (1)'
bash "$ROOT/scripts/services.sh" grant > /dev/null
# shellcheck disable=SC1091
source "$run/env-tls.sh"
reader_password=$(grep '^DB_READER_PASSWORD=' "$run/credentials" | cut -d= -f2)
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=not the tianyu CA" \
  -keyout "$run/wrong-ca.key" -out "$run/wrong-ca.pem" > /dev/null 2>&1
if TIANYU_SECURITY_WRONG_CA=$run/wrong-ca.pem TIANYU_SECURITY_READER_PASSWORD=$reader_password \
     "$TRANSPORT_TEST" > "$run/transport.log" 2>&1; then
  grep -E '^\[       OK \]' "$run/transport.log" | sed 's/^\[       OK \] /PASS: /'
else
  cat "$run/transport.log"
  fail "security_transport_test"
fi
echo "security test took $(( $(date +%s) - start )) s"
exit $(( failures > 0 ))
