// Bad input through every parser: random and mutated frames must never make a
// parser throw or read outside the frame. Each frame is parsed three times:
// inside a larger buffer with two different poison bytes around it, and alone
// in a DataView of exactly its length (where an out-of-bounds read throws).
// The three results, folded into a digest, must be identical.
//
// NICRING_FUZZ_SEED and NICRING_FUZZ_FRAMES override the seed and the count.

import { strict as assert } from 'node:assert';
import { ArpPacket, ArpRepr } from '../../../src/wire/arp';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_VLAN, EthernetFrame, EthernetRepr } from '../../../src/wire/ethernet';
import {
  ICMPV4_DESTINATION_UNREACHABLE,
  ICMPV4_ECHO_REQUEST,
  ICMPV4_PARAMETER_PROBLEM,
  ICMPV4_TIME_EXCEEDED,
  Icmpv4Packet,
  Icmpv4Repr,
  isIcmpv4Error,
} from '../../../src/wire/icmpv4';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP, Ipv4Packet, Ipv4Repr } from '../../../src/wire/ipv4';
import { TcpOptionIterator, TcpPacket, TcpRepr } from '../../../src/wire/tcp';
import { UdpPacket, UdpRepr } from '../../../src/wire/udp';
import { captured, fromHex, synthetic } from '../../fixtures/wire/frames';
import { Prng, toHex } from '../../fixtures/wire/util';

const SEED = Number(process.env.NICRING_FUZZ_SEED ?? 0x5eed);
const FRAME_COUNT = Number(process.env.NICRING_FUZZ_FRAMES ?? 1_000_000);
const MAX_FRAME = 1600;
const GUARD = 64;
const POISON_A = 0x00;
const POISON_B = 0xff;

/** Every parser of the wire layer, with its reusable views and records. */
class Parsers {
  readonly ethernet = new EthernetFrame();
  readonly ethernetRepr = new EthernetRepr();
  readonly arp = new ArpPacket();
  readonly arpRepr = new ArpRepr();
  readonly ipv4 = new Ipv4Packet();
  readonly ipv4Repr = new Ipv4Repr();
  readonly icmp = new Icmpv4Packet();
  readonly icmpRepr = new Icmpv4Repr();
  readonly quoted = new Ipv4Packet();
  readonly udp = new UdpPacket();
  readonly udpRepr = new UdpRepr();
  readonly tcp = new TcpPacket();
  readonly tcpRepr = new TcpRepr();
  readonly tcpOptions = new TcpOptionIterator();
  /** How many frames each record parser accepted (counted while `counting`). */
  readonly accepted = { ethernet: 0, arp: 0, ipv4: 0, icmpv4: 0, udp: 0, tcp: 0 };
  counting = false;
  private hash = 0;
  private base = 0;

  /** Run every parser over the frame at `offset`; returns a digest of all they reported. */
  digest(view: DataView, offset: number, length: number): number {
    this.hash = 0x811c9dc5;
    this.base = offset;
    const ethernet = this.ethernet;
    let payloadAt = offset + 14;
    let payloadLength = length - 14;
    if (this.mix(+ethernet.reset(view, offset, length))) {
      if (this.mix(+EthernetRepr.parseInto(this.ethernetRepr, ethernet)) && this.counting) this.accepted.ethernet++;
      this.mixEthernetRepr();
      this.mix(ethernet.payloadEtherType);
      payloadAt = ethernet.payloadOffset;
      payloadLength = ethernet.payloadLength;
    }
    if (payloadLength < 0) return this.hash;
    // Every network-layer parser sees every payload, whatever the EtherType says.
    if (this.mix(+this.arp.reset(view, payloadAt, payloadLength))) {
      this.mix(this.arp.packetLength);
      if (this.mix(+ArpRepr.parseInto(this.arpRepr, this.arp))) {
        if (this.counting) this.accepted.arp++;
        const repr = this.arpRepr;
        this.mix(repr.operation);
        this.mix(repr.senderHardwareAddress);
        this.mix(repr.senderProtocolAddress);
        this.mix(repr.targetHardwareAddress);
        this.mix(repr.targetProtocolAddress);
      }
    }
    const ipv4 = this.ipv4;
    let source = 0;
    let destination = 0;
    let transportAt = payloadAt + 20;
    let transportLength = payloadLength - 20;
    if (this.mix(+ipv4.reset(view, payloadAt, payloadLength))) {
      this.mix(+ipv4.verifyChecksum());
      this.mix(+ipv4.isFragment);
      this.mix(this.relative(ipv4.payloadOffset));
      this.mix(ipv4.payloadLength);
      if (this.mix(+Ipv4Repr.parseInto(this.ipv4Repr, ipv4, true)) && this.counting) this.accepted.ipv4++;
      this.mix(+Ipv4Repr.parseInto(this.ipv4Repr, ipv4, false));
      this.mixIpv4Repr(this.ipv4Repr);
      source = ipv4.source;
      destination = ipv4.destination;
      transportAt = ipv4.payloadOffset;
      transportLength = ipv4.payloadLength;
    }
    if (transportLength < 0) return this.hash;
    // Every transport parser sees every IPv4 payload, whatever the protocol says.
    this.transport(view, transportAt, transportLength, source, destination);
    return this.hash;
  }

