import { strict as assert } from 'node:assert';
import { unaccounted } from '../../../src/iface/accounting';
import { STACK_TRAFFIC_COUNTERS, StackCounters } from '../../../src/iface/counters';
import { createSocket } from '../../../src/socket/udp';
import { ARP_OPERATION_REQUEST } from '../../../src/wire/arp';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, parseMac } from '../../../src/wire/ethernet';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP } from '../../../src/wire/ipv4';
import {
  BROADCAST_MAC, PEER_ADDRESS, PEER_IP, STACK_ADDRESS, StackFixture, arpPacket, echoRequest, ethernetFrame, fragment, ip, ipv4Packet,
  pattern, taggedFrame, udpDatagram,
} from './peer';

// TCP's counters have their own cases (test/unit/tcp/counters.test.ts).
const DROP_REASONS = Object.keys(new StackCounters()).filter((name) => !STACK_TRAFFIC_COUNTERS.has(name) && !name.startsWith('tcp'));

const OTHER_MAC = parseMac('02:00:00:00:00:99') as number;

/** A drop case: prepare (optional), then the action whose drop counters are compared. */
interface DropCase {
  counter: string;
  /** Other drop counters the same event moves as well. */
  also?: string[];
  fixture?: () => StackFixture;
  prepare?: (f: StackFixture) => void;
  act: (f: StackFixture) => void;
}

function frame(f: StackFixture, bytes: Uint8Array): void {
  f.exchange(bytes);
}

function ipv4(f: StackFixture, packet: Uint8Array): void {
  f.exchangeIpv4(packet);
}

function withHeaderByte(packet: Uint8Array, at: number, value: number): Uint8Array {
  const copy = packet.slice();
  copy[at] = value;
  return copy;
}

const ping = (): Uint8Array => ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: echoRequest(1, 1, pattern(8)) });
const udpTo = (port: number, payload = pattern(8)): Uint8Array => ipv4Packet({ protocol: IP_PROTOCOL_UDP, payload: udpDatagram(40000, port, payload) });
const arpFrame = (senderMac: number, senderAddress: number, targetAddress: number): Uint8Array =>
  ethernetFrame(arpPacket(ARP_OPERATION_REQUEST, senderMac, senderAddress, 0, targetAddress), ETHERTYPE_ARP, BROADCAST_MAC, senderMac);

