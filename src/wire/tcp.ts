// TCP header and options (RFC 9293; options from RFC 7323 and RFC 2018).
// Only the wire format: no state machine here.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Source Port          |       Destination Port        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                        Sequence Number                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Acknowledgment Number                      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Data |     |N|C|E|U|A|P|R|S|F|                               |
// | Offset| Rsv |S|W|C|R|C|S|S|Y|I|            Window             |
// |       |     | |R|E|G|K|H|T|N|N|                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           Checksum            |         Urgent Pointer        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Options (Data Offset > 5)                  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  data ...
//
// Options are kind, length, value, except End of Option List (0) and No-Op
// (1), which are one byte. The checksum covers the IPv4 pseudo-header
// (protocol 6, segment length), the header and the data.

import { EMPTY_VIEW } from './bytes';
import { internetChecksumSum, ipv4PseudoHeaderSumFromAddrs } from './checksum';
import { IP_PROTOCOL_TCP } from './ipv4';

// A module-local copy: an imported binding costs a call in some module systems (esbuild's CJS).
const PROTOCOL_TCP = IP_PROTOCOL_TCP;

// Field offsets as module constants, which keeps the accessors small enough for V8 to inline.
const SOURCE_PORT = 0;
const DESTINATION_PORT = 2;
const SEQUENCE_NUMBER = 4;
const ACKNOWLEDGMENT_NUMBER = 8;
const DATA_OFFSET_FLAGS = 12;
const WINDOW = 14;
const CHECKSUM = 16;
const URGENT_POINTER = 18;
const OPTIONS = 20;

/** Byte offsets of the TCP header fields. */
const tcpField = {
  SOURCE_PORT,
  DESTINATION_PORT,
  SEQUENCE_NUMBER,
  ACKNOWLEDGMENT_NUMBER,
  DATA_OFFSET_FLAGS,
  WINDOW,
  CHECKSUM,
  URGENT_POINTER,
  OPTIONS,
} as const;

/** Length of a TCP header without options. */
const TCP_HEADER_LEN = OPTIONS;
/** Longest TCP header (data offset 15). */
const TCP_MAX_HEADER_LEN = 15 * 4;

/** Header flag bits, as in the low 9 bits of the data offset/flags word. */
const TcpFlag = {
  FIN: 0x001,
  SYN: 0x002,
  RST: 0x004,
  PSH: 0x008,
  ACK: 0x010,
  URG: 0x020,
  ECE: 0x040,
  CWR: 0x080,
  NS: 0x100,
} as const;

const FLAGS_MASK = 0x1ff;

/** Option kinds. */
const TcpOptionKind = {
  END: 0,
  NOP: 1,
  MAX_SEGMENT_SIZE: 2,
  WINDOW_SCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMPS: 8,
} as const;

/** Most SACK blocks one option can carry (34 bytes). */
const TCP_MAX_SACK_BLOCKS = 4;

// Exported by name here, not with `export const`, so that this file's own
// accessors use plain constants (TypeScript's CommonJS output would turn
// each use into an `exports.*` property load).
export {
  tcpField,
  TCP_HEADER_LEN,
  TCP_MAX_HEADER_LEN,
  TcpFlag,
  TcpOptionKind,
  TCP_MAX_SACK_BLOCKS,
};

/** A reusable view of a TCP segment; never allocates. */
export class TcpPacket {
  view: DataView = EMPTY_VIEW;
  offset = 0;
  /** Segment length (the IPv4 payload length). */
  length = 0;

