// UDP for the host (RFC 768, RFC 1122 4.1): check received datagrams, hand
// them to the endpoint bound to their port (or answer port unreachable),
// send datagrams, and turn a request into its reply in its own buffer.
//
// Checksums are verified on receive (a zero checksum means none was sent;
// a partial one, from a same-host sender, is accepted where the device says
// it may come: see transport-checksum.ts) and always sent in full. Endpoints
// live in a table indexed by port, so demultiplexing is one array load. An
// endpoint connected to one peer (as connect(2) does) takes datagrams from
// that peer only, and hears of the hard ICMP errors about its datagrams to
// it (RFC 1122 4.1.3.3, as Linux reports them: see icmp-error.ts).

import { IPV4_HEADER_LEN, IP_PROTOCOL_UDP, ipv4Field } from '../wire/ipv4';
import { UDP_HEADER_LEN, UdpPacket, UdpRepr, udpField } from '../wire/udp';
import type { Ipv4Addressing } from './address';
import { ipv4PseudoHeaderSumAt, packetChecksumSum } from '../wire/checksum';
import type { StackCounters } from './counters';
import { CHECKSUM_GOOD, CHECKSUM_PARTIAL, type TransportChecksums } from './transport-checksum';
import type { IcmpLayer, TransportErrorInput } from './icmp';
import { icmpErrorMeaning } from './icmp-error';
import type { Ipv4Datagram, TransportInput } from './ipv4-input';
import { type Ipv4Identification, type Ipv4Output, turnAroundIpv4Header } from './ipv4-output';
import type { Link } from './link';
import { IPV4_MAX_PAYLOAD_LEN } from './reassembly';

/** Largest UDP payload. */
export const UDP_MAX_PAYLOAD_LEN = IPV4_MAX_PAYLOAD_LEN - UDP_HEADER_LEN;
/** First port of Linux's default ephemeral range (net.ipv4.ip_local_port_range). */
export const EPHEMERAL_PORT_FIRST = 32768;
/** Last port of the ephemeral range. */
export const EPHEMERAL_PORT_LAST = 60999;

const PORT_COUNT = 0x10000;

// Buffer's copy is a memmove that takes any Uint8Array and allocates nothing.
const copyInto = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

/**
 * A received datagram as an endpoint sees it. One reused record: it and the
 * payload it points at are valid only during the delivery call.
 */
export class UdpDatagram {
  /** The memory holding the payload (the device's, or a reassembly buffer). */
  view: DataView = new DataView(new ArrayBuffer(0));
  bytes: Uint8Array = new Uint8Array(0);
  payloadOffset = 0;
  payloadLength = 0;
  /** Longest reply payload that may be written at payloadOffset. */
  replyCapacity = 0;
  /** The sender's address (u32) and port. */
  remoteAddress = 0;
  remotePort = 0;
  /** The address the datagram was sent to (ours, or a broadcast address) and our port. */
  localAddress = 0;
  localPort = 0;
  /** The lent frame's token, -1 once replied to or when the datagram is not in a lent frame. */
  token = -1;
  frameOffset = 0;
  /** Where the IPv4 header starts (after an Ethernet header of 14 or 18 bytes). */
  ipHeaderOffset = 0;
  /** True when a reply that fits the MTU can be sent from the request's buffer. */
  inPlace = false;
  /**
   * 0, or for a datagram that came with a partial checksum the sum of its
   * UDP header and payload as they came (the field holding the
   * pseudo-header sum): what the full checksum of an unchanged echo complements.
   */
  partialChecksumSum = 0;
}

/** Something bound to a port. */
export interface UdpEndpoint {
  /** A datagram for the endpoint's port arrived. */
  deliver(datagram: UdpDatagram): void;
  /** The interface is closing: the endpoint is unbound. */
  interfaceClosed(): void;
  /**
   * A hard ICMP error came back about a datagram the endpoint, connected,
   * sent to its peer: `code` is the errno name (ECONNREFUSED for port
   * unreachable). Optional.
   */
  icmpError?(code: string, remoteAddress: number, remotePort: number): void;
}

