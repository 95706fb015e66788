// Node's own http server, served over nicring's TCP on a bypassed interface.
//
//   sudo ip netns exec NS node examples/http-server.js --iface veth-nr --address 198.18.0.1/24 [--port 80]
//
// GET /              a short greeting
// GET /bytes/N       N bytes of a fixed pattern (byte i is (i * 31 + (i >>> 11)) & 0xff), streamed with backpressure
// POST /sha256       the SHA-256 of the request body, in hex
//
// Options: --iface IF, --address IP/PREFIX, --gateway IP, --port N, --backend auto|xdp|netmap,
// --xdp-mode auto|native|generic. It prints one line when it listens and its TCP counters on SIGINT/SIGTERM.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');
const { open, Interface, tcp } = require('nicring');

const CHUNK = 65536;

/** Byte `i` of the /bytes/N pattern. */
function patternByte(i) {
  return (i * 31 + (i >>> 11)) & 0xff;
}

/** Fill `buffer` with the pattern from stream offset `offset`. */
function fillPattern(buffer, offset) {
  for (let i = 0; i < buffer.length; i++) buffer[i] = patternByte(offset + i);
  return buffer;
}

function parseOptions(argv) {
  const options = { port: '80', backend: 'auto', 'xdp-mode': 'auto' };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!['iface', 'address', 'gateway', 'port', 'backend', 'xdp-mode'].includes(name) || argv[i + 1] === undefined) {
      throw new Error(`unknown or incomplete option ${argv[i]}`);
    }
    options[name] = argv[i + 1];
  }
  if (!options.iface || !options.address) throw new Error('usage: http-server.js --iface IF --address IP/PREFIX [--port 80]');
  return options;
}

/** Stream `length` pattern bytes to `response`, waiting for 'drain' when the socket is full. */
function sendPattern(response, length) {
  const chunk = Buffer.alloc(CHUNK);
  let sent = 0;
  const more = () => {
    while (sent < length) {
      const size = Math.min(CHUNK, length - sent);
      const piece = fillPattern(size === CHUNK ? chunk : Buffer.alloc(size), sent);
      sent += size;
      // A new Buffer per write: the stream may still hold the previous one.
      if (!response.write(Buffer.from(piece))) {
        response.once('drain', more);
        return;
      }
    }
    response.end();
  };
  more();
}

function main() {
  const options = parseOptions(process.argv.slice(2));
  const device = open(options.iface, { backend: options.backend, xdpMode: options['xdp-mode'] });
  const iface = new Interface(device, { address: options.address, gateway: options.gateway });
  const server = http.createServer((request, response) => {
    const bytes = /^\/bytes\/(\d+)$/.exec(request.url || '');
    if (request.method === 'GET' && request.url === '/') {
      response.setHeader('content-type', 'text/plain');
      response.end('hello from nicring\n');
    } else if (request.method === 'GET' && bytes) {
      const length = Number(bytes[1]);
      response.setHeader('content-type', 'application/octet-stream');
      response.setHeader('content-length', String(length));
      sendPattern(response, length);
    } else if (request.method === 'POST' && request.url === '/sha256') {
      const hash = crypto.createHash('sha256');
      request.on('data', (chunk) => hash.update(chunk));
      request.on('end', () => response.end(`${hash.digest('hex')}\n`));
    } else {
      response.statusCode = 404;
      response.end('not found\n');
    }
  });
  const listener = tcp.createServer(iface, (socket) => server.emit('connection', socket));
  listener.on('error', (error) => {
    console.error(`http-server: ${error.message}`);
    iface.close();
    process.exitCode = 1;
  });
  iface.start();
  listener.listen(Number(options.port), () => {
    console.log(`http-server: listening on ${iface.address}:${options.port} via ${device.name} (${device.backend} ${device.mode})`);
  });
  const stop = () => {
    listener.close();
    const counters = iface.counters();
    const tcpCounters = Object.fromEntries(Object.entries(counters).filter(([name, value]) => name.startsWith('tcp') && value > 0));
    console.log(JSON.stringify({ event: 'stopped', tcp: tcpCounters }));
    iface.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

module.exports = { patternByte, fillPattern };
if (require.main === module) main();