  /** Point at a received segment. False unless 20 <= data offset * 4 <= `length`. */
  reset(view: DataView, offset: number, length: number): boolean {
    this.view = view;
    this.offset = offset;
    this.length = length;
    if (length < TCP_HEADER_LEN) return false;
    const headerLength = (view.getUint8(offset + DATA_OFFSET_FLAGS) >>> 4) * 4;
    return headerLength >= TCP_HEADER_LEN && headerLength <= length;
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
  /** Sequence number as a u32. */
  get sequenceNumber(): number {
    return this.view.getUint32(this.offset + SEQUENCE_NUMBER);
  }
  set sequenceNumber(value: number) {
    this.view.setUint32(this.offset + SEQUENCE_NUMBER, value);
  }
  /** Acknowledgment number as a u32. */
  get acknowledgmentNumber(): number {
    return this.view.getUint32(this.offset + ACKNOWLEDGMENT_NUMBER);
  }
  set acknowledgmentNumber(value: number) {
    this.view.setUint32(this.offset + ACKNOWLEDGMENT_NUMBER, value);
  }
  /** Header length in bytes (data offset * 4). */
  get headerLength(): number {
    return (this.view.getUint8(this.offset + DATA_OFFSET_FLAGS) >>> 4) * 4;
  }
  set headerLength(bytes: number) {
    const at = this.offset + DATA_OFFSET_FLAGS;
    this.view.setUint8(at, (this.view.getUint8(at) & 0x0f) | (((bytes >>> 2) & 0x0f) << 4));
  }
  /** The nine flag bits (TcpFlag.*). */
  get flags(): number {
    return this.view.getUint16(this.offset + DATA_OFFSET_FLAGS) & FLAGS_MASK;
  }
  set flags(value: number) {
    const at = this.offset + DATA_OFFSET_FLAGS;
    this.view.setUint16(at, (this.view.getUint16(at) & ~FLAGS_MASK) | (value & FLAGS_MASK));
  }
  /** Clear the flags and the reserved bits, keeping the data offset. */
  clearFlags(): void {
    const at = this.offset + DATA_OFFSET_FLAGS;
    this.view.setUint16(at, this.view.getUint16(at) & 0xf000);
  }
  get fin(): boolean {
    return (this.flags & TcpFlag.FIN) !== 0;
  }
  get syn(): boolean {
    return (this.flags & TcpFlag.SYN) !== 0;
  }
  get rst(): boolean {
    return (this.flags & TcpFlag.RST) !== 0;
  }
  get psh(): boolean {
    return (this.flags & TcpFlag.PSH) !== 0;
  }
  get ack(): boolean {
    return (this.flags & TcpFlag.ACK) !== 0;
  }
  get urg(): boolean {
    return (this.flags & TcpFlag.URG) !== 0;
  }
  get ece(): boolean {
    return (this.flags & TcpFlag.ECE) !== 0;
  }
  get cwr(): boolean {
    return (this.flags & TcpFlag.CWR) !== 0;
  }
  get ns(): boolean {
    return (this.flags & TcpFlag.NS) !== 0;
  }
  /** The raw window field (before any window scaling). */
  get windowSize(): number {
    return this.view.getUint16(this.offset + WINDOW);
  }
  set windowSize(value: number) {
    this.view.setUint16(this.offset + WINDOW, value);
  }
  get checksum(): number {
    return this.view.getUint16(this.offset + CHECKSUM);
  }
  set checksum(value: number) {
    this.view.setUint16(this.offset + CHECKSUM, value);
  }
  get urgentPointer(): number {
    return this.view.getUint16(this.offset + URGENT_POINTER);
  }
  set urgentPointer(value: number) {
    this.view.setUint16(this.offset + URGENT_POINTER, value);
  }

  get optionsOffset(): number {
    return this.offset + TCP_HEADER_LEN;
  }
  get optionsLength(): number {
    return this.headerLength - TCP_HEADER_LEN;
  }
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
  get payloadLength(): number {
    return this.length - this.headerLength;
  }
  /** Sequence space the segment occupies: data, plus one each for SYN and FIN. */
  get segmentLength(): number {
    const flags = this.flags;
    return this.payloadLength + (flags & TcpFlag.SYN ? 1 : 0) + (flags & TcpFlag.FIN ? 1 : 0);
  }

  /** The folded sum of pseudo-header, header and data (0xffff when the checksum is right). */
  checksumSum(source: number, destination: number): number {
    const pseudo = ipv4PseudoHeaderSumFromAddrs(source, destination, PROTOCOL_TCP, this.length);
    return internetChecksumSum(this.view, this.offset, this.length, pseudo);
  }

  /** True when the checksum is right. Addresses are u32s. */
  verifyChecksum(source: number, destination: number): boolean {
    return this.checksumSum(source, destination) === 0xffff;
  }

  /** Compute and store the checksum over `length` bytes (header and data must be in place). */
  fillChecksum(source: number, destination: number): void {
    this.checksum = 0;
    this.checksum = ~this.checksumSum(source, destination) & 0xffff;
  }
}

/**
 * Walks the options of a TCP header, one at a time, without allocating:
 * `reset(packet)`, then `while (options.next()) { switch (options.kind) ... }`.
 * After the loop `malformed` tells a bad option list from its end.
 */
export class TcpOptionIterator {
  view: DataView = EMPTY_VIEW;
  /** Offset of the current option. */
  optionOffset = 0;
  /** Kind of the current option. */
  kind = 0;
  /** Length of the current option, kind and length bytes included. */
  optionLength = 0;
  /** True when the walk stopped at an option that does not fit or has a wrong length. */
  malformed = false;
  private cursor = 0;
  private end = 0;

