#!/usr/bin/env bash
# Builds and runs the dispatch benchmark against the local services (started if needed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build --parallel "$(nproc)" --target dispatch_bench
bash scripts/services.sh start > /dev/null
# shellcheck disable=SC1091
source run/env.sh
build/bin/dispatch_bench
