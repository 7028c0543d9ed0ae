#!/usr/bin/env bash
# Packages, configure and build (Release, into build/; executables in build/bin/). Idempotent:
# a second run installs nothing and rebuilds only what changed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup-deps.sh
mkdir -p build
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > build/configure.log 2>&1 \
  || { cat build/configure.log; exit 1; }
cmake --build build --parallel "$(nproc)"
