// The server of bench/tcp.ts: the same Node http code over nicring's TCP or
// over the kernel's (node:net), so that only the transport differs.
//
//   tsx bench/tcp-server.ts --stack nicring|kernel --iface IF --address IP/PREFIX [--xdp-mode native|generic] [--port 80]
//
// GET /            "hello world\n" (the wrk hello-world)
// GET /bytes/N     N bytes from a preallocated buffer, with backpressure
// PUT|POST /sink   reads the body to its end, answers its length
//
// It prints "ready", and on SIGTERM one JSON line: requests served, the
// process's CPU time (user and system, µs) since ready, and nicring's tcp
// counters when on nicring.

import * as http from 'node:http';
import type * as net from 'node:net';
import { open } from '../src/index';
import { Interface } from '../src/iface/interface';
import { createServer as createTcpServer } from '../src/socket/tcp';

function argument(name: string, fallback?: string): string {
  const at = process.argv.indexOf(`--${name}`);
  if (at >= 0 && at + 1 < process.argv.length) return process.argv[at + 1];
  if (fallback === undefined) throw new Error(`--${name} is required`);
  return fallback;
}

const BLOCK = Buffer.alloc(1 << 20, 0x5a);
const HELLO = Buffer.from('hello world\n');
let requests = 0;

const httpServer = http.createServer((request, response) => {
  requests++;
  const bytes = /^\/bytes\/(\d+)$/.exec(request.url ?? '');
  if (request.url === '/') {
    response.setHeader('content-type', 'text/plain');
    response.setHeader('content-length', HELLO.length);
    response.end(HELLO);
  } else if (bytes !== null) {
    const total = Number(bytes[1]);
    response.setHeader('content-length', total);
    let sent = 0;
    const more = (): void => {
      while (sent < total) {
        const size = Math.min(BLOCK.length, total - sent);
        sent += size;
        if (!response.write(size === BLOCK.length ? BLOCK : BLOCK.subarray(0, size))) {
          response.once('drain', more);
          return;
        }
      }
      response.end();
    };
    more();
  } else if (request.url === '/sink') {
    let length = 0;
    request.on('data', (chunk: Buffer) => { length += chunk.length; });
    request.on('end', () => response.end(`${length}\n`));
  } else {
    response.statusCode = 404;
    response.end();
  }
});
httpServer.keepAliveTimeout = 60000;

const stack = argument('stack');
const address = argument('address');
const port = Number(argument('port', '80'));
let iface: Interface | null = null;
if (stack === 'nicring') {
  const device = open(argument('iface'), { backend: 'xdp', xdpMode: argument('xdp-mode', 'native') as 'native' | 'generic' });
  iface = new Interface(device, { address });
  iface.start();
  createTcpServer(iface, { noDelay: true }, (socket) => httpServer.emit('connection', socket as unknown as net.Socket)).listen(port);
} else {
  httpServer.listen(port, address.split('/')[0]);
}
const cpuAtReady = process.cpuUsage();
let requestsAtReady = 0;
process.stdout.write('ready\n');
process.on('SIGUSR2', () => {
  requestsAtReady = requests;
});
process.once('SIGTERM', () => {
  const cpu = process.cpuUsage(cpuAtReady);
  const tcp = iface === null ? {} : Object.fromEntries(Object.entries(iface.counters()).filter(([name, value]) => name.startsWith('tcp') && value !== 0));
  process.stdout.write(`${JSON.stringify({ requests: requests - requestsAtReady, userUs: cpu.user, systemUs: cpu.system, tcp })}\n`);
  iface?.close();
  process.exit(0);
});
