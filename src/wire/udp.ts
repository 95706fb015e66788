// UDP (RFC 768).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Source Port          |       Destination Port        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |            Length             |           Checksum            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  data ...
//
// The checksum covers the IPv4 pseudo-header (source, destination, zero,
// protocol 17, UDP length), the header and the data. "An all zero transmitted
// checksum value means that the transmitter generated no checksum"; so a
// computed zero is sent as 0xffff, its ones' complement twin.

import { EMPTY_VIEW } from './bytes';
import { checksumUpdate16, checksumUpdate32, internetChecksumSum, ipv4PseudoHeaderSumFromAddrs } from './checksum';
import { IP_PROTOCOL_UDP } from './ipv4';

// A module-local copy: an imported binding costs a call in some module systems (esbuild's CJS).
const PROTOCOL_UDP = IP_PROTOCOL_UDP;

// Field offsets as module constants, which keeps the accessors small enough for V8 to inline.
const SOURCE_PORT = 0;
const DESTINATION_PORT = 2;
const LENGTH = 4;
const CHECKSUM = 6;
const PAYLOAD = 8;

/** Byte offsets of the UDP header fields. */
const udpField = {
  SOURCE_PORT,
  DESTINATION_PORT,
  LENGTH,
  CHECKSUM,
  PAYLOAD,
} as const;

/** Length of the UDP header. */
const UDP_HEADER_LEN = PAYLOAD;

// Exported by name here, not with `export const`, so that this file's own
// accessors use plain constants (TypeScript's CommonJS output would turn
// each use into an `exports.*` property load).
export {
  udpField,
  UDP_HEADER_LEN,
};

/**
 * A UDP checksum after a 16-bit word it covers changes (RFC 1624); a zero
 * checksum ("none") stays zero, and a computed zero becomes 0xffff.
 */
export function udpChecksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  if (checksum === 0) return 0;
  return checksumUpdate16(checksum, oldWord, newWord) || 0xffff;
}

/** A UDP checksum after a 32-bit value it covers changes (an address, or two ports). */
export function udpChecksumUpdate32(checksum: number, oldValue: number, newValue: number): number {
  if (checksum === 0) return 0;
  return checksumUpdate32(checksum, oldValue, newValue) || 0xffff;
}

/** A reusable view of a UDP datagram; never allocates. */
export class UdpPacket {
  view: DataView = EMPTY_VIEW;
  offset = 0;
  /** Bytes available from `offset` (the IPv4 payload length). */
  length = 0;

  /** Point at a received datagram. False unless 8 <= Length <= `length`. */
  reset(view: DataView, offset: number, length: number): boolean {
    this.view = view;
    this.offset = offset;
    this.length = length;
    if (length < UDP_HEADER_LEN) return false;
    const datagramLength = view.getUint16(offset + LENGTH);
    return datagramLength >= UDP_HEADER_LEN && datagramLength <= length;
  }

  /** Point at a region to be written; no checks. */
  resetUnchecked(view: DataView, offset: number, length: number): void {
    this.view = view;
    this.offset = offset;
    this.length = length;
  }

  get sourcePort(): number {
    return this.view.getUint16(this.offset + SOURCE_PORT);
  }
  set sourcePort(value: number) {
    this.view.setUint16(this.offset + SOURCE_PORT, value);
  }
  get destinationPort(): number {
    return this.view.getUint16(this.offset + DESTINATION_PORT);
  }
  set destinationPort(value: number) {
    this.view.setUint16(this.offset + DESTINATION_PORT, value);
  }
  /** The Length field: header plus data. */
  get datagramLength(): number {
    return this.view.getUint16(this.offset + LENGTH);
  }
  set datagramLength(value: number) {
    this.view.setUint16(this.offset + LENGTH, value);
  }
  get checksum(): number {
    return this.view.getUint16(this.offset + CHECKSUM);
  }
  set checksum(value: number) {
    this.view.setUint16(this.offset + CHECKSUM, value);
  }

  get payloadOffset(): number {
    return this.offset + UDP_HEADER_LEN;
  }
  /** Data bytes, as the Length field says (bytes after it are ignored). */
  get payloadLength(): number {
    return this.datagramLength - UDP_HEADER_LEN;
  }

