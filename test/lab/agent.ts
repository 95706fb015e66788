// Lab test agent: runs inside one of the lab's namespaces (ip netns exec)
// and does one job, printing "ready" when set up and one JSON line with its
// result at the end. nicring-side jobs open a real AF_XDP port; peer-side
// jobs use kernel UDP sockets.

import * as dgram from 'node:dgram';
import { open, type Device } from '../../src/index';
import { Loop } from '../../src/loop';
import { LinkStateReader } from '../../src/phy/sysfs';
import type { XdpDevice } from '../../src/phy/xdp';
import { type Args, type Job, runAgent, printResult as done } from './agent-main';

/** Resolves on SIGTERM; call before printing "ready" so the signal cannot come first. */
function untilSigterm(): Promise<void> {
  return new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
}

/** The payload of datagram `seq`: its number, then a pattern that depends on it. */
export function payloadFor(seq: number, length: number, into?: Uint8Array, at = 0): Uint8Array {
  const bytes = into ?? new Uint8Array(length);
  bytes[at] = seq >>> 24;
  bytes[at + 1] = (seq >>> 16) & 0xff;
  bytes[at + 2] = (seq >>> 8) & 0xff;
  bytes[at + 3] = seq & 0xff;
  for (let i = 4; i < length; i++) bytes[at + i] = (seq + i * 13) & 0xff;
  return bytes;
}

function macBytes(mac: string): number[] {
  return mac.split(':').map((h) => parseInt(h, 16));
}

function ipBytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** Offset of the UDP payload in an untagged Ethernet/IPv4/UDP frame, or -1. */
function udpPayloadOffset(view: DataView, offset: number, length: number): number {
  if (length < 42 || view.getUint16(offset + 12) !== 0x0800 || view.getUint8(offset + 23) !== 17) return -1;
  const ihl = (view.getUint8(offset + 14) & 0x0f) * 4;
  return offset + 14 + ihl + 8;
}

function openPort(args: Args): Device {
  return open(args.iface, { backend: 'xdp', xdpMode: args.mode as 'native' | 'generic', queue: Number(args.queue ?? 0), poison: args.poison === '1' });
}

