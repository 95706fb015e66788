// A worker module for the serve() tests: each worker serves one side of an
// in-memory pair and drives the other side (its "peer") from the same
// thread. `options.scenario` picks what the worker does.

import { readFileSync } from 'node:fs';
import { createPair, type PairDevice } from '../../../src/phy/pair';
import { UdpGenerator } from '../../../src/service/generator';
import { Responder } from '../../../src/service/responder';
import type { OpenDeviceContext, WorkerContext, WorkerService } from '../../../src/service/serve';
import { createSocket } from '../../../src/socket/udp';
import { ARP_OPERATION_REPLY, ARP_OPERATION_REQUEST } from '../../../src/wire/arp';
import { ETHERTYPE_ARP, parseMac } from '../../../src/wire/ethernet';
import { countGcEvents } from '../../helpers/gc';
import { PEER_ADDRESS, PEER_IP, Peer, STACK_ADDRESS, arpPacket, ethernetFrame } from '../iface/peer';

export interface PairWorkerOptions {
  scenario: 'echo' | 'fail' | 'fail-setup' | 'send' | 'threads';
  /** echo: requests to answer while GC is counted (after 50,000 to warm up). */
  frames?: number;
  /** fail / fail-setup: the queue whose worker throws. */
  failQueue?: number;
  /** send: the queue whose peer answers ARP (the others never do). */
  arpQueue?: number;
}

let peerDevice: PairDevice | null = null;

export function openDevice(context: OpenDeviceContext): PairDevice {
  const [server, peer] = createPair({ frameCount: 2048, macAddresses: ['02:00:00:00:00:01', '02:00:00:00:00:02'], names: [`pair-q${context.queue}`, `peer-q${context.queue}`] });
  peerDevice = peer;
  return server;
}

/** Send requests from the peer, answer them, take the replies: synchronously, as the responder's unit test does. */
function pump(generator: UdpGenerator, peer: PairDevice, server: PairDevice, context: WorkerContext, count: number): void {
  const gen = generator as unknown as { sendOne(sequence: number, nowUs: number): boolean };
  const handler = context.iface!.frameHandler;
  const observe = (offset: number, length: number): void => {
    generator.observe(offset, length, 1000);
  };
  for (let sent = 0; sent < count;) {
    for (let i = 0; i < 64 && sent < count; i++, sent++) gen.sendOne(sent, 0);
    peer.flush();
    server.receive(64, handler);
    server.flush();
    peer.receive(64, observe);
  }
}

export async function setup(context: WorkerContext): Promise<WorkerService> {
  const options = context.options as PairWorkerOptions;
  const peer = peerDevice as PairDevice;
  const server = context.device as PairDevice;
  const iface = context.iface!;
  const counters = { replies: 0, gcEvents: -1, delivered: 0, done: 0, cpusAllowed: '', setupQueue: context.queue };
  const timers: NodeJS.Timeout[] = [];

  if (options.scenario === 'fail-setup' && context.queue === options.failQueue) throw new Error(`setup refused on queue ${context.queue}`);
  // The fault fires from a timer armed by the first request for figures, so that it comes after every worker is ready.
  let armFault = options.scenario === 'fail' && context.queue === options.failQueue;
  if (options.scenario === 'echo') {
    const responder = new Responder(iface, { ports: [9000] });
    const generator = new UdpGenerator(peer, {
      sourceMac: parseMac(peer.macAddress)!, destinationMac: parseMac(server.macAddress)!,
      sourceAddress: PEER_ADDRESS, destinationAddress: STACK_ADDRESS, destinationPort: 9000,
      sourcePortBase: 40000, sourcePorts: 8, payloadSize: 32, count: 2_000_000, durationMs: 600_000, rate: 0, batchSize: 64,
    });
    timers.push(setTimeout(() => {
      pump(generator, peer, server, context, 50_000);
      void countGcEvents(() => pump(generator, peer, server, context, options.frames ?? 1_000_000)).then((events) => {
        counters.gcEvents = events;
        counters.replies = responder.counters.replies;
        counters.done = 1;
      });
    }, 0));
  }
  if (options.scenario === 'send') {
    // The stack resolves the peer with a broadcast request; only one queue's peer answers it.
    const stackPeer = new Peer(peer);
    const socket = createSocket(iface).bind(5000);
    socket.send(new Uint8Array([context.queue]), 6000, PEER_IP);
    timers.push(setInterval(() => {
      for (const frame of stackPeer.receive()) {
        if (frame.arp?.operation === ARP_OPERATION_REQUEST && frame.arp.targetProtocolAddress === PEER_ADDRESS && context.queue === options.arpQueue) {
          stackPeer.send(ethernetFrame(arpPacket(ARP_OPERATION_REPLY, stackPeer.mac, PEER_ADDRESS, stackPeer.stackMac, STACK_ADDRESS), ETHERTYPE_ARP, stackPeer.stackMac, stackPeer.mac));
          peer.flush();
        }
        if (frame.udp?.destinationPort === 6000 && frame.destination === stackPeer.mac && frame.udp.payload[0] === context.queue) counters.delivered++;
      }
      counters.done = counters.delivered > 0 ? 1 : 0;
    }, 5));
  }
  if (options.scenario === 'threads') {
    counters.cpusAllowed = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/thread-self/status', 'utf8'))?.[1] ?? '';
    // The GC count works in a worker's isolate: garbage on purpose is seen.
    let kept: number[] = [];
    void countGcEvents(() => {
      for (let i = 0; i < 2_000_000; i++) kept = [i, i + 1, i + 2];
    }).then((events) => {
      counters.gcEvents = events + (kept.length - 3);
      counters.done = 1;
    });
  }
  return {
    counters: () => {
      if (armFault) {
        armFault = false;
        timers.push(setTimeout(() => {
          throw new Error(`injected fault on queue ${context.queue}`);
        }, 10));
      }
      return { ...counters };
    },
    close: () => {
      for (const timer of timers) clearTimeout(timer);
      peer.close();
    },
  };
}
