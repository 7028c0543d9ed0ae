#!/usr/bin/env bash
# One Tianyu site in containers (docker/docker-compose.yml), with podman or docker, no registry.
#
#   scripts/site.sh up      [options]   build the images (cached), start the site, wait for it
#   scripts/site.sh down    [options]   stop and remove its containers and network (--purge: and
#                                       its database and broker volumes); images stay cached
#   scripts/site.sh status  [options]   its containers
#   scripts/site.sh build   [options]   only the images
#   scripts/site.sh publish [options] -- ARGS...   tianyu-publish ARGS in a one-off container
#   scripts/site.sh sql     [options] [-- SQL]     SQL (or stdin) in the database container
#   scripts/site.sh probe               can containers run here? (exit 77 naming why if not)
# options: --env FILE     the site's settings (default docker/.env; if missing it is written
#                         with fresh secrets, free loopback ports and mode 0600)
#          --project NAME the compose project (default tianyu-SITE)
#          --prebuilt DIR the image copies DIR's tianyu-* executables (a Debian 12 host build)
#                         instead of compiling the project (the Dockerfile's `runtime` target)
#          --purge        (down) also remove the database and broker volumes
# Podman specifics live here, not in the compose file: a containers.conf selecting runc when the
# default runtime cannot start a container (run/site/containers.conf, through CONTAINERS_CONF),
# the network podman-compose 1.0.3 leaves behind, and its reading of docker/.env.
# TIANYU_CONTAINER_ENGINE=podman|docker chooses the engine (default: podman if installed).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPOSE_FILE=$ROOT/docker/docker-compose.yml
STATE=$ROOT/run/site
SKIP=77

