// DNS over TCP (RFC 7766) in the DNS example: the module set up on one
// nicring host of an in-memory pair (as respond's worker sets it up), asked
// by a nicring TCP client on the other, on one fake clock. Framing,
// pipelining, large answers, malformed length prefixes, idle timeout, the
// connection limit, backpressure, and the responder's worker plumbing.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setup as respondWorkerSetup } from '../../../../src/service/respond-worker';
import { Responder, loadHandlerModule, setupHandler, type CountingHandler } from '../../../../src/service/responder';
import type { WorkerContext } from '../../../../src/service/serve';
import { type TcpSocket, connect } from '../../../../src/socket/tcp';
import { type UdpPayload, createSocket } from '../../../../src/socket/udp';
import type { TcpOptions } from '../../../../src/tcp/config';
import { TwoHosts } from '../../tcp/harness';
import { EXAMPLES, SAMPLE_ZONE, decode, query } from './dns-test';

const MODULE = path.join(EXAMPLES, 'index.js');
const SERVER = '198.18.0.2';
const OPTIONS = {
  zone: SAMPLE_ZONE, 'edns-size': 1232, 'rrl-rate': 20, 'rrl-prefix': 32, 'rrl-slip': 2, 'rrl-table': 1024,
  'tcp-clients': 100, 'tcp-idle-timeout': 10,
};

/** A message behind its two-byte length prefix. */
function framed(message: Uint8Array): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length);
  return Buffer.concat([prefix, message]);
}

/** A client connection that splits what it receives into DNS messages by their length prefixes. */
interface Client {
  socket: TcpSocket;
  messages: Buffer[];
  ended: boolean;
  closed: boolean;
  /** Fake time when it closed. */
  closedAtMs: number;
  error: string | null;
}

