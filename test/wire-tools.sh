#!/usr/bin/env bash
# Helpers for the wire-layer fixtures.
#
#   test/wire-tools.sh capture OUT.pcap   record the traffic described below
#   test/wire-tools.sh hex IN.pcap        print each frame as one line of hex
#
# Records real kernel traffic for test/fixtures/wire/: three network
# namespaces (host a, router r, host b) joined by two veth pairs, addressed
# from 198.18.0.0/15, with checksum offload off so the captured checksums are
# the ones on the wire. tcpdump listens on host a's interface while a sends
# ARP, ping (plain, with the record-route option, fragmented, and with TTL 1
# for a time-exceeded error), UDP to an open and to a closed port
# (port unreachable), and one short TCP exchange. (No VLAN: the kernel here
# has no 802.1Q module, so tagged fixtures are built by hand.) Needs root, iproute2,
# ethtool, tcpdump, ping and node. Everything it creates is removed on exit.
set -euo pipefail

PREFIX=nrw-
NS_A=${PREFIX}a
NS_R=${PREFIX}r
NS_B=${PREFIX}b

cleanup() {
  for ns in "$NS_A" "$NS_R" "$NS_B"; do
    ip netns del "$ns" 2>/dev/null || true
  done
}

in_ns() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

no_offload() {
  in_ns "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
}

capture() {
  local out=$1
  trap cleanup EXIT
  cleanup
  for ns in "$NS_A" "$NS_R" "$NS_B"; do
    ip netns add "$ns"
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    in_ns "$ns" ip link set lo up
  done
  ip link add name ${PREFIX}a0 address 02:00:00:00:01:02 netns "$NS_A" type veth peer name ${PREFIX}ra address 02:00:00:00:01:01 netns "$NS_R"
  ip link add name ${PREFIX}b0 address 02:00:00:00:02:02 netns "$NS_B" type veth peer name ${PREFIX}rb address 02:00:00:00:02:01 netns "$NS_R"

  in_ns "$NS_A" ip addr add 198.18.1.2/24 dev ${PREFIX}a0
  in_ns "$NS_R" ip addr add 198.18.1.1/24 dev ${PREFIX}ra
  in_ns "$NS_R" ip addr add 198.18.2.1/24 dev ${PREFIX}rb
  in_ns "$NS_B" ip addr add 198.18.2.2/24 dev ${PREFIX}b0
  for link in ${PREFIX}a0; do no_offload "$NS_A" "$link"; in_ns "$NS_A" ip link set "$link" up; done
  for link in ${PREFIX}ra ${PREFIX}rb; do no_offload "$NS_R" "$link"; in_ns "$NS_R" ip link set "$link" up; done
  no_offload "$NS_B" ${PREFIX}b0
  in_ns "$NS_B" ip link set ${PREFIX}b0 up
  in_ns "$NS_A" ip route add 198.18.2.0/24 via 198.18.1.1
  in_ns "$NS_B" ip route add 198.18.1.0/24 via 198.18.2.1
  in_ns "$NS_R" sysctl -qw net.ipv4.ip_forward=1
  in_ns "$NS_R" sysctl -qw net.ipv4.icmp_ratelimit=0

  # Servers in b: a UDP echo on 7777 and a TCP echo on 8080, each for one exchange, bounded in time.
  ip netns exec "$NS_B" timeout 20 node -e '
    const dgram = require("node:dgram"), net = require("node:net");
    const udp = dgram.createSocket("udp4");
    udp.on("message", (m, r) => udp.send(m, r.port, r.address, () => udp.close()));
    udp.bind(7777, "198.18.2.2");
    const tcp = net.createServer((s) => { s.on("data", (d) => s.end(d)); tcp.close(); });
    tcp.listen(8080, "198.18.2.2");
  ' &
  local servers=$!

  ip netns exec "$NS_A" timeout 30 tcpdump -i ${PREFIX}a0 -U -s 0 -w "$out" >/dev/null 2>&1 &
  local tcpdump=$!
  sleep 1.5

  in_ns "$NS_A" ping -c 1 -W 2 -s 24 -p 6e6963 198.18.1.1 >/dev/null
  in_ns "$NS_A" ping -c 1 -W 2 -s 24 -R 198.18.1.1 >/dev/null || true
  in_ns "$NS_A" ping -c 1 -W 2 -s 1600 198.18.1.1 >/dev/null
  in_ns "$NS_A" ping -c 1 -W 2 -s 24 -t 1 198.18.2.2 >/dev/null || true
  in_ns "$NS_A" timeout 10 node -e '
    const dgram = require("node:dgram"), net = require("node:net");
    const udp = dgram.createSocket("udp4");
    udp.bind(40000, "198.18.1.2", () => {
      udp.send("hello nicring", 7777, "198.18.2.2");
      udp.once("message", () => udp.send("anyone there?", 9, "198.18.2.2", () => setTimeout(tcpExchange, 300)));
    });
    function tcpExchange() {
      udp.close();
      const socket = net.connect({ host: "198.18.2.2", port: 8080, localAddress: "198.18.1.2", localPort: 40001 });
      socket.on("connect", () => socket.write("nicring tcp"));
      socket.on("data", () => socket.end());
      socket.on("close", () => process.exit(0));
    }
  '
  sleep 1
  kill "$tcpdump" 2>/dev/null || true
  wait "$tcpdump" 2>/dev/null || true
  kill "$servers" 2>/dev/null || true
  wait "$servers" 2>/dev/null || true
}

hex() {
  local here
  here=$(cd "$(dirname "$0")/.." && pwd)
  (cd "$here" && npx tsx -e '
    import { PcapReader } from "./src/wire/pcap";
    (async () => {
      let number = 0;
      for await (const record of new PcapReader(process.argv[1])) {
        number++;
        console.log(`${number} ${Buffer.from(record.data).toString("hex")}`);
      }
    })();
  ' "$(realpath "$1")")
}

case "${1:-}" in
  capture) capture "${2:?usage: $0 capture OUT.pcap}" ;;
  hex) hex "${2:?usage: $0 hex IN.pcap}" ;;
  *) echo "usage: $0 capture OUT.pcap | hex IN.pcap" >&2; exit 2 ;;
esac
