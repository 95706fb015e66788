// IPv4 (RFC 791).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Version|  IHL  |   DSCP    |ECN|          Total Length         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |         Identification        |0|D|M|     Fragment Offset     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Time to Live |    Protocol   |         Header Checksum       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       Source Address                          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Destination Address                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Options (IHL > 5)                          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Addresses are u32 numbers (198.18.0.1 is 0xc6120001). Options are skipped,
// not interpreted. The frame may be longer than Total Length (Ethernet pads
// short frames to 60 bytes); the packet ends where Total Length says.

import { checksumUpdate16, checksumUpdate32, internetChecksumSum } from './checksum';
import { EMPTY_VIEW } from './bytes';

// Field offsets as module constants, which keeps the accessors small enough for V8 to inline.
const VERSION_IHL = 0;
const DSCP_ECN = 1;
const TOTAL_LENGTH = 2;
const IDENTIFICATION = 4;
const FLAGS_FRAGMENT_OFFSET = 6;
const TIME_TO_LIVE = 8;
const PROTOCOL = 9;
const CHECKSUM = 10;
const SOURCE = 12;
const DESTINATION = 16;
const OPTIONS = 20;

/** Byte offsets of the IPv4 header fields. */
const ipv4Field = {
  VERSION_IHL,
  DSCP_ECN,
  TOTAL_LENGTH,
  IDENTIFICATION,
  FLAGS_FRAGMENT_OFFSET,
  TIME_TO_LIVE,
  PROTOCOL,
  CHECKSUM,
  SOURCE,
  DESTINATION,
  OPTIONS,
} as const;

/** Length of an IPv4 header without options. */
const IPV4_HEADER_LEN = OPTIONS;
/** Longest IPv4 header (IHL 15). */
const IPV4_MAX_HEADER_LEN = 15 * 4;

/** IP protocol number: ICMP. */
const IP_PROTOCOL_ICMP = 1;
/** IP protocol number: IGMP. */
const IP_PROTOCOL_IGMP = 2;
/** IP protocol number: TCP. */
const IP_PROTOCOL_TCP = 6;
/** IP protocol number: UDP. */
const IP_PROTOCOL_UDP = 17;
/** IP protocol number: ICMPv6. */
const IP_PROTOCOL_ICMPV6 = 58;

const FLAG_DONT_FRAGMENT = 0x4000;
const FLAG_MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;

// Exported by name here, not with `export const`, so that this file's own
// accessors use plain constants (TypeScript's CommonJS output would turn
// each use into an `exports.*` property load).
export {
  ipv4Field,
  IPV4_HEADER_LEN,
  IPV4_MAX_HEADER_LEN,
  IP_PROTOCOL_ICMP,
  IP_PROTOCOL_IGMP,
  IP_PROTOCOL_TCP,
  IP_PROTOCOL_UDP,
  IP_PROTOCOL_ICMPV6,
};

/** Format a u32 address as dotted decimal. */
export function ipv4ToString(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

/** Parse dotted decimal into a u32 address; null when malformed. */
export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let address = 0;
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    address = address * 256 + octet;
  }
  return address;
}

/** A reusable view of an IPv4 packet; never allocates. */
export class Ipv4Packet {
  view: DataView = EMPTY_VIEW;
  offset = 0;
  /** Bytes available from `offset` (the frame's rest, padding included). */
  length = 0;

  /**
   * Point at a received packet. False unless the version is 4, IHL >= 5, the
   * header fits, and IHL*4 <= Total Length <= `length`.
   */
  reset(view: DataView, offset: number, length: number): boolean {
    if (!this.resetHeader(view, offset, length)) return false;
    return view.getUint16(offset + TOTAL_LENGTH) <= length;
  }

  /**
   * Point at a header quoted inside an ICMP error, which carries only the
   * header and the first bytes of its payload: Total Length may exceed
   * `length`, and the payload accessors stop at `length`.
   */
  resetHeader(view: DataView, offset: number, length: number): boolean {
    this.view = view;
    this.offset = offset;
    this.length = length;
    if (length < IPV4_HEADER_LEN) return false;
    const versionIhl = view.getUint8(offset + VERSION_IHL);
    if (versionIhl >>> 4 !== 4) return false;
    const headerLength = (versionIhl & 0x0f) * 4;
    if (headerLength < IPV4_HEADER_LEN || headerLength > length) return false;
    return view.getUint16(offset + TOTAL_LENGTH) >= headerLength;
  }

  /** Point at a region to be written; no checks. */
  resetUnchecked(view: DataView, offset: number, length: number): void {
    this.view = view;
    this.offset = offset;
    this.length = length;
  }

