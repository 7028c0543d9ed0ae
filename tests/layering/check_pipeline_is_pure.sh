#!/usr/bin/env bash
# src/pipeline is pure computation: it must not include the database or broker clients, the
# configuration, or anything else from src/common, nor link their libraries.
set -euo pipefail
root=$1
bad=$(grep -rnE '#include[[:space:]]*[<"](common/|cppconn/|mysql|amqp|CLI/)' "$root/src/pipeline" || true)
if [[ -n $bad ]]; then
  echo "src/pipeline includes service or configuration headers:"
  echo "$bad"
  exit 1
fi
bad=$(grep -nE 'tianyu_common|mysqlcppconn|rabbitmq|CLI11' "$root/src/pipeline/CMakeLists.txt" || true)
if [[ -n $bad ]]; then
  echo "src/pipeline/CMakeLists.txt links service libraries:"
  echo "$bad"
  exit 1
fi
n=$(find "$root/src/pipeline" -name '*.cpp' -o -name '*.h' | wc -l)
echo "src/pipeline: $n files, no service includes or links"
