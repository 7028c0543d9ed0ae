# Sourced by build-deps.sh: fetches the pinned upstream tarballs into $CACHE/sources with
# `apt-get source --download-only`, through a temporary deb-src list made from the machine's own
# Debian mirror and suites. apt runs with a private list and state directory, so the system's
# apt configuration is never changed.

# The machine's Debian "deb" entries (deb822 .sources files and one-line sources.list) as
# one-line deb-src entries.
deb_src_entries() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      { types = uris = suites = comps = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) types = substr($i, 7)
          else if ($i ~ /^URIs:/) uris = substr($i, 6)
          else if ($i ~ /^Suites:/) suites = substr($i, 8)
          else if ($i ~ /^Components:/) comps = substr($i, 12)
        }
        if (types ~ /deb/ && uris ~ /debian/ && comps != "") {
          n = split(suites, s, " ")
          for (j = 1; j <= n; j++) print "deb-src " uris " " s[j] " " comps
        } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    sed -nE 's/^deb (\[[^]]*\] )?(\S*debian\S*) /deb-src \2 /p' "$f"
  done
}

# The tarball is present and its checksum is the pinned one.
tarball_ok() {
  local file=$1 sha=$2
  [[ -f "$CACHE/sources/$file" ]] && [[ "$(sha256sum < "$CACHE/sources/$file" | cut -d' ' -f1)" == "$sha" ]]
}

fetch_sources() {
  local missing=() pin package version file sha
  for pin in "${pins[@]}"; do
    read -r package version file sha <<< "$pin"
    tarball_ok "$file" "$sha" || missing+=("$package=$version")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    command -v dpkg-source > /dev/null \
      || { echo "build-deps: apt-get source needs dpkg-dev (scripts/setup-deps.sh installs it)" >&2; exit 1; }
    local apt="$WORK/apt"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    deb_src_entries | sort -u > "$apt/sources.list"
    [[ -s "$apt/sources.list" ]] || { echo "build-deps: no Debian mirror found in /etc/apt" >&2; exit 1; }
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
                -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User=root)
    echo "build-deps: fetching ${missing[*]}"
    apt-get "${opts[@]}" update -qq \
      || { echo "build-deps: apt-get update of the deb-src list failed (network? a retry can help)" >&2; exit 1; }
    # The Debian patch tarballs of some pinned versions are missing from the mirror: apt then
    # fails after fetching the upstream tarballs, which are all that is built, and checked below.
    (cd "$CACHE/sources" && apt-get "${opts[@]}" source --download-only -qq "${missing[@]}" > "$apt/fetch.log" 2>&1) || true
  fi
  for pin in "${pins[@]}"; do
    read -r package version file sha <<< "$pin"
    tarball_ok "$file" "$sha" || { echo "build-deps: $file (source package $package $version) is missing or" \
      "its sha256 is not $sha; apt said: $(tail -3 "$WORK/apt/fetch.log" 2>/dev/null)" >&2; exit 1; }
  done
  [[ "$(sha256sum < "$VENDOR/$SEP_TARBALL" | cut -d' ' -f1)" == "$SEP_SHA256" ]] \
    || { echo "build-deps: $VENDOR/$SEP_TARBALL is missing or not SEP 1.2.1 (sha256 $SEP_SHA256)" >&2; exit 1; }
}