  /** The folded sum of pseudo-header, header and data (0xffff when the checksum is right). */
  checksumSum(source: number, destination: number): number {
    const length = this.datagramLength;
    const pseudo = ipv4PseudoHeaderSumFromAddrs(source, destination, PROTOCOL_UDP, length);
    return internetChecksumSum(this.view, this.offset, length, pseudo);
  }

  /** True when the checksum is right or absent (zero). Addresses are u32s. */
  verifyChecksum(source: number, destination: number): boolean {
    return this.checksum === 0 || this.checksumSum(source, destination) === 0xffff;
  }

  /** Compute and store the checksum (Length and data must be in place). */
  fillChecksum(source: number, destination: number): void {
    this.checksum = 0;
    this.checksum = ~this.checksumSum(source, destination) & 0xffff || 0xffff;
  }

  /** Exchange the ports; the checksum stays valid. */
  swapPorts(): void {
    this.view.setUint32(this.offset + SOURCE_PORT, ((this.destinationPort << 16) | this.sourcePort) >>> 0);
  }

  /** Set a 16-bit word of the datagram (header or data) at `fieldOffset` and update the checksum incrementally. */
  rewriteUint16(fieldOffset: number, value: number): void {
    const at = this.offset + fieldOffset;
    const old = this.view.getUint16(at);
    this.view.setUint16(at, value);
    this.checksum = udpChecksumUpdate16(this.checksum, old, value);
  }

  /** Set an even-aligned 32-bit word of the datagram at `fieldOffset` and update the checksum incrementally. */
  rewriteUint32(fieldOffset: number, value: number): void {
    const at = this.offset + fieldOffset;
    const old = this.view.getUint32(at);
    this.view.setUint32(at, value);
    this.checksum = udpChecksumUpdate32(this.checksum, old, value);
  }
}

/** A plain UDP header record. */
export class UdpRepr {
  sourcePort = 0;
  destinationPort = 0;
  payloadLength = 0;

  /**
   * The record of a reset datagram; null on a bad checksum when `checkChecksum`
   * (a zero checksum is accepted: the sender sent none).
   */
  static parse(packet: UdpPacket, source: number, destination: number, checkChecksum = true): UdpRepr | null {
    const repr = new UdpRepr();
    return UdpRepr.parseInto(repr, packet, source, destination, checkChecksum) ? repr : null;
  }

  /** Fill `repr` from a reset datagram; false on a bad checksum (when checked). Never allocates. */
  static parseInto(repr: UdpRepr, packet: UdpPacket, source: number, destination: number, checkChecksum = true): boolean {
    if (checkChecksum && !packet.verifyChecksum(source, destination)) return false;
    repr.sourcePort = packet.sourcePort;
    repr.destinationPort = packet.destinationPort;
    repr.payloadLength = packet.payloadLength;
    return true;
  }

  /** Header length this record emits. */
  get headerLength(): number {
    return UDP_HEADER_LEN;
  }

  /**
   * Write the header at `offset` and fill the checksum over the data, which
   * must already be in place after it. Returns the header length.
   */
  emit(view: DataView, offset: number, source: number, destination: number): number {
    const length = UDP_HEADER_LEN + this.payloadLength;
    view.setUint16(offset + SOURCE_PORT, this.sourcePort);
    view.setUint16(offset + DESTINATION_PORT, this.destinationPort);
    view.setUint16(offset + LENGTH, length);
    view.setUint16(offset + CHECKSUM, 0);
    const sum = internetChecksumSum(view, offset, length, ipv4PseudoHeaderSumFromAddrs(source, destination, PROTOCOL_UDP, length));
    view.setUint16(offset + CHECKSUM, ~sum & 0xffff || 0xffff);
    return UDP_HEADER_LEN;
  }

  /** Write the header with a zero ("none") checksum; returns the header length. */
  emitWithoutChecksum(view: DataView, offset: number): number {
    view.setUint16(offset + SOURCE_PORT, this.sourcePort);
    view.setUint16(offset + DESTINATION_PORT, this.destinationPort);
    view.setUint16(offset + LENGTH, UDP_HEADER_LEN + this.payloadLength);
    view.setUint16(offset + CHECKSUM, 0);
    return UDP_HEADER_LEN;
  }
}
