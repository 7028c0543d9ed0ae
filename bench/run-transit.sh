#!/usr/bin/env bash
# Transit-search speed (bench/transit_bench.cpp): the celerite solver against N and against a
# dense Cholesky, and the GP linear + periodic search on a 20,000-point light curve with 10
# durations and 20,000 periods on 1 and 2 threads. Prints one JSON object.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/build.sh" > /dev/null
"$root/build/bin/transit_bench"
