// One ring pair per worker over the fake netmap module: a 4-queue interface,
// one port per NIC ring pair (netmap:IF-q, as serve() opens them), each with
// its own host and responder, as each worker thread of the service has.
// Each answers only its own ring's frames, from its own TX ring, keeps every
// buffer of its region, and learns neighbours whose ARP reply came to
// another ring through the shared entries.

import { strict as assert } from 'node:assert';
import { Interface } from '../../../src/iface/interface';
import { NeighborShare } from '../../../src/iface/neighbor-share';
import { FakeClock } from '../../../src/loop';
import { NetmapDevice, netmapPortOptions } from '../../../src/phy/netmap';
import { Responder } from '../../../src/service/responder';
import { resolveQueues } from '../../../src/service/serve';
import { createSocket } from '../../../src/socket/udp';
import { ARP_OPERATION_REPLY, ARP_OPERATION_REQUEST } from '../../../src/wire/arp';
import { ETHERTYPE_ARP, parseMac } from '../../../src/wire/ethernet';
import {
  BROADCAST_MAC, PEER_ADDRESS, PEER_IP, PEER_MAC, STACK_ADDRESS, STACK_MAC, arpPacket, decode, echoRequest, ethernetFrame, ipv4Packet, pattern,
  udpDatagram,
} from '../iface/peer';
import { FakeNetmap, FakeNetmapModule } from './fake-netmap';

const QUEUES = 4;
const STACK = parseMac(STACK_MAC) as number;
const PEER = parseMac(PEER_MAC) as number;

interface Worker {
  queue: number;
  port: FakeNetmap;
  device: NetmapDevice;
  iface: Interface;
  responder: Responder;
  share: NeighborShare;
}

/** The peer's TX queue whose frames the emulated adapter puts on RX ring `ring` (veth hands over queue_mapping, netmap reads it as rx queue + 1). */
function txQueueFor(ring: number): number {
  return ring + 1;
}

function setup() {
  const module = new FakeNetmapModule({ slots: 256 });
  const nm0 = module.addInterface('nm0', { queues: QUEUES });
  const clock = new FakeClock(1000);
  const posted: Uint32Array[][] = Array.from({ length: QUEUES }, () => []);
  const workers: Worker[] = resolveQueues('netmap:nm0', [0, 1, 2, 3]).map((queue) => {
    const request = netmapPortOptions(`netmap:nm0-${queue}`);
    const port = module.register(request);
    const device = new NetmapDevice(port, { name: request.name, registerMode: request.mode, macAddress: STACK_MAC });
    const iface = new Interface(device, { address: '198.18.0.1/24', clock, arp: { gratuitous: false } });
    const responder = new Responder(iface, { ports: [9000] });
    const share = new NeighborShare(iface, (entries) => posted[queue].push(entries));
    iface.start();
    return { queue, port, device, iface, responder, share };
  });
  /** Every worker takes one turn (as each thread would); returns what left on the wire since the last call. */
  const turn = (): Uint8Array[] => {
    for (const w of workers) {
      w.iface.loop.turn();
      w.iface.flush();
    }
    return nm0.wire.splice(0);
  };
  /** The main thread's relay: each worker's batches to every other worker. */
  const relay = (): void => {
    posted.forEach((batches, from) => {
      for (const entries of batches.splice(0)) for (const w of workers) if (w.queue !== from) w.share.adopt(entries);
    });
  };
  return { module, nm0, clock, workers, turn, relay, close: () => { for (const w of workers) w.iface.close(); } };
}

function request(sourcePort: number, payload: Uint8Array): Uint8Array {
  return ethernetFrame(ipv4Packet({ protocol: 17, payload: udpDatagram(sourcePort, 9000, payload) }), 0x0800, STACK, PEER);
}

