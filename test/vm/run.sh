#!/usr/bin/env bash
# The tests that need kernel modules this machine's kernel lacks (8021q), run
# inside the VM of ../shared/netmap-vm (a Debian 6.1 kernel on this machine's
# own userland). Needs root; the VM boots in about 5 s under TCG and runs
# slowly: these tests check behaviour, not speed.
#
#   bash test/vm/run.sh [MOCHA ARGS...]     (npm run test:vm)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
vm=${NETMAP_VM:-$repo/../shared/netmap-vm}
if [ ! -x "$vm/run.sh" ]; then
  echo "test/vm: no VM runner at $vm/run.sh (set NETMAP_VM)" >&2
  exit 1
fi
args=
if [ $# -gt 0 ]; then args=$(printf ' %q' "$@"); fi
exec "$vm/run.sh" -t 900 "$repo" "modprobe veth && modprobe 8021q && npx mocha 'test/vm/**/*.test.ts'$args"
