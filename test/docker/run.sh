#!/usr/bin/env bash
# The docker lab, end to end: a private docker engine, the lab image (on the
# official Node image, or on a local Debian bookworm base when that cannot be
# pulled), both containers joined by a veth pair, a bounded load, and then
# everything taken down again, containers, veth pair and engine, also when a
# step fails.
#
# Two passes: the kernel's UDP path checks the lab's own plumbing, then
# nicring's responder and generator answer each other. NICRING_DOCKER_TEST_MODES
# picks passes (default "kernel nicring").
#
# Needs root and Debian's docker.io, docker-compose and debootstrap.
# The engine's data, and with it the base image and the build cache, stay
# under NICRING_DOCKER_CACHE (default /var/cache/nicring-docker) between runs.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${NICRING_DOCKER_CACHE:-/var/cache/nicring-docker}
modes=${NICRING_DOCKER_TEST_MODES:-kernel nicring}
export NICRING_DOCKER_ENGINE=private
export DOCKER_HOST=unix://$cache/docker.sock

failures=0
step=0

say() { printf '# %s\n' "$*"; }
pass() { step=$((step + 1)); printf 'ok %d - %s\n' "$step" "$*"; }
fail() { step=$((step + 1)); failures=$((failures + 1)); printf 'not ok %d - %s\n' "$step" "$*"; }

# The lab script, without the lock's descriptor (a dockerd it starts would
# otherwise hold the lock after this test ends).
lab() { "$repo/docker/lab.sh" "$@" 9>&-; }

json_number() {
  sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p" <<<"$2"
}

if [ "$(id -u)" != 0 ]; then
  echo "test/docker: needs root (it runs its own docker engine and wires a veth pair)" >&2
  exit 1
fi
missing=()
for tool in dockerd docker docker-compose debootstrap nsenter setsid ip flock timeout; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} != 0 ]; then
  echo "test/docker: missing ${missing[*]} (apt-get install docker.io docker-compose debootstrap)" >&2
  exit 1
fi

mkdir -p "$cache"
exec 9>"$cache/test.lock"
flock -w 600 9 || { echo "test/docker: another run holds $cache/test.lock" >&2; exit 1; }

engine_pid=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  lab down >/dev/null 2>&1 || true
  lab engine stop >/dev/null 2>&1 || true
  if [ -n "$engine_pid" ] && [ -d "/proc/$engine_pid" ]; then
    echo "test/docker: dockerd $engine_pid still running after cleanup" >&2
    status=1
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$SECONDS
say "cache: $cache ($(df -h --output=avail "$cache" | tail -n 1 | tr -d ' ') free)"
lab engine start
engine_pid=$(cat "$cache/dockerd.pid")
pass "private engine up (pid $engine_pid)"
# Whatever an interrupted earlier run left in the engine goes first.
lab down >/dev/null 2>&1 || true

# One pass: up, check the generator's totals, down, check that nothing is left.
run_pass() {
  local mode=$1 output pass_started=$SECONDS last sent received lost leftovers
  output=$(mktemp)
  say "pass: $mode"
  if ! NICRING_LAB_MODE=$mode lab up >"$output"; then
    fail "$mode: lab up failed (its messages are above)"
    lab down || true
    rm -f "$output"
    return 0
  fi
  last=$(grep '^{' "$output" | tail -n 1 || true)
  rm -f "$output"
  sent=$(json_number sent "$last")
  received=$(json_number received "$last")
  lost=$(json_number lost "$last")
  if [ -n "$sent" ] && [ -n "$received" ] && [ "$received" -gt 0 ] && [ "$received" -le "$sent" ] &&
    [ "$sent" -le "${NICRING_LAB_COUNT:-10000}" ] && { [ -z "$lost" ] || [ "$lost" = $((sent - received)) ]; }; then
    pass "$mode: the generator got replies across the veth pair ($last)"
  else
    fail "$mode: the generator's totals do not add up: $last"
  fi

  if lab down; then pass "$mode: lab down"; else fail "$mode: lab down"; fi
  leftovers=$(docker ps -aq --filter label=com.docker.compose.project=nicring-lab)
  if [ -z "$leftovers" ]; then pass "$mode: no lab containers left"; else fail "$mode: containers left: $leftovers"; fi
  say "pass $mode took $((SECONDS - pass_started)) s"
}

for mode in $modes; do run_pass "$mode"; done

# The lab never configures the host's namespace.
if ip -o address show | grep -q ' 198\.1[89]\.'; then
  fail "a lab address appeared in the host's namespace"
else
  pass "no lab address in the host's namespace"
fi
if ip -o link show | grep -q ': nrd'; then
  fail "a lab veth end appeared in the host's namespace"
else
  pass "no lab veth end in the host's namespace"
fi

lab engine stop
for ((i = 0; i < 100; i++)); do [ -d "/proc/$engine_pid" ] || break; sleep 0.1; done
if [ -d "/proc/$engine_pid" ]; then fail "private engine still running"; else pass "private engine stopped"; fi

say "took $((SECONDS - started)) s"
printf '1..%d\n' "$step"
[ "$failures" = 0 ]
