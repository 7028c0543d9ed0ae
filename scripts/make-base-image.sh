#!/usr/bin/env bash
# The local Debian 12 base image every Tianyu image is built FROM, made without a registry:
# debootstrap --variant=minbase bookworm from the mirror of this machine's own apt sources,
# then imported into the container engine. The machine's Debian apt sources (and an apt proxy
# setting, if it has one) are copied in, so `apt-get install` works inside image builds the way
# it works on the host. An observatory with no internet but a local Debian mirror gets its
# images from that mirror.
#
#   scripts/make-base-image.sh [--engine podman|docker] [--tag localhost/debian:12] [--rebuild]
#
# Cached: if the tag already exists nothing is done (--rebuild makes it again). Needs root
# (debootstrap) and debootstrap installed (scripts/setup-deps.sh).
set -euo pipefail
engine=${TIANYU_CONTAINER_ENGINE:-podman}
tag=localhost/debian:12
rebuild=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --engine) engine=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    -h|--help) sed -n '9,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-base-image: unknown option '$1'" >&2; exit 2 ;;
  esac
done
log() { printf 'make-base-image: %s\n' "$*" >&2; }

if (( ! rebuild )) && "$engine" image inspect "$tag" > /dev/null 2>&1; then
  log "$tag already exists (cached; --rebuild to make it again)"
  exit 0
fi
[[ $EUID -eq 0 ]] || { log "debootstrap needs root; run as root"; exit 1; }
command -v debootstrap > /dev/null || { log "debootstrap is not installed (scripts/setup-deps.sh)"; exit 1; }

# The Debian apt source files of this machine: enabled .list/.sources files naming bookworm
# (third-party repositories would need their keys and are not wanted in the images).
debian_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && grep -Eq '^[^#]*bookworm' "$f" && grep -Eq '^[^#]*(debian|deb)' "$f" \
      && ! grep -Eq 'google|nodesource|docker\.com' "$f" && echo "$f"
  done
  return 0
}
# The mirror serving the plain `bookworm` suite: its URI in a deb822 stanza or a one-line entry.
debian_mirror() {
  local f
  for f in $(debian_sources); do
    if [[ $f == *.sources ]]; then
      awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm( |\n|$)/ && !/debian-security/ {
             if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { split(substr($0, RSTART, RLENGTH), a, /[ \t]+/); print a[2]; exit } }' "$f"
    else
      awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; exit } }' "$f"
    fi
  done | head -1
}
mirror=$(debian_mirror)
[[ -n $mirror ]] || { log "no Debian bookworm mirror found in /etc/apt/sources.list*"; exit 1; }

work=$(mktemp -d /var/tmp/tianyu-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
log "debootstrap --variant=minbase bookworm from $mirror"
debootstrap --variant=minbase bookworm "$work/root" "$mirror" > "$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; log "debootstrap failed (a retry can help if the mirror was unreachable)"; exit 1; }

# The machine's own apt sources replace debootstrap's one-line list; an apt proxy comes along.
rm -f "$work/root/etc/apt/sources.list"
for f in $(debian_sources); do
  cp "$f" "$work/root/etc/apt/$( [[ $f == /etc/apt/sources.list ]] && echo sources.list || echo "sources.list.d/$(basename "$f")")"
done
for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
  [[ -f $f ]] && grep -qi 'proxy' "$f" && cp "$f" "$work/root/etc/apt/apt.conf.d/"
done
# Small images: no package lists, caches or docs kept by later installs.
rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/"*.bin
printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
  > "$work/root/etc/dpkg/dpkg.cfg.d/01-tianyu-nodoc"

tar -C "$work/root" -c . | "$engine" import --quiet --change 'CMD ["/bin/bash"]' - "$tag" > /dev/null
log "$tag made in $(( $(date +%s) - started )) s ($(du -sh "$work/root" | cut -f1) unpacked)"
