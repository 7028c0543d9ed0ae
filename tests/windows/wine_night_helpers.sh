# Sourced by wine_night_test.sh after wine_helpers.sh: one night run into a scratch database,
# and the comparison of two runs' product files and science rows. Uses BIN EXE WINE work.

# The operator's WCS of the simulated night as text cards: the simulator's pointing (RA 108,
# Dec 46) at its 0.6"/px, north up, east left, on the centre of the 192x192 frame.
night_wcs() {
  printf '%s\n' "CTYPE1  = 'RA---TAN'" "CTYPE2  = 'DEC--TAN'" "CRVAL1  = 108.0" "CRVAL2  = 46.0" \
    "CRPIX1  = 96.5" "CRPIX2  = 96.5" "CD1_1   = -1.6666666666667E-04" "CD1_2   = 0.0" \
    "CD2_1   = 0.0" "CD2_2   = 1.6666666666667E-04" "END"
}

# run_night LABEL DATABASE SITE linux|windows...: the raw frames copied under $work/LABEL (the
# site root), ingested and the pipeline published; the consumers named (Windows first, so that
# it is serving before any step is dispatched), then the manager; waits until every step ended.
run_night() {
  local label=$1 consumer report
  db=$2 site=$3
  shift 3
  export TIANYU_DB_NAME=$db TIANYU_SITE=$site
  local root="$work/$label"
  mkdir -p "$root/night" "$root/wcs"
  cp -r "$work/night/raw" "$work/night/calib" "$root/night/"
  cp "$work/field.wcs" "$root/wcs/field.wcs"
  "$BIN/tianyu-publish" db migrate > "$work/migrate-$label.log" 2>&1 || fail "migrating $db failed"
  "$BIN/tianyu-publish" site add "$site" --root "$root" > /dev/null
  "$BIN/tianyu-publish" group add --site "$site" general > /dev/null
  report=$("$BIN/tianyu-publish" ingest "$root/night" --site "$site" --target SIM-FIELD-1 --ra 108 --dec 46 --json)
  observation=$(sed -E 's/.*"observation_id":([0-9]+).*/\1/' <<< "$report")
  [[ "$observation" =~ ^[0-9]+$ ]] || fail "run $label: ingest printed no observation: $report"
  "$BIN/tianyu-publish" pipeline --observation "$observation" --fan-out 4 \
    --astrometry '{"operator_wcs": "wcs/field.wcs"}' > "$work/publish-$label.log" 2>&1 \
    || fail "run $label: publishing the pipeline failed: $(cat "$work/publish-$label.log")"
  for consumer in "$@"; do
    if [[ "$consumer" == windows ]]; then
      start_windows "windows-$label" "$(windows_path "$root")"
      wait_for_log "windows-$label" "serving" 120 || fail "run $label: the Windows consumer did not start under Wine"
    else
      start_linux "linux-$label" "$BIN/tianyu-consumer"
      wait_for_log "linux-$label" "serving" 30 || fail "run $label: the Linux consumer did not start"
    fi
  done
  start_linux "manager-$label" "$BIN/tianyu-manager"
  wait_for_night "$label" 300
  for consumer in "$@"; do stop_daemon "$consumer-$label"; done
  stop_daemon "manager-$label"
}

wait_for_night() {  # wait_for_night LABEL SECONDS: every step succeeded (FAIL at the first failure)
  local i row total ok bad
  for ((i = 0; i < $2; i++)); do
    row=$(sql "SELECT COUNT(*), COALESCE(SUM(state = 'success'), 0), COALESCE(SUM(state IN ('failed', 'cancelled')), 0) FROM process")
    read -r total ok bad <<< "$row"
    if [[ "$bad" != 0 ]]; then
      fail "run $1: $bad steps failed or were cancelled: $(sql "SELECT process_id, command, state, LEFT(error, 300) FROM process WHERE state IN ('failed', 'cancelled')")"
    fi
    if [[ "$total" -gt 0 && "$ok" == "$total" ]]; then
      steps_run=$total
      echo "PASS: run $1: all $total steps of the night succeeded ($(sql "SELECT GROUP_CONCAT(CONCAT(n, ' ', command) SEPARATOR ', ') FROM (SELECT command, COUNT(*) n FROM process GROUP BY command) c"))"
      return 0
    fi
    sleep 1
  done
  fail "run $1: the night did not finish in $2 s ($ok of $total steps succeeded)"
}

