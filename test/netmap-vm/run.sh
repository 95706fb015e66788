#!/usr/bin/env bash
# The netmap suite: boots the real netmap module in QEMU (../shared/netmap-vm,
# beside this checkout, as CI lays it out) once, and runs test/netmap-vm/*.test.ts
# inside it against netmap's emulated adapter on veth pairs. This machine's
# userland is the VM's, so the addon and dist/ built here run there unchanged.
#
# Without ../shared/netmap-vm the suite is skipped with one line saying so. With
# it, a suite that cannot run (the VM cannot be built or booted) is skipped off CI and fails
# on CI (CI set in the environment). NETMAP_VM overrides the directory.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vm=${NETMAP_VM:-$repo/../shared/netmap-vm}
# TCG is slow: one boot for the whole suite, bounded.
limit=${NETMAP_VM_TIMEOUT:-300}

skip() {
  if [ -n "${CI:-}" ] && [ -d "$vm" ]; then
    echo "netmap VM suite: FAILED: $* (on CI with $vm present, the suite must run)" >&2
    exit 1
  fi
  echo "netmap VM suite: skipped: $*"
  exit 0
}

[ -d "$vm" ] || skip "no $vm beside this checkout (it boots the real netmap module in QEMU)"
[ -x "$vm/run.sh" ] || skip "$vm/run.sh is missing"
[ "$(id -u)" = 0 ] || skip "it needs root (QEMU, and the netmap VM's cache in /var/cache)"
# The VM sees this machine's root filesystem, but mounts a tmpfs of its own on /tmp.
case "$repo/" in /tmp/*) skip "the checkout $repo is under /tmp, which the VM does not see (it has its own tmpfs there): clone it elsewhere, e.g. under /var/tmp" ;; esac
# The addon as node-gyp-build finds it: build/Release, or prebuilds/ once `npm pack` has moved it there.
node -e "require('node-gyp-build')(process.argv[1])" "$repo" 2>/dev/null || skip "the addon is not built (npm run build:native)"
[ -f "$repo/dist/bin/nicring.js" ] || skip "dist/ is not built (npm run build)"

"$vm/run.sh" -t "$limit" "$repo" 'bash test/netmap-vm/in-vm.sh'
rc=$?
case $rc in
  0) echo "netmap VM suite: passed" ;;
  124) echo "netmap VM suite: FAILED: the VM ran out of its ${limit} s" >&2 ;;
  125|126) skip "the VM could not start (run.sh exit $rc)" ;;
  *) echo "netmap VM suite: FAILED (exit $rc)" >&2 ;;
esac
exit "$rc"
