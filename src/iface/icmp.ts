// ICMP for the host (RFC 792, RFC 1122 3.2.2): echo replies and the errors
// a host sends, with Linux's rules and rate limits.
//
// - An echo request to our address is answered with the same identifier,
//   sequence and data. When it came whole in a frame with a plain 20-byte
//   header and the reply fits the MTU, the request's own buffer becomes the
//   reply; otherwise (reassembled, options) the reply is built and sent, in
//   fragments when needed. Echo requests to broadcast or multicast are
//   ignored (net.ipv4.icmp_echo_ignore_broadcasts).
// - Errors (port and protocol unreachable, reassembly time exceeded) quote
//   the offending header and as much data as fits in 576 bytes (RFC 1812
//   4.3.2.3). None is sent about an ICMP error, a datagram to a broadcast or
//   multicast address, or a fragment other than the first (RFC 1122
//   3.2.2). They are rate limited overall and per destination.
// - Errors received that quote a UDP datagram we sent are passed to UDP
//   (RFC 1122 4.1.3.3), which tells the socket connected to that peer.

import { copyBytes } from '../wire/bytes';
import { checksumUpdate16, internetChecksum } from '../wire/checksum';
import {
  ICMPV4_DESTINATION_UNREACHABLE,
  ICMPV4_ECHO_REPLY,
  ICMPV4_ECHO_REQUEST,
  ICMPV4_HEADER_LEN,
  ICMPV4_PARAMETER_PROBLEM,
  ICMPV4_REDIRECT,
  ICMPV4_TIME_EXCEEDED,
  Icmpv4Packet,
  Icmpv4TimeExceededCode,
  Icmpv4UnreachableCode,
  icmpv4Field,
  isIcmpv4Error,
} from '../wire/icmpv4';
import { IPV4_HEADER_LEN, IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP, ipv4Field } from '../wire/ipv4';
import type { Ipv4Addressing } from './address';
import type { StackCounters } from './counters';
import { type Ipv4Datagram, type TransportInput, type UnreachableSender } from './ipv4-input';
import { type Ipv4Identification, type Ipv4Output, turnAroundIpv4Header } from './ipv4-output';
import type { Link } from './link';
import { KeyedTokenBuckets, TokenBucket } from './rate-limit';
import type { ReassemblySlot } from './reassembly';

/** Largest ICMP error datagram (RFC 1812 4.3.2.3). */
const ICMP_ERROR_MAX_DATAGRAM = 576;
const ICMP_ERROR_MAX_QUOTE = ICMP_ERROR_MAX_DATAGRAM - IPV4_HEADER_LEN - ICMPV4_HEADER_LEN;
/** Source quench (deprecated by RFC 6633, still an error to never answer). */
const ICMPV4_SOURCE_QUENCH = 4;
/** Highest ICMP type Linux knows (NR_ICMP_TYPES); anything above is treated as an error. */
const HIGHEST_KNOWN_TYPE = 18;

/** ICMP error rate limits; the defaults are Linux's. */
export interface IcmpRateOptions {
  /** Errors per second overall (net.ipv4.icmp_msgs_per_sec, default 1000). */
  errorsPerSecond?: number;
  /** Overall burst (net.ipv4.icmp_msgs_burst, default 50). */
  errorBurst?: number;
  /** Errors per second to one destination (1000 / net.ipv4.icmp_ratelimit ms, default 1). */
  perDestinationPerSecond?: number;
  /** Burst to one destination (default 6). */
  perDestinationBurst?: number;
}

/** A transport told of ICMP errors about its datagrams. */
export interface TransportErrorInput {
  /** An ICMP error `type`/`code` quotes a datagram we sent from `localPort` to `remoteAddress`:`remotePort`. */
  icmpError(remoteAddress: number, localPort: number, remotePort: number, type: number, code: number): void;
}

/** Echo replies and errors. */
export class IcmpLayer implements TransportInput, UnreachableSender {
  /** Where errors about UDP datagrams go (set by the interface). */
  udp: TransportErrorInput | null = null;
  private readonly link: Link;
  private readonly output: Ipv4Output;
  private readonly identification: Ipv4Identification;
  private readonly counters: StackCounters;
  private readonly addressing: Ipv4Addressing;
  private readonly now: () => number;
  private readonly scratch: DataView;
  private readonly packet = new Icmpv4Packet();
  private readonly overall: TokenBucket;
  private readonly perDestination: KeyedTokenBuckets;