# The Windows consumer of run LABEL ran a real share of the night: at least 3 steps of at least
# 2 kinds (the database's last_consumer against the id its log gives itself).
windows_share() {  # windows_share LABEL
  local id rows steps kinds
  id=$(grep -ao 'consumer [^ ]* serving' "$work/windows-$1.log" | head -1 | cut -d' ' -f2)
  [[ -n "$id" ]] || fail "the Windows consumer's log does not name its consumer id"
  rows=$(sql "SELECT COUNT(*), COUNT(DISTINCT command), GROUP_CONCAT(DISTINCT command ORDER BY command) FROM process WHERE state = 'success' AND last_consumer = '$id'")
  read -r steps kinds names <<< "$rows"
  [[ "$steps" -ge 3 && "$kinds" -ge 2 ]] || fail "the Windows consumer $id ran $steps steps of $kinds kinds ($names); want >= 3 of >= 2"
  windows_steps=$steps
  echo "PASS: the Windows consumer $id ran $steps of the $steps_run steps, $kinds kinds ($names)"
}

# The product files of a site root (all but the raw frames and the WCS given), one line each:
# the name with its process and attempt left out (x.p<process>a<attempt>.fits -> x.fits: they
# differ between any two runs), then the real relative path.
product_files() {  # product_files ROOT
  local f
  (cd "$1" && find . -type f ! -path './night/*' ! -path './wcs/*') | while read -r f; do
    printf '%s %s\n' "$(sed -E 's/[.]p[0-9]+a[0-9]+[.]/./' <<< "$f")" "$f"
  done | LC_ALL=C sort
}

product_kinds() {  # the names on stdin counted by kind: "3 masters, 90 calibrated, ..."
  cut -d' ' -f1 | sed -E 's|^[.]/products/obs[0-9]+/||; s|/.*||; s|[0-9]*[.].*||' | LC_ALL=C sort | uniq -c \
    | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }'
}

# Every product file of the two runs: the same names, each pair byte-identical (headers and
# pixels: no card carries a date, a host or a path, so nothing is left out).
compare_products() {  # compare_products ROOT_A ROOT_B
  local list_a list_b name a b differ=0
  list_a=$(product_files "$1")
  list_b=$(product_files "$2")
  [[ -n "$list_a" ]] || fail "the Linux-only run wrote no product file"
  [[ "$(cut -d' ' -f1 <<< "$list_a")" == "$(cut -d' ' -f1 <<< "$list_b")" ]] \
    || fail "the runs wrote different files: $(diff <(cut -d' ' -f1 <<< "$list_a") <(cut -d' ' -f1 <<< "$list_b") | head -20 | tr '\n' ' ')"
  while read -r name a _ b; do
    cmp -s "$1/$a" "$2/$b" || { echo "differs: $name ($(cmp "$1/$a" "$2/$b" 2>&1 | head -1))"; differ=$((differ + 1)); }
  done < <(paste -d' ' <(echo "$list_a") <(echo "$list_b"))
  product_files=$(wc -l <<< "$list_a")
  [[ "$differ" == 0 ]] || fail "$differ of $product_files product files differ between the Linux-only and the shared run"
  echo "PASS: all $product_files product files byte-identical ($(du -sb --exclude=night --exclude=wcs "$2" | cut -f1) bytes: $(product_kinds <<< "$list_a"))"
}

