// Where every received frame ended. The stack counts each frame once where
// it stops: at Ethernet (a drop reason, or a type it does not serve), in
// ARP (malformed, or a request or reply taken in), at the IPv4 header (a
// drop reason), as a fragment handed to reassembly, or as a whole datagram.
// Every datagram, whole or reassembled, then ends in one place: ICMP, UDP
// (a drop reason, or a socket), TCP, or an unknown protocol. So:
//
//   framesReceived = Ethernet drops + arpMalformed + arpRequestsReceived + arpRepliesReceived
//                  + IPv4 header drops + ipv4FragmentsReceived + ipv4Received − ipv4Reassembled
//   ipv4Received   = icmpReceived + UDP outcomes + tcpSegmentsReceived + ipv4UnknownProtocol
//   icmpReceived   = icmpTooShort + icmpBadChecksum + icmpEchoRequests + icmpErrorsReceived + icmpUnhandledType
//   tcpSegmentsReceived = tcpSegmentsAccepted + TCP drop reasons (src/tcp/drops.ts)
//
// What follows (replies, errors sent, sockets' own accounting) is counted
// besides and is not part of these sums.

import { tcpSegmentFates } from '../tcp/drops';
import type { StackCountersSnapshot } from './counters';

/** Where a frame that is not IPv4 or ARP stops, or one refused before its type is read. */
export const ETHERNET_OUTCOMES = [
  'ethernetTooShort', 'ethernetNotForUs', 'ethernetVlanNotServed', 'ethernetVlanUntagged', 'ethernetIpv6', 'ethernetUnknownType',
] as const;

/** Where an ARP frame stops: every well-formed one is a request or a reply received. */
export const ARP_OUTCOMES = ['arpMalformed', 'arpRequestsReceived', 'arpRepliesReceived'] as const;

/** IPv4 packets refused for their header, before reassembly or a transport sees them. */
export const IPV4_HEADER_DROPS = [
  'ipv4TooShort', 'ipv4BadVersion', 'ipv4BadHeaderLength', 'ipv4BadTotalLength', 'ipv4BadChecksum', 'ipv4BadSource', 'ipv4NotForUs',
  'ipv4TtlZero', 'ipv4OptionBadLength', 'ipv4OptionBadPointer', 'ipv4OptionRepeated', 'ipv4OptionTimestampOverflow', 'ipv4OptionCipso',
  'ipv4SourceRouted',
] as const;

/** Where a UDP datagram stops: a drop reason or a socket. */
export const UDP_OUTCOMES = ['udpTooShort', 'udpBadLength', 'udpBadChecksum', 'udpNoSocket', 'udpBroadcastNoSocket', 'udpReceived'] as const;

/** Where an ICMP message stops. */
export const ICMP_OUTCOMES = ['icmpTooShort', 'icmpBadChecksum', 'icmpEchoRequests', 'icmpErrorsReceived', 'icmpUnhandledType'] as const;

/** What each identity leaves unaccounted: all zero when every frame, datagram and message is counted once. */
export interface Unaccounted {
  /** framesReceived minus where the frames ended. */
  frames: number;
  /** ipv4Received minus where the datagrams ended. */
  datagrams: number;
  /** icmpReceived minus where the messages ended. */
  icmp: number;
  /** tcpSegmentsReceived minus where the segments ended. */
  tcp: number;
}

function sum(counters: StackCountersSnapshot, names: readonly (keyof StackCountersSnapshot)[]): number {
  let total = 0;
  for (const name of names) total += counters[name];
  return total;
}

/** Check the identities above on a snapshot (or a sum of snapshots, as from several queues). */
export function unaccounted(counters: StackCountersSnapshot): Unaccounted {
  const frames = sum(counters, ETHERNET_OUTCOMES) + sum(counters, ARP_OUTCOMES) + sum(counters, IPV4_HEADER_DROPS)
    + counters.ipv4FragmentsReceived + counters.ipv4Received - counters.ipv4Reassembled;
  const datagrams = counters.icmpReceived + sum(counters, UDP_OUTCOMES) + counters.tcpSegmentsReceived + counters.ipv4UnknownProtocol;
  return {
    frames: counters.framesReceived - frames,
    datagrams: counters.ipv4Received - datagrams,
    icmp: counters.icmpReceived - sum(counters, ICMP_OUTCOMES),
    tcp: counters.tcpSegmentsReceived - tcpSegmentFates(counters),
  };
}
