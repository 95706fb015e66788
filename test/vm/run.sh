#!/usr/bin/env bash
# The tests that need a kernel module this machine's kernel may lack (8021q),
# run inside the VM of ../shared/netmap-vm (beside this checkout; NETMAP_VM
# overrides the directory): a Debian 6.1 kernel on this machine's own
# userland. Needs root; the VM boots in about 5 s under TCG and runs slowly:
# these tests check behaviour, not speed. Without the VM directory, or
# without root, it is skipped with one line saying so.
#
#   bash test/vm/run.sh [MOCHA ARGS...]     (npm run test:vm)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vm=${NETMAP_VM:-$repo/../shared/netmap-vm}
if [ ! -x "$vm/run.sh" ]; then
  echo "VM suite: skipped: no $vm/run.sh beside this checkout (set NETMAP_VM)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "VM suite: skipped: it needs root (QEMU, and the VM's cache in /var/cache)"
  exit 0
fi
case "$repo/" in
  /tmp/*)
    # The VM sees this machine's root filesystem, but mounts a tmpfs of its own on /tmp.
    echo "VM suite: the checkout $repo is under /tmp, which the VM does not see (it has its own tmpfs there): clone it elsewhere, e.g. under /var/tmp" >&2
    if [ -n "${CI:-}" ]; then exit 1; fi
    exit 0
    ;;
esac
args=
if [ $# -gt 0 ]; then args=$(printf ' %q' "$@"); fi
exec "$vm/run.sh" -t 900 "$repo" "modprobe veth && modprobe 8021q && npx mocha 'test/vm/**/*.test.ts'$args"
