// Segment output: a segment is built straight in a free transmit buffer.
// The IPv4 layer reserves the frame and writes its headers, the TCP header
// and options are written from one reused record, the payload is copied
// from the send buffer right behind them, the checksum is computed in place,
// and the frame goes to the neighbor layer.

import { IP_PROTOCOL_TCP } from '../wire/ipv4';
import { TcpFlag, TcpRepr } from '../wire/tcp';
import type { StackCounters } from '../iface/counters';
import type { Ipv4Output } from '../iface/ipv4-output';
import type { Link } from '../iface/link';
import type { SendBuffer } from './send-buffer';

/** Writes segments into transmit buffers. */
export class SegmentWriter {
  /** The segment to send: fill it, then call send(). */
  readonly repr = new TcpRepr();
  private readonly output: Ipv4Output;
  private readonly link: Link;
  private readonly counters: StackCounters;
  private readonly localAddress: number;

  constructor(output: Ipv4Output, link: Link, counters: StackCounters, localAddress: number) {
    this.output = output;
    this.link = link;
    this.counters = counters;
    this.localAddress = localAddress;
  }

  /** Largest TCP segment (header and data) one frame carries. */
  get maxSegmentBytes(): number {
    return this.output.maxUnfragmentedPayload;
  }

  /** Clear the record for a new segment with the given header fields and no options. */
  begin(localPort: number, remotePort: number, sequence: number, acknowledgment: number, flags: number, window: number): TcpRepr {
    const repr = this.repr;
    repr.sourcePort = localPort;
    repr.destinationPort = remotePort;
    repr.sequenceNumber = sequence;
    repr.acknowledgmentNumber = (flags & TcpFlag.ACK) !== 0 ? acknowledgment : 0;
    repr.flags = flags;
    repr.windowSize = window;
    repr.urgentPointer = 0;
    repr.maxSegmentSize = 0;
    repr.windowScale = -1;
    repr.sackPermitted = false;
    repr.sackBlockCount = 0;
    repr.hasTimestamps = false;
    repr.timestampValue = 0;
    repr.timestampEcho = 0;
    repr.payloadLength = 0;
    return repr;
  }

  /**
   * Send the record to `destination` with `length` payload bytes taken
   * `from` bytes after the front of `source`. False when no frame could be
   * had (no buffer, no route, link down: counted below); the caller tries
   * again later.
   */
  send(destination: number, source: SendBuffer | null, from: number, length: number): boolean {
    const repr = this.repr;
    repr.payloadLength = length;
    const headerLength = repr.headerLength;
    const at = this.output.begin(destination, IP_PROTOCOL_TCP, headerLength + length);
    if (at < 0) {
      this.counters.tcpTransmitDeferred++;
      return false;
    }
    if (length > 0 && source !== null) source.copyOut(from, length, this.link.bytes, at + headerLength);
    repr.emit(this.link.memory, at, this.localAddress, destination);
    this.output.commit();
    this.counters.tcpSegmentsSent++;
    if ((repr.flags & TcpFlag.RST) !== 0) this.counters.tcpResetsSent++;
    return true;
  }
}
