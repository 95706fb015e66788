// Lab test agent for the responder tests: kernel UDP clients that run in the
// peer namespace (ip netns exec), print "ready" once their sockets are bound
// and one JSON line with what they saw at the end.

import * as dgram from 'node:dgram';
import { type Args, type Job, runAgent, printResult as done, sleep } from './agent-main';

function bindSocket(): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024, sendBufferSize: 8 * 1024 * 1024 });
    socket.bind(0, () => resolve(socket));
  });
}

function parseTarget(text: string): { address: string; port: number } {
  const [address, port] = text.split(':');
  return { address, port: Number(port) };
}

/** Send `count` datagrams at `rate` per second, calling `payload(seq)` for each; resolves with send errors. */
async function sendPaced(socket: dgram.Socket, target: { address: string; port: number }, count: number, rate: number,
  payload: (seq: number) => Buffer): Promise<number> {
  let sendErrors = 0;
  const start = Date.now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((Date.now() - start) * rate) / 1000) + 1);
    for (; sent < due; sent++) {
      socket.send(payload(sent), target.port, target.address, (error) => { if (error) sendErrors++; });
    }
    await sleep(1);
  }
  return sendErrors;
}

/** Wait until `check` holds or `limitMs` passes. */
async function settle(check: () => boolean, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check() && Date.now() < deadline) await sleep(10);
}

/** Payload `seq` of the echo client: its number, then a pattern of it; sizes vary from `minSize` to `maxSize`. */
function echoPayload(seq: number, minSize: number, maxSize: number): Buffer {
  const size = minSize + ((seq * 7919) % (maxSize - minSize + 1));
  const bytes = Buffer.alloc(size);
  bytes.writeUInt32BE(seq, 0);
  for (let i = 4; i < size; i++) bytes[i] = (seq * 31 + i * 13) & 0xff;
  return bytes;
}

/**
 * Send `count` paced datagrams of varied sizes to an echo service and check
 * every reply byte for byte against what was sent; each sequence counts once.
 */
async function jobEchoClient(args: Args): Promise<void> {
  const target = parseTarget(args.target);
  const count = Number(args.count);
  const minSize = Number(args.minSize ?? 4);
  const maxSize = Number(args.maxSize ?? minSize);
  const socket = await bindSocket();
  const seen = new Uint8Array(count);
  let replies = 0;
  let intact = 0;
  let corrupt = 0;
  let duplicates = 0;
  let strangers = 0;
  socket.on('message', (message, remote) => {
    replies++;
    if (remote.address !== target.address || remote.port !== target.port) {
      strangers++;
      return;
    }
    const seq = message.length >= 4 ? message.readUInt32BE(0) : -1;
    if (seq < 0 || seq >= count || !message.equals(echoPayload(seq, minSize, maxSize))) corrupt++;
    else if (seen[seq] !== 0) duplicates++;
    else {
      seen[seq] = 1;
      intact++;
    }
  });
  console.log('ready');
  const sendErrors = await sendPaced(socket, target, count, Number(args.rate), (seq) => echoPayload(seq, minSize, maxSize));
  await settle(() => intact === count, Number(args.lingerMs ?? 2000));
  // A little longer, so that duplicates would be seen too.
  await sleep(100);
  socket.close();
  // The first few sequence numbers without a reply, to tell a loss at the start from one spread out.
  const missing: number[] = [];
  for (let seq = 0; seq < count && missing.length < 10; seq++) if (seen[seq] === 0) missing.push(seq);
  done({ sent: count, sendErrors, replies, intact, corrupt, duplicates, strangers, missing });
}

const REQUEST_ID_BASE = 0x5a000000;

/**
 * The timestamp service (examples/timestamp-responder.js): `count` requests
 * of 12 bytes or more, each with its id, must come back as 12 bytes with the
 * id and a server time near the client's clock; requests shorter than 12
 * bytes (0 to 11, from another socket) must get no reply.
 */
