// Lab agent jobs for TCP (run like agent.ts: inside a namespace, "ready"
// when set up, one JSON line with the result at the end).
//
// host        nicring side, a TCP host on an AF_XDP port:
//               7   echo
//               9   sink: reads to the end, answers "BYTES SHA256\n" and closes
//               19  source: reads "N\n", sends N pattern bytes and closes
//             until SIGTERM; then its counters and device statistics.
// upload      nicring side: send --bytes pattern bytes to --target, half-close,
//             and print what the peer answered.
// get         nicring side: http.request GET --url through nicring; the
//             body's length and SHA-256.
// connect     nicring side: connect to --target; report the error code (or
//             that it connected), after --write bytes if asked.
// hold        nicring side: connect to --target with keepalive (--keepAliveMs)
//             and stay --holdMs; report the error, if any.
//
// Options of every job: --iface, --address, --mode native|generic, --gateway,
// and tcp settings as --tcp JSON. Partial checksums are taken as the device's
// capabilities say (a veth may carry them).

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type * as net from 'node:net';
import { open } from '../../src/index';
import { Interface } from '../../src/iface/interface';
import { connect, createServer, type TcpSocket } from '../../src/socket/tcp';
import { type Args, type Job, printResult as line, runAgent, sleep } from './agent-main';

/** Byte `i` of the pattern streams (as examples/http-server.js): periodic every 512 KiB. */
export function patternByte(i: number): number {
  return (i * 31 + (i >>> 11)) & 0xff;
}

const PERIOD = 1 << 19;
let periodBlock: Buffer | null = null;

/** `length` pattern bytes starting at stream offset `offset`. */
export function patternSlice(offset: number, length: number): Buffer {
  if (periodBlock === null) {
    periodBlock = Buffer.alloc(2 * PERIOD);
    for (let i = 0; i < periodBlock.length; i++) periodBlock[i] = patternByte(i);
  }
  const start = offset % PERIOD;
  if (length <= PERIOD) return periodBlock.subarray(start, start + length);
  throw new RangeError('pattern slices are at most 512 KiB');
}

/** SHA-256 (hex) of the first `length` pattern bytes. */
export function patternSha256(length: number): string {
  const hash = crypto.createHash('sha256');
  for (let at = 0; at < length; at += PERIOD) hash.update(patternSlice(at, Math.min(PERIOD, length - at)));
  return hash.digest('hex');
}

function openHost(args: Args): Interface {
  const device = open(args.iface, { backend: 'xdp', xdpMode: (args.mode ?? 'auto') as 'auto' | 'native' | 'generic' });
  const iface = new Interface(device, { address: args.address, gateway: args.gateway, tcp: args.tcp ? JSON.parse(args.tcp) : undefined });
  iface.start();
  return iface;
}

/** Write `total` pattern bytes to `socket` with backpressure; resolves once all are queued. */
function sendPattern(socket: TcpSocket, total: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    socket.once('error', reject);
    const more = (): void => {
      while (sent < total) {
        const size = Math.min(65536, total - sent);
        const piece = Buffer.from(patternSlice(sent, size));
        sent += size;
        if (!socket.write(piece)) {
          socket.once('drain', more);
          return;
        }
      }
      resolve();
    };
    more();
  });
}

function tcpCounters(iface: Interface): Record<string, number> {
  return Object.fromEntries(Object.entries(iface.counters()).filter(([name, value]) => name.startsWith('tcp') && value !== 0));
}

