#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs to run the tests, in order: packages, configure and
# build (Release, into build/), local MariaDB + RabbitMQ, migrations, then the whole ctest
# suite against the real servers. Idempotent; exits non-zero on any failure. The services are
# left running for the next run (scripts/services.sh stop stops them).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
started=$(date +%s)
step() { printf '\n== %s (%ds)\n' "$*" $(($(date +%s) - started)); }

step "dependencies, configure and build"
bash scripts/build.sh

step "local services"
bash scripts/services.sh start
# shellcheck disable=SC1091
source run/env.sh
export TIANYU_REQUIRE_LIVE=1  # integration tests fail, not skip, without the services

step "migrations"
build/bin/tianyu-publish db migrate

step "tests"
ctest --test-dir build --output-on-failure --parallel "$(nproc)" --timeout 900

step "done"
