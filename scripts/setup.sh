#!/usr/bin/env bash
# Set up a machine for nicring: the Debian packages the lab and the tests use,
# the npm packages, the native addon and the TypeScript build. Run as root
# (apt-get); safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(iproute2 ethtool iputils-ping tshark tcpdump procps util-linux gcc make python3 curl wget hping3 wrk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture: no.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