/** The nicring host: echo, sink and source services until SIGTERM. */
async function jobHost(args: Args): Promise<void> {
  const iface = openHost(args);
  const quiet = (socket: TcpSocket): void => { socket.on('error', () => undefined); };
  createServer(iface, { noDelay: true }, (socket) => {
    quiet(socket);
    socket.pipe(socket);
  }).listen(7);
  createServer(iface, (socket) => {
    quiet(socket);
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    socket.on('end', () => socket.end(`${bytes} ${hash.digest('hex')}\n`));
  }).listen(9);
  // The source keeps writing after the client half-closes (allowHalfOpen).
  createServer(iface, { allowHalfOpen: true }, (socket) => {
    quiet(socket);
    let request = '';
    const onData = (chunk: Buffer): void => {
      request += chunk.toString();
      if (!request.includes('\n')) return;
      socket.removeListener('data', onData);
      void sendPattern(socket, Number(request.trim())).then(() => socket.end(), () => undefined);
    };
    socket.on('data', onData);
  }).listen(19);
  const device = iface.device;
  line({ mac: iface.macAddress, mode: device.mode, multiBuffer: (device as { multiBuffer?: boolean }).multiBuffer ?? false });
  console.log('ready');
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Number(args.maxMs ?? 170000));
    process.once('SIGTERM', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const counters = tcpCounters(iface);
  const stats = device.stats();
  iface.close();
  line({ tcp: counters, device: stats });
}

function target(args: Args): { host: string; port: number } {
  const [host, port] = args.target.split(':');
  return { host, port: Number(port) };
}

/** nicring client: upload pattern bytes, half-close, read the answer. */
async function jobUpload(args: Args): Promise<void> {
  const iface = openHost(args);
  await iface.resolveNeighbor(target(args).host);
  console.log('ready');
  const socket = connect(iface, target(args));
  const answer: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => answer.push(chunk));
  const started = performance.now();
  const done = new Promise<void>((resolve, reject) => {
    socket.on('end', () => resolve());
    socket.on('error', reject);
  });
  await sendPattern(socket, Number(args.bytes));
  socket.end();
  await done;
  const ms = performance.now() - started;
  line({ answer: Buffer.concat(answer).toString().trim(), ms, tcp: tcpCounters(iface) });
  socket.destroy();
  iface.close();
}

/** nicring client: one GET through Node's http over nicring TCP. */
async function jobGet(args: Args): Promise<void> {
  const iface = openHost(args);
  const url = new URL(args.url);
  await iface.resolveNeighbor(url.hostname);
  console.log('ready');
  const started = performance.now();
  const result = await new Promise<{ status: number; bytes: number; sha256: string }>((resolve, reject) => {
    const request = http.request({
      host: url.hostname, port: Number(url.port || 80), path: url.pathname,
      createConnection: () => connect(iface, { host: url.hostname, port: Number(url.port || 80) }) as unknown as net.Socket,
    }, (response) => {
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
  line({ ...result, ms: performance.now() - started, tcp: tcpCounters(iface) });
  iface.close();
}

/** nicring client: connect (and write), then report how it ended. */
async function jobConnect(args: Args): Promise<void> {
  const iface = openHost(args);
  await iface.resolveNeighbor(target(args).host);
  console.log('ready');
  const started = performance.now();
  const socket = connect(iface, target(args));
  const outcome = await new Promise<{ event: string; code?: string; syscall?: string; message?: string }>((resolve) => {
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ event: 'error', code: error.code, syscall: error.syscall, message: error.message }));
    socket.on('connect', () => {
      line({ event: 'connected' });
      const bytes = Number(args.write ?? 0);
      if (bytes > 0) void sendPattern(socket, bytes).catch(() => undefined);
      if (args.read === '1') socket.resume();
    });
    socket.on('end', () => resolve({ event: 'end' }));
  });
  line({ ...outcome, ms: performance.now() - started, tcp: tcpCounters(iface) });
  iface.close();
}

/** nicring client: an idle connection with keepalive, held for --holdMs. */
async function jobHold(args: Args): Promise<void> {
  const iface = openHost(args);
  await iface.resolveNeighbor(target(args).host);
  console.log('ready');
  const socket = connect(iface, target(args));
  let error: string | null = null;
  socket.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message; });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.setKeepAlive(true, Number(args.keepAliveMs ?? 1000));
  await sleep(Number(args.holdMs ?? 5000));
  line({ error, tcp: tcpCounters(iface) });
  socket.destroy();
  iface.close();
}

const JOBS: Record<string, Job> = {
  host: jobHost,
  upload: jobUpload,
  get: jobGet,
  connect: jobConnect,
  hold: jobHold,
};

if (require.main === module) runAgent(JOBS, process.argv.slice(2));
