import { strict as assert } from 'node:assert';
import { createSocket } from '../../../src/socket/udp';
import { ARP_OPERATION_REPLY, ARP_OPERATION_REQUEST } from '../../../src/wire/arp';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, parseMac } from '../../../src/wire/ethernet';
import {
  BROADCAST_MAC, PEER_ADDRESS, PEER_IP, STACK_ADDRESS, StackFixture, arpPacket, ethernetFrame, ip,
  type SentFrame,
} from './peer';

const OTHER_MAC = parseMac('02:00:00:00:00:99') as number;

function arpFrame(operation: number, senderMac: number, senderAddress: number, targetMac: number, targetAddress: number, destination = BROADCAST_MAC): Uint8Array {
  return ethernetFrame(arpPacket(operation, senderMac, senderAddress, targetMac, targetAddress), ETHERTYPE_ARP, destination, senderMac);
}

function arpRequests(frames: SentFrame[]): SentFrame[] {
  return frames.filter((f) => f.arp?.operation === ARP_OPERATION_REQUEST);
}

describe('iface/neighbor-cache (ARP)', () => {
  let fixture: StackFixture;
  afterEach(() => fixture.close());

  it('announces our address with one gratuitous request on start', () => {
    fixture = new StackFixture();
    const sent = fixture.start();
    assert.equal(sent.length, 1);
    const [announce] = sent;
    assert.equal(announce.destination, BROADCAST_MAC);
    assert.equal(announce.etherType, ETHERTYPE_ARP);
    assert.equal(announce.arp?.operation, ARP_OPERATION_REQUEST);
    assert.equal(announce.arp?.senderProtocolAddress, STACK_ADDRESS);
    assert.equal(announce.arp?.targetProtocolAddress, STACK_ADDRESS);
    assert.equal(announce.arp?.senderHardwareAddress, fixture.peer.stackMac);
    assert.equal(fixture.iface.counters().arpGratuitousSent, 1);
  });

  it('answers a request for our address, from the request buffer, and learns the sender', () => {
    fixture = new StackFixture();
    fixture.start();
    const freeBefore = fixture.stackDevice.freeBuffers;
    const sent = fixture.exchange(arpFrame(ARP_OPERATION_REQUEST, fixture.peer.mac, PEER_ADDRESS, 0, STACK_ADDRESS));
    assert.equal(sent.length, 1);
    const [reply] = sent;
    assert.equal(reply.destination, fixture.peer.mac);
    assert.equal(reply.source, fixture.peer.stackMac);
    assert.equal(reply.bytes.length, 42);
    assert.deepEqual({ ...reply.arp }, {
      operation: ARP_OPERATION_REPLY,
      senderHardwareAddress: fixture.peer.stackMac,
      senderProtocolAddress: STACK_ADDRESS,
      targetHardwareAddress: fixture.peer.mac,
      targetProtocolAddress: PEER_ADDRESS,
    });
    assert.equal(fixture.stackDevice.freeBuffers, freeBefore, 'no transmit buffer was taken');
    assert.deepEqual(fixture.iface.neighbor(PEER_IP), { address: PEER_ADDRESS, mac: '02:00:00:00:00:02', state: 'reachable', requestsSent: 0, queuedFrames: 0 });
    const counters = fixture.iface.counters();
    assert.equal(counters.arpRequestsReceived, 1);
    assert.equal(counters.arpRepliesSent, 1);
  });

  it('ignores requests for other addresses and learns nothing from them', () => {
    fixture = new StackFixture();
    fixture.start();
    const sent = fixture.exchange(arpFrame(ARP_OPERATION_REQUEST, fixture.peer.mac, PEER_ADDRESS, 0, ip('198.18.0.77')));
    assert.deepEqual(sent, []);
    assert.equal(fixture.iface.neighbor(PEER_IP), null);
    assert.equal(fixture.iface.counters().arpNotForUs, 1);
  });

  it('resolves a next hop: one broadcast request, frames queued, released in order on the reply', () => {
    fixture = new StackFixture();
    fixture.start();
    const socket = createSocket(fixture.iface).bind(5000);
    for (let i = 0; i < 3; i++) socket.send(new Uint8Array([i]), 6000, PEER_IP);
    const asked = fixture.run();
    assert.equal(asked.length, 1);
    assert.equal(asked[0].destination, BROADCAST_MAC);
    assert.equal(asked[0].arp?.targetProtocolAddress, PEER_ADDRESS);
    assert.equal(asked[0].arp?.senderProtocolAddress, STACK_ADDRESS);
    assert.equal(fixture.iface.neighbor(PEER_IP)?.state, 'incomplete');
    assert.equal(fixture.iface.neighbor(PEER_IP)?.queuedFrames, 3);

    const released = fixture.exchange(arpFrame(ARP_OPERATION_REPLY, fixture.peer.mac, PEER_ADDRESS, fixture.peer.stackMac, STACK_ADDRESS, fixture.peer.stackMac));
    assert.equal(released.length, 3);
    assert.deepEqual(released.map((f) => f.udp?.payload[0]), [0, 1, 2]);
    for (const frame of released) {
      assert.equal(frame.destination, fixture.peer.mac);
      assert.equal(frame.etherType, ETHERTYPE_IPV4);
    }
    assert.equal(fixture.iface.neighbor(PEER_IP)?.state, 'reachable');
    // Now known: the next datagram goes straight out.
    socket.send(new Uint8Array([3]), 6000, PEER_IP);
    const direct = fixture.run();
    assert.equal(direct.length, 1);
    assert.equal(direct[0].udp?.payload[0], 3);
  });

  it('retries once a second, gives up after 3 requests, and drops the queued frames with a count', () => {
    fixture = new StackFixture();
    fixture.start();
    const socket = createSocket(fixture.iface).bind(5000);
    socket.send(new Uint8Array([1]), 6000, '198.18.0.9');
    socket.send(new Uint8Array([2]), 6000, '198.18.0.9');
    assert.equal(arpRequests(fixture.run()).length, 1);
    assert.equal(arpRequests(fixture.advance(999)).length, 0, 'not before a second has passed');
    assert.equal(arpRequests(fixture.advance(1)).length, 1);
    assert.equal(arpRequests(fixture.advance(1000)).length, 1);
    assert.equal(fixture.iface.neighbor('198.18.0.9')?.requestsSent, 3);
    assert.deepEqual(fixture.advance(1000), [], 'no fourth request');
    assert.equal(fixture.iface.neighbor('198.18.0.9'), null);
    const counters = fixture.iface.counters();
    assert.equal(counters.arpRequestsSent, 3);
    assert.equal(counters.arpResolutionFailed, 1);
    assert.equal(counters.arpQueueDropped, 2);
    assert.equal(fixture.stackDevice.freeBuffers, 1024, 'every queued buffer went back');
  });

  it('holds a bounded queue per target and counts what does not fit', () => {
    fixture = new StackFixture({ arp: { queueLength: 4 } });
    fixture.start();
    const socket = createSocket(fixture.iface).bind(5000);
    for (let i = 0; i < 10; i++) socket.send(new Uint8Array([i]), 6000, PEER_IP);
    fixture.run();
    assert.equal(fixture.iface.neighbor(PEER_IP)?.queuedFrames, 4);
    assert.equal(fixture.iface.counters().arpQueueFull, 6);
    const released = fixture.exchange(arpFrame(ARP_OPERATION_REPLY, fixture.peer.mac, PEER_ADDRESS, fixture.peer.stackMac, STACK_ADDRESS, fixture.peer.stackMac));
    assert.deepEqual(released.map((f) => f.udp?.payload[0]), [0, 1, 2, 3]);
  });

  it('keeps an entry reachable for 30 s, then re-confirms it with unicast requests on use', () => {
    fixture = new StackFixture();
    fixture.start();
    fixture.introduce();
    const socket = createSocket(fixture.iface).bind(5000);
    fixture.advance(29_999);
    socket.send(new Uint8Array([1]), 6000, PEER_IP);
    assert.deepEqual(fixture.run().map((f) => f.etherType), [ETHERTYPE_IPV4], 'still reachable: no request');
    fixture.advance(1);
    assert.equal(fixture.iface.neighbor(PEER_IP)?.state, 'stale');
    socket.send(new Uint8Array([2]), 6000, PEER_IP);
    const sent = fixture.run();
    const probe = sent.find((f) => f.etherType === ETHERTYPE_ARP);
    assert.ok(sent.some((f) => f.udp?.payload[0] === 2), 'a stale entry is still used');
    assert.equal(probe?.destination, fixture.peer.mac, 'the re-confirmation is unicast');
    assert.equal(probe?.arp?.targetProtocolAddress, PEER_ADDRESS);
    fixture.exchange(arpFrame(ARP_OPERATION_REPLY, fixture.peer.mac, PEER_ADDRESS, fixture.peer.stackMac, STACK_ADDRESS, fixture.peer.stackMac));
    assert.equal(fixture.iface.neighbor(PEER_IP)?.state, 'reachable');
    assert.deepEqual(fixture.advance(5000), [], 'no more requests once confirmed');
  });

  it('removes a stale entry whose re-confirmation goes unanswered', () => {
    fixture = new StackFixture();
    fixture.start();
    fixture.introduce();
    const socket = createSocket(fixture.iface).bind(5000);
    fixture.advance(30_000);
    socket.send(new Uint8Array([1]), 6000, PEER_IP);
    fixture.run();
    fixture.advance(1000);
    fixture.advance(1000);
    fixture.advance(1000);
    assert.equal(fixture.iface.neighbor(PEER_IP), null);
    assert.equal(fixture.iface.counters().arpResolutionFailed, 1);
  });

  it('removes entries unused for 60 s', () => {
    fixture = new StackFixture();
    fixture.start();
    fixture.introduce();
    fixture.advance(59_000);
    assert.notEqual(fixture.iface.neighbor(PEER_IP), null);
    fixture.advance(1000);
    assert.equal(fixture.iface.neighbor(PEER_IP), null);
    assert.equal(fixture.iface.counters().arpEntriesExpired, 1);
  });

  it('takes its timings from the options', () => {
    fixture = new StackFixture({ arp: { reachableMs: 1000, unusedMs: 2000, retryMs: 250, maxRequests: 2 } });
    fixture.start();
    fixture.introduce();
    fixture.advance(1000);
    assert.equal(fixture.iface.neighbor(PEER_IP)?.state, 'stale');
    fixture.advance(1000);
    assert.equal(fixture.iface.neighbor(PEER_IP), null);
    const socket = createSocket(fixture.iface).bind(5000);
    socket.send(new Uint8Array([1]), 6000, '198.18.0.9');
    assert.equal(arpRequests(fixture.run()).length, 1);
    assert.equal(arpRequests(fixture.advance(250)).length, 1);
    fixture.advance(250);
    assert.equal(fixture.iface.counters().arpResolutionFailed, 1);
  });

  it('updates a known neighbor from any ARP it sends, and counts another host claiming our address', () => {
    fixture = new StackFixture();
    fixture.start();
    fixture.introduce();
    fixture.exchange(arpFrame(ARP_OPERATION_REQUEST, OTHER_MAC, PEER_ADDRESS, 0, PEER_ADDRESS));
    assert.equal(fixture.iface.neighbor(PEER_IP)?.mac, '02:00:00:00:00:99');
    fixture.exchange(arpFrame(ARP_OPERATION_REQUEST, OTHER_MAC, STACK_ADDRESS, 0, STACK_ADDRESS));
    assert.equal(fixture.iface.counters().arpAddressConflict, 1);
  });

  it('answers requests from anyone on the link, but learns only on-link senders', () => {
    fixture = new StackFixture();
    fixture.start();
    const sent = fixture.exchange(arpFrame(ARP_OPERATION_REQUEST, OTHER_MAC, ip('198.19.9.9'), 0, STACK_ADDRESS));
    assert.equal(sent.length, 1);
    assert.equal(fixture.iface.neighbors.size, 0);
  });
});