describe('DNS example over TCP (device pair)', function () {
  this.timeout(60000);
  let net: TwoHosts;
  let handler: CountingHandler;
  let counters: Record<string, number>;
  const clients: Client[] = [];

  async function start(options: Record<string, string | number> = {}, tcp: TcpOptions = {}, zone = SAMPLE_ZONE): Promise<void> {
    net = new TwoHosts({ impairment: { delayMs: 1 }, tcp });
    handler = await setupHandler(loadHandlerModule(MODULE), { options: { ...OPTIONS, zone, ...options }, iface: net.b, queue: 0, ports: [53] });
    counters = handler.counters as Record<string, number>;
  }

  function open(): Client {
    const client: Client = { socket: connect(net.a, { host: SERVER, port: 53, noDelay: true }), messages: [], ended: false, closed: false, closedAtMs: -1, error: null };
    let pending = Buffer.alloc(0);
    client.socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const length = pending.readUInt16BE(0);
        client.messages.push(Buffer.from(pending.subarray(2, 2 + length)));
        pending = pending.subarray(2 + length);
      }
    });
    client.socket.on('end', () => { client.ended = true; });
    client.socket.on('close', () => {
      client.closed = true;
      client.closedAtMs = net.clock.timeMs;
    });
    client.socket.on('error', (error: NodeJS.ErrnoException) => { client.error = error.code ?? error.message; });
    clients.push(client);
    return client;
  }

  afterEach(() => {
    for (const client of clients) client.socket.destroy();
    clients.length = 0;
    handler?.close?.();
    net?.close();
  });

  it('answers a query behind its length prefix with the whole RRset, past 512 bytes, without EDNS', async () => {
    await start();
    const client = open();
    client.socket.write(framed(query('big.example.test', 'TXT', { id: 7 })));
    assert.ok(await net.settle(() => client.messages.length === 1));
    const reply = decode(client.messages[0]);
    assert.equal(reply.id, 7);
    assert.equal(reply.flag_tc, false);
    assert.equal(reply.flag_aa, true);
    assert.equal(reply.answers?.length, 8);
    assert.ok(client.messages[0].length > 512);
    assert.equal(counters.tcpAccepted, 1);
    assert.equal(counters.tcpQueries, 1);
    assert.equal(counters.queries, 1);
    assert.equal(counters.answers, 1);
  });

  it('answers pipelined queries in order, whatever the segments split: prefixes and messages across writes', async () => {
    await start();
    const client = open();
    // The last query is longer than 255 bytes: both bytes of its length prefix count.
    const long = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(50)}.example.test`;
    const names = ['www.example.test', 'nope.example.test', 'example.test', 'big.example.test', 'alias.example.test', long];
    const stream = Buffer.concat(names.map((name, id) => framed(query(name, name.startsWith('big') ? 'TXT' : 'A', { id }))));
    assert.ok(stream.readUInt16BE(stream.length - 2 - query(long, 'A').length) > 255);
    // All at once, then byte by byte, then in pieces of 3.
    client.socket.write(stream);
    assert.ok(await net.settle(() => client.messages.length === 6));
    for (let at = 0; at < stream.length; at++) {
      client.socket.write(stream.subarray(at, at + 1));
      await net.settle(() => false, 2);
    }
    assert.ok(await net.settle(() => client.messages.length === 12));
    for (let at = 0; at < stream.length; at += 3) client.socket.write(stream.subarray(at, at + 3));
    assert.ok(await net.settle(() => client.messages.length === 18));
    const replies = client.messages.map((message) => decode(message));
    assert.deepEqual(replies.map((reply) => reply.id), [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
    for (let round = 0; round < 3; round++) {
      const six = replies.slice(round * 6, round * 6 + 6);
      assert.deepEqual(six.map((reply) => reply.rcode), ['NOERROR', 'NXDOMAIN', 'NOERROR', 'NOERROR', 'NOERROR', 'NXDOMAIN']);
      assert.deepEqual(six.map((reply) => reply.answers?.length), [3, 0, 1, 8, 4, 0]);
      assert.equal(six[5].questions?.[0].name, long);
    }
    assert.equal(counters.tcpAccepted, 1);
    assert.equal(counters.tcpQueries, 18);
  });

  it('answers up to 65535 bytes over TCP, and sets TC only for an answer past that', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-dns-tcp-'));
    const zone = path.join(dir, 'large.zone');
    const record = (owner: string, i: number, size: number): string => `${i === 0 ? owner : ''}        IN TXT "${String(i).padStart(4, '0')}${'x'.repeat(size - 4)}"`;
    // 120 strings of 250 bytes: about 31 KB; 300 of them: about 77 KB.
    fs.writeFileSync(zone, ['$ORIGIN large.test.', '$TTL 60', '@ IN SOA ns hostmaster 1 2 3 4 5', '@ IN NS ns', 'ns IN A 198.18.100.53',
      ...Array.from({ length: 120 }, (_, i) => record('fits', i, 250)), ...Array.from({ length: 300 }, (_, i) => record('past', i, 250)), ''].join('\n'));
    try {
      await start({}, {}, zone);
      const client = open();
      client.socket.write(Buffer.concat([framed(query('fits.large.test', 'TXT', { id: 1, edns: { udpSize: 512 } })), framed(query('past.large.test', 'TXT', { id: 2 }))]));
      assert.ok(await net.settle(() => client.messages.length === 2));
      const [fits, past] = client.messages.map((message) => decode(message));
      assert.equal(fits.flag_tc, false);
      assert.equal(fits.answers?.length, 120);
      assert.ok(client.messages[0].length > 30000 && client.messages[0].length <= 65535);
      assert.equal(past.flag_tc, true);
      assert.equal(past.answers?.length, 0);
      assert.deepEqual([counters.answers, counters.truncated], [1, 1]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not rate-limit TCP: a client past the UDP limit is answered in full over TCP', async () => {
    await start({ 'rrl-rate': 1 });
    const client = open();
    client.socket.write(Buffer.concat(Array.from({ length: 20 }, (_, id) => framed(query('www.example.test', 'A', { id })))));
    assert.ok(await net.settle(() => client.messages.length === 20));
    assert.ok(client.messages.every((message) => decode(message).answers?.length === 3));
    assert.deepEqual([counters.rrlSlipped, counters.rrlDropped, counters.answers], [0, 0, 20]);
  });

  it('closes the connection on a length prefix shorter than a header, after answering what came before', async () => {
    await start();
    for (const bad of [0, 1, 11]) {
      const client = open();
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(bad);
      client.socket.write(Buffer.concat([framed(query('www.example.test', 'A', { id: 5 })), prefix, Buffer.alloc(bad, 0xa5), framed(query('example.test', 'A', { id: 6 }))]));
      assert.ok(await net.settle(() => client.ended));
      assert.deepEqual(client.messages.map((message) => decode(message).id), [5], `length ${bad}`);
    }
    assert.equal(counters.tcpBadLength, 3);
    assert.equal(counters.tcpQueries, 3);
  });

  it('answers FORMERR and closes when a length prefix frames a malformed message (too long a prefix swallows the next query)', async () => {
    await start();
    const client = open();
    const first = query('www.example.test', 'A', { id: 8 });
    const second = query('example.test', 'A', { id: 9 });
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(first.length + 6);
    client.socket.write(Buffer.concat([prefix, first, framed(second)]));
    assert.ok(await net.settle(() => client.ended));
    assert.equal(client.messages.length, 1);
    const reply = client.messages[0];
    assert.equal(reply.length, 12);
    assert.equal(reply.readUInt16BE(0), 8);
    assert.equal(reply.readUInt16BE(2) & 0x800f, 0x8001, 'QR and FORMERR');
    assert.deepEqual([counters.formErr, counters.tcpClosedAfterFormErr], [1, 1]);
  });

  it('ignores a response sent to it and answers the next query on the same connection', async () => {
    await start();
    const client = open();
    const response = Buffer.from(query('www.example.test', 'A', { id: 1 }));
    response[2] |= 0x80;
    client.socket.write(Buffer.concat([framed(response), framed(query('www.example.test', 'A', { id: 2 }))]));
    assert.ok(await net.settle(() => client.messages.length === 1));
    assert.equal(decode(client.messages[0]).id, 2);
    assert.equal(counters.ignoredResponses, 1);
    assert.equal(client.ended, false);
  });

  it('answers every query before a half-close, then closes its side too', async () => {
    await start();
    const client = open();
    client.socket.end(Buffer.concat([framed(query('www.example.test', 'A', { id: 1 })), framed(query('example.test', 'MX', { id: 2 }))]));
    assert.ok(await net.settle(() => client.closed));
    assert.deepEqual(client.messages.map((message) => decode(message).id), [1, 2]);
    assert.equal(counters.tcpIncomplete, 0);
  });

  it('counts a connection that ends inside a message as incomplete', async () => {
    await start();
    const client = open();
    const whole = framed(query('www.example.test', 'A', { id: 3 }));
    client.socket.end(whole.subarray(0, 10));
    assert.ok(await net.settle(() => client.closed));
    assert.equal(client.messages.length, 0);
    assert.equal(counters.tcpIncomplete, 1);
  });

  it('closes a connection idle for the timeout, a connection stopped inside a message too, and keeps an active one', async () => {
    await start({ 'tcp-idle-timeout': 2 });
    const idle = open();
    const stalled = open();
    const active = open();
    idle.socket.write(framed(query('www.example.test', 'A', { id: 1 })));
    stalled.socket.write(framed(query('www.example.test', 'A', { id: 1 })).subarray(0, 1));
    assert.ok(await net.settle(() => idle.messages.length === 1));
    const lastByteMs = net.clock.timeMs;
    // The active client asks every second for five seconds; the others say nothing more.
    for (let second = 0; second < 5; second++) {
      active.socket.write(framed(query('example.test', 'A', { id: second })));
      const until = net.clock.timeMs + 1000;
      await net.settle(() => net.clock.timeMs >= until, 1000);
      net.clock.timeMs = Math.max(net.clock.timeMs, until);
    }
    assert.ok(idle.closed && stalled.closed);
    // Closed once 2 s passed without a byte, by a sweep every 0.5 s.
    for (const client of [idle, stalled]) assert.ok(client.closedAtMs - lastByteMs >= 2000 && client.closedAtMs - lastByteMs <= 2600, `closed after ${client.closedAtMs - lastByteMs} ms`);
    assert.equal(active.closed, false);
    assert.equal(active.messages.length, 5);
    assert.deepEqual([counters.tcpIdleTimeouts, counters.tcpIncomplete], [2, 1]);
  });

  it('resets connections past the per-worker limit, and takes new ones once one closes', async () => {
    await start({ 'tcp-clients': 2 });
    const first = open();
    const second = open();
    first.socket.write(framed(query('www.example.test', 'A', { id: 1 })));
    second.socket.write(framed(query('www.example.test', 'A', { id: 2 })));
    assert.ok(await net.settle(() => first.messages.length === 1 && second.messages.length === 1));
    const third = open();
    assert.ok(await net.settle(() => third.closed));
    assert.equal(third.error, 'ECONNRESET');
    assert.equal(counters.tcpRefused, 1);
    first.socket.end();
    assert.ok(await net.settle(() => first.closed));
    const fourth = open();
    fourth.socket.write(framed(query('www.example.test', 'A', { id: 4 })));
    assert.ok(await net.settle(() => fourth.messages.length === 1));
    assert.equal(counters.tcpAccepted, 3);
  });

  it('stops reading while a client does not read its replies, and answers everything once it does', async () => {
    await start({}, { sendBufferSize: 16384, receiveBufferSize: 16384 });
    const client = open();
    client.socket.pause();
    const count = 400;
    client.socket.write(Buffer.concat(Array.from({ length: count }, (_, id) => framed(query('big.example.test', 'TXT', { id })))));
    await net.settle(() => false, 2000);
    // About 850 bytes a reply: far more than the buffers on the way hold, so the server stopped part way.
    const answeredWhilePaused = counters.tcpQueries;
    assert.ok(answeredWhilePaused > 0 && answeredWhilePaused < count, `${answeredWhilePaused} answered while the client read nothing`);
    client.socket.resume();
    assert.ok(await net.settle(() => client.messages.length === count));
    assert.deepEqual(client.messages.map((message) => decode(message).id), Array.from({ length: count }, (_, id) => id));
    assert.ok(client.messages.every((message) => decode(message).answers?.length === 8));
  });

  it('stops listening and drops its connections when the worker stops', async () => {
    await start();
    const client = open();
    client.socket.write(framed(query('www.example.test', 'A', { id: 1 })));
    assert.ok(await net.settle(() => client.messages.length === 1));
    handler.close?.();
    assert.ok(await net.settle(() => client.closed));
    assert.equal(net.b.tcp.listenerOn(53), null);
    const late = open();
    assert.ok(await net.settle(() => late.closed));
    assert.equal(late.error, 'ECONNREFUSED');
  });

  it('serves no TCP with --tcp-clients 0, or when the responder gave it no ports', async () => {
    await start({ 'tcp-clients': 0 });
    assert.equal(net.b.tcp.listenerOn(53), null);
    assert.equal(handler.close, undefined);
    handler = await setupHandler(loadHandlerModule(MODULE), { options: OPTIONS, iface: net.b, queue: 0 });
    assert.equal(net.b.tcp.listenerOn(53), null);
  });

  it('is set up by respond\'s worker on the UDP ports, which reports them and closes them with the worker', async () => {
    net = new TwoHosts({ impairment: { delayMs: 1 } });
    const context = {
      ifname: 'b', queue: 0, device: net.bDevice, iface: net.b, cpus: null,
      options: { ports: [53, 5353], handler: MODULE, handlerOptions: OPTIONS },
    } as unknown as WorkerContext;
    const service = await respondWorkerSetup(context);
    assert.equal(service.counters?.().handlerTcpPorts, '53,5353');
    assert.ok(net.b.tcp.listenerOn(5353) !== null);
    await service.close?.();
    assert.equal(net.b.tcp.listenerOn(53), null);
    assert.equal(net.b.tcp.listenerOn(5353), null);
    handler = undefined as unknown as CountingHandler;
  });

  it('fails set-up with a clear message when a TCP port is taken', async () => {
    net = new TwoHosts({ impairment: { delayMs: 1 } });
    net.b.tcp.listen(53);
    await assert.rejects(setupHandler(loadHandlerModule(MODULE), { options: OPTIONS, iface: net.b, queue: 0, ports: [53] }), /DNS over TCP: listen EADDRINUSE 198\.18\.0\.2:53/);
    handler = undefined as unknown as CountingHandler;
  });

  it('answers UDP as before beside it: TC=1 over UDP, the same question whole over TCP', async () => {
    await start();
    const responder = new Responder(net.b, { ports: [53], handler, allowLargerReplies: true });
    const udp = createSocket(net.a).bind(0);
    const replies: Buffer[] = [];
    udp.on('message', (payload: UdpPayload) => replies.push(payload.copy()));
    udp.send(query('big.example.test', 'TXT', { id: 11 }), 53, SERVER);
    assert.ok(await net.settle(() => replies.length === 1));
    assert.equal(decode(replies[0]).flag_tc, true);
    const client = open();
    client.socket.write(framed(query('big.example.test', 'TXT', { id: 11 })));
    assert.ok(await net.settle(() => client.messages.length === 1));
    assert.equal(decode(client.messages[0]).answers?.length, 8);
    assert.deepEqual([counters.queries, counters.tcpQueries, counters.truncated, counters.answers], [2, 1, 1, 1]);
    udp.close();
    responder.close();
  });
});