# The run's bookkeeping, not its science: processes, dispatch, daemons, the site's name and
# root (each run has its own), the migrations.
not_science_tables="'site','process_group','process','process_dependency','dispatch_log','touch_effect',\
'dead_letter_overflow','daemon_heartbeat','schema_migration','observation_process'"
# Columns that name a process or a moment, or time a step: different in any two runs.
not_science_columns='^(process_id|search_process_id|solve_seconds|created_at|published_at)$'

science_columns() {  # science_columns DATABASE TABLE: its compared columns as a select list
  local col list=""
  for col in $(sql "SELECT column_name FROM information_schema.columns WHERE table_schema = '$1' AND table_name = '$2' ORDER BY ordinal_position"); do
    [[ "$col" =~ $not_science_columns ]] && continue
    # A product's file name carries its process and attempt (x.p<process>a<attempt>.fits).
    if [[ "$col" == *path ]]; then
      list+="${list:+, }REGEXP_REPLACE(\`$col\`, '[.]p[0-9]+a[0-9]+[.]', '.')"
    else
      list+="${list:+, }\`$col\`"
    fi
  done
  printf '%s' "$list"
}

# A row's identity in each view (the tables have their primary keys).
declare -A view_keys=([light_curve]=observation_id,source_id,frame_id [field_light_curve]=observation_id,source_id,frame_id
                      [rejected_frame]=frame_id [frame_calibration]=frame_id)

# Doubles may differ in their last bits: MinGW-w64's libm (sin, cos, asin, atan2, hypot, exp,
# log, pow, ...) is not glibc's: the two round a few results in a thousand differently (see
# wine_night_test.sh for where the night meets them). A table that is not identical is
# compared row by row on its key: every column but the doubles exactly (decisions, flags,
# counts, ids, names), each double within 1e-12 of its own size plus the column's mean size
# (a thousand times the largest difference seen, far below any measurement's error). Prints a
# NOTE per double column that differed, with how many values and the largest difference.
# No column is looser: transit_candidate.ln_bayes_factor comes out bit-identical with
# transit_search on the Windows consumer (a ~5e-5 shift seen once came from a Linux and a
# Windows binary built from different versions of pipeline/transit/single_transit.cpp).

compare_within_rounding() {  # compare_within_rounding DATABASE_A DATABASE_B TABLE ROWS
  local keys col type cond="" scale stats joined bad n max
  keys=${view_keys[$3]:-$(sql "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index) FROM information_schema.statistics WHERE table_schema = '$1' AND table_name = '$3' AND index_name = 'PRIMARY'")}
  [[ -n "$keys" && ! ",$keys," =~ ,(process_id|search_process_id), ]] || return 1
  local -a doubles=()
  while read -r col type; do
    [[ "$col" =~ $not_science_columns || ",$keys," == *",$col,"* ]] && continue
    if [[ "$type" == double ]]; then
      scale=$(sql "SELECT COALESCE(AVG(ABS(\`$col\`)), 0) FROM \`$1\`.\`$3\`")
      cond+=" AND (a.\`$col\` <=> b.\`$col\` OR ABS(a.\`$col\` - b.\`$col\`) <= 1e-12 * (ABS(a.\`$col\`) + ABS(b.\`$col\`) + $scale))"
      doubles+=("$col:$scale")
    elif [[ "$col" == *path ]]; then
      cond+=" AND REGEXP_REPLACE(a.\`$col\`, '[.]p[0-9]+a[0-9]+[.]', '.') <=> REGEXP_REPLACE(b.\`$col\`, '[.]p[0-9]+a[0-9]+[.]', '.')"
    else
      cond+=" AND a.\`$col\` <=> b.\`$col\`"
    fi
  done < <(sql "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '$1' AND table_name = '$3'")
  joined=$(sql "SELECT COUNT(*) FROM \`$1\`.\`$3\` a JOIN \`$2\`.\`$3\` b USING ($keys)")
  bad=$(sql "SELECT COUNT(*) FROM \`$1\`.\`$3\` a JOIN \`$2\`.\`$3\` b USING ($keys) WHERE NOT (TRUE$cond)")
  [[ "$joined" == "$4" && "$bad" == 0 ]] || return 1
  for col in "${doubles[@]}"; do
    stats=$(sql "SELECT SUM(NOT a.\`${col%%:*}\` <=> b.\`${col%%:*}\`), MAX(ABS(a.\`${col%%:*}\` - b.\`${col%%:*}\`)) / NULLIF(${col#*:}, 0) FROM \`$1\`.\`$3\` a JOIN \`$2\`.\`$3\` b USING ($keys)")
    read -r n max <<< "$stats"
    [[ "$n" == 0 ]] || echo "NOTE: $3.${col%%:*}: $n of $4 values differ in their last bits (largest difference $max of the column's mean size)"
  done
}