  get version(): number {
    return this.view.getUint8(this.offset + VERSION_IHL) >>> 4;
  }
  set version(value: number) {
    const at = this.offset + VERSION_IHL;
    this.view.setUint8(at, (this.view.getUint8(at) & 0x0f) | ((value & 0x0f) << 4));
  }
  /** Header length in bytes (IHL * 4). */
  get headerLength(): number {
    return (this.view.getUint8(this.offset + VERSION_IHL) & 0x0f) * 4;
  }
  set headerLength(bytes: number) {
    const at = this.offset + VERSION_IHL;
    this.view.setUint8(at, (this.view.getUint8(at) & 0xf0) | ((bytes >>> 2) & 0x0f));
  }
  get dscp(): number {
    return this.view.getUint8(this.offset + DSCP_ECN) >>> 2;
  }
  set dscp(value: number) {
    const at = this.offset + DSCP_ECN;
    this.view.setUint8(at, (this.view.getUint8(at) & 0x03) | ((value & 0x3f) << 2));
  }
  get ecn(): number {
    return this.view.getUint8(this.offset + DSCP_ECN) & 0x03;
  }
  set ecn(value: number) {
    const at = this.offset + DSCP_ECN;
    this.view.setUint8(at, (this.view.getUint8(at) & 0xfc) | (value & 0x03));
  }
  get totalLength(): number {
    return this.view.getUint16(this.offset + TOTAL_LENGTH);
  }
  set totalLength(value: number) {
    this.view.setUint16(this.offset + TOTAL_LENGTH, value);
  }
  get identification(): number {
    return this.view.getUint16(this.offset + IDENTIFICATION);
  }
  set identification(value: number) {
    this.view.setUint16(this.offset + IDENTIFICATION, value);
  }
  get dontFragment(): boolean {
    return (this.view.getUint16(this.offset + FLAGS_FRAGMENT_OFFSET) & FLAG_DONT_FRAGMENT) !== 0;
  }
  set dontFragment(value: boolean) {
    this.setFlag(FLAG_DONT_FRAGMENT, value);
  }
  get moreFragments(): boolean {
    return (this.view.getUint16(this.offset + FLAGS_FRAGMENT_OFFSET) & FLAG_MORE_FRAGMENTS) !== 0;
  }
  set moreFragments(value: boolean) {
    this.setFlag(FLAG_MORE_FRAGMENTS, value);
  }
  /** Clear all three flag bits (reserved, DF, MF), keeping the fragment offset. */
  clearFlags(): void {
    const at = this.offset + FLAGS_FRAGMENT_OFFSET;
    this.view.setUint16(at, this.view.getUint16(at) & FRAGMENT_OFFSET_MASK);
  }
  /** Fragment offset in bytes (the field counts 8-byte units). */
  get fragmentOffsetBytes(): number {
    return (this.view.getUint16(this.offset + FLAGS_FRAGMENT_OFFSET) & FRAGMENT_OFFSET_MASK) * 8;
  }
  set fragmentOffsetBytes(bytes: number) {
    const at = this.offset + FLAGS_FRAGMENT_OFFSET;
    this.view.setUint16(at, (this.view.getUint16(at) & ~FRAGMENT_OFFSET_MASK) | ((bytes >>> 3) & FRAGMENT_OFFSET_MASK));
  }
  /** True for any fragment but a whole datagram (MF set or a non-zero offset). */
  get isFragment(): boolean {
    return (this.view.getUint16(this.offset + FLAGS_FRAGMENT_OFFSET) & (FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK)) !== 0;
  }
  get timeToLive(): number {
    return this.view.getUint8(this.offset + TIME_TO_LIVE);
  }
  set timeToLive(value: number) {
    this.view.setUint8(this.offset + TIME_TO_LIVE, value);
  }
  get protocol(): number {
    return this.view.getUint8(this.offset + PROTOCOL);
  }
  set protocol(value: number) {
    this.view.setUint8(this.offset + PROTOCOL, value);
  }
  get checksum(): number {
    return this.view.getUint16(this.offset + CHECKSUM);
  }
  set checksum(value: number) {
    this.view.setUint16(this.offset + CHECKSUM, value);
  }
  /** Source address as a u32. */
  get source(): number {
    return this.view.getUint32(this.offset + SOURCE);
  }
  set source(address: number) {
    this.view.setUint32(this.offset + SOURCE, address);
  }
  /** Destination address as a u32. */
  get destination(): number {
    return this.view.getUint32(this.offset + DESTINATION);
  }
  set destination(address: number) {
    this.view.setUint32(this.offset + DESTINATION, address);
  }

  /** Offset of the options in the view (there are headerLength - 20 bytes of them). */
  get optionsOffset(): number {
    return this.offset + IPV4_HEADER_LEN;
  }
  /** Offset of the payload in the view. */
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
  /** Payload bytes: up to Total Length (or to the end of a quoted header's bytes). */
  get payloadLength(): number {
    return Math.min(this.totalLength, this.length) - this.headerLength;
  }

  /** True when the header checksum is correct. */
  verifyChecksum(): boolean {
    const headerLength = this.headerLength;
    if (headerLength === IPV4_HEADER_LEN) return sumBaseHeader(this.view, this.offset) === 0xffff;
    return internetChecksumSum(this.view, this.offset, headerLength) === 0xffff;
  }