  /** Start walking the options of a reset segment. */
  reset(packet: TcpPacket): void {
    this.resetRegion(packet.view, packet.optionsOffset, packet.optionsLength);
  }

  /** Start walking `length` bytes of options at `offset`. */
  resetRegion(view: DataView, offset: number, length: number): void {
    this.view = view;
    this.cursor = offset;
    this.end = offset + length;
    this.kind = 0;
    this.optionLength = 0;
    this.malformed = false;
  }

  /** Step to the next option; false at the end of the list or on a malformed option. */
  next(): boolean {
    const at = this.cursor;
    if (at >= this.end) return false;
    const kind = this.view.getUint8(at);
    if (kind === TcpOptionKind.END) {
      this.cursor = this.end;
      return false;
    }
    this.optionOffset = at;
    this.kind = kind;
    if (kind === TcpOptionKind.NOP) {
      this.optionLength = 1;
      this.cursor = at + 1;
      return true;
    }
    if (at + 2 > this.end) return this.fail();
    const length = this.view.getUint8(at + 1);
    if (length < 2 || at + length > this.end || !validOptionLength(kind, length)) return this.fail();
    this.optionLength = length;
    this.cursor = at + length;
    return true;
  }

  /** Maximum segment size (kind 2). */
  get maxSegmentSize(): number {
    return this.view.getUint16(this.optionOffset + 2);
  }
  /** Window scale shift count (kind 3). */
  get windowScale(): number {
    return this.view.getUint8(this.optionOffset + 2);
  }
  /** Number of SACK blocks (kind 5). */
  get sackBlockCount(): number {
    return (this.optionLength - 2) >>> 3;
  }
  /** Left edge of SACK block `index` (kind 5). */
  sackLeftEdge(index: number): number {
    return this.view.getUint32(this.optionOffset + 2 + index * 8);
  }
  /** Right edge of SACK block `index` (kind 5). */
  sackRightEdge(index: number): number {
    return this.view.getUint32(this.optionOffset + 6 + index * 8);
  }
  /** Timestamp value (kind 8). */
  get timestampValue(): number {
    return this.view.getUint32(this.optionOffset + 2);
  }
  /** Timestamp echo reply (kind 8). */
  get timestampEcho(): number {
    return this.view.getUint32(this.optionOffset + 6);
  }