const CASES: DropCase[] = [
  { counter: 'ethernetTooShort', act: (f) => frame(f, new Uint8Array(10)) },
  { counter: 'ethernetNotForUs', act: (f) => f.exchange(ethernetFrame(ping(), ETHERTYPE_IPV4, OTHER_MAC)) },
  { counter: 'ethernetVlanNotServed', act: (f) => frame(f, taggedFrame(ping(), 10)) },
  { counter: 'ethernetVlanUntagged', fixture: () => new StackFixture({ vlan: 10 }), act: (f) => frame(f, ethernetFrame(ping())) },
  { counter: 'ethernetIpv6', act: (f) => frame(f, ethernetFrame(new Uint8Array(50), 0x86dd, parseMac('33:33:00:00:00:02') as number)) },
  { counter: 'ethernetUnknownType', act: (f) => frame(f, ethernetFrame(new Uint8Array(50), 0x88b5)) },
  { counter: 'arpMalformed', act: (f) => frame(f, ethernetFrame(new Uint8Array(10), ETHERTYPE_ARP)) },
  { counter: 'arpBadSender', act: (f) => frame(f, arpFrame(BROADCAST_MAC, PEER_ADDRESS, STACK_ADDRESS)) },
  { counter: 'arpAddressConflict', act: (f) => frame(f, arpFrame(OTHER_MAC, STACK_ADDRESS, STACK_ADDRESS)) },
  { counter: 'arpNotForUs', act: (f) => frame(f, arpFrame(OTHER_MAC, ip('198.18.0.50'), ip('198.18.0.51'))) },
  {
    counter: 'arpResolutionFailed', also: ['arpQueueDropped'],
    prepare: (f) => { createSocket(f.iface).bind(1).send(pattern(4), 2, '198.18.0.99'); f.run(); f.advance(1000); f.advance(1000); },
    act: (f) => { f.advance(1000); },
  },
  {
    counter: 'arpQueueFull', fixture: () => new StackFixture({ arp: { queueLength: 1 } }),
    prepare: (f) => { createSocket(f.iface).bind(1).send(pattern(4), 2, '198.18.0.99'); },
    act: (f) => { f.iface.udp.send(1, ip('198.18.0.99'), 2, pattern(4), 0, 4); },
  },
  {
    counter: 'arpTableFull', fixture: () => new StackFixture({ arp: { maxEntries: 1 } }),
    prepare: (f) => { createSocket(f.iface).bind(1).send(pattern(4), 2, '198.18.0.99'); },
    act: (f) => { f.iface.udp.send(1, ip('198.18.0.98'), 2, pattern(4), 0, 4); },
  },
  { counter: 'ipv4TooShort', act: (f) => frame(f, ethernetFrame(new Uint8Array(10))) },
  { counter: 'ipv4BadVersion', act: (f) => ipv4(f, withHeaderByte(ping(), 0, 0x65)) },
  { counter: 'ipv4BadHeaderLength', act: (f) => ipv4(f, withHeaderByte(ping(), 0, 0x44)) },
  { counter: 'ipv4BadTotalLength', act: (f) => ipv4(f, ping().subarray(0, 30)) },
  { counter: 'ipv4BadChecksum', act: (f) => ipv4(f, withHeaderByte(ping(), 11, ping()[11] ^ 0xff)) },
  { counter: 'ipv4BadSource', act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, source: ip('198.18.0.255'), payload: echoRequest(1, 1, pattern(8)) })) },
  { counter: 'ipv4NotForUs', act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, destination: ip('198.18.0.7'), payload: echoRequest(1, 1, pattern(8)) })) },
  { counter: 'ipv4TtlZero', act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, timeToLive: 0, payload: echoRequest(1, 1, pattern(8)) })) },
  { counter: 'ipv4UnknownProtocol', act: (f) => ipv4(f, ipv4Packet({ protocol: 253, payload: pattern(8) })) },
  ...([
    ['ipv4OptionBadLength', [0x07, 0x00, 0x00, 0x00]],
    ['ipv4OptionBadPointer', [0x07, 0x07, 0x03, 0, 0, 0, 0, 0]],
    ['ipv4OptionRepeated', [0x07, 0x03, 0x04, 0x07, 0x03, 0x04, 0x00, 0x00]],
    ['ipv4OptionTimestampOverflow', [0x44, 0x08, 0x09, 0xf0, 0, 0, 0, 0]],
    ['ipv4OptionCipso', [0x86, 0x0a, 0, 0, 0, 0x01, 0x01, 0x04, 0, 0, 0, 0]],
    ['ipv4SourceRouted', [0x83, 0x07, 0x04, 198, 18, 0, 1, 0x00]],
  ] as const).map(([counter, options]): DropCase => ({
    counter, act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_UDP, options: Uint8Array.from(options), payload: udpDatagram(40000, 7, pattern(8)) })),
  })),
  {
    counter: 'ipv4NoRoute',
    act: (f) => { f.iface.udp.send(1, ip('198.19.0.1'), 2, pattern(4), 0, 4); },
  },
  {
    counter: 'ipv4TooLarge',
    act: (f) => { f.iface.udp.send(1, PEER_ADDRESS, 2, new Uint8Array(70000), 0, 65508); },
  },
  { counter: 'reassemblyBadFragment', act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: pattern(12), moreFragments: true })) },
  { counter: 'reassemblyTooLarge', act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: pattern(16), fragmentOffsetBytes: 65504 })) },
  {
    counter: 'reassemblyOverlap',
    prepare: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: pattern(16), moreFragments: true })),
    act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: pattern(16), fragmentOffsetBytes: 8, moreFragments: true })),
  },
  {
    counter: 'reassemblyDuplicate',
    prepare: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: pattern(16), moreFragments: true })),
    act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: pattern(16), moreFragments: true })),
  },
  {
    counter: 'reassemblyTimeout',
    prepare: (f) => ipv4(f, fragment(ping(), 8)[1]),
    act: (f) => { f.advance(30_000); },
  },
  {
    counter: 'reassemblyEvicted', fixture: () => new StackFixture({ reassembly: { maxDatagrams: 1 } }),
    prepare: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, identification: 1, payload: pattern(16), moreFragments: true })),
    act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, identification: 2, payload: pattern(16), moreFragments: true })),
  },
  { counter: 'icmpTooShort', act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: pattern(4) })) },
  { counter: 'icmpBadChecksum', act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: withHeaderByte(echoRequest(1, 1, pattern(8)), 2, 0) })) },
  { counter: 'icmpEchoBroadcastIgnored', act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, destination: ip('198.18.0.255'), payload: echoRequest(1, 1, pattern(8)) })) },
  { counter: 'icmpUnhandledType', act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: echoRequest(1, 1, pattern(12), 13) })) },
  {
    counter: 'icmpErrorsSuppressed', also: ['ipv4UnknownProtocol'],
    act: (f) => { f.peer.sendIpv4(ipv4Packet({ protocol: 253, payload: pattern(8) }), BROADCAST_MAC); f.run(); },
  },
  {
    counter: 'icmpRateLimitedDestination', also: ['udpNoSocket'],
    prepare: (f) => { for (let i = 0; i < 6; i++) ipv4(f, udpTo(9)); },
    act: (f) => ipv4(f, udpTo(9)),
  },
  {
    counter: 'icmpRateLimitedGlobal', also: ['udpNoSocket'], fixture: () => new StackFixture({ icmp: { errorBurst: 1 } }),
    prepare: (f) => ipv4(f, udpTo(9)),
    act: (f) => ipv4(f, udpTo(9)),
  },
  { counter: 'udpTooShort', act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_UDP, payload: pattern(4) })) },
  {
    counter: 'udpBadLength',
    act: (f) => { const d = udpDatagram(1, 7, pattern(8)); d[4] = 0; d[5] = 100; ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_UDP, payload: d })); },
  },
  { counter: 'udpBadChecksum', act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_UDP, payload: udpDatagram(1, 7, pattern(8), PEER_ADDRESS, STACK_ADDRESS, 0x1234) })) },
  { counter: 'udpNoSocket', act: (f) => ipv4(f, udpTo(9)) },
  {
    counter: 'udpBroadcastNoSocket',
    act: (f) => ipv4(f, ipv4Packet({ protocol: IP_PROTOCOL_UDP, destination: ip('198.18.0.255'), payload: udpDatagram(1, 9, pattern(8), PEER_ADDRESS, ip('198.18.0.255')) })),
  },
  {
    counter: 'txNoBuffer', fixture: () => new StackFixture({}, { frameCount: 8, rxQueueSize: 4 }),
    prepare: (f) => { for (let i = 0; i < 8; i++) f.stackDevice.allocTx(); },
    act: (f) => { f.iface.udp.send(1, PEER_ADDRESS, 2, pattern(4), 0, 4); },
  },
  {
    counter: 'txLinkDown',
    prepare: (f) => { f.stackDevice.linkUp = false; f.iface.pollLink(); },
    act: (f) => { f.iface.udp.send(1, PEER_ADDRESS, 2, pattern(4), 0, 4); },
  },
  {
    counter: 'txDeviceFull',
    prepare: (f) => { f.stackDevice.transmit = (offset) => { f.stackDevice.freeTx(offset); return false; }; },
    act: (f) => { f.iface.udp.send(1, PEER_ADDRESS, 2, pattern(4), 0, 4); },
  },
  {
    counter: 'txErrors',
    prepare: (f) => { f.stackDevice.flush = () => { throw new Error('flush failed'); }; },
    act: (f) => f.iface.flush(),
  },
];

