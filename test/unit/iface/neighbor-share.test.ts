import { strict as assert } from 'node:assert';
import { NEIGHBOR_SHARE_FIELDS, NeighborShare } from '../../../src/iface/neighbor-share';
import { createSocket } from '../../../src/socket/udp';
import { ARP_OPERATION_REPLY, ARP_OPERATION_REQUEST } from '../../../src/wire/arp';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, macHigh16, macLow32, parseMac } from '../../../src/wire/ethernet';
import { BROADCAST_MAC, PEER_ADDRESS, PEER_IP, STACK_ADDRESS, StackFixture, arpPacket, ethernetFrame, ip } from './peer';

const OTHER_MAC = parseMac('02:00:00:00:00:99') as number;

function arpFrame(operation: number, senderMac: number, senderAddress: number, targetMac: number, targetAddress: number, destination = BROADCAST_MAC): Uint8Array {
  return ethernetFrame(arpPacket(operation, senderMac, senderAddress, targetMac, targetAddress), ETHERTYPE_ARP, destination, senderMac);
}

/** Two ports of one interface (two queues): same MAC and address, one cache each, batches relayed by hand. */
function twoQueues(delayMs = 10) {
  const a = new StackFixture({ arp: { gratuitous: false } });
  const b = new StackFixture({ arp: { gratuitous: false } });
  const postedByA: Uint32Array[] = [];
  const postedByB: Uint32Array[] = [];
  const shareA = new NeighborShare(a.iface, (entries) => postedByA.push(entries), { delayMs });
  const shareB = new NeighborShare(b.iface, (entries) => postedByB.push(entries), { delayMs });
  a.start();
  b.start();
  return { a, b, shareA, shareB, postedByA, postedByB };
}

