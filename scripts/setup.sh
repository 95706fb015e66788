#!/usr/bin/env bash
# Set up a machine for nicring: the Debian packages the lab, the tests and
# the benchmarks use, the npm packages, the native addon (a prebuilt one when
# there is one, else built against the installed Node headers) and the
# TypeScript build. Run it as root, or as a user who has sudo (used for
# apt-get alone; the rest is built as you). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Root runs commands as they are; anyone else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup.sh: installing Debian packages needs root: run it as root, or as a user with sudo" >&2
    exit 1
  fi
}

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# The lab and the tests; dig, kdig and dnsperf for the DNS example's tests and benchmark;
# curl, wget, hping3 and wrk for the TCP tests and benchmark.
packages=(iproute2 ethtool iputils-ping tshark tcpdump procps util-linux gcc g++ make python3
  bind9-dnsutils knot-dnsutils dnsperf curl wget hping3 wrk)
# Servers the tests run by hand inside lab namespaces (nsd for the DNS benchmark's kernel baseline,
# prometheus for promtool): installed without starting or enabling their services.
servers=(nsd prometheus)
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
missing_servers=()
for p in "${servers[@]}"; do installed "$p" || missing_servers+=("$p"); done
if [ "${#missing[@]}" -gt 0 ] || [ "${#missing_servers[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]} ${missing_servers[*]}"
  # tshark asks whether non-root users may capture: no.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | as_root debconf-set-selections
  as_root apt-get update -qq
  if [ "${#missing[@]}" -gt 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [ "${#missing_servers[@]}" -gt 0 ]; then
    # policy-rc.d answering 101 keeps Debian's maintainer scripts from starting the services.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
      as_root chmod 755 /usr/sbin/policy-rc.d
      made_policy=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_servers[@]}" >/dev/null
    if [ "$made_policy" -eq 1 ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
    if [ -d /run/systemd/system ]; then as_root systemctl disable --now "${missing_servers[@]}" >/dev/null 2>&1 || true; fi
  fi
fi

# Build the addon against the installed Node headers when they are there
# (node-gyp cannot download them on machines without general network access).
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then
  export npm_config_nodedir=/usr
fi

echo "== node $(node --version), npm $(npm --version): installing and building"
npm ci --no-audit --no-fund
npm run build --silent
echo "== ready: npx nicring --help"
