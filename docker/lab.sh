#!/usr/bin/env bash
# The nicring docker lab: a responder and a generator container, each without
# a docker network, joined by a veth pair that this script creates.
#
#   docker/lab.sh up      build the image, start both containers, wire the veth
#                         pair, start the responder, run one bounded load and
#                         print the generator's results
#   docker/lab.sh load    run the bounded load again
#   docker/lab.sh logs    print the responder's output so far
#   docker/lab.sh down    stop the responder (printing its totals), remove the
#                         veth pair and the containers, and stop the private
#                         engine if `up` started it
#   docker/lab.sh engine start|stop   start or stop the private engine
#
# Runs as root: wiring the pair enters the containers' network namespaces.
# Addresses, load and the commands the containers run: docker/lab-config.sh.
#
# NICRING_DOCKER_ENGINE=private makes `up` start its own dockerd, keeping its
# data under NICRING_DOCKER_CACHE (default /var/cache/nicring-docker) and
# leaving the host's firewall and forwarding alone. BASE_IMAGE picks the image
# nicring is built on. Unset, it is the official Node 20 image when the engine
# has it or can pull it; otherwise a local Debian bookworm base with this
# host's Node (docker/base-image.sh), built once and then reused.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project=nicring-lab
image=nicring-lab:latest
default_base_image=node:20-bookworm-slim
cache=${NICRING_DOCKER_CACHE:-/var/cache/nicring-docker}
state_file=$cache/lab.state
private_socket=$cache/docker.sock
engine_pidfile=$cache/dockerd.pid
engine_owner_file=$cache/dockerd.owner

# Commands after `up` keep the mode it ran in unless told otherwise.
if [ -z "${NICRING_LAB_MODE:-}" ] && [ "${1:-}" != up ] && [ -f "$state_file" ]; then
  NICRING_LAB_MODE=$(sed -n 's/^lab_mode=//p' "$state_file")
fi
# shellcheck source-path=SCRIPTDIR source=lab-config.sh
source "$here/lab-config.sh"

say() { printf 'lab: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "run as root (the veth pair is wired from the host)"
}