async function jobTimestampClient(args: Args): Promise<void> {
  const target = parseTarget(args.target);
  const count = Number(args.count);
  const socket = await bindSocket();
  const shortSocket = await bindSocket();
  const seen = new Uint8Array(count);
  const result = {
    sent: count, sendErrors: 0, replies: 0, good: 0, badLength: 0, badId: 0, duplicates: 0, badTime: 0, maxSkewMs: 0,
    shortSent: 0, shortReplies: 0,
  };
  const skewLimitMs = Number(args.skewLimitMs ?? 5000);
  socket.on('message', (message) => {
    result.replies++;
    if (message.length !== 12) {
      result.badLength++;
      return;
    }
    const index = message.readUInt32BE(0) - REQUEST_ID_BASE;
    if (index < 0 || index >= count) {
      result.badId++;
      return;
    }
    if (seen[index] !== 0) {
      result.duplicates++;
      return;
    }
    seen[index] = 1;
    const serverMs = (message.readUInt32BE(4) * 0x100000000 + message.readUInt32BE(8)) / 1000;
    const skewMs = Math.abs(serverMs - Date.now());
    result.maxSkewMs = Math.max(result.maxSkewMs, Math.round(skewMs));
    if (skewMs > skewLimitMs) result.badTime++;
    else result.good++;
  });
  shortSocket.on('message', () => { result.shortReplies++; });
  console.log('ready');
  result.sendErrors += await sendPaced(socket, target, count, Number(args.rate), (seq) => {
    // 12 to 64 bytes: the id, then bytes the reply must not carry back.
    const bytes = Buffer.alloc(12 + (seq % 53), 0xee);
    bytes.writeUInt32BE(REQUEST_ID_BASE + seq, 0);
    return bytes;
  });
  result.sendErrors += await sendPaced(shortSocket, target, 12, 1000, (length) => Buffer.alloc(length, 0xab));
  result.shortSent = 12;
  await settle(() => result.good + result.badTime === count, Number(args.lingerMs ?? 2000));
  // The short requests went last: give a reply to them time to arrive.
  await sleep(300);
  socket.close();
  shortSocket.close();
  done(result);
}

/** Payload of datagram `seq` of the every-size client: `size` bytes that depend on both. */
function everySizePayload(seq: number, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (seq * 131 + i * 7 + 1) & 0xff;
  return bytes;
}

/**
 * Send `count` datagrams whose sizes run through 1..`maxSize` bytes, in
 * windows of `window` (fewer than maxSize, so a reply's length tells which
 * datagram of its window it answers), each window waiting for its replies;
 * check every reply byte for byte.
 */
async function jobEverySizeClient(args: Args): Promise<void> {
  const target = parseTarget(args.target);
  const count = Number(args.count);
  const maxSize = Number(args.maxSize ?? 1472);
  const window = Number(args.window ?? 256);
  const waitMs = Number(args.waitMs ?? 2000);
  const socket = await bindSocket();
  const bySize = new Map<number, number>();
  const answered = new Set<number>();
  const result = { sent: 0, sendErrors: 0, replies: 0, intact: 0, corrupt: 0, duplicates: 0, strangers: 0, missing: 0, smallest: Infinity, largest: 0 };
  socket.on('message', (message, remote) => {
    result.replies++;
    if (remote.address !== target.address || remote.port !== target.port) {
      result.strangers++;
      return;
    }
    const seq = bySize.get(message.length);
    if (seq === undefined || !message.equals(everySizePayload(seq, message.length))) result.corrupt++;
    else if (answered.has(seq)) result.duplicates++;
    else {
      answered.add(seq);
      result.intact++;
    }
  });
  console.log('ready');
  for (let start = 0; start < count; start += window) {
    const end = Math.min(count, start + window);
    bySize.clear();
    answered.clear();
    for (let seq = start; seq < end; seq++) {
      const size = 1 + (seq % maxSize);
      bySize.set(size, seq);
      result.smallest = Math.min(result.smallest, size);
      result.largest = Math.max(result.largest, size);
      socket.send(everySizePayload(seq, size), target.port, target.address, (error) => { if (error) result.sendErrors++; });
      result.sent++;
    }
    await settle(() => answered.size === end - start, waitMs);
    result.missing += end - start - answered.size;
  }
  await sleep(100);
  socket.close();
  done(result);
}

const JOBS: Record<string, Job> = {
  'echo-client': jobEchoClient,
  'every-size-client': jobEverySizeClient,
  'timestamp-client': jobTimestampClient,
};

if (require.main === module) runAgent(JOBS, process.argv.slice(2));
