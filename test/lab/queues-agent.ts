// Lab agent for the queue tests: worker threads holding AF_XDP ports on the
// queues of one interface, opened together and closed (or crashed, or
// terminated) in a given order, with the interface's XDP program checked
// after each step.

import { execFileSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { open, type Device } from '../../src/index';
import { serve } from '../../src/service/serve';
import { ARP_OPERATION_REPLY, ARP_OPERATION_REQUEST } from '../../src/wire/arp';
import { ETHERTYPE_ARP, parseMac } from '../../src/wire/ethernet';
import { ICMPV4_ECHO_REPLY } from '../../src/wire/icmpv4';
import { IP_PROTOCOL_ICMP, parseIpv4 } from '../../src/wire/ipv4';
import { arpPacket, decode, echoRequest, ethernetFrame, ipv4Packet } from '../unit/iface/peer';
import { type Args, printResult, runAgent, sleep } from './agent-main';

function attached(iface: string): boolean {
  return /\bxdp(generic|drv|offload)?\b|prog\/xdp/.test(execFileSync('ip', ['-d', 'link', 'show', 'dev', iface], { encoding: 'utf8' }));
}

function startPortThread(iface: string, queue: number, mode: string): Worker {
  const file = path.join(__dirname, 'port-thread.ts');
  const script = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`;
  return new Worker(script, { eval: true, workerData: { iface, queue, mode }, execArgv: [] });
}

/**
 * Open a port per queue in its own thread, all at once; then for each step
 * of `steps` ("close:2,crash:0,terminate:3,..."), act on that queue's
 * thread, wait for the thread to end, and record whether the program is
 * still attached.
 */
async function jobPorts(args: Args): Promise<void> {
  const queues = args.queues.split(',').map(Number);
  const workers = new Map<number, Worker>();
  const exits = new Map<number, Promise<number>>();
  const opened = await Promise.all(queues.map((queue) => new Promise<{ queue: number; mode?: string; error?: string }>((resolve) => {
    const worker = startPortThread(args.iface, queue, args.mode);
    workers.set(queue, worker);
    exits.set(queue, new Promise((done) => worker.once('exit', done)));
    worker.once('message', (message: { mode: string }) => resolve({ queue, mode: message.mode }));
    worker.once('error', (error) => resolve({ queue, error: error.message }));
  })));
  const steps: { step: string; exitCode: number; attached: boolean }[] = [];
  const attachedWhenOpen = attached(args.iface);
  for (const step of args.steps.split(',')) {
    const [action, queueText] = step.split(':');
    const worker = workers.get(Number(queueText)) as Worker;
    if (action === 'close' || action === 'crash') worker.postMessage(action);
    else if (action === 'terminate') void worker.terminate();
    const exitCode = await (exits.get(Number(queueText)) as Promise<number>);
    steps.push({ step, exitCode, attached: attached(args.iface) });
  }
  printResult({ opened, attachedWhenOpen, steps });
}

/** Hold ports on every queue in worker threads until killed (SIGKILL test). */
async function jobHold(args: Args): Promise<void> {
  const queues = args.queues.split(',').map(Number);
  await Promise.all(queues.map((queue) => new Promise<void>((resolve, reject) => {
    const worker = startPortThread(args.iface, queue, args.mode);
    worker.once('message', () => resolve());
    worker.once('error', reject);
  })));
  console.log('ready');
  await new Promise(() => undefined);
}

/**
 * Peer side: N kernel UDP sockets (N source ports, so the kernel spreads them
 * over its transmit queues, and veth over nicring's receive queues), each
 * sending `count` datagrams of varied sizes to an echo service; every reply
 * is checked byte for byte.
 */
async function jobEchoFlows(args: Args): Promise<void> {
  const [address, portText] = args.target.split(':');
  const port = Number(portText);
  const flows = Number(args.flows);
  const count = Number(args.count);
  const rate = Number(args.rate);
  const payload = (flow: number, seq: number): Buffer => {
    const size = 4 + ((flow * 131 + seq * 7919) % 1469);
    const bytes = Buffer.alloc(size);
    bytes.writeUInt16BE(flow, 0);
    bytes.writeUInt16BE(seq, 2);
    for (let i = 4; i < size; i++) bytes[i] = (flow * 17 + seq * 31 + i * 13) & 0xff;
    return bytes;
  };
  const sockets = await Promise.all(Array.from({ length: flows }, () => new Promise<dgram.Socket>((resolve) => {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    socket.bind(0, () => resolve(socket));
  })));
  const seen = new Uint8Array(flows * count);
  let intact = 0;
  let corrupt = 0;
  let duplicates = 0;
  sockets.forEach((socket, flow) => socket.on('message', (message, remote) => {
    const seq = message.length >= 4 ? message.readUInt16BE(2) : -1;
    if (remote.address !== address || remote.port !== port || message.readUInt16BE(0) !== flow || seq < 0 || seq >= count || !message.equals(payload(flow, seq))) corrupt++;
    else if (seen[flow * count + seq] !== 0) duplicates++;
    else {
      seen[flow * count + seq] = 1;
      intact++;
    }
  }));
  const start = Date.now();
  let sent = 0;
  const total = flows * count;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - start) * rate) / 1000) + 1);
    for (; sent < due; sent++) sockets[sent % flows].send(payload(sent % flows, Math.floor(sent / flows)), port, address);
    await sleep(1);
  }
  const deadline = Date.now() + Number(args.lingerMs ?? 3000);
  while (intact < total && Date.now() < deadline) await sleep(10);
  await sleep(100);
  const localPorts = sockets.map((socket) => socket.address().port);
  for (const socket of sockets) socket.close();
  printResult({ sent: total, intact, corrupt, duplicates, flows, localPorts });
}

/**
 * Peer side, raw frames per queue: an AF_XDP port on each of the peer's
 * queues sends an ARP request for nicring's address and an ICMP echo request
 * from that queue (on veth they arrive on nicring's queue of the same
 * number), and waits for the answers on the same queue.
 */
async function jobProbe(args: Args): Promise<void> {
  const queues = args.queues.split(',').map(Number);
  const peerMac = parseMac(args.peerMac) as number;
  const targetMac = parseMac(args.targetMac) as number;
  const peerAddress = parseIpv4(args.peer) as number;
  const targetAddress = parseIpv4(args.target) as number;
  const devices: Device[] = queues.map((queue) => open(args.iface, { backend: 'xdp', xdpMode: 'native', queue }));
  const results = queues.map((queue) => ({ queue, arpReply: false, echoReply: false, others: 0 }));
  const data = (queue: number): Uint8Array => Uint8Array.from({ length: 56 }, (_, i) => (queue * 29 + i) & 0xff);
  const send = (device: Device, frame: Uint8Array): void => {
    const offset = device.allocTx();
    device.bytes.set(frame, offset);
    device.transmit(offset, frame.length);
  };
  devices.forEach((device, index) => {
    const queue = queues[index];
    send(device, ethernetFrame(arpPacket(ARP_OPERATION_REQUEST, peerMac, peerAddress, 0, targetAddress), ETHERTYPE_ARP, 0xffffffffffff, peerMac));
    send(device, ethernetFrame(ipv4Packet({ source: peerAddress, destination: targetAddress, protocol: IP_PROTOCOL_ICMP, payload: echoRequest(0x4e00 + queue, queue, data(queue)) }), 0x0800, targetMac, peerMac));
    device.flush();
  });
  const deadline = Date.now() + Number(args.timeoutMs ?? 5000);
  while (results.some((r) => !r.arpReply || !r.echoReply) && Date.now() < deadline) {
    devices.forEach((device, index) => {
      const result = results[index];
      device.receive(64, (offset, length) => {
        const frame = decode(device.bytes.subarray(offset, offset + length));
        if (frame.arp?.operation === ARP_OPERATION_REPLY && frame.arp.senderProtocolAddress === targetAddress && frame.arp.senderHardwareAddress === targetMac) result.arpReply = true;
        else if (frame.icmp?.type === ICMPV4_ECHO_REPLY && frame.icmp.identifier === 0x4e00 + result.queue && frame.icmp.checksumOk
          && Buffer.from(frame.icmp.data).equals(Buffer.from(data(result.queue)))) result.echoReply = true;
        else result.others++;
      });
      device.flush();
    });
    await sleep(5);
  }
  for (const device of devices) device.close();
  printResult({ results });
}

/** Peer side: a kernel UDP socket that keeps every datagram's text until SIGTERM. */
async function jobCollect(args: Args): Promise<void> {
  const socket = dgram.createSocket('udp4');
  const received: string[] = [];
  socket.on('message', (message) => received.push(message.toString()));
  await new Promise<void>((resolve) => socket.bind(Number(args.port), args.bind, () => resolve()));
  const stopped = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  console.log('ready');
  await stopped;
  socket.close();
  printResult({ received });
}

/** nicring side: serve every queue with test/lab/send-worker.ts until SIGTERM, then print each queue's figures. */
async function jobServeSend(args: Args): Promise<void> {
  const service = await serve(args.iface, {
    module: path.join(__dirname, 'send-worker.ts'), queues: 'all', open: { backend: 'xdp' },
    interface: { address: args.address }, options: { target: args.target, port: Number(args.port), count: Number(args.count) },
  });
  const stopped = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  console.log('ready');
  await stopped;
  const final = await service.close();
  printResult({
    queues: final.queues.map((q) => ({
      queue: q.queue, sent: q.service.sent, refused: q.service.refused, arpRequestsSent: q.stack?.arpRequestsSent, arpRepliesReceived: q.stack?.arpRepliesReceived,
      shared: q.neighbors?.sent, adopted: q.neighbors?.adopted,
    })),
  });
}

runAgent({ ports: jobPorts, hold: jobHold, 'echo-flows': jobEchoFlows, probe: jobProbe, collect: jobCollect, 'serve-send': jobServeSend }, process.argv.slice(2));