  private fail(): boolean {
    this.malformed = true;
    this.cursor = this.end;
    return false;
  }
}

function validOptionLength(kind: number, length: number): boolean {
  switch (kind) {
    case TcpOptionKind.MAX_SEGMENT_SIZE:
      return length === 4;
    case TcpOptionKind.WINDOW_SCALE:
      return length === 3;
    case TcpOptionKind.SACK_PERMITTED:
      return length === 2;
    case TcpOptionKind.SACK:
      return length >= 10 && length <= 2 + 8 * TCP_MAX_SACK_BLOCKS && (length - 2) % 8 === 0;
    case TcpOptionKind.TIMESTAMPS:
      return length === 10;
    default:
      return true;
  }
}

/**
 * A plain TCP header record with the options nicring understands; unknown
 * options are skipped on parse. Sequence numbers are u32 numbers.
 */
export class TcpRepr {
  sourcePort = 0;
  destinationPort = 0;
  sequenceNumber = 0;
  acknowledgmentNumber = 0;
  /** TcpFlag bits. */
  flags = 0;
  windowSize = 0;
  urgentPointer = 0;
  /** MSS option value; 0 when absent. */
  maxSegmentSize = 0;
  /** Window scale shift; -1 when absent. */
  windowScale = -1;
  sackPermitted = false;
  /** Number of valid SACK blocks in `sackBlocks`. */
  sackBlockCount = 0;
  /** SACK blocks as left, right edge pairs. */
  readonly sackBlocks = new Uint32Array(2 * TCP_MAX_SACK_BLOCKS);
  hasTimestamps = false;
  timestampValue = 0;
  timestampEcho = 0;
  payloadLength = 0;

  /** The record of a reset segment; null on a bad checksum (when checked) or malformed options. */
  static parse(packet: TcpPacket, source: number, destination: number, checkChecksum = true): TcpRepr | null {
    const repr = new TcpRepr();
    return TcpRepr.parseInto(repr, packet, source, destination, checkChecksum, new TcpOptionIterator()) ? repr : null;
  }

  /** Fill `repr` from a reset segment, walking options with `options`. Never allocates. */
  static parseInto(
    repr: TcpRepr,
    packet: TcpPacket,
    source: number,
    destination: number,
    checkChecksum: boolean,
    options: TcpOptionIterator,
  ): boolean {
    if (checkChecksum && !packet.verifyChecksum(source, destination)) return false;
    repr.sourcePort = packet.sourcePort;
    repr.destinationPort = packet.destinationPort;
    repr.sequenceNumber = packet.sequenceNumber;
    repr.acknowledgmentNumber = packet.acknowledgmentNumber;
    repr.flags = packet.flags;
    repr.windowSize = packet.windowSize;
    repr.urgentPointer = packet.urgentPointer;
    repr.payloadLength = packet.payloadLength;
    repr.maxSegmentSize = 0;
    repr.windowScale = -1;
    repr.sackPermitted = false;
    repr.sackBlockCount = 0;
    repr.hasTimestamps = false;
    repr.timestampValue = 0;
    repr.timestampEcho = 0;
    options.reset(packet);
    while (options.next()) {
      switch (options.kind) {
        case TcpOptionKind.MAX_SEGMENT_SIZE:
          repr.maxSegmentSize = options.maxSegmentSize;
          break;
        case TcpOptionKind.WINDOW_SCALE:
          repr.windowScale = options.windowScale;
          break;
        case TcpOptionKind.SACK_PERMITTED:
          repr.sackPermitted = true;
          break;
        case TcpOptionKind.SACK: {
          const count = options.sackBlockCount;
          for (let i = 0; i < count; i++) {
            repr.sackBlocks[2 * i] = options.sackLeftEdge(i);
            repr.sackBlocks[2 * i + 1] = options.sackRightEdge(i);
          }
          repr.sackBlockCount = count;
          break;
        }
        case TcpOptionKind.TIMESTAMPS:
          repr.hasTimestamps = true;
          repr.timestampValue = options.timestampValue;
          repr.timestampEcho = options.timestampEcho;
          break;
      }
    }
    return !options.malformed;
  }

  /** SACK blocks that fit next to the other options (40 option bytes at most). */
  get emittedSackBlockCount(): number {
    if (this.sackBlockCount === 0) return 0;
    const room = TCP_MAX_HEADER_LEN - TCP_HEADER_LEN - this.optionsLengthWithoutSack() - 4;
    return Math.max(0, Math.min(this.sackBlockCount, TCP_MAX_SACK_BLOCKS, Math.floor(room / 8)));
  }

