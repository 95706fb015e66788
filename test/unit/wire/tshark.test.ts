// pcap files written by nicring, checked by Wireshark's dissectors: no
// malformed packets or warnings, good IPv4/UDP/TCP/ICMP checksums, and the
// same addresses and ports nicring's parsers read. Needs `tshark` on PATH.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArpPacket, ArpRepr } from '../../../src/wire/arp';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetFrame, EthernetRepr, macToString } from '../../../src/wire/ethernet';
import { ICMPV4_DESTINATION_UNREACHABLE, ICMPV4_ECHO_REPLY, ICMPV4_ECHO_REQUEST, ICMPV4_TIME_EXCEEDED, Icmpv4Repr } from '../../../src/wire/icmpv4';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP, Ipv4Packet, Ipv4Repr, ipv4ToString } from '../../../src/wire/ipv4';
import { PcapWriter } from '../../../src/wire/pcap';
import { TcpFlag, TcpPacket, TcpRepr } from '../../../src/wire/tcp';
import { UdpPacket, UdpRepr } from '../../../src/wire/udp';
import { captured, fromHex, synthetic } from '../../fixtures/wire/frames';
import { Prng } from '../../fixtures/wire/util';

const FIELDS = [
  'frame.number',
  'eth.src',
  'eth.dst',
  'vlan.id',
  'arp.src.proto_ipv4',
  'arp.dst.proto_ipv4',
  'ip.src',
  'ip.dst',
  'ip.checksum.status',
  'udp.srcport',
  'udp.dstport',
  'udp.checksum.status',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.checksum.status',
  'icmp.checksum.status',
  '_ws.malformed',
  '_ws.expert.severity',
] as const;

type Field = (typeof FIELDS)[number];

/** Wireshark's checksum status values. */
const CHECKSUM_BAD = '0';
const CHECKSUM_GOOD = '1';
/** Expert info severities from PI_WARN up (epan/proto.h). */
const PI_WARN = 0x00600000;

/** What nicring's parsers read from a frame, in tshark's spelling. */
type Expected = Partial<Record<Field, string>>;