describe('netmap: one ring pair per worker, over the fake module', () => {
  it('binds one NIC ring pair per port; each worker answers its own ring\'s requests from its own TX ring', () => {
    const { nm0, workers, turn, close } = setup();
    try {
      for (const w of workers) {
        assert.equal(w.device.mode, 'one-nic');
        assert.deepEqual([0, 1, 2, 3, 4].map((ring) => w.port.binds('rx', ring)), [0, 1, 2, 3, 4].map((ring) => ring === w.queue));
      }
      for (let ring = 0; ring < QUEUES; ring++) {
        for (let i = 0; i < 10 + ring; i++) nm0.peerSend(request(40000 + i, pattern(32 + i, ring)), txQueueFor(ring));
      }
      const replies = turn().map(decode);
      assert.equal(replies.length, 10 + 11 + 12 + 13);
      for (const w of workers) {
        assert.equal(w.responder.counters.requests, 10 + w.queue, `queue ${w.queue}`);
        assert.equal(w.responder.counters.replies, 10 + w.queue);
        assert.ok(w.port.sent.every((frame) => frame.ring === w.queue), 'replies leave on the worker\'s own TX ring');
      }
      for (const reply of replies) assert.equal(reply.udp?.sourcePort, 9000);
    } finally {
      close();
    }
  });

  it('answers ARP and ping on whichever ring they arrive', () => {
    const { nm0, workers, turn, close } = setup();
    try {
      for (let ring = 0; ring < QUEUES; ring++) {
        nm0.peerSend(ethernetFrame(arpPacket(ARP_OPERATION_REQUEST, PEER, PEER_ADDRESS, 0, STACK_ADDRESS), ETHERTYPE_ARP, BROADCAST_MAC, PEER), txQueueFor(ring));
        nm0.peerSend(ethernetFrame(ipv4Packet({ protocol: 1, payload: echoRequest(0x4e00 + ring, ring, pattern(56, ring)) }), 0x0800, STACK, PEER), txQueueFor(ring));
      }
      const sent = turn().map(decode);
      assert.equal(sent.filter((f) => f.arp?.operation === ARP_OPERATION_REPLY).length, QUEUES);
      assert.equal(sent.filter((f) => f.icmp?.type === 0).length, QUEUES);
      for (const w of workers) {
        const counters = w.iface.counters();
        assert.deepEqual([counters.arpRepliesSent, counters.icmpEchoRepliesSent], [1, 1], `queue ${w.queue}`);
      }
    } finally {
      close();
    }
  });

  it('keeps every buffer of each worker\'s region over 20,000 replies in place on every ring', () => {
    const { nm0, workers, turn, close } = setup();
    try {
      for (let round = 0; round < 50; round++) {
        for (let ring = 0; ring < QUEUES; ring++) for (let i = 0; i < 100; i++) nm0.peerSend(request(40000 + i, pattern(64, i)), txQueueFor(ring));
        turn();
      }
      for (const w of workers) {
        assert.equal(w.responder.counters.replies, 5000, `queue ${w.queue}`);
        assert.deepEqual(w.port.violations, []);
        assert.deepEqual(w.port.bufferCensus(), w.port.expectedCensus(), `queue ${w.queue}: every buffer once`);
      }
    } finally {
      close();
    }
  });

  it('lets a worker send to a neighbour whose ARP reply arrived on another ring', () => {
    const { nm0, workers, clock, turn, relay, close } = setup();
    try {
      const socket = createSocket(workers[3].iface).bind(5000);
      socket.send(new Uint8Array([42]), 6000, PEER_IP);
      const asked = turn().map(decode);
      assert.equal(asked.filter((f) => f.arp?.operation === ARP_OPERATION_REQUEST).length, 1);
      // The peer's answer comes in on ring 0.
      nm0.peerSend(ethernetFrame(arpPacket(ARP_OPERATION_REPLY, PEER, PEER_ADDRESS, STACK, STACK_ADDRESS), ETHERTYPE_ARP, STACK, PEER), 0);
      assert.deepEqual(turn(), []);
      assert.equal(workers[3].iface.neighbor(PEER_IP)?.state, 'incomplete');
      clock.advance(10);
      turn();
      relay();
      const released = turn().map(decode);
      assert.equal(released.length, 1);
      assert.equal(released[0].destination, PEER);
      assert.equal(released[0].udp?.payload[0], 42);
      assert.equal(workers[3].port.sent.at(-1)?.ring, 3, 'sent from the worker\'s own ring');
    } finally {
      close();
    }
  });
});