  private transport(view: DataView, at: number, length: number, source: number, destination: number): void {
    const icmp = this.icmp;
    if (this.mix(+icmp.reset(view, at, length))) {
      this.mix(+icmp.verifyChecksum());
      for (const check of [true, false]) {
        if (this.mix(+Icmpv4Repr.parseInto(this.icmpRepr, icmp, check, this.quoted))) {
          if (check && this.counting) this.accepted.icmpv4++;
          const repr = this.icmpRepr;
          this.mix(repr.type);
          this.mix(repr.code);
          this.mix(repr.identifier);
          this.mix(repr.sequence);
          this.mix(repr.nextHopMtu);
          this.mix(repr.restOfHeader);
          this.mix(this.relative(repr.payloadOffset));
          this.mix(repr.payloadLength);
          this.mix(isIcmpv4Error(repr.type) ? this.relative(repr.quotedDataOffset) : 0);
          this.mix(repr.quotedDataLength);
          this.mixIpv4Repr(repr.quotedHeader);
        }
      }
    }
    const udp = this.udp;
    if (this.mix(+udp.reset(view, at, length))) {
      this.mix(+udp.verifyChecksum(source, destination));
      this.mix(udp.payloadLength);
      for (const check of [true, false]) {
        if (this.mix(+UdpRepr.parseInto(this.udpRepr, udp, source, destination, check))) {
          if (check && this.counting) this.accepted.udp++;
          this.mix(this.udpRepr.sourcePort);
          this.mix(this.udpRepr.destinationPort);
          this.mix(this.udpRepr.payloadLength);
        }
      }
    }
    const tcp = this.tcp;
    if (this.mix(+tcp.reset(view, at, length))) {
      this.mix(+tcp.verifyChecksum(source, destination));
      this.mix(tcp.flags);
      this.mix(tcp.segmentLength);
      for (const check of [true, false]) {
        if (this.mix(+TcpRepr.parseInto(this.tcpRepr, tcp, source, destination, check, this.tcpOptions))) {
          if (check && this.counting) this.accepted.tcp++;
          const repr = this.tcpRepr;
          this.mix(repr.sourcePort);
          this.mix(repr.destinationPort);
          this.mix(repr.sequenceNumber);
          this.mix(repr.acknowledgmentNumber);
          this.mix(repr.flags);
          this.mix(repr.windowSize);
          this.mix(repr.urgentPointer);
          this.mix(repr.maxSegmentSize);
          this.mix(repr.windowScale);
          this.mix(+repr.sackPermitted);
          this.mix(repr.sackBlockCount);
          this.mix(+repr.hasTimestamps);
          this.mix(repr.timestampValue);
          this.mix(repr.timestampEcho);
          this.mix(repr.payloadLength);
          for (let i = 0; i < 2 * repr.sackBlockCount; i++) this.mix(repr.sackBlocks[i]);
        }
      }
      const options = this.tcpOptions;
      options.reset(tcp);
      while (options.next()) {
        this.mix(options.kind);
        this.mix(options.optionLength);
      }
      this.mix(+options.malformed);
    }
  }

  private mixEthernetRepr(): void {
    const repr = this.ethernetRepr;
    this.mix(repr.destination);
    this.mix(repr.source);
    this.mix(repr.etherType);
    this.mix(+repr.hasVlanTag);
    this.mix(repr.vlanId);
    this.mix(repr.vlanPriority);
  }

  private mixIpv4Repr(repr: Ipv4Repr): void {
    this.mix(repr.source);
    this.mix(repr.destination);
    this.mix(repr.protocol);
    this.mix(repr.payloadLength);
    this.mix(repr.timeToLive);
    this.mix(repr.identification);
    this.mix(+repr.dontFragment);
    this.mix(+repr.moreFragments);
    this.mix(repr.fragmentOffsetBytes);
  }

  private relative(offset: number): number {
    return offset - this.base;
  }

