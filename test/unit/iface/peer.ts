// Stack tests: an Interface on one side of an in-memory pair, driven by hand
// with a fake clock, and a "peer" on the other side that builds frames with
// the wire layer and decodes (and copies) whatever the stack sends.

import { FakeClock } from '../../../src/loop';
import { Interface, type InterfaceOptions } from '../../../src/iface/interface';
import { createPair, type PairDevice, type PairOptions } from '../../../src/phy/pair';
import { ArpPacket, ArpRepr, ARP_HEADER_LEN, ARP_OPERATION_REQUEST } from '../../../src/wire/arp';
import { internetChecksum, internetChecksumSum, ipv4PseudoHeaderSumFromAddrs } from '../../../src/wire/checksum';
import { ETHERNET_HEADER_LEN, ETHERNET_VLAN_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_VLAN, EthernetFrame, parseMac, writeMac } from '../../../src/wire/ethernet';
import { ICMPV4_ECHO_REQUEST, Icmpv4Packet } from '../../../src/wire/icmpv4';
import { IPV4_HEADER_LEN, IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP, Ipv4Packet, Ipv4Repr, parseIpv4 } from '../../../src/wire/ipv4';
import { UDP_HEADER_LEN, UdpPacket } from '../../../src/wire/udp';

export const STACK_MAC = '02:00:00:00:00:01';
export const PEER_MAC = '02:00:00:00:00:02';
export const STACK_IP = '198.18.0.1';
export const PEER_IP = '198.18.0.2';
export const STACK_ADDRESS = parseIpv4(STACK_IP) as number;
export const PEER_ADDRESS = parseIpv4(PEER_IP) as number;
export const BROADCAST_MAC = 0xffffffffffff;

/** Dotted text to u32. */
export function ip(text: string): number {
  const parsed = parseIpv4(text);
  if (parsed === null) throw new Error(`bad address ${text}`);
  return parsed;
}

/** Bytes 0, 1, 2, ... (mod 251) of some length: a payload whose every byte is checkable. */
export function pattern(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i + seed) % 251;
  return bytes;
}

/** Options for an IPv4 packet built by the peer. */
export interface Ipv4Build {
  source?: number;
  destination?: number;
  protocol: number;
  payload: Uint8Array;
  timeToLive?: number;
  identification?: number;
  moreFragments?: boolean;
  fragmentOffsetBytes?: number;
  /** Bytes of options (a multiple of 4) after the fixed header. */
  options?: Uint8Array;
}

/** An IPv4 packet (header with checksum, then payload). */
export function ipv4Packet(build: Ipv4Build): Uint8Array {
  const options = build.options ?? new Uint8Array(0);
  const headerLength = IPV4_HEADER_LEN + options.length;
  const bytes = new Uint8Array(headerLength + build.payload.length);
  const view = new DataView(bytes.buffer);
  const repr = new Ipv4Repr();
  repr.source = build.source ?? PEER_ADDRESS;
  repr.destination = build.destination ?? STACK_ADDRESS;
  repr.protocol = build.protocol;
  repr.payloadLength = build.payload.length;
  repr.timeToLive = build.timeToLive ?? 64;
  repr.identification = build.identification ?? 0x1234;
  repr.moreFragments = build.moreFragments ?? false;
  repr.fragmentOffsetBytes = build.fragmentOffsetBytes ?? 0;
  repr.emit(view, 0);
  if (options.length > 0) {
    bytes.set(options, IPV4_HEADER_LEN);
    view.setUint8(0, 0x40 | (headerLength >>> 2));
    view.setUint16(2, headerLength + build.payload.length);
    view.setUint16(10, 0);
    view.setUint16(10, internetChecksum(view, 0, headerLength));
  }
  bytes.set(build.payload, headerLength);
  return bytes;
}

/** Cut an IPv4 packet (20-byte header) into fragments carrying `size` payload bytes each (a multiple of 8). */
export function fragment(packet: Uint8Array, size: number): Uint8Array[] {
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const payload = packet.subarray(IPV4_HEADER_LEN);
  const fragments: Uint8Array[] = [];
  for (let at = 0; at < payload.length; at += size) {
    const part = payload.subarray(at, Math.min(at + size, payload.length));
    fragments.push(ipv4Packet({
      source: view.getUint32(12),
      destination: view.getUint32(16),
      protocol: view.getUint8(9),
      identification: view.getUint16(4),
      timeToLive: view.getUint8(8),
      payload: part,
      fragmentOffsetBytes: at,
      moreFragments: at + part.length < payload.length,
    }));
  }
  return fragments;
}