function hasTshark(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Random frames built with nicring's records: UDP, TCP, ICMP and ARP, some tagged. */
function buildFrames(prng: Prng): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const memory = new Uint8Array(1514);
  const view = new DataView(memory.buffer);
  const lab = (): number => 0xc6120000 + prng.below(0x20000); // 198.18.0.0/15
  for (let n = 0; n < 240; n++) {
    const ethernet = new EthernetRepr();
    ethernet.destination = 0x020000000000 + prng.below(0x1000000);
    ethernet.source = 0x020000000000 + prng.below(0x1000000);
    ethernet.hasVlanTag = n % 7 === 0;
    ethernet.vlanId = 1 + prng.below(4094);
    ethernet.vlanPriority = prng.below(8);
    const kind = n % 6;
    ethernet.etherType = kind === 5 ? ETHERTYPE_ARP : ETHERTYPE_IPV4;
    const l3 = ethernet.emit(view, 0);
    if (kind === 5) {
      const arp = new ArpRepr();
      arp.operation = 1 + (n % 2);
      arp.senderHardwareAddress = ethernet.source;
      arp.senderProtocolAddress = lab();
      arp.targetHardwareAddress = n % 2 ? ethernet.destination : 0;
      arp.targetProtocolAddress = lab();
      frames.push(memory.slice(0, l3 + arp.emit(view, l3)));
      continue;
    }
    const ipv4 = new Ipv4Repr();
    ipv4.source = lab();
    ipv4.destination = lab();
    ipv4.identification = prng.below(0x10000);
    ipv4.dontFragment = prng.chance(0.5);
    ipv4.dscp = prng.below(64);
    const l4 = l3 + 20;
    const room = memory.length - l4 - 60;
    const payloadLength = prng.chance(0.3) ? prng.below(room) : prng.below(48);
    for (let i = 0; i < payloadLength + 60; i++) memory[l4 + i] = prng.below(256);
    if (kind <= 1) {
      const udp = new UdpRepr();
      udp.sourcePort = 1024 + prng.below(60000);
      udp.destinationPort = 1024 + prng.below(60000);
      udp.payloadLength = payloadLength;
      ipv4.protocol = IP_PROTOCOL_UDP;
      ipv4.payloadLength = 8 + payloadLength;
      udp.emit(view, l4, ipv4.source, ipv4.destination);
    } else if (kind === 2) {
      const tcp = new TcpRepr();
      tcp.sourcePort = 1024 + prng.below(60000);
      tcp.destinationPort = 1024 + prng.below(60000);
      tcp.sequenceNumber = prng.nextU32();
      tcp.acknowledgmentNumber = prng.nextU32();
      tcp.flags = [TcpFlag.SYN, TcpFlag.SYN | TcpFlag.ACK, TcpFlag.ACK, TcpFlag.PSH | TcpFlag.ACK, TcpFlag.FIN | TcpFlag.ACK][prng.below(5)];
      tcp.windowSize = prng.below(0x10000);
      tcp.maxSegmentSize = tcp.flags & TcpFlag.SYN ? 1460 : 0;
      tcp.windowScale = tcp.flags & TcpFlag.SYN ? prng.below(15) : -1;
      tcp.sackPermitted = (tcp.flags & TcpFlag.SYN) !== 0;
      tcp.hasTimestamps = prng.chance(0.7);
      tcp.timestampValue = prng.nextU32();
      tcp.timestampEcho = prng.nextU32();
      if (!(tcp.flags & TcpFlag.SYN) && prng.chance(0.3)) {
        tcp.sackBlockCount = 1 + prng.below(3);
        for (let i = 0; i < tcp.sackBlockCount; i++) {
          tcp.sackBlocks[2 * i] = (tcp.acknowledgmentNumber + 1000 * (2 * i + 1)) >>> 0;
          tcp.sackBlocks[2 * i + 1] = (tcp.acknowledgmentNumber + 1000 * (2 * i + 2)) >>> 0;
        }
      }
      tcp.payloadLength = tcp.flags & TcpFlag.SYN ? 0 : payloadLength;
      for (let i = 0; i < tcp.payloadLength; i++) memory[l4 + tcp.headerLength + i] = prng.below(256);
      ipv4.protocol = IP_PROTOCOL_TCP;
      ipv4.payloadLength = tcp.headerLength + tcp.payloadLength;
      tcp.emit(view, l4, ipv4.source, ipv4.destination);
    } else if (kind === 3) {
      const icmp = new Icmpv4Repr();
      icmp.type = prng.chance(0.5) ? ICMPV4_ECHO_REQUEST : ICMPV4_ECHO_REPLY;
      icmp.identifier = prng.below(0x10000);
      icmp.sequence = prng.below(0x10000);
      icmp.payloadView = view;
      icmp.payloadOffset = l4 + 8;
      icmp.payloadLength = payloadLength;
      ipv4.protocol = IP_PROTOCOL_ICMP;
      ipv4.payloadLength = icmp.emit(view, l4);
    } else {
      // An error quoting a UDP datagram (header and its first 8 bytes, as RFC 792 asks).
      const quoted = new Ipv4Repr();
      quoted.source = ipv4.destination;
      quoted.destination = lab();
      quoted.protocol = IP_PROTOCOL_UDP;
      quoted.payloadLength = 8 + payloadLength;
      quoted.timeToLive = 1 + prng.below(64);
      const quotedAt = l4 + 8;
      for (let i = 0; i < payloadLength; i++) memory[quotedAt + 28 + i] = prng.below(256);
      const udp = new UdpRepr();
      udp.sourcePort = 1024 + prng.below(60000);
      udp.destinationPort = 1024 + prng.below(60000);
      udp.payloadLength = payloadLength;
      udp.emit(view, quotedAt + 20, quoted.source, quoted.destination);
      quoted.emit(view, quotedAt);
      const icmp = new Icmpv4Repr();
      icmp.type = prng.chance(0.5) ? ICMPV4_DESTINATION_UNREACHABLE : ICMPV4_TIME_EXCEEDED;
      icmp.code = icmp.type === ICMPV4_DESTINATION_UNREACHABLE ? 3 : 0;
      icmp.payloadView = view;
      icmp.payloadOffset = quotedAt;
      icmp.payloadLength = 28;
      ipv4.protocol = IP_PROTOCOL_ICMP;
      ipv4.payloadLength = icmp.emit(view, l4);
    }
    ipv4.emit(view, l3);
    frames.push(memory.slice(0, Math.max(l4 + ipv4.payloadLength, 60)));
  }
  return frames;
}

