// Lab test agent for the DNS example: kernel UDP clients in the peer
// namespace that send malformed, fuzzed and flooding queries, and kernel TCP
// clients that pipeline queries, frame them badly or fall silent; each
// prints "ready" once bound and one JSON line with what it saw.

import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { fuzzedQuery, seededRandom } from '../helpers/dns-fuzz';
import { type Args, type Job, runAgent, printResult as done, sleep } from './agent-main';

function bindSocket(address?: string): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024, sendBufferSize: 8 * 1024 * 1024 });
    socket.bind(0, address, () => resolve(socket));
  });
}

function target(args: Args): { address: string; port: number } {
  const [address, port] = args.target.split(':');
  return { address, port: Number(port) };
}

function query(name: string, type: string, id: number, udpSize = 0): Buffer {
  const additionals = udpSize > 0 ? [{ type: 'OPT', name: '.', udpPayloadSize: udpSize, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [] }] : [];
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: type as dnsPacket.RecordType, name }], additionals: additionals as unknown as dnsPacket.Answer[] });
}

/** Send `message` and wait up to `waitMs` for the reply with its id (replies to earlier queries are passed over). */
function exchange(socket: dgram.Socket, to: { address: string; port: number }, message: Uint8Array, waitMs: number): Promise<Buffer | null> {
  const id = message.length >= 2 ? (message[0] << 8) | message[1] : -1;
  return new Promise((resolve) => {
    const timer = setTimeout(() => { socket.off('message', onMessage); resolve(null); }, waitMs);
    const onMessage = (reply: Buffer): void => {
      if (reply.length < 2 || reply.readUInt16BE(0) !== id) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(reply);
    };
    socket.on('message', onMessage);
    socket.send(message, to.port, to.address);
  });
}

/** The malformed queries of the lab test, by name. */
const MALFORMED: Record<string, string> = {
  headerCut: '1234 0100 0001 00',
  questionCut: '1235 0100 0001 0000 0000 0000 03777777 076578',
  qdcount0: '1236 0100 0000 0000 0000 0000',
  qdcount2: '1237 0100 0002 0000 0000 0000 03777777 076578616d706c65 0474657374 00 0001 0001 03777777 076578616d706c65 0474657374 00 0001 0001',
  compressionLoop: '1238 0100 0001 0000 0000 0000 c00c 0001 0001',
  labelPastEnd: '1239 0100 0001 0000 0000 0000 3f616263 00 0001 0001',
  additionalLoop: '123a 0100 0001 0000 0000 0001 03777777 00 0001 0001 c019 0001 0001 00000000 0000',
  response: '123b 8100 0001 0000 0000 0000 03777777 076578616d706c65 0474657374 00 0001 0001',
};

/** Each malformed query in turn, then a good one: the reply to each (hex) or null. */
async function jobMalformed(args: Args): Promise<void> {
  const to = target(args);
  const socket = await bindSocket();
  console.log('ready');
  const replies: Record<string, string | null> = {};
  for (const [name, hex] of Object.entries(MALFORMED)) {
    const reply = await exchange(socket, to, Buffer.from(hex.replace(/\s+/g, ''), 'hex'), Number(args.waitMs ?? 500));
    replies[name] = reply === null ? null : reply.toString('hex');
  }
  const after = await exchange(socket, to, query('www.example.test', 'A', 0x4242), 2000);
  socket.close();
  done({ replies, after: after === null ? null : after.toString('hex') });
}

/**
 * Send `count` fuzzed queries at `rate` per second; check that every reply
 * is FORMERR (a 12-byte header) or decodes as DNS; then one good query.
 */
async function jobFuzz(args: Args): Promise<void> {
  const to = target(args);
  const count = Number(args.count);
  const rate = Number(args.rate);
  const next = seededRandom(Number(args.seed ?? 1));
  const seeds = [
    query('www.example.test', 'A', 1), query('Alias.EXAMPLE.test', 'A', 2, 4096), query('nope.example.test', 'MX', 3, 1232),
    query('example.test', 'NS', 4), query('big.example.test', 'TXT', 5, 600), query('ns.child.example.test', 'AAAA', 6), query('example.org', 'SOA', 7),
  ];
  const socket = await bindSocket();
  const result = { sent: 0, replies: 0, formErr: 0, wellFormed: 0, undecodable: 0, firstUndecodable: '', after: '' };
  socket.on('message', (reply) => {
    result.replies++;
    if (reply.length === 12 && (reply[3] & 0xf) === 1) {
      result.formErr++;
      return;
    }
    try {
      dnsPacket.decode(reply);
      result.wellFormed++;
    } catch {
      result.undecodable++;
      if (result.firstUndecodable === '') result.firstUndecodable = reply.toString('hex');
    }
  });
  console.log('ready');
  const start = Date.now();
  while (result.sent < count) {
    const due = Math.min(count, Math.floor(((Date.now() - start) * rate) / 1000) + 1);
    for (; result.sent < due; result.sent++) socket.send(fuzzedQuery(next, seeds), to.port, to.address);
    await sleep(1);
  }
  await sleep(1000);
  socket.removeAllListeners('message');
  const after = await exchange(socket, to, query('www.example.test', 'A', 0x4243), 2000);
  result.after = after === null ? '' : after.toString('hex');
  socket.close();
  done(result);
}

/**
 * Send `count` queries for `name` `type` from `bind` (an address of this
 * namespace), `gapMs` apart (0: as fast as the socket takes them); count full
 * answers, truncated (TC=1) ones and those that never came.
 */