/** Error for a port already bound. */
export class AddressInUseError extends Error {
  readonly code = 'EADDRINUSE';
  readonly errno = -98;
  readonly syscall = 'bind';
  constructor(port: number) {
    super(`bind EADDRINUSE: UDP port ${port} is already bound`);
    this.name = 'AddressInUseError';
  }
}

/** The UDP layer of one interface. */
export class UdpLayer implements TransportInput, TransportErrorInput {
  private readonly link: Link;
  private readonly output: Ipv4Output;
  private readonly identification: Ipv4Identification;
  private readonly icmp: IcmpLayer;
  private readonly addressing: Ipv4Addressing;
  private readonly counters: StackCounters;
  private readonly checksums: TransportChecksums;
  private readonly scratch: DataView;
  private readonly scratchBytes: Uint8Array;
  private readonly onSend: () => void;
  private readonly endpoints: (UdpEndpoint | null)[] = new Array<UdpEndpoint | null>(PORT_COUNT).fill(null);
  /** Per local port: the peer its endpoint is connected to (port 0: not connected). */
  private readonly connectedAddresses = new Uint32Array(PORT_COUNT);
  private readonly connectedPorts = new Uint16Array(PORT_COUNT);
  private readonly packet = new UdpPacket();
  private readonly repr = new UdpRepr();
  private readonly datagram = new UdpDatagram();
  private nextEphemeral: number;

  constructor(
    link: Link,
    output: Ipv4Output,
    identification: Ipv4Identification,
    icmp: IcmpLayer,
    addressing: Ipv4Addressing,
    counters: StackCounters,
    checksums: TransportChecksums,
    scratch: DataView,
    onSend: () => void,
  ) {
    this.link = link;
    this.output = output;
    this.identification = identification;
    this.icmp = icmp;
    this.addressing = addressing;
    this.counters = counters;
    this.checksums = checksums;
    this.scratch = scratch;
    this.scratchBytes = new Uint8Array(scratch.buffer, scratch.byteOffset, scratch.byteLength);
    this.onSend = onSend;
    this.nextEphemeral = EPHEMERAL_PORT_FIRST + Math.floor(Math.random() * (EPHEMERAL_PORT_LAST - EPHEMERAL_PORT_FIRST + 1));
  }