  /** Fold a number (up to 53 bits) into the digest; returns it. */
  private mix(value: number): number {
    this.hash = Math.imul(this.hash ^ (value | 0), 0x01000193);
    this.hash = Math.imul(this.hash ^ ((value / 0x100000000) | 0), 0x01000193);
    return value;
  }
}

/** Random valid frames built through the records' emit, to start mutations from. */
function buildTemplates(prng: Prng): Uint8Array[] {
  const templates: Uint8Array[] = [];
  for (const fixture of Object.values(captured)) templates.push(fromHex(fixture.hex));
  for (const hex of Object.values(synthetic)) templates.push(fromHex(hex));
  const memory = new Uint8Array(MAX_FRAME);
  const view = new DataView(memory.buffer);
  for (let n = 0; n < 400; n++) {
    memory.fill(0);
    const ethernet = new EthernetRepr();
    ethernet.destination = prng.nextU32() * 0x10000 + prng.below(0x10000);
    ethernet.source = prng.nextU32() * 0x10000 + prng.below(0x10000);
    ethernet.hasVlanTag = prng.chance(0.2);
    ethernet.vlanId = prng.below(4096);
    ethernet.vlanPriority = prng.below(8);
    const kind = prng.below(5);
    ethernet.etherType = kind === 0 ? ETHERTYPE_ARP : ETHERTYPE_IPV4;
    const l3 = ethernet.emit(view, 0);
    if (kind === 0) {
      const arp = new ArpRepr();
      arp.operation = 1 + prng.below(2);
      arp.senderHardwareAddress = ethernet.source;
      arp.senderProtocolAddress = prng.nextU32();
      arp.targetProtocolAddress = prng.nextU32();
      templates.push(memory.slice(0, l3 + arp.emit(view, l3)));
      continue;
    }
    const ipv4 = new Ipv4Repr();
    ipv4.source = prng.nextU32();
    ipv4.destination = prng.nextU32();
    ipv4.identification = prng.below(0x10000);
    ipv4.timeToLive = prng.below(256);
    const l4 = l3 + 20;
    const payloadLength = prng.chance(0.5) ? prng.below(64) : prng.below(MAX_FRAME - l4 - 60);
    if (kind === 1) {
      for (let i = 0; i < payloadLength; i++) memory[l4 + 8 + i] = prng.below(256);
      const udp = new UdpRepr();
      udp.sourcePort = prng.below(0x10000);
      udp.destinationPort = prng.below(0x10000);
      udp.payloadLength = payloadLength;
      ipv4.protocol = IP_PROTOCOL_UDP;
      ipv4.payloadLength = 8 + payloadLength;
      udp.emit(view, l4, ipv4.source, ipv4.destination);
    } else if (kind === 2) {
      const tcp = new TcpRepr();
      tcp.sourcePort = prng.below(0x10000);
      tcp.destinationPort = prng.below(0x10000);
      tcp.sequenceNumber = prng.nextU32();
      tcp.acknowledgmentNumber = prng.nextU32();
      tcp.flags = prng.below(0x200);
      tcp.maxSegmentSize = prng.chance(0.5) ? 1 + prng.below(0xffff) : 0;
      tcp.windowScale = prng.chance(0.5) ? prng.below(15) : -1;
      tcp.sackPermitted = prng.chance(0.5);
      tcp.hasTimestamps = prng.chance(0.5);
      tcp.timestampValue = prng.nextU32();
      tcp.sackBlockCount = prng.below(5);
      for (let i = 0; i < 8; i++) tcp.sackBlocks[i] = prng.nextU32();
      tcp.payloadLength = payloadLength;
      const headerLength = tcp.headerLength;
      for (let i = 0; i < payloadLength; i++) memory[l4 + headerLength + i] = prng.below(256);
      ipv4.protocol = IP_PROTOCOL_TCP;
      ipv4.payloadLength = headerLength + payloadLength;
      tcp.emit(view, l4, ipv4.source, ipv4.destination);
    } else {
      const icmp = new Icmpv4Repr();
      const types = [ICMPV4_ECHO_REQUEST, ICMPV4_DESTINATION_UNREACHABLE, ICMPV4_TIME_EXCEEDED, ICMPV4_PARAMETER_PROBLEM, prng.below(256)];
      icmp.type = types[prng.below(types.length)];
      icmp.code = prng.below(16);
      icmp.identifier = prng.below(0x10000);
      icmp.restOfHeader = prng.nextU32();
      icmp.payloadView = view;
      icmp.payloadOffset = l4 + 8;
      if (icmp.type === ICMPV4_ECHO_REQUEST || icmp.type > ICMPV4_PARAMETER_PROBLEM) {
        icmp.payloadLength = payloadLength;
        for (let i = 0; i < payloadLength; i++) memory[l4 + 8 + i] = prng.below(256);
      } else {
        const quoted = new Ipv4Repr();
        quoted.source = ipv4.destination;
        quoted.destination = prng.nextU32();
        quoted.protocol = prng.below(256);
        quoted.payloadLength = prng.below(2000);
        quoted.emit(view, l4 + 8);
        icmp.payloadLength = 20 + Math.min(quoted.payloadLength, prng.below(16));
      }
      ipv4.protocol = IP_PROTOCOL_ICMP;
      ipv4.payloadLength = icmp.emit(view, l4);
    }
    ipv4.emit(view, l3);
    let length = l4 + ipv4.payloadLength;
    if (prng.chance(0.2)) length = Math.max(length, 60);
    templates.push(memory.slice(0, length));
  }
  return templates;
}

