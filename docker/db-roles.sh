#!/usr/bin/env bash
# Prints the SQL that creates (or re-keys) the per-role database accounts and grants them what
# config/db-grants.txt says, for the tables that exist. Shared by scripts/services.sh (local
# services) and docker/entrypoint.sh (`migrate`). Idempotent. Passwords are read from the
# environment and written only to stdout (pipe it into the client; never onto a command line):
#   TIANYU_PUBLISHER_DB_PASSWORD, TIANYU_MANAGER_DB_PASSWORD, TIANYU_CONSUMER_DB_PASSWORD,
#   TIANYU_READER_DB_PASSWORD       (a role whose password is unset is skipped)
#   TIANYU_DB_NAME (default tianyu), TIANYU_DB_ROLE_HOSTS (default "127.0.0.1 localhost";
#   compose: "%"), TIANYU_DB_ROLE_PREFIX (default tianyu_: accounts tianyu_publisher, ...)
#
#   docker/db-roles.sh GRANTS_FILE [EXISTING_TABLE...]
set -euo pipefail
grants=${1:?usage: db-roles.sh GRANTS_FILE [EXISTING_TABLE...]}
shift
declare -A exists=()
for t in "$@"; do exists[$t]=1; done
db=${TIANYU_DB_NAME:-tianyu}
prefix=${TIANYU_DB_ROLE_PREFIX:-tianyu_}
read -r -a hosts <<< "${TIANYU_DB_ROLE_HOSTS:-127.0.0.1 localhost}"
[[ $db =~ ^[A-Za-z0-9_]+$ ]] || { echo "db-roles: TIANYU_DB_NAME '$db' is not a plain name" >&2; exit 2; }

sql_string() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }

declare -A password=()
for role in publisher manager consumer reader; do
  var="TIANYU_${role^^}_DB_PASSWORD"
  [[ -n ${!var:-} ]] && password[$role]=${!var}
done
for role in "${!password[@]}"; do
  for host in "${hosts[@]}"; do
    account="'$prefix$role'@$(sql_string "$host")"
    echo "CREATE USER IF NOT EXISTS $account IDENTIFIED BY $(sql_string "${password[$role]}");"
    echo "ALTER USER $account IDENTIFIED BY $(sql_string "${password[$role]}");"
  done
done
while read -r role table privileges _; do
  [[ -z $role || $role == \#* ]] && continue
  [[ -n ${password[$role]:-} ]] || continue
  [[ $privileges =~ ^[A-Z,]+$ && ($table == '*' || $table =~ ^[a-z0-9_]+$) ]] \
    || { echo "db-roles: $grants: bad line '$role $table $privileges'" >&2; exit 2; }
  if [[ $table == '*' ]]; then
    target="\`$db\`.*"
  else
    [[ -n ${exists[$table]:-} ]] || continue
    target="\`$db\`.\`$table\`"
  fi
  for host in "${hosts[@]}"; do
    echo "GRANT ${privileges//,/, } ON $target TO '$prefix$role'@$(sql_string "$host");"
  done
done < "$grants"