  /** Compute and store the header checksum. */
  fillChecksum(): void {
    this.checksum = 0;
    const headerLength = this.headerLength;
    const sum = headerLength === IPV4_HEADER_LEN ? sumBaseHeader(this.view, this.offset) : internetChecksumSum(this.view, this.offset, headerLength);
    this.checksum = ~sum & 0xffff;
  }

  /** Exchange source and destination; the checksum stays valid (the sum is unchanged). */
  swapAddresses(): void {
    const source = this.source;
    this.source = this.destination;
    this.destination = source;
  }

  /** Set the 16-bit header field at `fieldOffset` and update the checksum incrementally (RFC 1624). */
  rewriteUint16(fieldOffset: number, value: number): void {
    const at = this.offset + fieldOffset;
    const old = this.view.getUint16(at);
    this.view.setUint16(at, value);
    this.checksum = checksumUpdate16(this.checksum, old, value);
  }

  /** Set the 32-bit header field at `fieldOffset` (an address) and update the checksum incrementally. */
  rewriteUint32(fieldOffset: number, value: number): void {
    const at = this.offset + fieldOffset;
    const old = this.view.getUint32(at);
    this.view.setUint32(at, value);
    this.checksum = checksumUpdate32(this.checksum, old, value);
  }

  /** Set the TTL and update the checksum incrementally. */
  rewriteTimeToLive(value: number): void {
    this.rewriteUint16(TIME_TO_LIVE, ((value & 0xff) << 8) | this.protocol);
  }

  private setFlag(flag: number, value: boolean): void {
    const at = this.offset + FLAGS_FRAGMENT_OFFSET;
    const word = this.view.getUint16(at);
    this.view.setUint16(at, value ? word | flag : word & ~flag);
  }
}

/** A plain IPv4 header record (options are not kept; emit writes none). */
export class Ipv4Repr {
  source = 0;
  destination = 0;
  /** IP_PROTOCOL_* or any other number, passed through. */
  protocol = 0;
  payloadLength = 0;
  timeToLive = 64;
  dscp = 0;
  ecn = 0;
  identification = 0;
  dontFragment = false;
  moreFragments = false;
  fragmentOffsetBytes = 0;

  /** The record of a reset packet; null when `checkChecksum` and the checksum is wrong. */
  static parse(packet: Ipv4Packet, checkChecksum = true): Ipv4Repr | null {
    const repr = new Ipv4Repr();
    return Ipv4Repr.parseInto(repr, packet, checkChecksum) ? repr : null;
  }

  /** Fill `repr` from a reset packet; false on a bad checksum (when checked). Never allocates. */
  static parseInto(repr: Ipv4Repr, packet: Ipv4Packet, checkChecksum = true): boolean {
    if (checkChecksum && !packet.verifyChecksum()) return false;
    repr.source = packet.source;
    repr.destination = packet.destination;
    repr.protocol = packet.protocol;
    repr.payloadLength = packet.totalLength - packet.headerLength;
    repr.timeToLive = packet.timeToLive;
    repr.dscp = packet.dscp;
    repr.ecn = packet.ecn;
    repr.identification = packet.identification;
    repr.dontFragment = packet.dontFragment;
    repr.moreFragments = packet.moreFragments;
    repr.fragmentOffsetBytes = packet.fragmentOffsetBytes;
    return true;
  }

  /** Header length this record emits. */
  get headerLength(): number {
    return IPV4_HEADER_LEN;
  }

  /** Write the header (no options) with its checksum at `offset`; returns its length. */
  emit(view: DataView, offset: number): number {
    view.setUint8(offset + VERSION_IHL, 0x45);
    view.setUint8(offset + DSCP_ECN, ((this.dscp & 0x3f) << 2) | (this.ecn & 0x03));
    view.setUint16(offset + TOTAL_LENGTH, IPV4_HEADER_LEN + this.payloadLength);
    view.setUint16(offset + IDENTIFICATION, this.identification);
    const flags = (this.dontFragment ? FLAG_DONT_FRAGMENT : 0) | (this.moreFragments ? FLAG_MORE_FRAGMENTS : 0);
    view.setUint16(offset + FLAGS_FRAGMENT_OFFSET, flags | ((this.fragmentOffsetBytes >>> 3) & FRAGMENT_OFFSET_MASK));
    view.setUint8(offset + TIME_TO_LIVE, this.timeToLive);
    view.setUint8(offset + PROTOCOL, this.protocol);
    view.setUint16(offset + CHECKSUM, 0);
    view.setUint32(offset + SOURCE, this.source);
    view.setUint32(offset + DESTINATION, this.destination);
    view.setUint16(offset + CHECKSUM, ~sumBaseHeader(view, offset) & 0xffff);
    return IPV4_HEADER_LEN;
  }
}

/** The folded sum of a 20-byte header: five words, no loop (the common case, inlined). */
function sumBaseHeader(view: DataView, offset: number): number {
  let sum =
    view.getUint32(offset) +
    view.getUint32(offset + 4) +
    view.getUint32(offset + 8) +
    view.getUint32(offset + 12) +
    view.getUint32(offset + 16);
  // At most 5 * (2^32 - 1): two divisions fold it below 2^32, then two shifts to 16 bits.
  sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}
