// Segment input: a received TCP segment read in place from the frame (or
// reassembly buffer) that carries it, into one reused record. The header
// and options are read once here; the payload stays where it is until a
// connection copies it into its receive buffer.
//
// Options are parsed as Linux does (tcp_parse_options): a malformed option
// ends the walk, and the segment is handled with what was read before it.

import { IP_PROTOCOL_TCP, ipv4Field } from '../wire/ipv4';
import { TCP_HEADER_LEN, TCP_MAX_SACK_BLOCKS, TcpFlag, TcpOptionIterator, TcpOptionKind, TcpPacket, tcpField } from '../wire/tcp';
import type { StackCounters } from '../iface/counters';
import type { Ipv4Datagram } from '../iface/ipv4-input';
import { CHECKSUM_BAD, CHECKSUM_PARTIAL, type TransportChecksums } from '../iface/transport-checksum';

/** A received segment, parsed. Reused: valid only while it is being handled. */
export class TcpSegment {
  view: DataView = new DataView(new ArrayBuffer(0));
  bytes: Uint8Array = new Uint8Array(0);
  /** Peer's and our address (u32). */
  remoteAddress = 0;
  localAddress = 0;
  remotePort = 0;
  localPort = 0;
  sequence = 0;
  acknowledgment = 0;
  /** TcpFlag bits. */
  flags = 0;
  /** The window field as sent (before scaling). */
  window = 0;
  payloadOffset = 0;
  payloadLength = 0;
  /** MSS option, 0 when absent. */
  mss = 0;
  /** Window scale option, -1 when absent. */
  windowScale = -1;
  sackPermitted = false;
  hasTimestamps = false;
  timestampValue = 0;
  timestampEcho = 0;
  sackCount = 0;
  /** SACK blocks as [left, right, ...] sequence numbers. */
  readonly sackBlocks = new Uint32Array(2 * TCP_MAX_SACK_BLOCKS);
  /** Sent to a broadcast or multicast address. */
  toBroadcast = false;

  get syn(): boolean {
    return (this.flags & TcpFlag.SYN) !== 0;
  }
  get ack(): boolean {
    return (this.flags & TcpFlag.ACK) !== 0;
  }
  get rst(): boolean {
    return (this.flags & TcpFlag.RST) !== 0;
  }
  get fin(): boolean {
    return (this.flags & TcpFlag.FIN) !== 0;
  }
  /** SEG.LEN: payload plus one each for SYN and FIN. */
  get length(): number {
    return this.payloadLength + (this.flags & TcpFlag.SYN ? 1 : 0) + (this.flags & TcpFlag.FIN ? 1 : 0);
  }
}

/** Parses received segments into one record. */
export class SegmentParser {
  private readonly packet = new TcpPacket();
  private readonly options = new TcpOptionIterator();
  readonly segment = new TcpSegment();
  /** The interface's judge of received checksums (partial ones accepted where the device may carry them). */
  private readonly checksums: TransportChecksums;

  constructor(checksums: TransportChecksums) {
    this.checksums = checksums;
  }

  /** Parse the segment in `datagram`; null (counted) when it is malformed or its checksum is wrong. */
  parse(datagram: Ipv4Datagram, counters: StackCounters): TcpSegment | null {
    const length = datagram.payloadLength;
    if (length < TCP_HEADER_LEN) {
      counters.tcpTooShort++;
      return null;
    }
    const packet = this.packet;
    if (!packet.reset(datagram.view, datagram.payloadOffset, length)) {
      counters.tcpBadHeaderLength++;
      return null;
    }
    const at = datagram.payloadOffset;
    const verdict = this.checksums.verify(datagram.view, datagram.headerOffset + ipv4Field.SOURCE, IP_PROTOCOL_TCP, at, length, at + tcpField.CHECKSUM);
    if (verdict === CHECKSUM_BAD) {
      counters.tcpBadChecksum++;
      return null;
    }
    if (verdict === CHECKSUM_PARTIAL) counters.tcpChecksumPartial++;
    const view = datagram.view;
    const segment = this.segment;
    segment.view = view;
    segment.bytes = datagram.bytes;
    segment.remoteAddress = datagram.source;
    segment.localAddress = datagram.destination;
    segment.toBroadcast = datagram.toBroadcast;
    segment.remotePort = view.getUint16(at);
    segment.localPort = view.getUint16(at + 2);
    segment.sequence = view.getUint32(at + 4);
    segment.acknowledgment = view.getUint32(at + 8);
    const offsetFlags = view.getUint16(at + 12);
    const headerLength = (offsetFlags >>> 12) * 4;
    segment.flags = offsetFlags & 0x1ff;
    segment.window = view.getUint16(at + 14);
    segment.payloadOffset = at + headerLength;
    segment.payloadLength = length - headerLength;
    segment.mss = 0;
    segment.windowScale = -1;
    segment.sackPermitted = false;
    segment.hasTimestamps = false;
    segment.sackCount = 0;
    if (headerLength > TCP_HEADER_LEN) this.parseOptions(segment);
    return segment;
  }

  private parseOptions(segment: TcpSegment): void {
    const options = this.options;
    options.reset(this.packet);
    while (options.next()) {
      switch (options.kind) {
        case TcpOptionKind.MAX_SEGMENT_SIZE:
          segment.mss = options.maxSegmentSize;
          break;
        case TcpOptionKind.WINDOW_SCALE:
          segment.windowScale = options.windowScale;
          break;
        case TcpOptionKind.SACK_PERMITTED:
          segment.sackPermitted = true;
          break;
        case TcpOptionKind.SACK: {
          const count = options.sackBlockCount;
          for (let i = 0; i < count; i++) {
            segment.sackBlocks[2 * i] = options.sackLeftEdge(i);
            segment.sackBlocks[2 * i + 1] = options.sackRightEdge(i);
          }
          segment.sackCount = count;
          break;
        }
        case TcpOptionKind.TIMESTAMPS:
          segment.hasTimestamps = true;
          segment.timestampValue = options.timestampValue;
          segment.timestampEcho = options.timestampEcho;
          break;
      }
    }
  }
}