/** A UDP datagram whose computed checksum is zero, so it goes out as 0xffff. */
function zeroChecksumDatagram(): Uint8Array {
  const frame = fromHex(captured.udpRequest.hex);
  const view = new DataView(frame.buffer);
  const udp = new UdpPacket();
  udp.reset(view, 34, 21);
  const word = view.getUint16(42) + udp.checksum;
  view.setUint16(42, (word & 0xffff) + (word >>> 16));
  udp.fillChecksum(0xc6120102, 0xc6120202);
  assert.equal(udp.checksum, 0xffff);
  return frame;
}

/** Read a frame with nicring's parsers, and say what tshark must report. */
function expectationOf(frame: Uint8Array): Expected {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const ethernet = new EthernetFrame();
  assert.equal(ethernet.reset(view, 0, frame.length), true);
  const expected: Expected = { 'eth.src': macToString(ethernet.source), 'eth.dst': macToString(ethernet.destination) };
  if (ethernet.hasVlanTag) expected['vlan.id'] = String(ethernet.vlanId);
  if (ethernet.payloadEtherType === ETHERTYPE_ARP) {
    const arp = new ArpPacket();
    assert.equal(arp.reset(view, ethernet.payloadOffset, ethernet.payloadLength), true);
    const repr = ArpRepr.parse(arp);
    assert.ok(repr);
    expected['arp.src.proto_ipv4'] = ipv4ToString(repr.senderProtocolAddress);
    expected['arp.dst.proto_ipv4'] = ipv4ToString(repr.targetProtocolAddress);
    return expected;
  }
  const ipv4 = new Ipv4Packet();
  assert.equal(ipv4.reset(view, ethernet.payloadOffset, ethernet.payloadLength), true);
  const ip = Ipv4Repr.parse(ipv4);
  assert.ok(ip);
  expected['ip.src'] = ipv4ToString(ip.source);
  expected['ip.dst'] = ipv4ToString(ip.destination);
  if (ipv4.isFragment && ipv4.fragmentOffsetBytes === 0) return expected;
  if (ip.protocol === IP_PROTOCOL_UDP) {
    const udp = new UdpPacket();
    assert.equal(udp.reset(view, ipv4.payloadOffset, ipv4.payloadLength), true);
    const repr = UdpRepr.parse(udp, ip.source, ip.destination);
    assert.ok(repr);
    expected['udp.srcport'] = String(repr.sourcePort);
    expected['udp.dstport'] = String(repr.destinationPort);
  } else if (ip.protocol === IP_PROTOCOL_TCP) {
    const tcp = new TcpPacket();
    assert.equal(tcp.reset(view, ipv4.payloadOffset, ipv4.payloadLength), true);
    const repr = TcpRepr.parse(tcp, ip.source, ip.destination);
    assert.ok(repr);
    expected['tcp.srcport'] = String(repr.sourcePort);
    expected['tcp.dstport'] = String(repr.destinationPort);
  }
  return expected;
}

