#!/usr/bin/env bash
# Installs exactly the Debian 12 packages the build, the tests and the local services need.
# Idempotent: prints nothing and changes nothing when every package is already installed.
#   --reference-peers  also the Python stack the benchmarks compare against (never a runtime
#                      dependency of the service): python3-numpy, -sep, -astropy.
set -euo pipefail

packages=(
  # toolchain
  g++ make cmake pkg-config
  # design-card libraries
  librabbitmq-dev libmysqlcppconn-dev libcfitsio-dev libsep-dev
  nlohmann-json3-dev libspdlog-dev libeigen3-dev libcli11-dev
  googletest libgtest-dev libgmock-dev
  # local services for the main job and the integration tests
  mariadb-server mariadb-client rabbitmq-server
  # TLS certificates of the local services (TIANYU_TLS=1) and the listener check of the
  # security test (ss)
  openssl iproute2
  # the house size limits (tests/layering/check_sizes.sh)
  universal-ctags
  # light-curve plots of tianyu-publish export --plot-near
  gnuplot-nox
  # the Windows consumer (scripts/cross-build-mingw.sh): MinGW-w64, the libraries' Debian
  # sources (apt-get source needs dpkg-dev; bzip2, xz-utils unpack them), Boost's headers for
  # Connector/C++ 1.1, and Wine to run it in the tests (tests/windows)
  g++-mingw-w64-x86-64-posix file dpkg-dev bzip2 xz-utils libboost-dev wine64
  # validating docker/ (no Docker engine runs here; tests/docker reads the resolved files)
  docker-compose python3-yaml
  # the cross-check of our BLS against astropy's (a reference peer in tests, never at run time)
  python3-numpy python3-astropy
  # astrometry: solve-field run as a subprocess (never linked) with the Tycho-2 index files;
  # the field catalogue's KD-tree (header-only) and WCS keywords
  astrometry.net astrometry-data-tycho2-07 astrometry-data-tycho2-08 astrometry-data-tycho2-09
  astrometry-data-tycho2-10-19 libnanoflann-dev wcslib-dev
  # the operators' web page (tianyu-web) and its test in a real headless browser
  libcpp-httplib-dev chromium
  # the site deployment brought up in containers without a registry (tests/docker)
  # (netavark and aardvark-dns: podman's network backend in which service names resolve;
  # netavark programs the containers' network with iptables, which a minimal Debian lacks:
  # without it every container on a network stays "Created", "netavark: No such file or directory")
  podman buildah podman-compose debootstrap runc uidmap slirp4netns netavark aardvark-dns iptables
)
if [[ "${1:-}" == "--reference-peers" ]]; then
  packages+=(python3-sep)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup-deps: installing ${missing[*]}"
if [[ $EUID -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup-deps: missing packages (${missing[*]}) and not root: run this script as root" >&2
    exit 1
  fi
else
  sudo=()
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-deps: done"