/** Offset of the network header, and of the transport header when there is an IPv4 one. */
function layerOffsets(frame: Uint8Array, length: number): { l3: number; l4: number } {
  const l3 = length >= 14 && frame[12] === 0x81 && frame[13] === 0x00 ? 18 : 14;
  const ihl = length > l3 ? frame[l3] & 0x0f : 5;
  return { l3, l4: l3 + Math.max(ihl, 5) * 4 };
}

/** Damage a frame in place in one of the ways the issue lists; returns its new length. */
function mutate(prng: Prng, frame: Uint8Array, view: DataView, length: number, depth = 0): number {
  const { l3, l4 } = layerOffsets(frame, length);
  const setByte = (at: number, value: number): void => {
    if (at < length) frame[at] = value & 0xff;
  };
  const setWord = (at: number, value: number): void => {
    if (at + 2 <= length) view.setUint16(at, value & 0xffff);
  };
  switch (prng.below(17)) {
    case 0:
      return length;
    case 1: // truncation
      return prng.below(length + 1);
    case 2: // bit flips anywhere
      for (let n = 1 + prng.below(4); n > 0; n--) if (length > 0) frame[prng.below(length)] ^= 1 << prng.below(8);
      return length;
    case 3: // random header bytes
      for (let n = 1 + prng.below(4); n > 0; n--) setByte(prng.below(Math.min(length, 80) + 1), prng.below(256));
      return length;
    case 4: // IHL < 5
      setByte(l3, 0x40 | prng.below(5));
      return length;
    case 5: // IHL beyond the frame
      setByte(l3, 0x40 | (5 + prng.below(11)));
      return prng.chance(0.5) ? Math.min(length, l3 + 20 + prng.below(40)) : length;
    case 6: // total length > frame
      setWord(l3 + 2, length - l3 + 1 + prng.below(200));
      return length;
    case 7: // total length anything
      setWord(l3 + 2, prng.chance(0.5) ? prng.below(64) : prng.below(0x10000));
      return length;
    case 8: // UDP length < 8, or lying the other way
      setWord(l4 + 4, prng.chance(0.5) ? prng.below(8) : prng.below(0x10000));
      return length;
    case 9: // TCP data offset anything, beyond the segment included
      setByte(l4 + 12, (prng.below(16) << 4) | (frame[l4 + 12] & 0x0f));
      return length;
    case 10: // TCP option bytes: kinds and lengths that lie
      for (let at = l4 + 20; at < Math.min(length, l4 + 60); at++) {
        if (prng.chance(0.3)) frame[at] = prng.chance(0.5) ? [0, 1, 2, 3, 4, 5, 8][prng.below(7)] : prng.below(48);
      }
      return length;
    case 11: // ICMP error with a damaged quoted header
      setByte(l4, [3, 11, 12][prng.below(3)]);
      setByte(l4 + 8, prng.below(256));
      setWord(l4 + 10, prng.below(0x10000));
      return prng.chance(0.5) ? Math.min(length, l4 + 8 + prng.below(40)) : length;
    case 12: // ARP address lengths that lie
      setByte(l3 + 4, prng.below(256));
      setByte(l3 + 5, prng.below(256));
      return length;
    case 13: // EtherType and VLAN tag confusion
      setWord(12, [ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_VLAN, prng.below(0x10000)][prng.below(4)]);
      if (prng.chance(0.3)) setWord(16, [ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_VLAN][prng.below(3)]);
      return length;
    case 14: // protocol number confusion
      setByte(l3 + 9, [IP_PROTOCOL_ICMP, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP, prng.below(256)][prng.below(4)]);
      return length;
    case 15: {
      // random bytes, often shaped like Ethernet + IPv4 so that deeper parsers see them
      const randomLength = prng.below(prng.chance(0.8) ? 100 : MAX_FRAME);
      for (let i = 0; i < randomLength; i++) frame[i] = prng.below(256);
      if (prng.chance(0.7) && randomLength > 15) {
        frame[12] = 0x08;
        frame[13] = 0x00;
        frame[14] = 0x45;
      }
      return randomLength;
    }
    default:
      return depth < 3 ? mutate(prng, frame, view, mutate(prng, frame, view, length, depth + 1), depth + 1) : length;
  }
}