/** Receive `count` UDP datagrams and check each payload byte by byte. */
async function jobRx(args: Args): Promise<void> {
  const count = Number(args.count);
  const size = Number(args.size);
  const device = openPort(args);
  const seen = new Uint8Array(count);
  let good = 0;
  let bad = 0;
  let other = 0;
  const view = device.memory;
  const bytes = device.bytes;
  const loop = new Loop(device, (offset, length) => {
    const at = udpPayloadOffset(view, offset, length);
    if (at < 0) {
      other++;
      return;
    }
    const seq = view.getUint32(at);
    let ok = seq < count && offset + length - at === size;
    for (let i = 4; ok && i < size; i++) if (bytes[at + i] !== ((seq + i * 13) & 0xff)) ok = false;
    if (ok && seen[seq] === 0) {
      seen[seq] = 1;
      good++;
    } else bad++;
  });
  const callsBefore = (device as XdpDevice).nativeCalls;
  loop.start();
  console.log('ready');
  const deadline = Date.now() + Number(args.timeoutMs ?? 30000);
  while (good < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  loop.stop();
  const nativeCalls = (device as XdpDevice).nativeCalls - callsBefore;
  const stats = device.stats();
  device.close();
  done({ good, bad, other, nativeCalls, mode: device.mode, batches: loop.counters.batches, kernel: stats.kernel });
}

/** Build and send `count` UDP frames from JS to the peer. */
async function jobTx(args: Args): Promise<void> {
  const count = Number(args.count);
  const size = Number(args.size);
  const device = openPort(args);
  const header = [
    ...macBytes(args.dstMac), ...macBytes(device.macAddress), 0x08, 0x00,
    0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, ...ipBytes(args.src), ...ipBytes(args.dst),
    0x9c, 0x40, 0, 0, 0, 0, 0, 0,
  ];
  const view = device.memory;
  const frameLength = 42 + size;
  let sent = 0;
  const rate = Number(args.rate);
  const start = Date.now();
  console.log('ready');
  while (sent < count) {
    const due = Math.min(count, Math.floor(((Date.now() - start) * rate) / 1000) + 64);
    while (sent < due) {
      const offset = device.allocTx();
      if (offset < 0) break;
      device.bytes.set(header, offset);
      view.setUint16(offset + 16, 20 + 8 + size);
      view.setUint16(offset + 18, sent & 0xffff);
      let sum = 0;
      for (let i = 0; i < 20; i += 2) sum += view.getUint16(offset + 14 + i);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      view.setUint16(offset + 24, ~sum & 0xffff);
      view.setUint16(offset + 36, Number(args.port));
      view.setUint16(offset + 38, 8 + size);
      payloadFor(sent, size, device.bytes, offset + 42);
      if (!device.transmit(offset, frameLength)) break;
      sent++;
    }
    device.flush();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const deadline = Date.now() + 5000;
  while (device.txPending() && Date.now() < deadline) {
    device.flush();
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const stats = device.stats();
  device.close();
  done({ sent, txFrames: stats.txFrames, kicks: stats.kicks, kernel: stats.kernel });
}

/** Answer every UDP datagram in place (swap addresses and ports), checking the TX address is the RX address. */
async function jobEcho(args: Args): Promise<void> {
  const device = openPort(args);
  const view = device.memory;
  const bytes = device.bytes;
  let replies = 0;
  let sameAddress = 0;
  const swap = (a: number, b: number, n: number): void => {
    for (let i = 0; i < n; i++) {
      const t = bytes[a + i];
      bytes[a + i] = bytes[b + i];
      bytes[b + i] = t;
    }
  };
  const loop = new Loop(device, (offset, length, token) => {
    const at = udpPayloadOffset(view, offset, length);
    if (at < 0) return;
    swap(offset, offset + 6, 6);
    swap(offset + 26, offset + 30, 4);
    swap(at - 8, at - 6, 2);
    view.setUint16(at - 2, 0);
    if (device.replyInPlace(token, length)) {
      replies++;
      if ((device as XdpDevice).lastQueuedTxAddress() === offset) sameAddress++;
    }
  });
  loop.start();
  const terminated = untilSigterm();
  console.log('ready');
  await terminated;
  loop.stop();
  device.close();
  done({ replies, sameAddress });
}

/** Open a port and hold it until killed; with idle=1 measure CPU over 2 s of an open, started loop first. */
async function jobHold(args: Args): Promise<void> {
  const device = openPort(args);
  let frames = 0;
  const loop = new Loop(device, () => { frames++; });
  loop.start();
  const idle = { cpuMs: -1, turns: -1, frames: -1 };
  if (args.idle === '1') {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = process.cpuUsage();
    const turnsBefore = loop.counters.turns;
    const framesBefore = frames;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const used = process.cpuUsage(before);
    idle.cpuMs = (used.user + used.system) / 1000;
    idle.turns = loop.counters.turns - turnsBefore;
    idle.frames = frames - framesBefore;
  }
  const terminated = untilSigterm();
  console.log('ready');
  await terminated;
  loop.stop();
  device.close();
  done({ closed: true, ...idle });
}

/** Open, receive one frame, close inside the callback; then check that memory access throws. */
async function jobCloseInCallback(args: Args): Promise<void> {
  const device = openPort(args);
  let frames = 0;
  const loop = new Loop(device, () => {
    frames++;
    device.close();
  });
  loop.start();
  console.log('ready');
  const deadline = Date.now() + 10000;
  while (frames === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 100));
  let dataViewThrows = false;
  try {
    device.memory.getUint32(0);
  } catch (error) {
    dataViewThrows = error instanceof TypeError;
  }
  loop.stop();
  done({ frames, closed: device.closed, dataViewThrows, byteRead: String(device.bytes[0]) });
}

/** Open ports on several queues at once; report which opened and how many UDP datagrams each received (the peer's own IPv6 aside). */
async function jobQueues(args: Args): Promise<void> {
  const queues = args.queues.split(',').map(Number);
  const results: { queue: number; opened: boolean; code?: string; message?: string; frames: number }[] = [];
  const loops: Loop[] = [];
  const devices: Device[] = [];
  for (const queue of queues) {
    try {
      const device = open(args.iface, { backend: 'xdp', xdpMode: args.mode as 'native' | 'generic', queue });
      const entry = { queue, opened: true, frames: 0 };
      results.push(entry);
      const loop = new Loop(device, (offset, length) => {
        if (udpPayloadOffset(device.memory, offset, length) >= 0) entry.frames++;
      });
      loop.start();
      loops.push(loop);
      devices.push(device);
    } catch (error) {
      const e = error as Error & { code?: string };
      results.push({ queue, opened: false, code: e.code, message: e.message, frames: 0 });
    }
  }
  const terminated = untilSigterm();
  console.log('ready');
  await terminated;
  for (const loop of loops) loop.stop();
  for (const device of devices) device.close();
  done({ results });
}

/** Peer side: a kernel UDP socket that counts datagrams with the expected payloads. */
async function jobUdpSink(args: Args): Promise<void> {
  const count = Number(args.count);
  const size = Number(args.size);
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 });
  const seen = new Uint8Array(count);
  let good = 0;
  let bad = 0;
  await new Promise<void>((resolve) => socket.bind(Number(args.port), args.bind, () => resolve()));
  console.log('ready');
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Number(args.timeoutMs ?? 30000));
    socket.on('message', (message) => {
      const seq = message.length >= 4 ? message.readUInt32BE(0) : -1;
      const ok = seq >= 0 && seq < count && message.length === size && Buffer.from(payloadFor(seq, size)).equals(message);
      if (ok && seen[seq] === 0) {
        seen[seq] = 1;
        good++;
      } else bad++;
      if (good === count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  socket.close();
  done({ good, bad });
}

/** Peer side: send `count` datagrams at `rate` to `target`, from `flows` source ports; optionally count echoes. */
async function jobUdpSend(args: Args): Promise<void> {
  const count = Number(args.count);
  const size = Number(args.size);
  const rate = Number(args.rate);
  const flows = Number(args.flows ?? 1);
  const [address, portText] = args.target.split(':');
  const sockets = await Promise.all(Array.from({ length: flows }, () => new Promise<dgram.Socket>((resolve) => {
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
    s.bind(0, () => resolve(s));
  })));
  let echoes = 0;
  let echoesIntact = 0;
  for (const s of sockets) {
    s.on('message', (message) => {
      echoes++;
      const seq = message.readUInt32BE(0);
      if (Buffer.from(payloadFor(seq, size)).equals(message)) echoesIntact++;
    });
  }
  const start = Date.now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((Date.now() - start) * rate) / 1000) + 1);
    for (; sent < due; sent++) sockets[sent % flows].send(payloadFor(sent, size), Number(portText), address);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await new Promise((resolve) => setTimeout(resolve, Number(args.lingerMs ?? 500)));
  for (const s of sockets) s.close();
  done({ sent, echoes, echoesIntact });
}

/**
 * Read the interface's link state with the reader a device uses, every 10 ms;
 * print each change as it comes ({"state": ...}), and on SIGTERM every state
 * it saw, in order.
 */
async function jobLinkWatch(args: Args): Promise<void> {
  const reader = new LinkStateReader(args.iface);
  const states = [reader.read()];
  const stopped = untilSigterm();
  let running = true;
  void stopped.then(() => { running = false; });
  console.log('ready');
  done({ state: states[0] });
  while (running) {
    const state = reader.read();
    if (state !== states[states.length - 1]) {
      states.push(state);
      done({ state });
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  reader.close();
  done({ states });
}

const JOBS: Record<string, Job> = {
  rx: jobRx,
  tx: jobTx,
  echo: jobEcho,
  hold: jobHold,
  'close-in-callback': jobCloseInCallback,
  queues: jobQueues,
  'udp-sink': jobUdpSink,
  'udp-send': jobUdpSend,
  'link-watch': jobLinkWatch,
};

if (require.main === module) runAgent(JOBS, process.argv.slice(2));