# Every table and view of the science across the two databases: the same number of rows, and
# no row of one missing from the other (EXCEPT ALL compares doubles bit for bit); a table that
# is not identical must agree within rounding (compare_within_rounding).
compare_rows() {  # compare_rows DATABASE_A DATABASE_B
  local t cols n_a n_b only_a only_b rows=0 tables=0 summary="" empty="" rounded=""
  for t in $(sql "SELECT table_name FROM information_schema.tables WHERE table_schema = '$1' AND table_name NOT IN ($not_science_tables) ORDER BY table_name"); do
    cols=$(science_columns "$1" "$t")
    n_a=$(sql "SELECT COUNT(*) FROM \`$1\`.\`$t\`")
    n_b=$(sql "SELECT COUNT(*) FROM \`$2\`.\`$t\`")
    only_a=$(sql "SELECT COUNT(*) FROM (SELECT $cols FROM \`$1\`.\`$t\` EXCEPT ALL SELECT $cols FROM \`$2\`.\`$t\`) d")
    only_b=$(sql "SELECT COUNT(*) FROM (SELECT $cols FROM \`$2\`.\`$t\` EXCEPT ALL SELECT $cols FROM \`$1\`.\`$t\`) d")
    [[ "$n_a" == "$n_b" ]] || fail "table $t has $n_a rows in the Linux-only run, $n_b in the shared one"
    if [[ "$only_a" != 0 || "$only_b" != 0 ]]; then
      [[ "${TIANYU_WINE_NIGHT_BITWISE:-}" != 1 ]] && compare_within_rounding "$1" "$2" "$t" "$n_a" \
        || fail "table $t differs: of $n_a rows, $only_a only in the Linux-only run, $only_b only in the shared one"
      rounded+="${rounded:+, }$t"
    fi
    rows=$((rows + n_a)); tables=$((tables + 1))
    if [[ "$n_a" == 0 ]]; then empty+="${empty:+ }$t"; else summary+="${summary:+, }$t $n_a"; fi
  done
  for t in image_product frame_quality source aperture raw_flux relative_flux source_photometry light_curve \
           observation_wcs field_source; do
    [[ " $empty " != *" $t "* ]] || fail "table $t is empty in both runs: nothing of it was compared"
  done
  rows_compared=$rows
  echo "PASS: $rows rows of $tables science tables and views equal (ids of processes, times and durations left out; ${rounded:-none} equal within rounding, the rest bit for bit): $summary"
  echo "      (empty in both: $empty)"
}

