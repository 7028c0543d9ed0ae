#!/usr/bin/env bash
# Portability rule: only the platform layer (src/common/platform.cpp) calls the operating system
# directly; everything else in src/ uses the standard library, so it compiles on Windows. Fails
# naming each POSIX-only include or call found elsewhere.
set -euo pipefail
ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
pattern='#include <(unistd|pwd|grp|dlfcn|poll|netdb|signal)\.h>|#include <sys/|#include <csignal>|\b(getpid|popen|pclose|fork|execv[pe]?|pthread_[a-z_]+|sigaction|gethostname|usleep)\s*\('
found=$(grep -rnE "$pattern" "$ROOT/src" --include='*.cpp' --include='*.h' \
  | grep -v "^$ROOT/src/common/platform\." \
  | grep -vE '^[^:]+:[0-9]+:\s*//' \
  | grep -v '#ifndef _WIN32' || true)
# An include guarded by "#ifndef _WIN32" on the line before is portable.
bad=""
while IFS= read -r hit; do
  [[ -z "$hit" ]] && continue
  file=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}
  prev=$(sed -n "$((line - 1))p" "$file")
  [[ "$prev" == "#ifndef _WIN32" ]] && continue
  bad+="$hit"$'\n'
done <<< "$found"
if [[ -n "$bad" ]]; then
  echo "FAIL: POSIX-only code outside src/common/platform.cpp (move it behind common/platform.h):"
  printf '%s' "$bad"
  exit 1
fi
echo "PASS: only src/common/platform.cpp calls the operating system directly"