async function jobQueries(args: Args): Promise<void> {
  const to = target(args);
  const count = Number(args.count);
  const gapMs = Number(args.gapMs ?? 0);
  const socket = await bindSocket(args.bind);
  const seen = new Uint8Array(count);
  const result = { sent: 0, full: 0, truncated: 0, other: 0, missing: 0 };
  socket.on('message', (reply) => {
    let message: ReturnType<typeof dnsPacket.decode>;
    try {
      message = dnsPacket.decode(reply);
    } catch {
      result.other++;
      return;
    }
    const id = message.id ?? -1;
    if (id < 0 || id >= count || seen[id] !== 0) {
      result.other++;
      return;
    }
    seen[id] = 1;
    const tc = ((message.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0;
    if (tc) result.truncated++;
    else if ((message.answers?.length ?? 0) > 0) result.full++;
    else result.other++;
  });
  if (args.delayMs !== undefined) await sleep(Number(args.delayMs));
  console.log('ready');
  for (let id = 0; id < count; id++) {
    socket.send(query(args.name, args.type, id, Number(args.udpSize ?? 0)), to.port, to.address);
    result.sent++;
    if (gapMs > 0) await sleep(gapMs);
    else if ((id & 63) === 63) await sleep(1);
  }
  await sleep(Number(args.lingerMs ?? 1000));
  for (let id = 0; id < count; id++) if (seen[id] === 0) result.missing++;
  socket.close();
  done(result);
}

/** A message behind its two-byte length prefix (RFC 1035 4.2.2). */
function framed(message: Uint8Array, length = message.length): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(length);
  return Buffer.concat([prefix, message]);
}

/** What a TCP client saw: each reply (id, rcode, TC, answer count, size), and whether and when the server closed. */
interface TcpOutcome {
  replies: { id: number; rcode: string; tc: boolean; answers: number; bytes: number; hex: string }[];
  /** The server sent its FIN (or reset), this long after the client's last byte; null if it never did. */
  serverClosedAfterMs: number | null;
  reset: boolean;
}

/**
 * One kernel TCP connection to `to`: `send` the bytes given, one write each
 * (`gapMs` apart), then wait until `until` holds or the server closes, at
 * most `waitMs`; the client then closes.
 */
function tcpSession(to: { address: string; port: number }, sends: Buffer[], options: { gapMs?: number; waitMs: number; until?: (outcome: TcpOutcome) => boolean }): Promise<TcpOutcome> {
  return new Promise((resolve, reject) => {
    const outcome: TcpOutcome = { replies: [], serverClosedAfterMs: null, reset: false };
    const socket = net.connect({ host: to.address, port: to.port, noDelay: true });
    let pending = Buffer.alloc(0);
    let lastSentMs = Date.now();
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(finish, options.waitMs);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + message.length);
        const decoded = dnsPacket.decode(Buffer.from(message)) as dnsPacket.Packet & { rcode?: string };
        outcome.replies.push({
          id: decoded.id ?? -1, rcode: decoded.rcode ?? '', tc: ((decoded.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0,
          answers: decoded.answers?.length ?? 0, bytes: message.length, hex: message.length <= 64 ? Buffer.from(message).toString('hex') : '',
        });
      }
      if (options.until?.(outcome)) finish();
    });
    socket.on('end', () => {
      outcome.serverClosedAfterMs = Date.now() - lastSentMs;
      finish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') {
        outcome.reset = true;
        outcome.serverClosedAfterMs = Date.now() - lastSentMs;
        finish();
      } else if (!finished) {
        finished = true;
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.on('connect', async () => {
      for (const bytes of sends) {
        if (socket.destroyed) return;
        socket.write(bytes);
        lastSentMs = Date.now();
        if (options.gapMs !== undefined) await sleep(options.gapMs);
      }
    });
  });
}

/**
 * DNS over TCP from a kernel socket in `scenario`:
 * - pipelined: `count` queries for the names of `names` (NAME/TYPE, comma-separated) in one write, over `connections` connections at once;
 * - badLength: a query, then a length prefix of 5 and five bytes, then another query;
 * - longPrefix: a query behind a length prefix 6 bytes too long, then another query;
 * - idle: one query, then silence until the server closes;
 * - partial: the first byte of a length prefix, then silence.
 */
async function jobTcp(args: Args): Promise<void> {
  const to = target(args);
  const waitMs = Number(args.waitMs ?? 5000);
  console.log('ready');
  const www = query('www.example.test', 'A', 1);
  const apex = query('example.test', 'A', 2);
  switch (args.scenario) {
    case 'pipelined': {
      const names = args.names.split(',').map((entry) => entry.split('/'));
      const count = Number(args.count ?? names.length);
      const connections = Number(args.connections ?? 1);
      const messages = Array.from({ length: count }, (_, id) => framed(query(names[id % names.length][0], names[id % names.length][1], id)));
      const sessions = Array.from({ length: connections }, () => tcpSession(to, [Buffer.concat(messages)], { waitMs, until: (outcome) => outcome.replies.length === count }));
      done({ connections: await Promise.all(sessions) });
      return;
    }
    case 'badLength':
      done(await tcpSession(to, [Buffer.concat([framed(www), framed(Buffer.alloc(5, 0xa5)), framed(apex)])], { waitMs }));
      return;
    case 'longPrefix':
      done(await tcpSession(to, [Buffer.concat([framed(www, www.length + 6), framed(apex)])], { waitMs }));
      return;
    case 'idle':
      done(await tcpSession(to, [framed(www)], { waitMs }));
      return;
    case 'partial':
      done(await tcpSession(to, [framed(www).subarray(0, 1)], { waitMs }));
      return;
    default:
      throw new Error(`unknown scenario ${args.scenario}`);
  }
}

const JOBS: Record<string, Job> = {
  malformed: jobMalformed,
  fuzz: jobFuzz,
  queries: jobQueries,
  tcp: jobTcp,
};

if (require.main === module) runAgent(JOBS, process.argv.slice(2));
