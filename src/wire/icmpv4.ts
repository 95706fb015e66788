// ICMP for IPv4 (RFC 792).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |     Code      |          Checksum             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                  Rest of header (by type)                     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Data ...
//
// Rest of header: echo request/reply carry Identifier and Sequence Number;
// destination unreachable carries zero and, for "fragmentation needed", the
// next-hop MTU (RFC 1191); time exceeded carries zero; parameter problem a
// pointer. Error messages quote the offending IPv4 header and at least the
// first 8 bytes of its payload. The checksum covers the whole message.

import { copyBytes, EMPTY_VIEW } from './bytes';
import { internetChecksum, internetChecksumSum } from './checksum';
import { Ipv4Packet, Ipv4Repr } from './ipv4';

// Field offsets as module constants, which keeps the accessors small enough for V8 to inline.
const TYPE = 0;
const CODE = 1;
const CHECKSUM = 2;
const REST_OF_HEADER = 4;
/** Echo: identifier. */
const ECHO_IDENTIFIER = 4;
/** Echo: sequence number. */
const ECHO_SEQUENCE = 6;
/** Destination unreachable, fragmentation needed: next-hop MTU. */
const NEXT_HOP_MTU = 6;
/** Parameter problem: pointer to the offending octet. */
const POINTER = 4;
const DATA = 8;

/** Byte offsets of the ICMPv4 header fields. */
const icmpv4Field = {
  TYPE,
  CODE,
  CHECKSUM,
  REST_OF_HEADER,
  ECHO_IDENTIFIER,
  ECHO_SEQUENCE,
  NEXT_HOP_MTU,
  POINTER,
  DATA,
} as const;

/** Length of the ICMPv4 header (type, code, checksum, rest of header). */
const ICMPV4_HEADER_LEN = DATA;

/** Message type: echo reply. */
const ICMPV4_ECHO_REPLY = 0;
/** Message type: destination unreachable. */
const ICMPV4_DESTINATION_UNREACHABLE = 3;
/** Message type: redirect. */
const ICMPV4_REDIRECT = 5;
/** Message type: echo request. */
const ICMPV4_ECHO_REQUEST = 8;
/** Message type: time exceeded. */
const ICMPV4_TIME_EXCEEDED = 11;
/** Message type: parameter problem. */
const ICMPV4_PARAMETER_PROBLEM = 12;

/** Destination unreachable codes (RFC 792, RFC 1122, RFC 1812). */
const Icmpv4UnreachableCode = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAGMENTATION_NEEDED: 4,
  SOURCE_ROUTE_FAILED: 5,
  NET_UNKNOWN: 6,
  HOST_UNKNOWN: 7,
  ADMINISTRATIVELY_PROHIBITED: 13,
} as const;

/** Time exceeded codes. */
const Icmpv4TimeExceededCode = {
  TTL_EXCEEDED: 0,
  FRAGMENT_REASSEMBLY: 1,
} as const;

// Exported by name here, not with `export const`, so that this file's own
// accessors use plain constants (TypeScript's CommonJS output would turn
// each use into an `exports.*` property load).
export {
  icmpv4Field,
  ICMPV4_HEADER_LEN,
  ICMPV4_ECHO_REPLY,
  ICMPV4_DESTINATION_UNREACHABLE,
  ICMPV4_REDIRECT,
  ICMPV4_ECHO_REQUEST,
  ICMPV4_TIME_EXCEEDED,
  ICMPV4_PARAMETER_PROBLEM,
  Icmpv4UnreachableCode,
  Icmpv4TimeExceededCode,
};

/** True for the error types that quote an offending IPv4 header. */
export function isIcmpv4Error(type: number): boolean {
  return type === ICMPV4_DESTINATION_UNREACHABLE || type === ICMPV4_TIME_EXCEEDED || type === ICMPV4_PARAMETER_PROBLEM;
}

/** True for echo request and echo reply. */
export function isIcmpv4Echo(type: number): boolean {
  return type === ICMPV4_ECHO_REQUEST || type === ICMPV4_ECHO_REPLY;
}

/** A reusable view of an ICMPv4 message; never allocates. */
export class Icmpv4Packet {
  view: DataView = EMPTY_VIEW;
  offset = 0;
  /** Message length (the IPv4 payload length). */
  length = 0;

  /** Point at a received message of `length` bytes. False when shorter than the header. */
  reset(view: DataView, offset: number, length: number): boolean {
    this.view = view;
    this.offset = offset;
    this.length = length;
    return length >= ICMPV4_HEADER_LEN;
  }

  /** Point at a region to be written; no checks. */
  resetUnchecked(view: DataView, offset: number, length: number): void {
    this.view = view;
    this.offset = offset;
    this.length = length;
  }

  get type(): number {
    return this.view.getUint8(this.offset + TYPE);
  }
  set type(value: number) {
    this.view.setUint8(this.offset + TYPE, value);
  }
  get code(): number {
    return this.view.getUint8(this.offset + CODE);
  }
  set code(value: number) {
    this.view.setUint8(this.offset + CODE, value);
  }
  get checksum(): number {
    return this.view.getUint16(this.offset + CHECKSUM);
  }
  set checksum(value: number) {
    this.view.setUint16(this.offset + CHECKSUM, value);
  }
  /** The four type-specific bytes as a u32. */
  get restOfHeader(): number {
    return this.view.getUint32(this.offset + REST_OF_HEADER);
  }
  set restOfHeader(value: number) {
    this.view.setUint32(this.offset + REST_OF_HEADER, value);
  }
  /** Echo identifier. */
  get echoIdentifier(): number {
    return this.view.getUint16(this.offset + ECHO_IDENTIFIER);
  }
  set echoIdentifier(value: number) {
    this.view.setUint16(this.offset + ECHO_IDENTIFIER, value);
  }
  /** Echo sequence number. */
  get echoSequence(): number {
    return this.view.getUint16(this.offset + ECHO_SEQUENCE);
  }
  set echoSequence(value: number) {
    this.view.setUint16(this.offset + ECHO_SEQUENCE, value);
  }
  /** Next-hop MTU of a "fragmentation needed" message. */
  get nextHopMtu(): number {
    return this.view.getUint16(this.offset + NEXT_HOP_MTU);
  }
  set nextHopMtu(value: number) {
    this.view.setUint16(this.offset + NEXT_HOP_MTU, value);
  }
  /** Parameter problem pointer. */
  get pointer(): number {
    return this.view.getUint8(this.offset + POINTER);
  }
  set pointer(value: number) {
    this.view.setUint8(this.offset + POINTER, value);
  }