  constructor(
    link: Link,
    output: Ipv4Output,
    identification: Ipv4Identification,
    counters: StackCounters,
    addressing: Ipv4Addressing,
    scratch: DataView,
    now: () => number,
    options: IcmpRateOptions = {},
  ) {
    this.link = link;
    this.output = output;
    this.identification = identification;
    this.counters = counters;
    this.addressing = addressing;
    this.scratch = scratch;
    this.now = now;
    this.overall = new TokenBucket(options.errorsPerSecond ?? 1000, options.errorBurst ?? 50);
    this.perDestination = new KeyedTokenBuckets(options.perDestinationPerSecond ?? 1, options.perDestinationBurst ?? 6);
  }

  input(datagram: Ipv4Datagram): void {
    const counters = this.counters;
    counters.icmpReceived++;
    const packet = this.packet;
    if (!packet.reset(datagram.view, datagram.payloadOffset, datagram.payloadLength)) {
      counters.icmpTooShort++;
      return;
    }
    if (!packet.verifyChecksum()) {
      counters.icmpBadChecksum++;
      return;
    }
    const type = packet.type;
    if (type === ICMPV4_ECHO_REQUEST) {
      counters.icmpEchoRequests++;
      if (datagram.toBroadcast) counters.icmpEchoBroadcastIgnored++;
      else this.echoReply(datagram);
    } else if (isIcmpv4Error(type)) {
      counters.icmpErrorsReceived++;
      if (!datagram.toBroadcast) this.passError(datagram, type, packet.code);
    } else {
      counters.icmpUnhandledType++;
    }
  }

  /**
   * Hand an error to the transport whose datagram it quotes: an IPv4 header
   * from our address and the first 8 bytes of what followed (RFC 792), the
   * ports of a UDP datagram. A quote that is too short, of another
   * protocol, from another source or of a later fragment is ignored.
   */
  private passError(datagram: Ipv4Datagram, type: number, code: number): void {
    const udp = this.udp;
    if (udp === null) return;
    const view = datagram.view;
    const quote = datagram.payloadOffset + ICMPV4_HEADER_LEN;
    const available = datagram.payloadLength - ICMPV4_HEADER_LEN;
    if (available < IPV4_HEADER_LEN) return;
    const versionIhl = view.getUint8(quote + ipv4Field.VERSION_IHL);
    const headerLength = (versionIhl & 0x0f) << 2;
    if (versionIhl >>> 4 !== 4 || headerLength < IPV4_HEADER_LEN || available < headerLength + 8) return;
    if (view.getUint8(quote + ipv4Field.PROTOCOL) !== IP_PROTOCOL_UDP || view.getUint32(quote + ipv4Field.SOURCE) !== this.addressing.address) return;
    if ((view.getUint16(quote + ipv4Field.FLAGS_FRAGMENT_OFFSET) & 0x1fff) !== 0) return;
    const transport = quote + headerLength;
    udp.icmpError(view.getUint32(quote + ipv4Field.DESTINATION), view.getUint16(transport), view.getUint16(transport + 2), type, code);
  }

  /** Answer a UDP datagram to a closed port. */
  portUnreachable(datagram: Ipv4Datagram): void {
    this.sendError(datagram, ICMPV4_DESTINATION_UNREACHABLE, Icmpv4UnreachableCode.PORT);
  }

  protocolUnreachable(datagram: Ipv4Datagram): void {
    this.sendError(datagram, ICMPV4_DESTINATION_UNREACHABLE, Icmpv4UnreachableCode.PROTOCOL);
  }

  /** Parameter problem, code 0: `pointer` is the offending byte's offset from the start of the quoted header (RFC 792). */
  parameterProblem(datagram: Ipv4Datagram, pointer: number): void {
    this.sendError(datagram, ICMPV4_PARAMETER_PROBLEM, 0, pointer << 24);
  }

  /** A datagram timed out in reassembly: tell its source, when its first fragment (so its header) arrived (RFC 792). */
  reassemblyTimedOut(slot: ReassemblySlot, nowMs: number): void {
    if (!slot.hasFirstFragment) return;
    const view = slot.view as DataView;
    const received = slot.firstFragmentLength;
    if (this.addressing.isBroadcast(slot.destination) || this.isAboutIcmpError(slot.protocol, view, slot.payloadOffset, received)) {
      this.counters.icmpErrorsSuppressed++;
      return;
    }
    this.sendErrorQuoting(slot.source, view, slot.headerOffset, slot.headerLength + received, ICMPV4_TIME_EXCEEDED, Icmpv4TimeExceededCode.FRAGMENT_REASSEMBLY, nowMs);
  }

