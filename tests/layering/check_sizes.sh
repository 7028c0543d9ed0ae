#!/usr/bin/env bash
# House limits on src/: no function over MAX_FUNCTION lines (default 60, body included), no file
# over MAX_FILE lines (default 500). Functions are found by universal-ctags (end lines).
#   check_sizes.sh ROOT [--report]   --report lists every function over the limit and exits 0
set -euo pipefail
root=$1
max_function=${MAX_FUNCTION:-60}
max_file=${MAX_FILE:-500}
report=${2:-}
cd "$root"
long_functions=$(ctags -R --languages=C++ --kinds-C++=f --fields=+ne -x --_xformat='%{end} %{line} %{input}:%{line} %{name}' src \
  | awk -v max="$max_function" '$1 != "" && $1 - $2 + 1 > max { printf "%5d  %s %s\n", $1 - $2 + 1, $3, $4 }' | sort -rn)
long_files=$(find src -name '*.cpp' -o -name '*.h' | xargs wc -l | awk -v max="$max_file" '$2 != "total" && $1 > max { printf "%5d  %s\n", $1, $2 }' | sort -rn)
if [[ $report == --report ]]; then
  echo "functions over $max_function lines:"; echo "${long_functions:-  none}"
  echo "files over $max_file lines:"; echo "${long_files:-  none}"
  exit 0
fi
status=0
if [[ -n $long_functions ]]; then echo "functions over $max_function lines:"; echo "$long_functions"; status=1; fi
if [[ -n $long_files ]]; then echo "files over $max_file lines:"; echo "$long_files"; status=1; fi
[[ $status -eq 0 ]] && echo "src/: every function <= $max_function lines, every file <= $max_file lines"
exit $status