describe('wire fuzz: random and mutated frames through every parser', function () {
  this.timeout(120_000);

  it(`parses ${FRAME_COUNT} frames (seed ${SEED}) without throwing or reading outside them`, () => {
    const prng = new Prng(SEED);
    const templates = buildTemplates(prng);
    const parsers = new Parsers();
    const scratch = new Uint8Array(MAX_FRAME);
    const scratchView = new DataView(scratch.buffer);
    const memory = new Uint8Array(GUARD + MAX_FRAME + GUARD + 4);
    const view = new DataView(memory.buffer);
    for (let n = 0; n < FRAME_COUNT; n++) {
      const template = templates[prng.below(templates.length)];
      scratch.set(template);
      let length = mutate(prng, scratch, scratchView, template.length);
      if (prng.chance(0.1)) length = Math.min(MAX_FRAME, length + prng.below(40));
      const at = GUARD + prng.below(4);
      memory.set(scratch.subarray(0, length), at);
      let digests: number[];
      try {
        memory.fill(POISON_A, 0, at);
        memory.fill(POISON_A, at + length);
        parsers.counting = true;
        const first = parsers.digest(view, at, length);
        parsers.counting = false;
        memory.fill(POISON_B, 0, at);
        memory.fill(POISON_B, at + length);
        const second = parsers.digest(view, at, length);
        const exact = parsers.digest(new DataView(memory.buffer, at, length), 0, length);
        digests = [first, second, exact];
      } catch (error) {
        assert.fail(`frame ${n} (seed ${SEED}) threw ${String(error)}: ${toHex(memory.subarray(at, at + length))}`);
      }
      if (digests[0] !== digests[1] || digests[0] !== digests[2]) {
        assert.fail(`frame ${n} (seed ${SEED}) parses differently with other bytes around it: ${toHex(memory.subarray(at, at + length))}`);
      }
    }
    // The mutations keep enough frames valid for every record parser to see deep, well-formed input too.
    for (const [parser, count] of Object.entries(parsers.accepted)) {
      assert.ok(count > FRAME_COUNT / 200, `${parser} accepted only ${count} frames`);
    }
  });

  it('parses every template frame back into the records it was emitted from', () => {
    const prng = new Prng(SEED + 1);
    const parsers = new Parsers();
    for (const template of buildTemplates(prng)) {
      const view = new DataView(template.buffer, template.byteOffset, template.byteLength);
      const ethernet = parsers.ethernet;
      assert.equal(ethernet.reset(view, 0, template.length), true);
      if (ethernet.payloadEtherType === ETHERTYPE_ARP) {
        assert.equal(parsers.arp.reset(view, ethernet.payloadOffset, ethernet.payloadLength), true);
        assert.ok(ArpRepr.parse(parsers.arp));
        continue;
      }
      const ipv4 = parsers.ipv4;
      assert.equal(ipv4.reset(view, ethernet.payloadOffset, ethernet.payloadLength), true, toHex(template));
      const ip = Ipv4Repr.parse(ipv4);
      assert.ok(ip, toHex(template));
      // A fragment's transport checksum covers the whole datagram.
      if (ipv4.isFragment) continue;
      const at = ipv4.payloadOffset;
      const length = ipv4.payloadLength;
      if (ip.protocol === IP_PROTOCOL_UDP) {
        assert.equal(parsers.udp.reset(view, at, length), true);
        assert.ok(UdpRepr.parse(parsers.udp, ip.source, ip.destination), toHex(template));
      } else if (ip.protocol === IP_PROTOCOL_TCP) {
        assert.equal(parsers.tcp.reset(view, at, length), true);
        assert.ok(TcpRepr.parse(parsers.tcp, ip.source, ip.destination), toHex(template));
      } else {
        assert.equal(parsers.icmp.reset(view, at, length), true);
        assert.ok(Icmpv4Repr.parse(parsers.icmp), toHex(template));
      }
    }
  });
});
