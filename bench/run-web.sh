#!/usr/bin/env bash
# Builds and runs the tianyu-web benchmark against the local services (started if needed):
# pages and JSON per second on loopback, and a small night's consumer throughput with and
# without 200 concurrent page requests (bounded: two 40-frame nights, about 2-4 minutes).
# BUILD_DIR=build-x picks another build tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" --parallel "$(nproc)" --target web_bench
bash scripts/services.sh start > /dev/null
# shellcheck disable=SC1091
source run/env.sh
"$build/bin/web_bench"