  private echoReply(datagram: Ipv4Datagram): void {
    const length = datagram.payloadLength;
    if (datagram.token >= 0 && datagram.headerLength === IPV4_HEADER_LEN && length <= this.output.maxUnfragmentedPayload) {
      const memory = this.link.memory;
      const at = datagram.payloadOffset;
      const oldTypeCode = memory.getUint16(at + icmpv4Field.TYPE);
      memory.setUint16(at + icmpv4Field.TYPE, ICMPV4_ECHO_REPLY << 8);
      memory.setUint16(at + icmpv4Field.CHECKSUM, checksumUpdate16(memory.getUint16(at + icmpv4Field.CHECKSUM), oldTypeCode, ICMPV4_ECHO_REPLY << 8));
      turnAroundIpv4Header(memory, datagram.headerOffset, this.addressing, this.identification, length);
      this.link.turnAround(datagram.frameOffset);
      // The request's own Ethernet header, 14 or 18 bytes, stays in front.
      if (this.link.replyInPlace(datagram.token, datagram.headerOffset - datagram.frameOffset + IPV4_HEADER_LEN + length)) this.counters.icmpEchoRepliesSent++;
      return;
    }
    const scratch = this.scratch;
    copyBytes(datagram.view, datagram.payloadOffset, scratch, 0, length);
    scratch.setUint16(icmpv4Field.TYPE, ICMPV4_ECHO_REPLY << 8);
    scratch.setUint16(icmpv4Field.CHECKSUM, 0);
    scratch.setUint16(icmpv4Field.CHECKSUM, internetChecksum(scratch, 0, length));
    if (this.output.send(datagram.source, IP_PROTOCOL_ICMP, scratch, 0, length)) this.counters.icmpEchoRepliesSent++;
  }

  private sendError(datagram: Ipv4Datagram, type: number, code: number, restOfHeader = 0): void {
    if (datagram.toBroadcast || this.isAboutIcmpError(datagram.protocol, datagram.view, datagram.payloadOffset, datagram.payloadLength)) {
      this.counters.icmpErrorsSuppressed++;
      return;
    }
    this.sendErrorQuoting(datagram.source, datagram.view, datagram.headerOffset, datagram.headerLength + datagram.payloadLength, type, code, this.now(), restOfHeader);
  }

  /** True when the offending datagram is itself an ICMP error (or of a type unknown, as Linux counts those). */
  private isAboutIcmpError(protocol: number, view: DataView, payloadOffset: number, payloadLength: number): boolean {
    if (protocol !== IP_PROTOCOL_ICMP) return false;
    if (payloadLength < 1) return true;
    const type = view.getUint8(payloadOffset + icmpv4Field.TYPE);
    return type > HIGHEST_KNOWN_TYPE || isIcmpv4Error(type) || type === ICMPV4_SOURCE_QUENCH || type === ICMPV4_REDIRECT;
  }

  private sendErrorQuoting(destination: number, view: DataView, offset: number, available: number, type: number, code: number, nowMs: number, restOfHeader = 0): void {
    const counters = this.counters;
    if (!this.overall.take(nowMs)) {
      counters.icmpRateLimitedGlobal++;
      return;
    }
    if (!this.perDestination.take(destination, nowMs)) {
      counters.icmpRateLimitedDestination++;
      return;
    }
    const quoted = available < ICMP_ERROR_MAX_QUOTE ? available : ICMP_ERROR_MAX_QUOTE;
    const length = ICMPV4_HEADER_LEN + quoted;
    const at = this.output.begin(destination, IP_PROTOCOL_ICMP, length);
    if (at < 0) return;
    const memory = this.link.memory;
    memory.setUint8(at + icmpv4Field.TYPE, type);
    memory.setUint8(at + icmpv4Field.CODE, code);
    memory.setUint32(at + icmpv4Field.REST_OF_HEADER, restOfHeader >>> 0);
    copyBytes(view, offset, memory, at + ICMPV4_HEADER_LEN, quoted);
    memory.setUint16(at + icmpv4Field.CHECKSUM, 0);
    memory.setUint16(at + icmpv4Field.CHECKSUM, internetChecksum(memory, at, length));
    if (this.output.commit()) counters.icmpErrorsSent++;
  }
}
