// IPv4 output: next hop, header, identification, fragmentation.
//
// A datagram that fits the MTU is built straight in a transmit buffer:
// begin() reserves the buffer and writes the Ethernet and IPv4 headers, the
// caller writes the payload where begin() says, commit() hands the frame to
// the neighbor cache. A larger one is sent from wherever it was built, cut
// into fragments of a multiple of 8 bytes (RFC 791 section 3.2).
//
// Identification (RFC 791, RFC 6864): every datagram gets the next value of
// a 16-bit counter picked by hashing its destination, the counters starting
// at random values, so a destination sees increasing IDs that are hard to
// predict from outside, and fragments of different datagrams do not mix.

import { randomFillSync } from 'node:crypto';
import { copyBytes } from '../wire/bytes';
import { ETHERTYPE_IPV4 } from '../wire/ethernet';
import { IPV4_HEADER_LEN, ipv4Field } from '../wire/ipv4';
import { IPV4_LIMITED_BROADCAST, isIpv4Multicast, type Ipv4Addressing } from './address';
import type { StackCounters } from './counters';
import { ipv4HeaderSum } from '../wire/checksum';
import type { Link } from './link';
import type { NeighborCache } from './neighbor-cache';
import { IPV4_MAX_PAYLOAD_LEN } from './reassembly';

/** TTL of the datagrams we send (Linux's net.ipv4.ip_default_ttl). */
export const DEFAULT_TIME_TO_LIVE = 64;

const MORE_FRAGMENTS = 0x2000;
const NO_ROUTE = -1;
/** Next hop meaning "the link's broadcast MAC". */
const BROADCAST_HOP = -2;
/** Next hop meaning "the multicast MAC of the destination" (RFC 1112 6.4). */
const MULTICAST_HOP = -3;

/** Identification values per destination bucket. */
export class Ipv4Identification {
  private readonly next: Uint16Array;
  private readonly mask: number;

  /** `buckets` is a power of two. */
  constructor(buckets = 256) {
    this.next = new Uint16Array(buckets);
    this.mask = buckets - 1;
    randomFillSync(this.next);
  }

  /** The identification for the next datagram to `destination`. */
  take(destination: number): number {
    return this.takeFromBucket(((destination >>> 16) * 31 + (destination & 0xffff)) & this.mask);
  }

  /** The same, for the destination address given as its two 16-bit halves (no address number is passed around). */
  takeForHalves(high16: number, low16: number): number {
    return this.takeFromBucket((high16 * 31 + low16) & this.mask);
  }

  private takeFromBucket(bucket: number): number {
    const id = this.next[bucket];
    this.next[bucket] = id + 1;
    return id;
  }
}

/** Sends IPv4 datagrams from our address. */
export class Ipv4Output {
  readonly mtu: number;
  private readonly link: Link;
  private readonly addressing: Ipv4Addressing;
  private readonly neighbors: NeighborCache;
  private readonly counters: StackCounters;
  private readonly identification: Ipv4Identification;
  private readonly now: () => number;
  /** The frame between begin() and commit(). */
  private pendingFrame = -1;
  private pendingLength = 0;
  private pendingHop = NO_ROUTE;
  private pendingDestination = 0;

  constructor(link: Link, addressing: Ipv4Addressing, neighbors: NeighborCache, counters: StackCounters, identification: Ipv4Identification, mtu: number, now: () => number) {
    this.link = link;
    this.addressing = addressing;
    this.neighbors = neighbors;
    this.counters = counters;
    this.identification = identification;
    this.mtu = mtu;
    this.now = now;
  }

  /** Largest payload sent in one frame. */
  get maxUnfragmentedPayload(): number {
    return this.mtu - IPV4_HEADER_LEN;
  }

  /** The next hop for `destination` (a neighbor's address or a marker); counts a missing route. */
  private route(destination: number): number {
    if (destination === IPV4_LIMITED_BROADCAST || this.addressing.isBroadcast(destination)) return BROADCAST_HOP;
    if (isIpv4Multicast(destination)) return MULTICAST_HOP;
    const hop = destination === this.addressing.address ? NO_ROUTE : this.addressing.nextHop(destination);
    if (hop === NO_ROUTE) this.counters.ipv4NoRoute++;
    return hop;
  }

  /**
   * Reserve a frame for a datagram of `payloadLength` bytes (at most
   * maxUnfragmentedPayload) and write its headers. Returns the offset in the
   * device's memory where the payload goes, or -1 (no route, no buffer, link
   * down: counted). Follow with commit() or cancel().
   */
  begin(destination: number, protocol: number, payloadLength: number): number {
    const hop = this.route(destination);
    if (hop === NO_ROUTE) return -1;
    const frame = this.link.allocFrame();
    if (frame < 0) return -1;
    const link = this.link;
    const headerLength = link.headerLength;
    link.writeHeader(frame, 0, 0, ETHERTYPE_IPV4);
    this.writeHeader(frame + headerLength, destination, protocol, payloadLength, this.identification.take(destination), 0);
    this.pendingFrame = frame;
    this.pendingLength = headerLength + IPV4_HEADER_LEN + payloadLength;
    this.pendingHop = hop;
    this.pendingDestination = destination;
    return frame + headerLength + IPV4_HEADER_LEN;
  }

  /** Send the frame begun by begin(). */
  commit(): boolean {
    const frame = this.pendingFrame;
    this.pendingFrame = -1;
    if (frame < 0) return false;
    this.counters.ipv4Sent++;
    return this.toNextHop(frame, this.pendingLength, this.pendingHop, this.pendingDestination);
  }

