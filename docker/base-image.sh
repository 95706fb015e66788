#!/usr/bin/env bash
# Builds a local stand-in for the official Node 20 bookworm image, for hosts
# that reach no image registry: a minimal Debian bookworm (debootstrap, from
# the mirror apt already uses) with a compiler for the addon, and this host's
# Node, npm and Node headers laid out as the official image has them. The
# result is imported into the engine at DOCKER_HOST and its tag printed.
#
#   docker/base-image.sh         build the image unless it exists; print its tag
#   docker/base-image.sh --tag   only print the tag
#
# The host's CA bundle comes along, so that npm in the image build trusts
# what npm on the host trusts (a TLS-inspecting proxy, say).
#
# The tag is a hash of this script, the Debian suite, the Node version and the
# CA bundle, so the image is rebuilt only when one of them changes.
set -euo pipefail

suite=bookworm
packages=g++,make,python3
ca_bundle=/etc/ssl/certs/ca-certificates.crt
cache=${NICRING_DOCKER_CACHE:-/var/cache/nicring-docker}
min_free_kb=$((3 * 1024 * 1024))

say() { printf 'base-image: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

node_version=$(node --version) || die "no node on this host"
arch=$(uname -m)
key=$( { cat "${BASH_SOURCE[0]}"; echo "$suite $node_version $arch"; cat "$ca_bundle" 2>/dev/null || true; } | sha256sum | cut -c1-12)
tag=nicring-base:$suite-node${node_version#v}-$key

if [ "${1:-}" = --tag ]; then
  echo "$tag"
  exit 0
fi

if docker image inspect "$tag" >/dev/null 2>&1; then
  say "$tag exists"
  echo "$tag"
  exit 0
fi

# The Debian mirror apt uses for the suite itself (not -updates or -security),
# from one-line .list files or deb822 .sources files.
apt_mirror() {
  awk -v suite="$suite" '
    $1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
      if ($(i + 1) == suite) { print $i; exit }
    }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true
  awk -v suite="$suite" '
    function finish() {
      if (types ~ /(^|[ \t])deb([ \t]|$)/ && (" " suites " ") ~ ("[ \t]" suite "[ \t]") && uri != "") { print uri; exit }
      types = ""; suites = ""; uri = ""
    }
    /^[ \t]*$/ { finish(); next }
    /^Types:/ { types = substr($0, 7) }
    /^Suites:/ { suites = substr($0, 8) }
    /^URIs:/ { uri = $2 }
    END { finish() }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
}

mirror=${NICRING_DEBIAN_MIRROR:-$(apt_mirror | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}

node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(readlink -f "$(dirname "$(readlink -f "$(command -v npm)")")/..")
node_include=$(node -p 'require("path").resolve(process.execPath, "../../include/node")')
[ -f "$node_include/node_api.h" ] || die "no Node headers at $node_include (the addon needs them)"
[ -f "$npm_dir/package.json" ] || die "cannot find npm's package next to $(command -v npm)"
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"

mkdir -p "$cache"
free_kb=$(df -Pk "$cache" | awk 'NR == 2 { print $4 }')
[ "$free_kb" -ge "$min_free_kb" ] || die "need 3 GB free under $cache, have $((free_kb / 1024)) MB"

rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
# debootstrap mounts /proc and /sys in the new root and may leave them there
# when it fails; unmount before removing.
remove_rootfs() {
  awk -v root="$rootfs/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r umount -l
  rm -rf --one-file-system "$rootfs"
}
trap remove_rootfs EXIT

say "debootstrap $suite from $mirror into $rootfs"
started=$SECONDS
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
  { tail -n 30 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
say "debootstrap took $((SECONDS - started)) s"

say "adding Node $node_version from $node_bin"
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/include"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
cp -a "$node_include" "$rootfs/usr/local/include/node"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
ca_env=()
if [ -f "$ca_bundle" ]; then
  install -D -m 0644 "$ca_bundle" "$rootfs$ca_bundle"
  ca_env=(--change "ENV NODE_EXTRA_CA_CERTS=$ca_bundle")
fi
chroot "$rootfs" /usr/local/bin/node --version >/dev/null || die "the copied node does not run in the new root"

chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log "$rootfs"/tmp/*

say "importing $tag"
tar -C "$rootfs" --numeric-owner -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' \
    "${ca_env[@]}" \
    - "$tag" >/dev/null

# Older builds (other inputs) only take space; images still in use stay.
docker image ls --format '{{.Repository}}:{{.Tag}}' nicring-base | grep -vxF "$tag" | xargs -r docker rmi >/dev/null 2>&1 || true
echo "$tag"