# Without the operator's WCS, solve_field runs solve-field, which a Windows consumer cannot
# (no external programs under a time limit there): the step is handed back to the queue, its
# attempt not spent, until a Linux consumer of the group takes it; never failed for good, never
# a silently different night. Published with a budget of one attempt, so a hand-back that spent
# it would fail the step at once; solve-field held to 2 s of CPU, so the synthetic field (solved
# or not) ends quickly on Linux.
windows_hands_back_solve_field() {  # windows_hands_back_solve_field LABEL
  local id row state attempt floor error linux_id consumer
  start_windows "windows-$1-solve" "$(windows_path "$work/$1")"
  wait_for_log "windows-$1-solve" "serving" 120 || fail "the Windows consumer did not start again under Wine"
  # Back-off after the n-th hand-back is 1 s * 2^(n-1): capped at 2 s so a step that meets the
  # Windows consumer a few times before the Linux one costs the test seconds, not minutes.
  TIANYU_MANAGER_RETRY_MAX_MS=2000 start_linux "manager-$1-solve" "$BIN/tianyu-manager"
  id=$("$BIN/tianyu-publish" process solve_field --site "$site" --group general --max-attempts 1 \
    --params "{\"observation_id\": $observation, \"options\": {\"time_limit_s\": 2}}")
  [[ "$id" =~ ^[0-9]+$ ]] || fail "publishing solve_field printed no process id: $id"
  # Two hand-backs by the Windows consumer alone, the second at attempt 2, past the budget of 1;
  # read while it waits out its back-off (2 s) for the next dispatch.
  wait_for_process "$id" "(attempt_floor >= 2 AND state = 'retry_wait') OR state IN ('failed', 'cancelled', 'success')" 60 \
    || fail "process $id: the Windows consumer did not hand solve_field back twice in 60 s"
  read -r state attempt floor error <<< "$(sql "SELECT state, attempt, attempt_floor, error FROM process WHERE process_id = $id")"
  [[ "$state" == retry_wait && "$attempt" == "$floor" \
     && "$error" == *"solve-field"*"cannot run on this Windows consumer"*"handed back for a Linux consumer"* ]] \
    || fail "process $id on the Windows consumer alone: state '$state', attempt $attempt ($floor not counted), error '$error'; want it waiting for another consumer, no attempt spent, saying why"
  echo "PASS: solve_field (process $id, 1 attempt allowed) handed back $floor times by the Windows consumer alone: state $state, attempt $attempt, none spent, saying: $error"
  start_linux "linux-$1-solve" "$BIN/tianyu-consumer"
  wait_for_log "linux-$1-solve" "serving" 30 || fail "the Linux consumer did not start"
  linux_id=$(grep -ao 'consumer [^ ]* serving' "$work/linux-$1-solve.log" | head -1 | cut -d' ' -f2)
  wait_for_process "$id" "state IN ('failed', 'cancelled', 'success')" 60 \
    || fail "process $id: solve_field did not end in 60 s with a Linux consumer serving"
  read -r state attempt floor consumer <<< "$(sql "SELECT state, attempt, attempt_floor, last_consumer FROM process WHERE process_id = $id")"
  row=$(sql "SELECT method, LEFT(COALESCE(reason, ''), 120) FROM observation_wcs WHERE observation_id = $observation")
  [[ "$state" == success && "$consumer" == "$linux_id" && "$((attempt - floor))" == 1 ]] \
    || fail "process $id: '$state' on attempt $attempt ($floor not counted) by consumer $consumer; want success on the Linux consumer $linux_id, one attempt counted"
  [[ "$row" == solve-field* || "$row" == *"solve-field found no solution"* ]] \
    || fail "process $id: the observation's WCS does not come from solve-field: $row"
  echo "PASS: the Linux consumer $linux_id then ran it: success on attempt $attempt (the $floor before handed back, uncounted), WCS: $(tr '\t' ' ' <<< "$row")"
  stop_daemon "linux-$1-solve"
  stop_daemon "windows-$1-solve"
  stop_daemon "manager-$1-solve"
}

wait_for_process() {  # wait_for_process ID CONDITION SECONDS: until the process row meets CONDITION
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    [[ "$(sql "SELECT COUNT(*) FROM process WHERE process_id = $1 AND ($2)")" == 1 ]] && return 0
    sleep 0.1
  done
  return 1
}
