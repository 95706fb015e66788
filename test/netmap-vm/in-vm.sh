#!/usr/bin/env bash
# Inside the netmap VM (test/netmap-vm/run.sh boots it): load netmap with its
# defaults but the emulated adapter insisted on, then run the suite with mocha
# inside a network namespace of its own; the tests make the peer's namespace
# and the veth pairs.
set -euo pipefail
source /var/cache/netmap-vm/current.env
insmod "$NETMAP_KO"
echo 2 > /sys/module/netmap/parameters/admode
modprobe veth
echo "netmap VM: kernel $(uname -r) (Debian linux-image $KPKGVER), netmap $NETMAP_COMMIT (luigirizzo/netmap), emulated adapter (admode 2), buf_size $(cat /sys/module/netmap/parameters/buf_size)"
export NETMAP_KERNEL="$(uname -r)" NETMAP_COMMIT
ip netns add nicring-vm
ip netns exec nicring-vm ip link set lo up
exec ip netns exec nicring-vm node node_modules/mocha/bin/mocha.js --timeout 120000 'test/netmap-vm/*.test.ts'