need_tools() {
  local tool missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  [ ${#missing[@]} = 0 ] || die "missing tools: ${missing[*]}"
}

compose() {
  if command -v docker-compose >/dev/null 2>&1; then
    docker-compose -p "$project" -f "$here/compose.yml" "$@"
  else
    docker compose -p "$project" -f "$here/compose.yml" "$@"
  fi
}

# --- the private engine ---------------------------------------------------

# Prints the private dockerd's PID if it is running.
engine_pid() {
  local pid
  pid=$(cat "$engine_pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--data-root=$cache/data " || return 1
  echo "$pid"
}

# engine_start OWNER: starts the private dockerd unless it runs already; OWNER
# (up or engine) decides who stops it again.
engine_start() {
  local owner=$1 pid i
  need_tools dockerd setsid
  mkdir -p "$cache"
  export DOCKER_HOST=unix://$private_socket
  if pid=$(engine_pid); then
    say "private engine already running (pid $pid)"
    # An explicit start keeps an engine that `up` started running past `down`.
    if [ "$owner" = engine ] && [ -f "$engine_owner_file" ]; then echo engine >"$engine_owner_file"; fi
    return 0
  fi
  printf '{}\n' >"$cache/daemon.json"
  rm -f "$private_socket"
  # A session of its own, so that signals meant for the caller's process group
  # do not stop the engine before `down` has removed the containers.
  setsid dockerd \
    --config-file="$cache/daemon.json" \
    --data-root="$cache/data" \
    --exec-root="$cache/exec" \
    --pidfile="$engine_pidfile" \
    --host="unix://$private_socket" \
    --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
    --storage-driver=overlay2 \
    --log-level=warn \
    </dev/null >"$cache/dockerd.log" 2>&1 &
  pid=$!
  echo "$owner" >"$engine_owner_file"
  for ((i = 0; i < 600; i++)); do
    if docker info >/dev/null 2>&1; then
      say "private engine started (pid $pid, data under $cache)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$cache/dockerd.log" >&2; die "dockerd exited"; }
    sleep 0.1
  done
  engine_stop
  # Without a PID file engine_stop cannot know it; this one it started.
  if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  die "dockerd did not answer within 60 s (log: $cache/dockerd.log)"
}

# Stops the private dockerd by its PID, if it runs and this script started it.
engine_stop() {
  local pid containerd_pid i
  if ! pid=$(engine_pid); then
    rm -f "$engine_owner_file"
    return 0
  fi
  [ -f "$engine_owner_file" ] || { say "private engine (pid $pid) was not started by this script; left running"; return 0; }
  containerd_pid=$(cat "$cache/exec/containerd/containerd.pid" 2>/dev/null || true)
  kill -TERM "$pid"
  for ((i = 0; i < 300; i++)); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    say "dockerd (pid $pid) ignored SIGTERM for 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    if [ -n "$containerd_pid" ] && [ -d "/proc/$containerd_pid" ]; then kill -KILL "$containerd_pid" 2>/dev/null || true; fi
  fi
  # dockerd leaves its namespace bind mounts (netns/default) behind.
  awk -v root="$cache/exec/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r umount -l
  rm -f "$engine_owner_file"
  say "private engine stopped (pid $pid)"
}

# --- state shared between up and down --------------------------------------

save_state() {
  mkdir -p "$cache"
  printf 'lab_docker_host=%q\nlab_mode=%s\n' "${DOCKER_HOST:-}" "$NICRING_LAB_MODE" >"$state_file"
}

load_state() {
  # lab_mode is read at the top, before the settings.
  # shellcheck disable=SC2034
  local lab_docker_host='' lab_mode=''
  if [ -f "$state_file" ]; then
    # shellcheck disable=SC1090
    source "$state_file"
  elif [ "${NICRING_DOCKER_ENGINE:-}" = private ]; then
    lab_docker_host=unix://$private_socket
  fi
  if [ -n "$lab_docker_host" ]; then export DOCKER_HOST=$lab_docker_host; fi
}

# --- images ----------------------------------------------------------------

# Sets BASE_IMAGE: the caller's choice, else the official Node image if it is
# here or can be pulled, else the local base (built when missing).
resolve_base_image() {
  local local_base
  if [ -n "${BASE_IMAGE:-}" ]; then return 0; fi
  if docker image inspect "$default_base_image" >/dev/null 2>&1; then
    BASE_IMAGE=$default_base_image
    return 0
  fi
  local_base=$("$here/base-image.sh" --tag)
  if docker image inspect "$local_base" >/dev/null 2>&1; then
    BASE_IMAGE=$local_base
    return 0
  fi
  say "pulling $default_base_image"
  if timeout "${NICRING_PULL_TIMEOUT:-60}" docker pull -q "$default_base_image" >/dev/null 2>&1; then
    BASE_IMAGE=$default_base_image
    return 0
  fi
  say "cannot pull $default_base_image; building a local Debian bookworm base with this host's Node"
  BASE_IMAGE=$("$here/base-image.sh")
}

# Sets NICRING_LAB_BPF_CAP: BPF where the engine knows that capability,
# SYS_ADMIN (which also covers bpf(2)) where it does not.
resolve_bpf_capability() {
  local id
  if [ -n "${NICRING_LAB_BPF_CAP:-}" ]; then return 0; fi
  if id=$(docker create --network none --cap-add BPF "$image" true 2>/dev/null); then
    docker rm "$id" >/dev/null
    NICRING_LAB_BPF_CAP=BPF
  else
    say "this engine does not know CAP_BPF; granting SYS_ADMIN instead"
    NICRING_LAB_BPF_CAP=SYS_ADMIN
  fi
}

# --- containers and the veth pair --------------------------------------------

container_id() {
  local id
  id=$(compose ps -q "$1" 2>/dev/null || true)
  [ -n "$id" ] || return 1
  echo "$id"
}

container_pid() {
  local pid
  pid=$(docker inspect -f '{{.State.Pid}}' "$1")
  [ "$pid" -gt 0 ] || die "container $1 is not running"
  echo "$pid"
}

# configure_end PID ADDRESS: prepares the veth end in that container's
# namespace. Its offloads stay as the kernel sets them. When the kernel holds
# the address (the kernel baseline) it gets it, IPv6 included; when nicring
# does, the kernel gets none, not even an IPv6 link-local one.
configure_end() {
  local pid=$1 address=$2
  if [ "$NICRING_LAB_KERNEL_ADDRESSES" = yes ]; then
    nsenter -t "$pid" -n ip address add "$address" dev "$NICRING_LAB_IFACE"
  else
    nsenter -t "$pid" -n sysctl -q -w "net.ipv6.conf.$NICRING_LAB_IFACE.disable_ipv6=1"
  fi
  nsenter -t "$pid" -n ip link set "$NICRING_LAB_IFACE" up
}

# Creates the pair with each end directly in a container's namespace, so it
# never appears in the host's.
wire() {
  local responder_pid=$1 generator_pid=$2
  if nsenter -t "$responder_pid" -n ip link show dev "$NICRING_LAB_IFACE" >/dev/null 2>&1; then
    say "veth pair already in place"
    return 0
  fi
  ip link add "$NICRING_LAB_IFACE" netns "$responder_pid" type veth peer name "$NICRING_LAB_IFACE" netns "$generator_pid"
  configure_end "$responder_pid" "$NICRING_LAB_RESPONDER_ADDRESS"
  configure_end "$generator_pid" "$NICRING_LAB_GENERATOR_ADDRESS"
  say "veth pair $NICRING_LAB_IFACE: responder $NICRING_LAB_RESPONDER_ADDRESS, generator $NICRING_LAB_GENERATOR_ADDRESS (kernel addresses: $NICRING_LAB_KERNEL_ADDRESSES)"
}

# The responder reports once a second; its first line means it is serving.
wait_for_responder() {
  local id=$1 i
  for ((i = 0; i < 300; i++)); do
    if docker logs "$id" 2>/dev/null | grep -q '^{'; then return 0; fi
    if [ "$(docker inspect -f '{{.State.Running}}' "$id")" != true ]; then
      docker logs --tail 30 "$id" >&2 || true
      die "the responder exited"
    fi
    sleep 0.1
  done
  docker logs --tail 30 "$id" >&2 || true
  die "the responder printed nothing within 30 s"
}

# json_number KEY LINE: the number stored under KEY in a one-line JSON object.
json_number() {
  sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p" <<<"$2"
}

# Runs the generator once; its output goes to stdout, a summary to stderr.
run_load() {
  local generator_id=$1 output status=0 last sent received lost
  output=$(mktemp)
  say "generator: $NICRING_LAB_GENERATOR_COMMAND"
  timeout "$((NICRING_LAB_DURATION + 60))" \
    docker exec "$generator_id" sh -c "exec $NICRING_LAB_GENERATOR_COMMAND" >"$output" || status=$?
  cat "$output"
  last=$(grep '^{' "$output" | tail -n 1 || true)
  rm -f "$output"
  [ "$status" = 0 ] || die "the generator failed (exit status $status)"
  sent=$(json_number sent "$last")
  received=$(json_number received "$last")
  lost=$(json_number lost "$last")
  if [ -z "$sent" ] || [ -z "$received" ]; then die "the generator's last line holds no totals: $last"; fi
  say "generator sent $sent, received $received, lost ${lost:-?}"
  [ "$received" -gt 0 ] || die "no replies came back from the responder"
}

# --- commands ------------------------------------------------------------

cmd_up() {
  local responder_id generator_id
  need_root
  need_tools docker ip nsenter sysctl timeout
  if [ "${NICRING_DOCKER_ENGINE:-}" = private ]; then engine_start up; fi
  docker info >/dev/null 2>&1 ||
    die "no docker engine answers at ${DOCKER_HOST:-the default socket}; start one, or let the lab run its own with NICRING_DOCKER_ENGINE=private"
  save_state
  resolve_base_image
  export BASE_IMAGE
  say "building $image on $BASE_IMAGE"
  compose build --force-rm >&2
  # The private engine is the lab's alone: drop what rebuilds left behind,
  # once it is a week old (younger build stages are the build cache).
  if [ "${NICRING_DOCKER_ENGINE:-}" = private ]; then docker image prune -f --filter until=168h >/dev/null; fi
  resolve_bpf_capability
  export NICRING_LAB_BPF_CAP
  compose up -d >&2
  responder_id=$(container_id responder) || die "no responder container"
  generator_id=$(container_id generator) || die "no generator container"
  wire "$(container_pid "$responder_id")" "$(container_pid "$generator_id")"
  say "responder: $NICRING_LAB_RESPONDER_COMMAND"
  wait_for_responder "$responder_id"
  run_load "$generator_id"
}

cmd_load() {
  local generator_id
  need_root
  load_state
  generator_id=$(container_id generator) || die "the lab is not up"
  run_load "$generator_id"
}

cmd_logs() {
  local responder_id
  load_state
  responder_id=$(container_id responder) || die "the lab is not up"
  docker logs "$responder_id"
}

# remove_pair CONTAINER: deletes the veth pair from that container's side,
# which removes both ends.
remove_pair() {
  local pid
  [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || return 0
  pid=$(docker inspect -f '{{.State.Pid}}' "$1")
  if nsenter -t "$pid" -n ip link del "$NICRING_LAB_IFACE" 2>/dev/null; then say "veth pair removed"; fi
}

# Takes down whatever exists, carrying on past failures.
cmd_down() {
  local responder_id generator_id totals
  need_root
  load_state
  if docker info >/dev/null 2>&1; then
    if responder_id=$(container_id responder); then
      remove_pair "$responder_id"
      if [ "$(docker inspect -f '{{.State.Running}}' "$responder_id" 2>/dev/null)" = true ]; then
        docker stop -t 10 "$responder_id" >/dev/null || true
        totals=$(docker logs "$responder_id" 2>/dev/null | grep '^{' | tail -n 1 || true)
        if [ -n "$totals" ]; then say "responder totals: $totals"; fi
      fi
    fi
    if generator_id=$(container_id generator); then remove_pair "$generator_id"; fi
    compose down --remove-orphans -t 10 >&2 || say "compose down failed"
  else
    say "no engine answers at ${DOCKER_HOST:-the default socket}; nothing to remove there"
  fi
  if [ "$(cat "$engine_owner_file" 2>/dev/null)" = up ]; then engine_stop; fi
  rm -f "$state_file"
}

cmd_engine() {
  need_root
  case ${1:-} in
  start) engine_start engine ;;
  stop) engine_stop ;;
  *) die "usage: lab.sh engine start|stop" ;;
  esac
}

case ${1:-} in
up) cmd_up ;;
load) cmd_load ;;
logs) cmd_logs ;;
down) cmd_down ;;
engine) shift; cmd_engine "$@" ;;
*)
  echo "usage: docker/lab.sh up|load|logs|down|engine start|engine stop" >&2
  exit 2
  ;;
esac
