#!/bin/sh
# Entry of the lab's responder container: waits until docker/lab.sh has moved
# the veth end into this container's namespace and set it up, then replaces
# itself with the service's command.
set -eu
: "${NICRING_IFACE:?}" "${NICRING_COMMAND:?}"
wait_seconds=${NICRING_WAIT_SECONDS:-600}
waited=0
until [ "$(cat "/sys/class/net/$NICRING_IFACE/operstate" 2>/dev/null)" = up ]; do
  if [ "$waited" -ge "$((wait_seconds * 10))" ]; then
    echo "entry: $NICRING_IFACE did not come up within $wait_seconds s" >&2
    exit 1
  fi
  sleep 0.1
  waited=$((waited + 1))
done
exec sh -c "exec $NICRING_COMMAND"