describe('iface/counters', () => {
  it('are one plain object of numbers, all zero at first', () => {
    const fixture = new StackFixture();
    const counters = fixture.iface.counters();
    assert.equal(Object.getPrototypeOf(counters), Object.prototype);
    assert.ok(Object.values(counters).every((value) => value === 0));
    assert.ok(Object.keys(counters).length > 60);
    fixture.close();
  });

  it('has a case below for every drop reason', () => {
    const covered = new Set(CASES.flatMap((c) => [c.counter, ...(c.also ?? [])]));
    assert.deepEqual(DROP_REASONS.filter((name) => !covered.has(name)), []);
  });

  for (const dropCase of CASES) {
    it(`counts ${dropCase.counter}${dropCase.also ? ` (with ${dropCase.also.join(', ')})` : ''} and nothing else`, () => {
      const fixture = dropCase.fixture ? dropCase.fixture() : new StackFixture();
      try {
        fixture.start();
        fixture.introduce();
        dropCase.prepare?.(fixture);
        const before = fixture.iface.counters();
        dropCase.act(fixture);
        const after = fixture.iface.counters();
        const moved = DROP_REASONS.filter((name) => after[name as keyof StackCounters] !== before[name as keyof StackCounters]);
        assert.deepEqual(moved.sort(), [dropCase.counter, ...(dropCase.also ?? [])].sort());
        assert.equal(after[dropCase.counter as keyof StackCounters] - before[dropCase.counter as keyof StackCounters], 1);
        assert.deepEqual(unaccounted(after), { frames: 0, datagrams: 0, icmp: 0, tcp: 0 }, 'every frame ends in one place');
      } finally {
        fixture.close();
      }
    });
  }

  it('a clean exchange moves no drop counter', () => {
    const fixture = new StackFixture();
    fixture.start();
    fixture.introduce();
    const socket = createSocket(fixture.iface).bind(7);
    socket.on('message', (payload, rinfo) => socket.send(payload.copy(), rinfo.port, rinfo.address));
    fixture.exchangeIpv4(udpTo(7), ping(), ...fragment(ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: echoRequest(1, 2, pattern(3000)) }), 1480));
    socket.send(pattern(5000), 9, PEER_IP);
    fixture.run();
    const counters = fixture.iface.counters();
    assert.deepEqual(DROP_REASONS.filter((name) => counters[name as keyof StackCounters] !== 0), []);
    assert.equal(counters.icmpEchoRequests, 2);
    assert.equal(counters.udpReceived, 1);
    assert.deepEqual(unaccounted(counters), { frames: 0, datagrams: 0, icmp: 0, tcp: 0 });
    fixture.close();
  });
});
