#!/usr/bin/env bash
# Healthy once the server answers on TCP: the first start's initialisation listens on no
# network, so an answer also means the accounts exist. (The official image's healthcheck.sh
# arguments, e.g. --connect --innodb_initialized, are accepted and mean the same here.)
exec mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 --connect-timeout=3 ping > /dev/null
