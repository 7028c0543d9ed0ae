#!/usr/bin/env bash
# Run once by the mariadb image when it initialises an empty data volume (mounted at
# /docker-entrypoint-initdb.d): the owner account (MARIADB_USER, which runs the migrations) may
# also create the per-role accounts and grant them table privileges on its database, so the
# `migrate` service can set them up without the root password. docker_process_sql is the
# image's helper (it passes root's password through an option file).
set -euo pipefail
docker_process_sql --database=mysql <<SQL
GRANT CREATE USER ON *.* TO '${MARIADB_USER}'@'%';
GRANT ALL PRIVILEGES ON \`${MARIADB_DATABASE}\`.* TO '${MARIADB_USER}'@'%' WITH GRANT OPTION;
SQL