  /** Header length this record emits (options included, a multiple of 4). */
  get headerLength(): number {
    const sackBlocks = this.emittedSackBlockCount;
    return TCP_HEADER_LEN + this.optionsLengthWithoutSack() + (sackBlocks > 0 ? 4 + 8 * sackBlocks : 0);
  }

  /**
   * Write header and options at `offset` and fill the checksum over the data,
   * which must already be in place after the header. Returns the header length.
   */
  emit(view: DataView, offset: number, source: number, destination: number): number {
    const headerLength = this.headerLength;
    view.setUint16(offset + SOURCE_PORT, this.sourcePort);
    view.setUint16(offset + DESTINATION_PORT, this.destinationPort);
    view.setUint32(offset + SEQUENCE_NUMBER, this.sequenceNumber);
    view.setUint32(offset + ACKNOWLEDGMENT_NUMBER, this.acknowledgmentNumber);
    view.setUint16(offset + DATA_OFFSET_FLAGS, ((headerLength >>> 2) << 12) | (this.flags & FLAGS_MASK));
    view.setUint16(offset + WINDOW, this.windowSize);
    view.setUint16(offset + CHECKSUM, 0);
    view.setUint16(offset + URGENT_POINTER, this.urgentPointer);
    // Options in the order and 4-byte alignment Linux uses (tcp_options_write).
    let at = offset + TCP_HEADER_LEN;
    if (this.maxSegmentSize > 0) {
      view.setUint8(at, TcpOptionKind.MAX_SEGMENT_SIZE);
      view.setUint8(at + 1, 4);
      view.setUint16(at + 2, this.maxSegmentSize);
      at += 4;
    }
    if (this.hasTimestamps) {
      // SACK permitted, when sent, takes the place of the two no-ops before the timestamps.
      view.setUint8(at, this.sackPermitted ? TcpOptionKind.SACK_PERMITTED : TcpOptionKind.NOP);
      view.setUint8(at + 1, this.sackPermitted ? 2 : TcpOptionKind.NOP);
      view.setUint8(at + 2, TcpOptionKind.TIMESTAMPS);
      view.setUint8(at + 3, 10);
      view.setUint32(at + 4, this.timestampValue);
      view.setUint32(at + 8, this.timestampEcho);
      at += 12;
    } else if (this.sackPermitted) {
      view.setUint8(at, TcpOptionKind.NOP);
      view.setUint8(at + 1, TcpOptionKind.NOP);
      view.setUint8(at + 2, TcpOptionKind.SACK_PERMITTED);
      view.setUint8(at + 3, 2);
      at += 4;
    }
    if (this.windowScale >= 0) {
      view.setUint8(at, TcpOptionKind.NOP);
      view.setUint8(at + 1, TcpOptionKind.WINDOW_SCALE);
      view.setUint8(at + 2, 3);
      view.setUint8(at + 3, this.windowScale);
      at += 4;
    }
    const sackBlocks = this.emittedSackBlockCount;
    if (sackBlocks > 0) {
      view.setUint8(at, TcpOptionKind.NOP);
      view.setUint8(at + 1, TcpOptionKind.NOP);
      view.setUint8(at + 2, TcpOptionKind.SACK);
      view.setUint8(at + 3, 2 + 8 * sackBlocks);
      at += 4;
      for (let i = 0; i < 2 * sackBlocks; i++) {
        view.setUint32(at, this.sackBlocks[i]);
        at += 4;
      }
    }
    const segmentLength = headerLength + this.payloadLength;
    const pseudo = ipv4PseudoHeaderSumFromAddrs(source, destination, PROTOCOL_TCP, segmentLength);
    view.setUint16(offset + CHECKSUM, ~internetChecksumSum(view, offset, segmentLength, pseudo) & 0xffff);
    return headerLength;
  }

  private optionsLengthWithoutSack(): number {
    const timestampsAndSackPermitted = this.hasTimestamps ? 12 : this.sackPermitted ? 4 : 0;
    return (this.maxSegmentSize > 0 ? 4 : 0) + timestampsAndSackPermitted + (this.windowScale >= 0 ? 4 : 0);
  }
}
