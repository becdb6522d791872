#!/usr/bin/env bash
# Installs everything tollgate's build, tests, demo and benchmarks need, from Debian 12's packages.
set -euo pipefail

packages=(
  g++ clang libclang-rt-14-dev cmake ninja-build meson pkg-config python3 curl
  libboost-dev libfmt-dev libcpp-httplib-dev nlohmann-json3-dev doctest-dev libssl-dev
  libbenchmark-dev wrk libhiredis-dev redis-server openssl
  prometheus  # promtool and a real server for the metrics tests (they start their own; its service plays no part)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