  /** Offset of the data (echo payload, or the quoted header of an error). */
  get payloadOffset(): number {
    return this.offset + ICMPV4_HEADER_LEN;
  }
  get payloadLength(): number {
    return this.length - ICMPV4_HEADER_LEN;
  }

  /** True when the checksum over the whole message is correct. */
  verifyChecksum(): boolean {
    return internetChecksumSum(this.view, this.offset, this.length) === 0xffff;
  }

  /** Compute and store the checksum over the whole message. */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.view, this.offset, this.length);
  }
}

/**
 * A plain ICMPv4 record. The data is not copied: `payloadView`,
 * `payloadOffset` and `payloadLength` locate it (in the received frame after
 * parse; anywhere, for emit). Errors also get their quoted header parsed.
 */
export class Icmpv4Repr {
  /** Message type; unknown types pass through with their raw rest of header. */
  type = 0;
  code = 0;
  /** Echo identifier (echo types). */
  identifier = 0;
  /** Echo sequence number (echo types). */
  sequence = 0;
  /** Next-hop MTU (destination unreachable). */
  nextHopMtu = 0;
  /** The four type-specific bytes as a u32; emitted as-is for types other than echo, unreachable and time exceeded. */
  restOfHeader = 0;
  payloadView: DataView = EMPTY_VIEW;
  payloadOffset = 0;
  payloadLength = 0;
  /** The offending packet's header (error types only). */
  readonly quotedHeader = new Ipv4Repr();
  /** Offset and length of the offending packet's quoted payload (error types only). */
  quotedDataOffset = 0;
  quotedDataLength = 0;

  /** The record of a reset message; null on a bad checksum (when checked) or an error without a valid quoted header. */
  static parse(packet: Icmpv4Packet, checkChecksum = true): Icmpv4Repr | null {
    const repr = new Icmpv4Repr();
    return Icmpv4Repr.parseInto(repr, packet, checkChecksum, new Ipv4Packet()) ? repr : null;
  }

  /**
   * Fill `repr` from a reset message; never allocates. `scratch` is a view
   * the quoted header of an error message is read through.
   */
  static parseInto(repr: Icmpv4Repr, packet: Icmpv4Packet, checkChecksum: boolean, scratch: Ipv4Packet): boolean {
    if (checkChecksum && !packet.verifyChecksum()) return false;
    const type = packet.type;
    repr.type = type;
    repr.code = packet.code;
    repr.restOfHeader = packet.restOfHeader;
    repr.identifier = isIcmpv4Echo(type) ? packet.echoIdentifier : 0;
    repr.sequence = isIcmpv4Echo(type) ? packet.echoSequence : 0;
    repr.nextHopMtu = type === ICMPV4_DESTINATION_UNREACHABLE ? packet.nextHopMtu : 0;
    repr.payloadView = packet.view;
    repr.payloadOffset = packet.payloadOffset;
    repr.payloadLength = packet.payloadLength;
    if (!isIcmpv4Error(type)) {
      repr.quotedDataOffset = 0;
      repr.quotedDataLength = 0;
      return true;
    }
    if (!scratch.resetHeader(packet.view, repr.payloadOffset, repr.payloadLength)) return false;
    if (!Ipv4Repr.parseInto(repr.quotedHeader, scratch, false)) return false;
    repr.quotedDataOffset = scratch.payloadOffset;
    repr.quotedDataLength = scratch.payloadLength;
    return true;
  }

  /** Message length this record emits (header plus data). */
  get messageLength(): number {
    return ICMPV4_HEADER_LEN + this.payloadLength;
  }

  /**
   * Write the message at `offset`: the header, the data copied from
   * `payloadView` (skipped when already in place), and the checksum. Returns
   * the message length.
   */
  emit(view: DataView, offset: number): number {
    view.setUint8(offset + TYPE, this.type);
    view.setUint8(offset + CODE, this.code);
    view.setUint32(offset + REST_OF_HEADER, this.emittedRestOfHeader());
    copyBytes(this.payloadView, this.payloadOffset, view, offset + ICMPV4_HEADER_LEN, this.payloadLength);
    const length = ICMPV4_HEADER_LEN + this.payloadLength;
    view.setUint16(offset + CHECKSUM, 0);
    view.setUint16(offset + CHECKSUM, internetChecksum(view, offset, length));
    return length;
  }

  private emittedRestOfHeader(): number {
    if (isIcmpv4Echo(this.type)) return (((this.identifier & 0xffff) << 16) | (this.sequence & 0xffff)) >>> 0;
    if (this.type === ICMPV4_DESTINATION_UNREACHABLE) return this.nextHopMtu & 0xffff;
    if (this.type === ICMPV4_TIME_EXCEEDED) return 0;
    return this.restOfHeader >>> 0;
  }
}