  /** Give back the frame begun by begin(). */
  cancel(): void {
    if (this.pendingFrame >= 0) this.link.freeFrame(this.pendingFrame);
    this.pendingFrame = -1;
  }

  /** Send `length` payload bytes from `view` at `offset` to `destination`, in fragments when over the MTU. */
  send(destination: number, protocol: number, view: DataView, offset: number, length: number): boolean {
    if (length > IPV4_MAX_PAYLOAD_LEN) {
      this.counters.ipv4TooLarge++;
      return false;
    }
    if (length <= this.maxUnfragmentedPayload) {
      const at = this.begin(destination, protocol, length);
      if (at < 0) return false;
      copyBytes(view, offset, this.link.memory, at, length);
      return this.commit();
    }
    const hop = this.route(destination);
    if (hop === NO_ROUTE) return false;
    const link = this.link;
    const headerLength = link.headerLength;
    const id = this.identification.take(destination);
    const chunk = this.maxUnfragmentedPayload & ~7;
    let sentAll = true;
    for (let at = 0; at < length; at += chunk) {
      const size = length - at < chunk ? length - at : chunk;
      const frame = link.allocFrame();
      if (frame < 0) return false;
      link.writeHeader(frame, 0, 0, ETHERTYPE_IPV4);
      const flags = at + size < length ? MORE_FRAGMENTS : 0;
      this.writeHeader(frame + headerLength, destination, protocol, size, id, flags | (at >>> 3));
      copyBytes(view, offset + at, link.memory, frame + headerLength + IPV4_HEADER_LEN, size);
      this.counters.ipv4FragmentsSent++;
      if (!this.toNextHop(frame, headerLength + IPV4_HEADER_LEN + size, hop, destination)) sentAll = false;
    }
    this.counters.ipv4Sent++;
    this.counters.ipv4Fragmented++;
    return sentAll;
  }

  private toNextHop(frame: number, frameLength: number, hop: number, destination: number): boolean {
    if (hop === BROADCAST_HOP) {
      this.link.writeDestination(frame, 0xffff, 0xffffffff);
      return this.link.sendFrame(frame, frameLength);
    }
    if (hop === MULTICAST_HOP) {
      this.link.writeDestination(frame, 0x0100, (0x5e000000 | (destination & 0x7fffff)) >>> 0);
      return this.link.sendFrame(frame, frameLength);
    }
    return this.neighbors.output(frame, frameLength, hop, this.now());
  }

  private writeHeader(at: number, destination: number, protocol: number, payloadLength: number, id: number, flagsAndOffset: number): void {
    const memory = this.link.memory;
    memory.setUint16(at + ipv4Field.VERSION_IHL, 0x4500);
    memory.setUint16(at + ipv4Field.TOTAL_LENGTH, IPV4_HEADER_LEN + payloadLength);
    memory.setUint16(at + ipv4Field.IDENTIFICATION, id);
    memory.setUint16(at + ipv4Field.FLAGS_FRAGMENT_OFFSET, flagsAndOffset);
    memory.setUint16(at + ipv4Field.TIME_TO_LIVE, (DEFAULT_TIME_TO_LIVE << 8) | protocol);
    memory.setUint32(at + ipv4Field.SOURCE, this.addressing.address);
    memory.setUint32(at + ipv4Field.DESTINATION, destination);
    memory.setUint16(at + ipv4Field.CHECKSUM, 0);
    memory.setUint16(at + ipv4Field.CHECKSUM, ~ipv4HeaderSum(memory, at) & 0xffff);
  }
}

/**
 * Rewrite a received IPv4 header (20 bytes, at `at`) into the header of our
 * reply to its sender: addresses, TTL, a fresh identification, no fragment
 * fields, `payloadLength`, checksum. The type of service is kept.
 *
 * Every word of the new header is in hand as it is written (what stays —
 * version, type of service, protocol, the request's source — is read once),
 * so the checksum is their sum, not a second pass over the header. All of it
 * small integers: an address as one 32-bit number may not be (see
 * packetChecksumSum in wire/checksum.ts on boxed numbers).
 */
export function turnAroundIpv4Header(memory: DataView, at: number, addressing: Ipv4Addressing, identification: Ipv4Identification, payloadLength: number): void {
  const versionAndService = memory.getUint16(at + ipv4Field.VERSION_IHL);
  const peer = memory.getUint32(at + ipv4Field.SOURCE);
  const peerHigh16 = peer >>> 16;
  const peerLow16 = peer & 0xffff;
  const timeToLiveAndProtocol = (DEFAULT_TIME_TO_LIVE << 8) | memory.getUint8(at + ipv4Field.PROTOCOL);
  const totalLength = IPV4_HEADER_LEN + payloadLength;
  const id = identification.takeForHalves(peerHigh16, peerLow16);
  const oursHigh16 = addressing.addressHigh16;
  const oursLow16 = addressing.addressLow16;
  // The header's ten words, less the two that are zero (fragment fields, the checksum's own): under 2^19, two folds.
  let sum = versionAndService + totalLength + id + timeToLiveAndProtocol + oursHigh16 + oursLow16 + peerHigh16 + peerLow16;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  // Whole 32-bit words where two fields share one: identification and fragment fields (none), TTL, protocol and checksum.
  memory.setUint16(at + ipv4Field.TOTAL_LENGTH, totalLength);
  memory.setUint32(at + ipv4Field.IDENTIFICATION, id << 16);
  memory.setUint32(at + ipv4Field.TIME_TO_LIVE, (timeToLiveAndProtocol << 16) | (~sum & 0xffff));
  memory.setUint32(at + ipv4Field.SOURCE, (oursHigh16 << 16) | oursLow16);
  memory.setUint32(at + ipv4Field.DESTINATION, peer);
}
