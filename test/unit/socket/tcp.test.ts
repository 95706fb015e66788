// The net-like TCP API between two nicring hosts over in-memory pairs with a
// fake clock: stream semantics, backpressure, Node's error codes, and
// Node's own http and tls on top.

import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { type TcpSocket, connect, createServer } from '../../../src/socket/tcp';
import { TwoHosts, randomBytes } from '../tcp/harness';

const B = '198.18.0.2';
const FIXTURES = path.join(__dirname, '../../fixtures/tls');

/** Everything a readable stream gives, once it ends. */
function collect(stream: NodeJS.ReadableStream): { chunks: Buffer[]; ended: boolean; bytes: () => Buffer } {
  const state = { chunks: [] as Buffer[], ended: false, bytes: () => Buffer.concat(state.chunks) };
  stream.on('data', (chunk: Buffer) => state.chunks.push(Buffer.from(chunk)));
  stream.on('end', () => { state.ended = true; });
  return state;
}

describe('socket/tcp', function () {
  this.timeout(120000);
  let net: TwoHosts;
  const sockets = new Set<TcpSocket>();
  /** Remember a socket so that it is destroyed after the test, before its interface closes. */
  const track = (socket: TcpSocket): TcpSocket => {
    sockets.add(socket);
    return socket;
  };
  beforeEach(() => { net = new TwoHosts({ impairment: { delayMs: 1 } }); });
  afterEach(() => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    net.close();
  });

  it('echoes 1 MiB through a server that pipes each socket to itself, with net.Socket fields and events', async () => {
    const server = createServer(net.b, (socket) => socket.pipe(socket));
    let listening = false;
    server.listen(7, () => { listening = true; });
    await net.settle(() => listening);
    assert.deepEqual(server.address(), { address: B, family: 'IPv4', port: 7 });
    const events: string[] = [];
    const client = track(connect(net.a, { host: B, port: 7 }, () => events.push('connect')));
    client.on('ready', () => events.push('ready'));
    client.on('close', () => events.push('close'));
    assert.equal(client.connecting, true);
    assert.equal(client.readyState, 'opening');
    const received = collect(client);
    const data = randomBytes(1 << 20, 5);
    client.end(data);
    assert.ok(await net.settle(() => events.includes('close')));
    assert.ok(received.bytes().equals(Buffer.from(data)));
    assert.deepEqual(events, ['connect', 'ready', 'close']);
    assert.equal(client.remoteAddress, B);
    assert.equal(client.remotePort, 7);
    assert.equal(client.remoteFamily, 'IPv4');
    assert.equal(client.localAddress, '198.18.0.1');
    assert.ok((client.localPort ?? 0) >= 32768);
    assert.equal(client.bytesWritten, 1 << 20);
    assert.equal(client.bytesRead, 1 << 20);
  });

  it('serves Node http.Server over it, and http.request goes out through createConnection', async () => {
    const httpServer = http.createServer((request, response) => {
      const body: Buffer[] = [];
      request.on('data', (chunk: Buffer) => body.push(chunk));
      request.on('end', () => {
        response.setHeader('content-type', 'text/plain');
        response.end(`${request.method} ${request.url} ${Buffer.concat(body).length}`);
      });
    });
    const server = createServer(net.b, (socket) => httpServer.emit('connection', socket));
    server.listen(80);
    const results: string[] = [];
    const ask = (method: string, urlPath: string, body?: Buffer): void => {
      const request = http.request({
        method, path: urlPath, host: B, port: 80,
        createConnection: () => connect(net.a, { host: B, port: 80 }) as unknown as import('node:net').Socket,
      }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => results.push(`${response.statusCode} ${Buffer.concat(chunks).toString()}`));
      });
      request.on('error', (error) => results.push(`error ${error.message}`));
      request.end(body);
    };
    ask('GET', '/hello');
    ask('POST', '/upload', Buffer.from(randomBytes(300_000, 9)));
    assert.ok(await net.settle(() => results.length === 2));
    assert.deepEqual(results.sort(), ['200 GET /hello 0', '200 POST /upload 300000']);
  });

  it('keeps an http keep-alive connection for several requests', async () => {
    const httpServer = http.createServer((request, response) => response.end(`hi ${request.url}`));
    const server = createServer(net.b, (socket) => httpServer.emit('connection', socket));
    server.listen(8080);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    (agent as unknown as { createConnection: () => TcpSocket }).createConnection = () => connect(net.a, { host: B, port: 8080 });
    const results: string[] = [];
    for (let i = 0; i < 3; i++) {
      http.get({ host: B, port: 8080, path: `/${i}`, agent }, (response) => {
        let text = '';
        response.on('data', (chunk) => { text += chunk; });
        response.on('end', () => results.push(text));
      });
    }
    assert.ok(await net.settle(() => results.length === 3));
    assert.deepEqual(results, ['hi /0', 'hi /1', 'hi /2']);
    assert.equal(net.a.counters().tcpActiveOpens, 1, 'one connection for all three');
    agent.destroy();
  });

  it('carries TLS: tls.TLSSocket on both ends over nicring sockets', async () => {
    const key = readFileSync(path.join(FIXTURES, 'key.pem'));
    const cert = readFileSync(path.join(FIXTURES, 'cert.pem'));
    const server = createServer(net.b, (socket) => {
      const secure = new tls.TLSSocket(socket as unknown as import('node:net').Socket, { isServer: true, key, cert });
      secure.on('data', (chunk: Buffer) => secure.write(Buffer.from(chunk.toString().toUpperCase())));
      secure.on('end', () => secure.end());
    });
    server.listen(443);
    const raw = track(connect(net.a, { host: B, port: 443 }));
    const secure = tls.connect({ socket: raw as unknown as import('node:net').Socket, ca: cert, servername: 'nicring.test' });
    let secured = false;
    secure.on('secureConnect', () => { secured = true; secure.end('quiet words'); });
    const received = collect(secure);
    assert.ok(await net.settle(() => received.ended));
    assert.ok(secured);
    assert.equal(secure.authorized, true);
    assert.equal(received.bytes().toString(), 'QUIET WORDS');
  });

  it('fails connect() to a closed port with ECONNREFUSED, address and port included', async () => {
    const client = track(connect(net.a, { host: B, port: 9 }));
    let failure: NodeJS.ErrnoException & { address?: string; port?: number } | null = null;
    client.on('error', (error) => { failure = error; });
    assert.ok(await net.settle(() => failure !== null));
    const error = failure as unknown as NodeJS.ErrnoException & { address?: string; port?: number };
    assert.equal(error.code, 'ECONNREFUSED');
    assert.equal(error.errno, -111);
    assert.equal(error.syscall, 'connect');
    assert.equal(error.message, `connect ECONNREFUSED ${B}:9`);
    assert.equal(error.address, B);
    assert.equal(error.port, 9);
  });

  it('reports ECONNRESET when the peer resets mid-transfer, then EPIPE on writes', async () => {
    let serverSocket: TcpSocket | null = null;
    const server = createServer(net.b, (socket) => { serverSocket = socket; });
    server.listen(5000);
    const client = track(connect(net.a, { host: B, port: 5000 }));
    const errors: string[] = [];
    client.on('error', (error: NodeJS.ErrnoException) => errors.push(`${error.syscall} ${error.code}`));
    client.write(Buffer.alloc(10000));
    assert.ok(await net.settle(() => serverSocket !== null && serverSocket.bytesRead === 10000));
    (serverSocket as unknown as TcpSocket).resetAndDestroy();
    assert.ok(await net.settle(() => errors.length > 0));
    assert.deepEqual(errors, ['read ECONNRESET']);
    assert.equal(client.destroyed, true);
    const late = track(connect(net.a, { host: B, port: 5000 }));
    assert.ok(await net.settle(() => !late.connecting));
    late.destroy();
  });

  it('fails with ETIMEDOUT when the peer vanishes, within the retry budget', async () => {
    net.close();
    net = new TwoHosts({ impairment: { delayMs: 1 }, tcpA: { retries: 4 } });
    const server = createServer(net.b, () => undefined);
    server.listen(5000);
    const client = track(connect(net.a, { host: B, port: 5000 }));
    let failure: NodeJS.ErrnoException | null = null;
    client.on('error', (error) => { failure = error; });
    assert.ok(await net.settle(() => !client.connecting));
    const started = net.clock.timeMs;
    net.impairment.drop = () => true;
    client.write('into the void');
    assert.ok(await net.settle(() => failure !== null));
    assert.equal((failure as unknown as NodeJS.ErrnoException).code, 'ETIMEDOUT');
    // RTO 200 ms doubled four times: 200 + 400 + 800 + 1600, then 3200 to give up.
    assert.equal(net.clock.timeMs - started, 6200);
  });

  it('applies backpressure: write() returns false while the send buffer is full, then drain', async () => {
    net.close();
    net = new TwoHosts({ impairment: { delayMs: 1 }, tcp: { sendBufferSize: 16384, receiveBufferSize: 16384 } });
    let serverSocket: TcpSocket | null = null;
    createServer(net.b, (socket) => { serverSocket = track(socket); socket.pause(); }).listen(6000);
    const client = track(connect(net.a, { host: B, port: 6000 }));
    let drained = 0;
    client.on('drain', () => { drained++; });
    let written = 0;
    const fill = (): void => {
      let more = true;
      while (more) {
        more = client.write(Buffer.alloc(8192));
        written += 8192;
      }
    };
    // Write until told to stop, each time the buffers drain, until the peer (not reading) holds all it will take.
    fill();
    for (let round = 0; round < 20; round++) {
      const before = drained;
      await net.settle(() => false, 2000);
      if (drained === before) break;
      fill();
    }
    const stalled = drained;
    await net.settle(() => false, 10000);
    assert.equal(drained, stalled, 'the peer does not read: no more drain');
    assert.ok(client.writableLength >= client.writableHighWaterMark, 'writes wait in the stream');
    const received = collect(serverSocket as unknown as TcpSocket);
    (serverSocket as unknown as TcpSocket).resume();
    assert.ok(await net.settle(() => drained > stalled), "once the peer reads: 'drain'");
    assert.ok(await net.settle(() => received.bytes().length === written));
  });

  it('writeCopy: the caller reuses its buffer at once; bytes go straight to the send buffer, and only what does not fit is copied and queued', async () => {
    net.close();
    net = new TwoHosts({ impairment: { delayMs: 1 }, tcp: { sendBufferSize: 16384, receiveBufferSize: 16384 } });
    let serverSocket: TcpSocket | null = null;
    createServer(net.b, (socket) => { serverSocket = track(socket); socket.pause(); }).listen(6001);
    const client = track(connect(net.a, { host: B, port: 6001 }));
    assert.ok(await net.settle(() => !client.connecting && serverSocket !== null));
    const scratch = new Uint8Array(4096);
    const expected: Buffer[] = [];
    const queuedAfter: number[] = [];
    for (let round = 0; round < 12; round++) {
      scratch.fill(round + 1);
      client.writeCopy(scratch, 100, 3000);
      expected.push(Buffer.alloc(3000, round + 1));
      queuedAfter.push(client.writableLength);
      // The caller overwrites its buffer before anything is sent.
      scratch.fill(0xee);
    }
    // 36,000 bytes: the first rounds fit the 16 KiB send buffer and left nothing in the stream; the rest wait there, copied.
    assert.equal(queuedAfter[0], 0);
    assert.ok(queuedAfter[11] > 0, `queued ${queuedAfter.join(',')}`);
    const received = collect(serverSocket as unknown as TcpSocket);
    (serverSocket as unknown as TcpSocket).resume();
    assert.ok(await net.settle(() => received.bytes().length === 36000));
    assert.ok(received.bytes().equals(Buffer.concat(expected)));
    assert.equal(client.bytesWritten, 36000);
  });

  it('half-closes: the client ends, the server keeps writing and the client keeps reading (allowHalfOpen)', async () => {
    createServer(net.b, { allowHalfOpen: true }, (socket) => {
      const got = collect(socket);
      socket.on('end', () => {
        socket.write(`you said ${got.bytes().toString()}; `);
        setImmediate(() => socket.end('bye'));
      });
    }).listen(7000);
    const client = track(connect(net.a, { host: B, port: 7000, allowHalfOpen: true }));
    const received = collect(client);
    client.end('hello');
    assert.ok(await net.settle(() => received.ended));
    assert.equal(received.bytes().toString(), 'you said hello; bye');
  });

  it('emits "timeout" after the idle time set with setTimeout, and the socket stays open', async () => {
    createServer(net.b, () => undefined).listen(7100);
    const client = track(connect(net.a, { host: B, port: 7100 }));
    let timedOut = false;
    client.setTimeout(30, () => { timedOut = true; });
    const started = Date.now();
    while (!timedOut && Date.now() - started < 5000) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(timedOut);
    assert.equal(client.destroyed, false);
    client.destroy();
  });

  it("emits EADDRINUSE as a listen 'error', and 'close' once the last connection is gone", async () => {
    const first = createServer(net.b, (socket) => socket.end());
    first.listen(8000);
    const second = createServer(net.b);
    let failure: NodeJS.ErrnoException | null = null;
    second.on('error', (error) => { failure = error; });
    second.listen(8000);
    assert.ok(await net.settle(() => failure !== null));
    assert.equal((failure as unknown as NodeJS.ErrnoException).code, 'EADDRINUSE');
    assert.equal((failure as unknown as NodeJS.ErrnoException).errno, -98);
    const client = track(connect(net.a, { host: B, port: 8000 }));
    client.resume();
    let closed = false;
    assert.ok(await net.settle(() => !client.connecting));
    first.close(() => { closed = true; });
    assert.ok(await net.settle(() => closed));
    assert.equal(first.listening, false);
  });

  it('keepalive from setKeepAlive probes an idle connection', async () => {
    createServer(net.b, () => undefined).listen(7200);
    const client = track(connect(net.a, { host: B, port: 7200 }));
    assert.ok(await net.settle(() => !client.connecting));
    client.setKeepAlive(true, 5000);
    await net.settle(() => net.a.counters().tcpKeepAliveProbes >= 2, 200_000);
    assert.ok(net.a.counters().tcpKeepAliveProbes >= 2);
    assert.equal(client.destroyed, false, 'the peer answers the probes');
    client.destroy();
  });
});