/** A UDP datagram with a correct checksum (or `checksum` as given). */
export function udpDatagram(sourcePort: number, destinationPort: number, payload: Uint8Array, source = PEER_ADDRESS, destination = STACK_ADDRESS, checksum?: number): Uint8Array {
  const bytes = new Uint8Array(UDP_HEADER_LEN + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, sourcePort);
  view.setUint16(2, destinationPort);
  view.setUint16(4, bytes.length);
  bytes.set(payload, UDP_HEADER_LEN);
  const sum = internetChecksumSum(view, 0, bytes.length, ipv4PseudoHeaderSumFromAddrs(source, destination, IP_PROTOCOL_UDP, bytes.length));
  view.setUint16(6, checksum ?? (~sum & 0xffff || 0xffff));
  return bytes;
}

/** An ICMP echo request. */
export function echoRequest(identifier: number, sequence: number, data: Uint8Array, type = ICMPV4_ECHO_REQUEST): Uint8Array {
  const bytes = new Uint8Array(8 + data.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, type);
  view.setUint16(4, identifier);
  view.setUint16(6, sequence);
  bytes.set(data, 8);
  view.setUint16(2, internetChecksum(view, 0, bytes.length));
  return bytes;
}

/** An Ethernet frame around `payload`. */
export function ethernetFrame(payload: Uint8Array, etherType = ETHERTYPE_IPV4, destination = parseMac(STACK_MAC) as number, source = parseMac(PEER_MAC) as number): Uint8Array {
  const bytes = new Uint8Array(ETHERNET_HEADER_LEN + payload.length);
  const view = new DataView(bytes.buffer);
  writeMac(view, 0, destination);
  writeMac(view, 6, source);
  view.setUint16(12, etherType);
  bytes.set(payload, ETHERNET_HEADER_LEN);
  return bytes;
}

/** An Ethernet frame with an 802.1Q tag (`tci`: priority << 13 | VLAN ID) around `payload`. */
export function taggedFrame(payload: Uint8Array, tci: number, etherType = ETHERTYPE_IPV4, destination = parseMac(STACK_MAC) as number, source = parseMac(PEER_MAC) as number): Uint8Array {
  const bytes = new Uint8Array(ETHERNET_VLAN_HEADER_LEN + payload.length);
  const view = new DataView(bytes.buffer);
  writeMac(view, 0, destination);
  writeMac(view, 6, source);
  view.setUint16(12, ETHERTYPE_VLAN);
  view.setUint16(14, tci);
  view.setUint16(16, etherType);
  bytes.set(payload, ETHERNET_VLAN_HEADER_LEN);
  return bytes;
}

/** An ARP packet (Ethernet/IPv4). */
export function arpPacket(operation: number, senderMac: number, senderAddress: number, targetMac: number, targetAddress: number): Uint8Array {
  const bytes = new Uint8Array(ARP_HEADER_LEN);
  const repr = new ArpRepr();
  repr.operation = operation;
  repr.senderHardwareAddress = senderMac;
  repr.senderProtocolAddress = senderAddress;
  repr.targetHardwareAddress = targetMac;
  repr.targetProtocolAddress = targetAddress;
  repr.emit(new DataView(bytes.buffer), 0);
  return bytes;
}

/** A frame the stack sent, copied and decoded. */
export interface SentFrame {
  bytes: Uint8Array;
  destination: number;
  source: number;
  /** The payload's EtherType (after the tag, when tagged). */
  etherType: number;
  /** The 802.1Q tag control information, when tagged. */
  vlanTci?: number;
  arp?: ArpRepr;
  ip?: {
    repr: Ipv4Repr;
    headerLength: number;
    checksumOk: boolean;
    /** The IPv4 payload (of this fragment). */
    payload: Uint8Array;
  };
  icmp?: { type: number; code: number; identifier: number; sequence: number; data: Uint8Array; checksumOk: boolean };
  udp?: { sourcePort: number; destinationPort: number; payload: Uint8Array; checksumOk: boolean };
}

/** Decode a frame (copies everything). */
export function decode(frame: Uint8Array): SentFrame {
  const bytes = frame.slice();
  const view = new DataView(bytes.buffer);
  const ethernet = new EthernetFrame();
  ethernet.reset(view, 0, bytes.length);
  const out: SentFrame = { bytes, destination: ethernet.destination, source: ethernet.source, etherType: ethernet.payloadEtherType };
  if (ethernet.hasVlanTag) out.vlanTci = ethernet.vlanTci;
  const at = ethernet.headerLength;
  if (out.etherType === ETHERTYPE_ARP) {
    const packet = new ArpPacket();
    if (packet.reset(view, at, bytes.length - at)) out.arp = ArpRepr.parse(packet) ?? undefined;
  } else if (out.etherType === ETHERTYPE_IPV4) {
    const packet = new Ipv4Packet();
    if (!packet.reset(view, at, bytes.length - at)) return out;
    const repr = Ipv4Repr.parse(packet, false) as Ipv4Repr;
    const payload = bytes.slice(packet.payloadOffset, packet.payloadOffset + packet.payloadLength);
    out.ip = { repr, headerLength: packet.headerLength, checksumOk: packet.verifyChecksum(), payload };
    if (!packet.isFragment) decodeTransport(out, repr, payload);
  }
  return out;
}