  /** Bind `endpoint` to `port` (0: a free ephemeral port); returns the port. Throws AddressInUseError or RangeError. */
  bind(port: number, endpoint: UdpEndpoint): number {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`UDP port must be an integer from 0 to 65535, got ${port}`);
    if (port === 0) port = this.freeEphemeralPort();
    if (this.endpoints[port] !== null) throw new AddressInUseError(port);
    this.endpoints[port] = endpoint;
    return port;
  }

  /** Unbind `endpoint` from `port` (and forget its peer). */
  unbind(port: number, endpoint: UdpEndpoint): void {
    if (this.endpoints[port] !== endpoint) return;
    this.endpoints[port] = null;
    this.connectedPorts[port] = 0;
  }

  /**
   * Connect the endpoint bound to `port` to `remoteAddress`:`remotePort`:
   * from then on it takes datagrams from that peer only (others are
   * answered as for a closed port), and hears of errors about its own.
   */
  connect(port: number, endpoint: UdpEndpoint, remoteAddress: number, remotePort: number): void {
    if (this.endpoints[port] !== endpoint) return;
    this.connectedAddresses[port] = remoteAddress;
    this.connectedPorts[port] = remotePort;
  }

  /** Take datagrams from anyone on `port` again. */
  disconnect(port: number, endpoint: UdpEndpoint): void {
    if (this.endpoints[port] === endpoint) this.connectedPorts[port] = 0;
  }

  /** An ICMP error quotes a datagram from our `localPort` to `remoteAddress`:`remotePort`: tell the endpoint connected to that peer, if the error is hard. */
  icmpError(remoteAddress: number, localPort: number, remotePort: number, type: number, code: number): void {
    const endpoint = this.endpoints[localPort];
    if (endpoint === null || this.connectedPorts[localPort] !== remotePort || this.connectedAddresses[localPort] !== remoteAddress) return;
    const meaning = icmpErrorMeaning(type, code);
    if (meaning === null || !meaning.hard || endpoint.icmpError === undefined) return;
    this.counters.udpIcmpErrorsReported++;
    endpoint.icmpError(meaning.code, remoteAddress, remotePort);
  }

  /** Tell every endpoint the interface is closing, and unbind them all. */
  closeAll(): void {
    const endpoints = this.endpoints;
    for (let port = 0; port < PORT_COUNT; port++) {
      const endpoint = endpoints[port];
      if (endpoint === null) continue;
      endpoints[port] = null;
      this.connectedPorts[port] = 0;
      endpoint.interfaceClosed();
    }
  }

  input(datagram: Ipv4Datagram): void {
    const counters = this.counters;
    if (datagram.payloadLength < UDP_HEADER_LEN) {
      counters.udpTooShort++;
      return;
    }
    const packet = this.packet;
    if (!packet.reset(datagram.view, datagram.payloadOffset, datagram.payloadLength)) {
      counters.udpBadLength++;
      return;
    }
    let partialChecksumSum = 0;
    if (packet.checksum !== 0) {
      const checksums = this.checksums;
      const verdict = checksums.verify(datagram.view, datagram.headerOffset + ipv4Field.SOURCE, IP_PROTOCOL_UDP, packet.offset, packet.datagramLength, packet.offset + udpField.CHECKSUM);
      if (verdict !== CHECKSUM_GOOD) {
        if (verdict !== CHECKSUM_PARTIAL) {
          counters.udpBadChecksum++;
          return;
        }
        counters.udpChecksumPartial++;
        partialChecksumSum = checksums.segmentSum;
      }
    }
    const port = packet.destinationPort;
    const endpoint = this.endpoints[port];
    const connectedPort = this.connectedPorts[port];
    if (endpoint === null || (connectedPort !== 0 && (connectedPort !== packet.sourcePort || this.connectedAddresses[port] !== datagram.source))) {
      if (datagram.toBroadcast) counters.udpBroadcastNoSocket++;
      else {
        counters.udpNoSocket++;
        this.icmp.portUnreachable(datagram);
      }
      return;
    }
    const received = this.datagram;
    received.view = datagram.view;
    received.bytes = datagram.bytes;
    received.payloadOffset = packet.payloadOffset;
    received.payloadLength = packet.payloadLength;
    received.remoteAddress = datagram.source;
    received.remotePort = packet.sourcePort;
    received.localAddress = datagram.destination;
    received.localPort = port;
    received.token = datagram.token;
    received.frameOffset = datagram.frameOffset;
    received.ipHeaderOffset = datagram.headerOffset;
    received.partialChecksumSum = partialChecksumSum;
    // The reply may fill the request's buffer: one that fits the MTU goes out from it, a longer one
    // (to a request that came larger than the MTU, the link allowing it) as a new datagram, in fragments.
    const room = datagram.capacity - UDP_HEADER_LEN;
    received.inPlace = datagram.token >= 0 && datagram.headerLength === IPV4_HEADER_LEN;
    received.replyCapacity = room < UDP_MAX_PAYLOAD_LEN ? room : UDP_MAX_PAYLOAD_LEN;
    counters.udpReceived++;
    endpoint.deliver(received);
  }

  /**
   * Answer `datagram` with the `length` bytes its endpoint wrote at its
   * payloadOffset: in the request's own buffer when it can and the reply
   * fits the MTU, else as a new datagram (in fragments when over the MTU). `payloadUnchanged` (an echo) keeps the request's checksum, or
   * completes a partial one without summing the payload again. Call at most
   * once, during the delivery.
   */
  reply(datagram: UdpDatagram, length: number, payloadUnchanged = false): boolean {
    if (!Number.isInteger(length) || length < 0 || length > datagram.replyCapacity) {
      throw new RangeError(`UDP reply length must be an integer from 0 to ${datagram.replyCapacity}, got ${length}`);
    }
    if (!datagram.inPlace || length > this.output.maxUnfragmentedPayload - UDP_HEADER_LEN) {
      return this.send(datagram.localPort, datagram.remoteAddress, datagram.remotePort, datagram.bytes, datagram.payloadOffset, length);
    }
    datagram.inPlace = false;
    const memory = this.link.memory;
    const ip = datagram.ipHeaderOffset;
    const udp = ip + IPV4_HEADER_LEN;
    const udpLength = UDP_HEADER_LEN + length;
    // An echo keeps its checksum: swapping addresses and ports leaves every sum the same (RFC 1071 is commutative).
    // A partial one (the pseudo-header sum) becomes the full one: the complement of the segment's sum as it came.
    const keepChecksum = payloadUnchanged && length === datagram.payloadLength && datagram.localAddress === this.addressing.address
      && memory.getUint16(udp + udpField.CHECKSUM) !== 0;
    memory.setUint16(udp + udpField.SOURCE_PORT, datagram.localPort);
    memory.setUint16(udp + udpField.DESTINATION_PORT, datagram.remotePort);
    memory.setUint16(udp + udpField.LENGTH, udpLength);
    turnAroundIpv4Header(memory, ip, this.addressing, this.identification, udpLength);
    if (keepChecksum) {
      const partialSum = datagram.partialChecksumSum;
      if (partialSum !== 0) memory.setUint16(udp + udpField.CHECKSUM, ~partialSum & 0xffff || 0xffff);
    } else {
      memory.setUint16(udp + udpField.CHECKSUM, 0);
      const sum = packetChecksumSum(memory, udp, udpLength, ipv4PseudoHeaderSumAt(memory, ip + ipv4Field.SOURCE, IP_PROTOCOL_UDP, udpLength));
      memory.setUint16(udp + udpField.CHECKSUM, ~sum & 0xffff || 0xffff);
    }
    this.link.turnAround(datagram.frameOffset);
    const token = datagram.token;
    datagram.token = -1;
    // The request's own Ethernet header, 14 or 18 bytes, stays in front.
    if (!this.link.replyInPlace(token, ip - datagram.frameOffset + IPV4_HEADER_LEN + udpLength)) return false;
    this.counters.udpSent++;
    this.counters.udpRepliesInPlace++;
    return true;
  }

  /** Send `length` bytes of `bytes` at `offset` from `localPort` to `remoteAddress`:`remotePort`. */
  send(localPort: number, remoteAddress: number, remotePort: number, bytes: Uint8Array, offset: number, length: number): boolean {
    const udpLength = UDP_HEADER_LEN + length;
    if (length > UDP_MAX_PAYLOAD_LEN) {
      this.counters.ipv4TooLarge++;
      return false;
    }
    const repr = this.repr;
    repr.sourcePort = localPort;
    repr.destinationPort = remotePort;
    repr.payloadLength = length;
    const ours = this.addressing.address;
    let sent: boolean;
    if (udpLength <= this.output.maxUnfragmentedPayload) {
      const at = this.output.begin(remoteAddress, IP_PROTOCOL_UDP, udpLength);
      if (at < 0) return false;
      copyInto.call(bytes, this.link.bytes, at + UDP_HEADER_LEN, offset, offset + length);
      repr.emit(this.link.memory, at, ours, remoteAddress);
      sent = this.output.commit();
    } else {
      copyInto.call(bytes, this.scratchBytes, UDP_HEADER_LEN, offset, offset + length);
      repr.emit(this.scratch, 0, ours, remoteAddress);
      sent = this.output.send(remoteAddress, IP_PROTOCOL_UDP, this.scratch, 0, udpLength);
    }
    if (sent) this.counters.udpSent++;
    this.onSend();
    return sent;
  }

  private freeEphemeralPort(): number {
    const span = EPHEMERAL_PORT_LAST - EPHEMERAL_PORT_FIRST + 1;
    for (let tries = 0; tries < span; tries++) {
      const port = this.nextEphemeral;
      this.nextEphemeral = port === EPHEMERAL_PORT_LAST ? EPHEMERAL_PORT_FIRST : port + 1;
      if (this.endpoints[port] === null) return port;
    }
    throw new AddressInUseError(0);
  }
}
