// Every cache and queue in the stack holds to its stated bound (docs/limits.md)
// under 1,000,000 inserts, with a fake clock: frames written straight into
// the peer side of an in-memory pair, 64 at a time, each a new key (a
// spoofed source, a new datagram, a new next hop).

import { strict as assert } from 'node:assert';
import { KeyedTokenBuckets, TokenBucket } from '../../../src/iface/rate-limit';
import { IPV4_MAX_PAYLOAD_LEN } from '../../../src/iface/reassembly';
import { ARP_OPERATION_REQUEST } from '../../../src/wire/arp';
import { ETHERTYPE_ARP } from '../../../src/wire/ethernet';
import { IPV4_MAX_HEADER_LEN, IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP } from '../../../src/wire/ipv4';
import { FLOOD_BATCH as BATCH, fixIpv4Checksum, flood } from '../../helpers/flood';
import { countGcEvents } from '../../helpers/gc';
import { BROADCAST_MAC, STACK_ADDRESS, StackFixture, arpPacket, echoRequest, ethernetFrame, ip, ipv4Packet, pattern, udpDatagram } from './peer';

const INSERTS = 1_000_000;
/** One reassembly slot: the longest header, the largest payload, and a flag per 8-byte block. */
const SLOT_BYTES = IPV4_MAX_HEADER_LEN + IPV4_MAX_PAYLOAD_LEN + Math.ceil(IPV4_MAX_PAYLOAD_LEN / 8);

