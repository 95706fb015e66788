# shellcheck shell=bash
# Settings of the docker lab, read by docker/lab.sh. Every value can be set
# from the environment instead. The two commands below are what the
# containers run: change them here.

# nicring: both containers run nicring, which holds the lab addresses in user
# space, so neither container's kernel gets an address.
# kernel: the kernel's UDP path as a baseline (docker/kernel-udp.js); both
# kernels hold their addresses.
: "${NICRING_LAB_MODE:=nicring}"

# The veth end's name inside each container.
: "${NICRING_LAB_IFACE:=nrd0}"
: "${NICRING_LAB_RESPONDER_ADDRESS:=198.18.20.1/24}"
: "${NICRING_LAB_GENERATOR_ADDRESS:=198.18.20.2/24}"
: "${NICRING_LAB_PORT:=7}"

# The load is bounded in count and in time.
: "${NICRING_LAB_COUNT:=10000}"
: "${NICRING_LAB_RATE:=20000}"
: "${NICRING_LAB_DURATION:=10}"
: "${NICRING_LAB_SIZE:=64}"

responder_ip=${NICRING_LAB_RESPONDER_ADDRESS%/*}

case $NICRING_LAB_MODE in
nicring)
  : "${NICRING_LAB_RESPONDER_COMMAND:=nicring respond --iface $NICRING_LAB_IFACE --address $NICRING_LAB_RESPONDER_ADDRESS --port $NICRING_LAB_PORT --mode echo --json}"
  : "${NICRING_LAB_GENERATOR_COMMAND:=nicring gen --iface $NICRING_LAB_IFACE --address $NICRING_LAB_GENERATOR_ADDRESS --target $responder_ip:$NICRING_LAB_PORT --count $NICRING_LAB_COUNT --rate $NICRING_LAB_RATE --duration $NICRING_LAB_DURATION --size $NICRING_LAB_SIZE --json}"
  : "${NICRING_LAB_KERNEL_ADDRESSES:=no}"
  ;;
kernel)
  : "${NICRING_LAB_RESPONDER_COMMAND:=node /opt/nicring/docker/kernel-udp.js echo --port $NICRING_LAB_PORT}"
  : "${NICRING_LAB_GENERATOR_COMMAND:=node /opt/nicring/docker/kernel-udp.js client --target $responder_ip:$NICRING_LAB_PORT --count $NICRING_LAB_COUNT --rate $NICRING_LAB_RATE --duration $NICRING_LAB_DURATION --size $NICRING_LAB_SIZE}"
  : "${NICRING_LAB_KERNEL_ADDRESSES:=yes}"
  ;;
*)
  echo "lab: NICRING_LAB_MODE must be nicring or kernel, not '$NICRING_LAB_MODE'" >&2
  exit 2
  ;;
esac

export NICRING_LAB_IFACE NICRING_LAB_RESPONDER_COMMAND