/** Decode the transport of a whole datagram into `out`. */
export function decodeTransport(out: SentFrame, repr: Ipv4Repr, payload: Uint8Array): void {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if (repr.protocol === IP_PROTOCOL_ICMP) {
    const icmp = new Icmpv4Packet();
    if (!icmp.reset(view, 0, payload.length)) return;
    out.icmp = {
      type: icmp.type,
      code: icmp.code,
      identifier: icmp.echoIdentifier,
      sequence: icmp.echoSequence,
      data: payload.slice(8),
      checksumOk: icmp.verifyChecksum(),
    };
  } else if (repr.protocol === IP_PROTOCOL_UDP) {
    const udp = new UdpPacket();
    if (!udp.reset(view, 0, payload.length)) return;
    out.udp = {
      sourcePort: udp.sourcePort,
      destinationPort: udp.destinationPort,
      payload: payload.slice(8, udp.datagramLength),
      checksumOk: udp.checksum !== 0 && udp.verifyChecksum(repr.source, repr.destination),
    };
  }
}

/** Put fragments (decoded frames of one datagram, any order) back together; returns the payload. */
export function reassemble(frames: SentFrame[]): Uint8Array {
  const parts = frames.map((f) => ({ offset: (f.ip as NonNullable<SentFrame['ip']>).repr.fragmentOffsetBytes, payload: (f.ip as NonNullable<SentFrame['ip']>).payload }));
  const total = Math.max(...parts.map((p) => p.offset + p.payload.length));
  const whole = new Uint8Array(total);
  for (const part of parts) whole.set(part.payload, part.offset);
  return whole;
}

/** The far side of the pair: sends frames in and collects what the stack sent. */
export class Peer {
  readonly device: PairDevice;
  readonly mac = parseMac(PEER_MAC) as number;
  readonly stackMac = parseMac(STACK_MAC) as number;

  constructor(device: PairDevice) {
    this.device = device;
  }

  /** Queue one frame towards the stack (delivered at the next flush). */
  send(frame: Uint8Array): void {
    const offset = this.device.allocTx();
    if (offset < 0) throw new Error('peer: no free buffer');
    this.device.bytes.set(frame, offset);
    this.device.transmit(offset, frame.length);
  }

  /** Queue an IPv4 packet in an Ethernet frame to the stack's MAC (or `destinationMac`). */
  sendIpv4(packet: Uint8Array, destinationMac = this.stackMac): void {
    this.send(ethernetFrame(packet, ETHERTYPE_IPV4, destinationMac, this.mac));
  }

  /** Everything the stack has sent so far, decoded. */
  receive(): SentFrame[] {
    this.device.flush();
    const frames: SentFrame[] = [];
    this.device.receive(1 << 20, (offset, length) => {
      frames.push(decode(this.device.bytes.subarray(offset, offset + length)));
    });
    return frames;
  }
}

/** An interface on a pair with a fake clock, and its peer. */
export class StackFixture {
  readonly clock: FakeClock;
  readonly stackDevice: PairDevice;
  readonly peerDevice: PairDevice;
  readonly iface: Interface;
  readonly peer: Peer;

  constructor(options: Partial<InterfaceOptions> = {}, pair: PairOptions = {}) {
    this.clock = new FakeClock(1_000_000);
    [this.stackDevice, this.peerDevice] = createPair({ macAddresses: [STACK_MAC, PEER_MAC], ...pair });
    this.iface = new Interface(this.stackDevice, { address: `${STACK_IP}/24`, clock: this.clock, ...options });
    this.peer = new Peer(this.peerDevice);
  }

  /** Start the interface and return what it sent on start (its announcement). */
  start(): SentFrame[] {
    this.iface.start();
    return this.run();
  }

  /** Deliver what the peer queued, let the stack take one turn, and return what it sent. */
  run(): SentFrame[] {
    this.peerDevice.flush();
    this.iface.loop.turn();
    this.iface.flush();
    return this.peer.receive();
  }

  /** Send frames from the peer and return the stack's answer. */
  exchange(...frames: Uint8Array[]): SentFrame[] {
    for (const frame of frames) this.peer.send(frame);
    return this.run();
  }

  /** Send IPv4 packets from the peer and return the stack's answer. */
  exchangeIpv4(...packets: Uint8Array[]): SentFrame[] {
    for (const packet of packets) this.peer.sendIpv4(packet);
    return this.run();
  }

  /** Move the clock and let timers run; returns what the stack sent. */
  advance(ms: number): SentFrame[] {
    this.clock.advance(ms);
    return this.run();
  }

  /** Let the stack learn the peer's MAC (the peer asks for the stack's). */
  introduce(): void {
    this.exchange(ethernetFrame(arpPacket(ARP_OPERATION_REQUEST, this.peer.mac, PEER_ADDRESS, 0, STACK_ADDRESS), ETHERTYPE_ARP, BROADCAST_MAC, this.peer.mac));
  }

  close(): void {
    this.iface.close();
  }
}