describe('iface limits: each bound holds under 1,000,000 inserts', function () {
  this.timeout(180000);
  let fixture: StackFixture;
  afterEach(() => fixture?.close());

  it('reassembly: 1,000,000 never-completed first fragments from spoofed sources hold at most maxDatagrams slots, one sweep timer, and make no garbage', async () => {
    fixture = new StackFixture({ address: '198.18.0.1/12' }, { frameCount: 1024 });
    fixture.start();
    fixture.introduce();
    const reassembler = fixture.iface.reassembler;
    const timers = fixture.iface.loop.timers;
    const template = ethernetFrame(ipv4Packet({ protocol: IP_PROTOCOL_UDP, identification: 0, moreFragments: true, payload: pattern(64) }));
    // Sources off the link (no route back, so no ARP entries), all different and above 2^31 (numbers V8 cannot keep
    // as small integers); the clock moves a fraction over 1 ms a batch, as a real clock does, so timeouts come too.
    const patch = (view: DataView, offset: number, i: number): void => {
      const at = offset + 14;
      view.setUint16(at + 4, i & 0xffff);
      view.setUint32(at + 12, (0x80000000 + i) >>> 0);
      fixIpv4Checksum(view, at);
    };
    let largestSlots = 0;
    let largestTimers = 0;
    const check = (): void => {
      if (reassembler.pending > largestSlots) largestSlots = reassembler.pending;
      if (timers.size > largestTimers) largestTimers = timers.size;
    };
    flood(fixture, template, 100_000, patch, 1.0625, check);
    const events = await countGcEvents(() => flood(fixture, template, INSERTS, patch, 1.0625, check));
    const counters = fixture.iface.counters();
    assert.equal(counters.ipv4FragmentsReceived, INSERTS + 100_000);
    assert.equal(counters.reassemblyEvicted + counters.reassemblyTimeout + reassembler.pending, INSERTS + 100_000);
    assert.equal(largestSlots, reassembler.maxDatagrams);
    assert.ok(reassembler.memoryBytes <= reassembler.maxDatagrams * SLOT_BYTES, `${reassembler.memoryBytes} bytes`);
    // The link poll (none on a pair), the ARP sweep, the reassembly sweep, the peer's entry re-confirming.
    assert.ok(largestTimers <= 4, `${largestTimers} timers`);
    // Nothing per fragment: 32 bytes each (a closure, a view, two boxed numbers) would fill even a 16 MiB
    // young generation twice over. A loop turn may box a time or two (about 20 bytes a turn, 15,625 turns
    // here), which can take one scavenge when earlier suites left the young generation at its smallest.
    assert.ok(events <= 1, `${events} GC events`);
    fixture.clock.advance(30_000);
    fixture.run();
    assert.equal(reassembler.pending, 0);
    assert.equal(fixture.iface.counters().reassemblyTimeout, reassembler.maxDatagrams);
  });

  it('neighbor cache, learning: 1,000,000 ARP requests from different on-link senders hold at most maxEntries entries, and none needs a timer', () => {
    fixture = new StackFixture({ address: '198.18.0.1/12', arp: { maxEntries: 1024 } }, { frameCount: 1024 });
    fixture.start();
    const neighbors = fixture.iface.neighbors;
    const timers = fixture.iface.loop.timers;
    const template = ethernetFrame(arpPacket(ARP_OPERATION_REQUEST, 0x020000000100, ip('198.16.0.2'), 0, STACK_ADDRESS), ETHERTYPE_ARP, BROADCAST_MAC, 0x020000000100);
    const base = ip('198.16.0.2');
    const patch = (view: DataView, offset: number, i: number): void => {
      const sender = (base + (i % 0xffff0)) >>> 0;
      view.setUint32(offset + 6 + 2, 0x01000000 + i);
      view.setUint32(offset + 14 + 8 + 2, 0x01000000 + i);
      view.setUint32(offset + 14 + 14, sender === STACK_ADDRESS ? sender + 1 : sender);
    };
    let largestEntries = 0;
    let largestTimers = 0;
    // 8 ms a batch: 125 s in all, so unused entries expire (60 s) and make room.
    flood(fixture, template, INSERTS, patch, 8, () => {
      if (neighbors.size > largestEntries) largestEntries = neighbors.size;
      if (timers.size > largestTimers) largestTimers = timers.size;
    });
    const counters = fixture.iface.counters();
    assert.equal(counters.arpRequestsReceived, INSERTS);
    assert.equal(counters.arpRepliesSent, INSERTS, 'every request for our address is answered');
    assert.equal(largestEntries, neighbors.maxEntries);
    assert.ok(counters.arpEntriesExpired > 0, 'entries expire and make room');
    // The link poll and the ARP sweep: learned entries are not being resolved.
    assert.ok(largestTimers <= 2, `${largestTimers} timers`);
  });

  it('neighbor cache, resolving: 1,000,000 datagrams to different unresolved next hops hold at most maxEntries entries, maxQueuedFrames frames and a timer per entry', () => {
    fixture = new StackFixture({ address: '198.18.0.1/12', arp: { maxEntries: 1024, maxQueuedFrames: 256 } }, { frameCount: 4096 });
    fixture.start();
    const neighbors = fixture.iface.neighbors;
    const timers = fixture.iface.loop.timers;
    const udp = fixture.iface.udp;
    const payload = pattern(16);
    const base = ip('198.16.0.2');
    let largestEntries = 0;
    let largestQueued = 0;
    let largestTimers = 0;
    const peer = fixture.peerDevice;
    const drain = (): void => undefined;
    for (let sent = 0; sent < INSERTS;) {
      for (let n = 0; n < BATCH && sent < INSERTS; n++, sent++) udp.send(5000, (base + (sent % 0xffff0)) >>> 0, 9, payload, 0, payload.length);
      fixture.clock.advance(1);
      fixture.iface.loop.turn();
      fixture.stackDevice.flush();
      peer.receive(1 << 16, drain);
      if (neighbors.size > largestEntries) largestEntries = neighbors.size;
      if (neighbors.pendingFrames > largestQueued) largestQueued = neighbors.pendingFrames;
      if (timers.size > largestTimers) largestTimers = timers.size;
    }
    const counters = fixture.iface.counters();
    assert.equal(largestEntries, neighbors.maxEntries);
    assert.ok(largestQueued <= neighbors.maxQueuedFrames, `${largestQueued} frames queued`);
    // One retry timer per entry being resolved, the ARP sweep, the link poll.
    assert.ok(largestTimers <= neighbors.maxEntries + 2, `${largestTimers} timers`);
    // (One destination is our own address: no route.)
    assert.equal(counters.udpSent + counters.arpTableFull + counters.arpQueueFull + counters.ipv4NoRoute, INSERTS);
    assert.equal(counters.ipv4NoRoute, 1);
    assert.ok(counters.arpResolutionFailed > 0);
    // Every resolution left gives up after its last retry (one a second).
    for (let second = 0; second < 4; second++) fixture.advance(1000);
    assert.equal(neighbors.size, 0);
    assert.equal(neighbors.pendingFrames, 0);
    assert.equal(timers.size, 1, 'only the link poll');
  });

  it('ICMP rate limits: 1,000,000 datagrams to closed ports from different sources keep a fixed table and the overall rate', () => {
    fixture = new StackFixture({ gateway: '198.18.0.254' }, { frameCount: 1024 });
    fixture.start();
    // Let the stack know the gateway's MAC: errors to off-link sources go there.
    fixture.exchange(ethernetFrame(arpPacket(ARP_OPERATION_REQUEST, fixture.peer.mac, ip('198.18.0.254'), 0, STACK_ADDRESS), ETHERTYPE_ARP, BROADCAST_MAC, fixture.peer.mac));
    const source = ip('10.0.0.1');
    const template = ethernetFrame(ipv4Packet({ protocol: IP_PROTOCOL_UDP, source, payload: udpDatagram(4000, 9, pattern(8), source, STACK_ADDRESS, 0) }));
    const patch = (view: DataView, offset: number, i: number): void => {
      view.setUint32(offset + 14 + 12, (source + i) >>> 0);
      fixIpv4Checksum(view, offset + 14);
    };
    const startMs = fixture.clock.nowMs();
    flood(fixture, template, INSERTS, patch, 1, () => undefined);
    const elapsedMs = fixture.clock.nowMs() - startMs;
    const counters = fixture.iface.counters();
    assert.equal(counters.udpNoSocket, INSERTS);
    // The overall bucket: a burst of 50, then 1000 a second.
    assert.ok(counters.icmpErrorsSent <= 50 + elapsedMs, `${counters.icmpErrorsSent} errors in ${elapsedMs} ms`);
    assert.ok(counters.icmpErrorsSent > elapsedMs / 2, `${counters.icmpErrorsSent} errors in ${elapsedMs} ms`);
    assert.equal(counters.icmpErrorsSent + counters.icmpRateLimitedGlobal + counters.icmpRateLimitedDestination, INSERTS);
    assert.equal(fixture.iface.neighbors.size, 1, 'only the gateway');
  });

  it('ICMP rate limits: a keyed bucket table keeps its slots through 1,000,000 keys and still limits a key that keeps coming', () => {
    const table = new KeyedTokenBuckets(1, 6, 1024);
    assert.equal(table.slots, 1024);
    let nowMs = 0;
    let allowed = 0;
    for (let key = 0; key < INSERTS; key++) {
      if (table.take(key, nowMs)) allowed++;
      nowMs += 0.01;
    }
    assert.equal(table.slots, 1024);
    assert.equal(allowed, INSERTS, 'a new key starts with a full bucket');
    let repeated = 0;
    for (let i = 0; i < 100; i++) if (table.take(42, nowMs)) repeated++;
    assert.equal(repeated, 6);
    const overall = new TokenBucket(1000, 50);
    let taken = 0;
    for (let i = 0; i < INSERTS; i++) if (overall.take(i / 1000)) taken++;
    assert.ok(taken <= 50 + 1000, `${taken}`);
  });

  it('echo of large pings through reassembly keeps working while the slots are flooded', () => {
    fixture = new StackFixture({ address: '198.18.0.1/24', reassembly: { maxDatagrams: 16 } });
    fixture.start();
    fixture.introduce();
    const spoofed = ethernetFrame(ipv4Packet({ protocol: IP_PROTOCOL_UDP, identification: 0, moreFragments: true, payload: pattern(64), source: ip('10.1.0.1') }));
    const patch = (view: DataView, offset: number, i: number): void => {
      view.setUint16(offset + 14 + 4, i & 0xffff);
      view.setUint32(offset + 14 + 12, (ip('10.1.0.1') + i) >>> 0);
      fixIpv4Checksum(view, offset + 14);
    };
    flood(fixture, spoofed, 10_000, patch, 1, () => undefined);
    // A fragmented ping whose fragments arrive together completes: its slot is the newest.
    const payload = echoRequest(7, 1, pattern(3000));
    const packet = ipv4Packet({ protocol: IP_PROTOCOL_ICMP, identification: 777, payload });
    const first = ipv4Packet({ protocol: IP_PROTOCOL_ICMP, identification: 777, moreFragments: true, payload: packet.subarray(20, 20 + 1480) });
    const second = ipv4Packet({ protocol: IP_PROTOCOL_ICMP, identification: 777, moreFragments: true, fragmentOffsetBytes: 1480, payload: packet.subarray(20 + 1480, 20 + 2960) });
    const third = ipv4Packet({ protocol: IP_PROTOCOL_ICMP, identification: 777, fragmentOffsetBytes: 2960, payload: packet.subarray(20 + 2960) });
    const sent = fixture.exchangeIpv4(first, second, third);
    assert.equal(sent.filter((frame) => frame.ip !== undefined).length, 3, 'the reply, in 3 fragments');
    assert.equal(fixture.iface.counters().ipv4Reassembled, 1);
  });
});