function runTshark(file: string): Array<Record<Field, string>> {
  const output = execFileSync(
    'tshark',
    [
      '-r', file,
      '-o', 'ip.check_checksum:TRUE',
      '-o', 'udp.check_checksum:TRUE',
      '-o', 'tcp.check_checksum:TRUE',
      '-o', 'tcp.analyze_sequence_numbers:FALSE',
      '-T', 'fields',
      '-E', 'separator=/t',
      ...FIELDS.flatMap((field) => ['-e', field]),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 },
  );
  return output
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const values = line.split('\t');
      return Object.fromEntries(FIELDS.map((field, i) => [field, values[i] ?? ''])) as Record<Field, string>;
    });
}

describe('wire pcap files in tshark', function () {
  this.timeout(60_000);
  let directory: string;

  before(function () {
    if (!hasTshark()) throw new Error('tshark is not installed (apt-get install tshark); these tests need it');
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-tshark-'));
  });

  after(() => {
    if (directory) fs.rmSync(directory, { recursive: true, force: true });
  });

  for (const nanosecond of [false, true]) {
    it(`finds good checksums and nicring's addresses and ports in a ${nanosecond ? 'nano' : 'micro'}second file`, () => {
      const frames = [
        ...Object.values(captured).map((fixture) => fromHex(fixture.hex)),
        fromHex(synthetic.vlanUdpRequest),
        fromHex(synthetic.paddedUdpRequest),
        fromHex(synthetic.tcpSack),
        zeroChecksumDatagram(),
        ...buildFrames(new Prng(nanosecond ? 2 : 1)),
      ];
      const file = path.join(directory, `nicring-${nanosecond}.pcap`);
      const writer = new PcapWriter(file, { nanosecond, bufferSize: 4096 });
      const memory = new Uint8Array(2048);
      frames.forEach((frame, i) => {
        memory.set(frame, 100);
        writer.write(memory, 100, frame.length, 1_700_000_000_000_000_000n + BigInt(i) * 1_000_001n);
      });
      writer.close();

      const rows = runTshark(file);
      assert.equal(rows.length, frames.length);
      frames.forEach((frame, i) => {
        const row = rows[i];
        const where = `frame ${i + 1} (${Buffer.from(frame.subarray(0, 64)).toString('hex')}...)`;
        assert.equal(row['_ws.malformed'], '', `${where} is malformed`);
        const severities = row['_ws.expert.severity'].split(',').filter((s) => s !== '').map(Number);
        assert.ok(severities.every((severity) => severity < PI_WARN), `${where} has warnings: ${row['_ws.expert.severity']}`);
        const expected = expectationOf(frame);
        for (const [field, value] of Object.entries(expected) as Array<[Field, string]>) {
          // The first occurrence is the outer header; ICMP errors quote inner ones after it.
          assert.equal(row[field].split(',')[0], value, `${where} ${field}`);
        }
        for (const field of ['ip.checksum.status', 'udp.checksum.status', 'tcp.checksum.status', 'icmp.checksum.status'] as const) {
          const statuses = row[field].split(',').filter((s) => s !== '');
          assert.ok(!statuses.includes(CHECKSUM_BAD), `${where} ${field} bad: ${row[field]}`);
          if (statuses.length > 0 && !(field === 'udp.checksum.status' && row['ip.src'].includes(','))) {
            assert.equal(statuses[0], CHECKSUM_GOOD, `${where} ${field} ${row[field]}`);
          }
        }
        if (expected['ip.src'] !== undefined) assert.equal(row['ip.checksum.status'].split(',')[0], CHECKSUM_GOOD, `${where} IPv4 checksum checked`);
        if (expected['udp.srcport'] !== undefined) assert.equal(row['udp.checksum.status'], CHECKSUM_GOOD, `${where} UDP checksum checked`);
        if (expected['tcp.srcport'] !== undefined) assert.equal(row['tcp.checksum.status'], CHECKSUM_GOOD, `${where} TCP checksum checked`);
      });
    });
  }
});