describe('iface/neighbor-share (ARP entries across the queues of one interface)', () => {
  const fixtures: StackFixture[] = [];
  afterEach(() => {
    for (const fixture of fixtures.splice(0)) fixture.close();
  });

  it('lets a port send to a neighbour whose ARP reply landed on another queue', () => {
    const { a, b, shareA, shareB, postedByA } = twoQueues();
    fixtures.push(a, b);
    const socket = createSocket(b.iface).bind(5000);
    socket.send(new Uint8Array([7]), 6000, PEER_IP);
    const asked = b.run();
    assert.equal(asked.length, 1);
    assert.equal(asked[0].arp?.operation, ARP_OPERATION_REQUEST);
    assert.equal(b.iface.neighbor(PEER_IP)?.state, 'incomplete');

    // The answer comes in on A's queue.
    a.exchange(arpFrame(ARP_OPERATION_REPLY, a.peer.mac, PEER_ADDRESS, a.peer.stackMac, STACK_ADDRESS, a.peer.stackMac));
    assert.equal(a.iface.neighbor(PEER_IP)?.state, 'reachable');
    assert.equal(postedByA.length, 0, 'batched: nothing posted before the delay');
    assert.deepEqual(b.advance(500).filter((f) => f.etherType === ETHERTYPE_IPV4), [], 'B alone never learns it');

    a.advance(10);
    assert.equal(postedByA.length, 1);
    assert.deepEqual([...postedByA[0]], [PEER_ADDRESS, macHigh16(a.peer.mac), macLow32(a.peer.mac), 1]);
    assert.equal(shareB.adopt(postedByA[0]), 1);
    const released = b.peer.receive();
    assert.equal(released.length, 1);
    assert.equal(released[0].destination, b.peer.mac);
    assert.equal(released[0].udp?.payload[0], 7);
    assert.equal(b.iface.neighbor(PEER_IP)?.state, 'reachable');
    assert.deepEqual(shareA.counters, { sent: 1, batches: 1, adopted: 0, overflow: 0 });
    assert.deepEqual(shareB.counters, { sent: 0, batches: 0, adopted: 1, overflow: 0 });
  });

  it('posts one batch per delay, one entry per neighbour, confirmed when any packet in it confirmed', () => {
    const { a, b, postedByA } = twoQueues(20);
    fixtures.push(a, b);
    for (let i = 0; i < 50; i++) a.exchange(arpFrame(ARP_OPERATION_REQUEST, a.peer.mac, PEER_ADDRESS, 0, STACK_ADDRESS));
    a.exchange(arpFrame(ARP_OPERATION_REQUEST, OTHER_MAC, ip('198.18.0.3'), 0, STACK_ADDRESS));
    // Not for us: it updates the MAC of a neighbour we know, unconfirmed.
    a.exchange(arpFrame(ARP_OPERATION_REQUEST, OTHER_MAC, PEER_ADDRESS, 0, ip('198.18.0.77')));
    a.advance(19);
    assert.equal(postedByA.length, 0);
    a.advance(1);
    assert.equal(postedByA.length, 1);
    const batch = postedByA[0];
    assert.equal(batch.length, 2 * NEIGHBOR_SHARE_FIELDS);
    assert.deepEqual([...batch], [
      PEER_ADDRESS, macHigh16(OTHER_MAC), macLow32(OTHER_MAC), 1,
      ip('198.18.0.3'), macHigh16(OTHER_MAC), macLow32(OTHER_MAC), 1,
    ]);
    a.advance(1000);
    assert.equal(postedByA.length, 1, 'nothing new, nothing posted');
  });

  it('adopts without sharing back, and creates entries only from confirmations on its subnet', () => {
    const { a, b, shareB, postedByB } = twoQueues();
    fixtures.push(a, b);
    const batch = new Uint32Array([
      PEER_ADDRESS, macHigh16(a.peer.mac), macLow32(a.peer.mac), 1,
      ip('198.18.0.9'), macHigh16(OTHER_MAC), macLow32(OTHER_MAC), 0,
      ip('198.19.1.1'), macHigh16(OTHER_MAC), macLow32(OTHER_MAC), 1,
      ip('198.18.0.10'), 0xffff, 0xffffffff, 1,
    ]);
    assert.equal(shareB.adopt(batch), 4);
    assert.equal(b.iface.neighbor(PEER_IP)?.mac, '02:00:00:00:00:02');
    assert.equal(b.iface.neighbor('198.18.0.9'), null, 'unconfirmed and unknown: not created');
    assert.equal(b.iface.neighbor('198.19.1.1'), null, 'not on the subnet');
    assert.equal(b.iface.neighbor('198.18.0.10'), null, 'a broadcast MAC is never learned');
    b.advance(1000);
    assert.equal(postedByB.length, 0, 'adopted entries are not posted again');
  });

  it('confirms a stale entry whose re-confirmation was answered on another queue', () => {
    const { a, b, shareB, postedByA } = twoQueues();
    fixtures.push(a, b);
    b.introduce();
    const socket = createSocket(b.iface).bind(5000);
    b.advance(30_000);
    socket.send(new Uint8Array([1]), 6000, PEER_IP);
    const probe = b.run().find((f) => f.etherType === ETHERTYPE_ARP);
    assert.equal(probe?.destination, b.peer.mac, 'a unicast re-confirmation');
    a.exchange(arpFrame(ARP_OPERATION_REPLY, a.peer.mac, PEER_ADDRESS, a.peer.stackMac, STACK_ADDRESS, a.peer.stackMac));
    a.advance(10);
    shareB.adopt(postedByA[0]);
    assert.equal(b.iface.neighbor(PEER_IP)?.state, 'reachable');
    b.advance(1000);
    b.advance(1000);
    b.advance(1000);
    assert.equal(b.iface.neighbor(PEER_IP)?.state, 'reachable', 'kept: no failed re-confirmation');
    assert.equal(b.iface.counters().arpResolutionFailed, 0);
  });

  it('counts neighbours a full batch leaves out', () => {
    const a = new StackFixture({ arp: { gratuitous: false } });
    fixtures.push(a);
    const posted: Uint32Array[] = [];
    const share = new NeighborShare(a.iface, (entries) => posted.push(entries), { capacity: 2 });
    a.start();
    for (let i = 3; i < 8; i++) a.exchange(arpFrame(ARP_OPERATION_REQUEST, OTHER_MAC, ip(`198.18.0.${i}`), 0, STACK_ADDRESS));
    a.advance(10);
    assert.equal(posted[0].length, 2 * NEIGHBOR_SHARE_FIELDS);
    assert.equal(share.counters.overflow, 3);
    share.detach();
    a.exchange(arpFrame(ARP_OPERATION_REQUEST, OTHER_MAC, ip('198.18.0.9'), 0, STACK_ADDRESS));
    a.advance(10);
    assert.equal(posted.length, 1, 'detached: nothing more');
  });
});