log() { printf 'site: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
skip() { log "SKIP: $*"; exit "$SKIP"; }

choose_engine() {
  engine=${TIANYU_CONTAINER_ENGINE:-$(command -v podman > /dev/null && echo podman || echo docker)}
  command -v "$engine" > /dev/null || skip "no container engine: neither podman nor docker is installed (scripts/setup-deps.sh)"
  if [[ $engine == podman ]]; then
    command -v podman-compose > /dev/null || skip "podman-compose is not installed (scripts/setup-deps.sh)"
    compose_cmd=(podman-compose)
  elif docker compose version > /dev/null 2>&1; then
    compose_cmd=(docker compose)
  else
    command -v docker-compose > /dev/null || skip "neither 'docker compose' nor docker-compose is installed"
    compose_cmd=(docker-compose)
  fi
}

# Can a container start here? Podman gets a containers.conf of our own (CONTAINERS_CONF, unless
# the caller set one): netavark when installed, because podman 4.3's CNI backend resolves no
# service names without the dnsname plugin; and, if the default runtime cannot start a
# container (crun on a VM that forbids raising rlimits or has hybrid cgroups), runc with
# default ulimits within the host's. The file is kept and checked again each time.
probe_engine() {
  mkdir -p "$STATE" && chmod 700 "$STATE"  # logs of builds and compose
  base_image=${TIANYU_BASE_IMAGE:-localhost/debian:12}
  if [[ $base_image == localhost/* ]]; then
    bash "$ROOT/scripts/make-base-image.sh" --engine "$engine" --tag "$base_image" 2> "$STATE/base.log" \
      || skip "could not make the base image $base_image: $(tail -3 "$STATE/base.log" | tr '\n' ' ')"
  fi
  choose_runtime
}
# The site's containers share a network: one that cannot join it stays "Created" for good.
probe_network() {
  "$engine" run --rm "$base_image" true > "$STATE/probe.log" 2>&1 \
    || die "$engine runs containers here but cannot put one on a network$(runtime_note): $(tail -2 "$STATE/probe.log" | tr '\n' ' ')(netavark needs iptables: scripts/setup-deps.sh installs it)"
}
choose_runtime() {
  if [[ $engine != podman || -n ${CONTAINERS_CONF:-} ]]; then
    try_container || skip "$engine cannot run a container here: $(tail -2 "$STATE/probe.log" | tr '\n' ' ')"
    return 0
  fi
  export CONTAINERS_CONF=$STATE/containers.conf
  [[ -f $CONTAINERS_CONF ]] && try_container && return 0
  write_containers_conf default
  try_container && return 0
  command -v runc > /dev/null || skip "podman's default runtime fails here and runc is not installed: $(tail -2 "$STATE/probe.log" | tr '\n' ' ')"
  write_containers_conf runc
  try_container || skip "podman cannot run a container here, neither with its default runtime nor runc: $(tail -2 "$STATE/probe.log" | tr '\n' ' ')"
  log "podman's default runtime cannot start a container here; using runc ($CONTAINERS_CONF)"
}
try_container() { "$engine" run --rm --network none "$base_image" true > "$STATE/probe.log" 2>&1; }
write_containers_conf() {
  local nofile nproc
  {
    if [[ $1 == runc ]]; then
      nofile=$(ulimit -Hn); [[ $nofile == unlimited || $nofile -gt 65536 ]] && nofile=65536
      nproc=$(ulimit -Hu); [[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
      printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n\n' "$nofile" "$nofile" "$nproc" "$nproc"
      printf '[engine]\nruntime = "runc"\n\n'
    fi
    [[ -x /usr/lib/podman/netavark ]] && printf '[network]\nnetwork_backend = "netavark"\n'
  } > "$CONTAINERS_CONF.tmp"
  mv "$CONTAINERS_CONF.tmp" "$CONTAINERS_CONF"
}
runtime_note() { [[ -n ${CONTAINERS_CONF:-} ]] && echo " (CONTAINERS_CONF=$CONTAINERS_CONF)" || true; }

secret() { head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A new site's settings: docker/.env.example with fresh secrets and free loopback ports; the
# caller's TIANYU_* variables (site name, site root, replicas, images, build target) win.
write_settings() {
  local file=$1 dir
  dir=$(cd "$(dirname "$file")" && pwd)
  (
    umask 077
    declare -A set_to=(
      [TIANYU_DB_PASSWORD]=$(secret) [TIANYU_PUBLISHER_DB_PASSWORD]=$(secret)
      [TIANYU_MANAGER_DB_PASSWORD]=$(secret) [TIANYU_CONSUMER_DB_PASSWORD]=$(secret)
      [TIANYU_READER_DB_PASSWORD]=$(secret) [MARIADB_ROOT_PASSWORD]=$(secret)
      [TIANYU_BROKER_PASSWORD]=$(secret) [TIANYU_BASE_IMAGE]=localhost/debian:12
      [TIANYU_DB_PUBLISHED_PORT]=$(free_port) [TIANYU_BROKER_PUBLISHED_PORT]=$(free_port)
      [TIANYU_WEB_PORT]=$(free_port) [TIANYU_SITE_ROOT_HOST]=$dir/site-root)
    local var line key
    for var in TIANYU_SITE TIANYU_SITE_ROOT_HOST TIANYU_SITE_GROUPS TIANYU_GENERAL_REPLICAS \
               TIANYU_CONSUMER_WORKERS TIANYU_IMAGE TIANYU_BUILD_TARGET TIANYU_BASE_IMAGE TIANYU_STOP_GRACE; do
      [[ -n ${!var:-} ]] && set_to[$var]=${!var}
    done
    while IFS= read -r line; do
      key=${line%%=*}
      if [[ $line != \#* && $line == *=* && -n ${set_to[$key]:-} ]]; then
        echo "$key=${set_to[$key]}"
      else
        echo "$line"
      fi
    done < "$ROOT/docker/.env.example" > "$file.tmp"
    mv "$file.tmp" "$file"
  )
  log "wrote $file (mode 0600: fresh secrets, free loopback ports)"
}

# Exports the KEY=VALUE lines of the settings (compose env-file syntax: no quotes, values may
# hold spaces), so they never pass through a command line.
load_settings() {
  [[ -f $env_file ]] || write_settings "$env_file"
  [[ $(stat -c %a "$env_file") == 600 ]] || log "warning: $env_file holds secrets but is not mode 0600"
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -z $line || $line == \#* || $line != *=* ]] && continue
    export "${line%%=*}=${line#*=}"
  done < "$env_file"
  env_file=$(cd "$(dirname "$env_file")" && pwd)/$(basename "$env_file")
  project=${project:-tianyu-${TIANYU_SITE:-xinglong}}
  export TIANYU_IMAGE=${TIANYU_IMAGE:-tianyu:latest} TIANYU_BASE_IMAGE=${TIANYU_BASE_IMAGE:-debian:12}
  export TIANYU_MARIADB_IMAGE=${TIANYU_MARIADB_IMAGE:-tianyu-mariadb:10.11} TIANYU_RABBITMQ_IMAGE=${TIANYU_RABBITMQ_IMAGE:-tianyu-rabbitmq:3.10}
  export TIANYU_SECRETS_DIR=${TIANYU_SECRETS_DIR:-$(dirname "$env_file")/secrets}
  write_secrets
  site_root_host=${TIANYU_SITE_ROOT_HOST:-./site-root}
  [[ $site_root_host == /* ]] || site_root_host=$ROOT/docker/$site_root_host
  # podman-compose 1.0.3 reads docker/.env itself and lets it override these settings.
  if [[ $engine == podman && -f $ROOT/docker/.env && $env_file != "$ROOT/docker/.env" ]]; then
    die "docker/.env exists and podman-compose 1.0.3 would let it override $env_file; use --env docker/.env or move it"
  fi
}

# Each service's secrets file (compose env_file): its own account's passwords only, mode 0600 in
# a 0700 directory, so no secret is in the compose `environment` (podman-compose would put it on
# podman's command line and print it).
write_secrets() {
  local d=$TIANYU_SECRETS_DIR broker="TIANYU_BROKER_PASSWORD=${TIANYU_BROKER_PASSWORD:?set TIANYU_BROKER_PASSWORD in $env_file}"
  mkdir -p "$d" && chmod 700 "$d"
  (
    umask 077
    printf 'MARIADB_PASSWORD=%s\nMARIADB_ROOT_PASSWORD=%s\n' "${TIANYU_DB_PASSWORD:?set TIANYU_DB_PASSWORD in $env_file}" \
      "${MARIADB_ROOT_PASSWORD:?set MARIADB_ROOT_PASSWORD in $env_file}" > "$d/mariadb.env"
    printf 'RABBITMQ_DEFAULT_PASS=%s\n' "$TIANYU_BROKER_PASSWORD" > "$d/rabbitmq.env"
    printf 'TIANYU_DB_PASSWORD=%s\n%s\n' "$TIANYU_DB_PASSWORD" "$broker" > "$d/migrate.env"
    local role var
    for role in publisher manager consumer reader; do
      var=TIANYU_${role^^}_DB_PASSWORD
      printf '%s=%s\n' "$var" "${!var:?set $var in $env_file}" >> "$d/migrate.env"
      printf 'TIANYU_DB_PASSWORD=%s\n' "${!var}" > "$d/$role.env"
      [[ $role == reader ]] || echo "$broker" >> "$d/$role.env"
    done
  )
}

compose() {
  if [[ $engine == podman ]]; then
    "${compose_cmd[@]}" -p "$project" -f "$COMPOSE_FILE" "$@"
  else
    "${compose_cmd[@]}" -p "$project" -f "$COMPOSE_FILE" --env-file "$env_file" "$@"
  fi
}

# The images, each built only when its inputs changed (the engine's layer cache).
build_images() {
  local started=$SECONDS buildlog=$STATE/build-$project.log
  : > "$buildlog"
  # apt inside a build resolves the mirror with the host's resolver: on the host's network (a
  # container bridge here cannot reach the VM's link-local DNS); the running site stays on its
  # own bridge.
  build() { "$engine" build --network host --build-arg "BASE_IMAGE=$TIANYU_BASE_IMAGE" "$@" >> "$buildlog" 2>&1 \
              || { tail -25 "$buildlog" >&2; die "building an image failed (log: $buildlog)"; }; }
  build -t "$TIANYU_MARIADB_IMAGE" "$ROOT/docker/mariadb"
  build -t "$TIANYU_RABBITMQ_IMAGE" "$ROOT/docker/rabbitmq"
  if [[ -n $prebuilt ]]; then
    build_prebuilt
  else
    build -f "$ROOT/docker/Dockerfile" --target "${TIANYU_BUILD_TARGET:-runtime}" -t "$TIANYU_IMAGE" "$ROOT"
  fi
  log "images ready in $((SECONDS - started)) s: $TIANYU_IMAGE $TIANYU_MARIADB_IMAGE $TIANYU_RABBITMQ_IMAGE"
}

# The Debian packages owning the shared libraries the executables $@ link (usrmerge: a library
# found under /lib is owned as /usr/lib or the other way round).
library_packages() {
  local lib real
  ldd "$@" 2> /dev/null | awk '/=> \// {print $3}' | sort -u | while read -r lib; do
    real=$(readlink -f "$lib")
    dpkg -S "$real" 2> /dev/null || dpkg -S "${real#/usr}" 2> /dev/null || dpkg -S "$lib" 2> /dev/null || true
  done | cut -d: -f1 | sort -u | tr '\n' ' '
}

# The `prebuilt` target from a small build context: the host build's executables (stripped), the
# configurations and the entry point, and the Debian packages of the libraries they link.
build_prebuilt() {
  [[ -x $prebuilt/tianyu-consumer ]] || die "--prebuilt $prebuilt holds no tianyu-consumer"
  local ctx f packages
  ctx=$(mktemp -d)
  mkdir -p "$ctx/bin" "$ctx/config" "$ctx/docker"
  for f in "$prebuilt"/tianyu-*; do
    if [[ -x $f && -f $f ]]; then cp "$f" "$ctx/bin/"; fi
  done
  strip "$ctx"/bin/* 2> /dev/null || true
  cp "$ROOT"/config/*.json "$ROOT/config/db-grants.txt" "$ctx/config/"
  cp "$ROOT/docker/entrypoint.sh" "$ROOT/docker/db-roles.sh" "$ROOT/docker/Dockerfile" "$ctx/docker/"
  packages=$(library_packages "$ctx"/bin/*)
  build -f "$ctx/docker/Dockerfile" --target prebuilt --build-arg "EXTRA_PACKAGES=$packages" -t "$TIANYU_IMAGE" "$ctx"
  rm -rf "$ctx"
}

container_of() {  # the first container of compose service $1
  "$engine" ps -a --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | sort | head -1
}

site_up() {
  local services=(mariadb rabbitmq migrate manager consumer-general consumer-bigram) started=$SECONDS migrate code
  probe_network
  mkdir -p "$site_root_host"
  # The daemons run as uid 10001 (the image's tianyu user): they write products under the root.
  [[ $EUID -eq 0 ]] && chown 10001 "$site_root_host"
  if "$engine" run --rm --network none --entrypoint test "$TIANYU_IMAGE" -x /usr/local/bin/tianyu-web 2> /dev/null; then
    services+=(web)
  else
    log "the image has no tianyu-web: the web service is not started"
  fi
  compose up -d --no-build "${services[@]}" > "$STATE/compose-$project.log" 2>&1 \
    || { tail -20 "$STATE/compose-$project.log" >&2; die "compose up failed (log: $STATE/compose-$project.log)"; }
  migrate=$(container_of migrate)
  [[ -n $migrate ]] || die "no migrate container was created (log: $STATE/compose-$project.log)"
  code=$("$engine" wait "$migrate" | tail -1)
  [[ $code == 0 ]] || { "$engine" logs "$migrate" 2>&1 | tail -20 >&2; die "the migration (container $migrate) exited $code"; }
  wait_for_daemons || die "the site's daemons do not stay up; see: $engine logs <container>; $(site_status | tr '\n' ';')"
  log "site $TIANYU_SITE up in $((SECONDS - started)) s (project $project, site root $site_root_host)"
  site_status
}

# The daemons may exit once while the migration registers the site (their restart policy
# brings them back): up is done when all of them run, twice 3 s apart, within 120 s.
wait_for_daemons() {
  local i stable=0 states
  for ((i = 0; i < 60; i++)); do
    states=$("$engine" ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}} {{.Status}}' \
             | grep -Ev '_(migrate|publish)_|-(migrate|publish)-' || true)
    if [[ -n $states ]] && ! grep -qv ' Up ' <<< "$states"; then
      (( ++stable >= 2 )) && return 0
    else
      stable=0
    fi
    sleep 3
  done
  return 1
}

site_down() {
  local started=$SECONDS args=(down) network
  (( purge )) && args+=(-v)
  compose "${args[@]}" > "$STATE/compose-$project.log" 2>&1 || true
  # Containers of one-off runs and anything compose missed, then its network (podman-compose
  # 1.0.3 does not remove it), then (--purge) the volumes.
  "$engine" ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}}' \
    | xargs -r "$engine" rm -f > /dev/null
  for network in $("$engine" network ls --format '{{.Name}}' | grep -E "^${project}[_-]default$" || true); do
    "$engine" network rm "$network" > /dev/null
  done
  if (( purge )); then
    "$engine" volume ls --filter "label=com.docker.compose.project=$project" --format '{{.Name}}' \
      | xargs -r "$engine" volume rm -f > /dev/null
  fi
  log "site project $project down in $((SECONDS - started)) s$( (( purge )) && echo ', volumes removed' || echo ', volumes kept (--purge removes them)'); images kept"
}

site_status() {
  "$engine" ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Names}}\t{{.Status}}' | sort
}

# tianyu-publish in a one-off container of the `publish` service (the publisher account).
site_publish() {
  local out=$STATE/publish-$project.out status=0
  compose run --rm --no-deps publish publish "$@" > "$out" 2> "$STATE/publish-$project.log" || status=$?
  # podman-compose 1.0.3 prints its own commands and "exit code: N" among the output.
  grep -Ev '^(using podman version|podman run |\[.podman.,|exit code: [0-9]+$)' "$out" || true
  # ... and exits 0 whatever the container's exit code was: that line is the truth.
  if [[ $engine == podman ]]; then
    status=$(sed -nE 's/^exit code: ([0-9]+)$/\1/p' "$out" | tail -1)
    status=${status:-1}
  fi
  (( status == 0 )) || { tail -20 "$STATE/publish-$project.log" >&2; die "tianyu-publish $* failed in its container"; }
}

# SQL in the database container as the owner account; the password goes by environment.
site_sql() {
  local db
  db=$(container_of mariadb)
  [[ -n $db ]] || die "the site's database container is not running (scripts/site.sh up)"
  if [[ $# -gt 0 ]]; then
    printf '%s\n' "$*" | "$engine" exec -i "$db" sh -c 'MYSQL_PWD="$MARIADB_PASSWORD" exec mariadb -N -B -u"$MARIADB_USER" "$MARIADB_DATABASE"'
  else
    "$engine" exec -i "$db" sh -c 'MYSQL_PWD="$MARIADB_PASSWORD" exec mariadb -N -B -u"$MARIADB_USER" "$MARIADB_DATABASE"'
  fi
}

command=${1:-}
[[ -n $command ]] && shift
env_file=$ROOT/docker/.env project="" prebuilt="" purge=0 rest=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --env) env_file=$2; shift 2 ;;
    --project) project=$2; shift 2 ;;
    --prebuilt) prebuilt=$(cd "$2" && pwd); shift 2 ;;
    --purge) purge=1; shift ;;
    --) shift; rest=("$@"); break ;;
    *) die "unknown option '$1' (see the top of scripts/site.sh)" ;;
  esac
done
case "$command" in
  probe|build|up|down|status|publish|sql) choose_engine; probe_engine ;;
  *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
case "$command" in
  probe) echo "site: containers run here with $engine$(runtime_note)" ;;
  build) load_settings; build_images ;;
  up) load_settings; build_images; site_up ;;
  down) load_settings; site_down ;;
  status) load_settings; site_status ;;
  publish) load_settings; site_publish "${rest[@]}" ;;
  sql) load_settings; site_sql "${rest[@]}" ;;
esac
