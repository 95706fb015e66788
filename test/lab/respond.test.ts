// `nicring respond` and `nicring gen` as a user runs them, in the lab:
// the responder answers a kernel UDP client in the peer namespace (echo and
// a handler module), ping, drops root, prints JSON figures that add up and
// writes a pcap tshark accepts; the generator's counts agree with a Node
// dgram echo server's own. The peer learns nicring's MAC through ARP.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execIn } from '../../src/lab';
import { labName, useLab, xdpAttached } from './harness';
import {
  CLI, type Json, type RunningResponder, lastLine, latestFigures, runClient, runInAsync, runToEnd, sleep, startClient, startResponder, udpErrors,
} from './respond-harness';

const ROOT = path.join(__dirname, '..', '..');
const TIMESTAMP_HANDLER = path.join(ROOT, 'examples', 'timestamp-responder.js');
const DGRAM_ECHO = path.join(ROOT, 'bench', 'baselines', 'dgram-echo.js');
/** Frames per receive batch: the most a stats line can catch between request and reply. */
const BATCH = 64;

/** A user's uid and gid from /etc/passwd. */
function userIds(user: string): { uid: number; gid: number } {
  const entry = fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => line.split(':')).find((fields) => fields[0] === user);
  if (entry === undefined) throw new Error(`no user ${user}`);
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/** A process's real, effective, saved and filesystem uids (or gids), from /proc. */
function procIds(pid: number, which: 'Uid' | 'Gid'): number[] {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((text) => text.startsWith(`${which}:`));
  if (line === undefined) throw new Error(`no ${which} line for ${pid}`);
  return line.split(/\s+/).slice(1, 5).map(Number);
}

/** The folded IPv4/UDP pseudo-header sum: what a same-host sender leaves in a checksum field for offload. */
function pseudoHeaderSum(source: string, destination: string, length: number): number {
  const words = [...source.split('.'), ...destination.split('.')].map(Number);
  let sum = 17 + length;
  for (let i = 0; i < 8; i += 2) sum += (words[i] << 8) | words[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

const ECHO_ALL_INTACT = (count: number): Json => ({ sent: count, sendErrors: 0, replies: count, intact: count, corrupt: 0, duplicates: 0, strangers: 0, missing: [] });

describe('nicring respond and nicring gen in the lab', function () {
  this.timeout(120000);
  const { lab } = useLab({ name: labName('r'), staticNeighbor: false });
  let directory = '';

  before(function () {
    for (const tool of ['ping', 'tshark']) {
      if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is not installed (.ci/run installs iputils-ping and tshark)`);
    }
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-respond-'));
  });

  after(function () {
    if (directory !== '') fs.rmSync(directory, { recursive: true, force: true });
  });

  // One responder for these three, in this order: the figures test stops it and checks all it printed.
  describe('nicring respond, echo under load', function () {
    const port = 9000;
    let responder: RunningResponder;
    /** Requests the clients of this responder sent, across its tests. */
    let requestsSent = 0;
    let pingsAnswered = 0;

    before(async function () {
      this.timeout(30000);
      const l = lab();
      responder = startResponder(l, ['--port', `7,${port}`]);
      await responder.ready;
    });

    after(() => responder?.agent.stop('SIGKILL'));

    it('answers 100,000 paced requests (4 to 1472 bytes) from a kernel UDP socket in the peer, every reply byte-exact, none lost', async () => {
      const l = lab();
      const count = 100_000;
      const result = await runClient(l.peer.netns, 'echo-client', { target: `${l.nicring.ip}:${port}`, count, rate: 20000, minSize: 4, maxSize: 1472, lingerMs: 3000 });
      requestsSent += count;
      assert.deepEqual(result, ECHO_ALL_INTACT(count), `${JSON.stringify(result)}; peer kernel ${udpErrors(l.peer.netns)}; responder ${latestFigures(responder)}`);
    });

    it('answers iputils ping while it serves load', async () => {
      const l = lab();
      const count = 40_000;
      const load = startClient(l.peer.netns, 'echo-client', { target: `${l.nicring.ip}:${port}`, count, rate: 20000, minSize: 64, maxSize: 512, lingerMs: 3000 });
      // The client sends from its ready line on: ping once the load is flowing, done well before it ends.
      await load.agent.ready;
      await sleep(200);
      const ping = await runInAsync(l.peer.netns, ['ping', '-c', '5', '-i', '0.2', '-W', '2', l.nicring.ip]);
      const served = await load.result;
      requestsSent += count;
      assert.match(ping.stdout, /5 packets transmitted, 5 received/, ping.stdout);
      assert.doesNotMatch(ping.stdout, /wrong data|DUP!/);
      pingsAnswered += 5;
      assert.deepEqual(served, ECHO_ALL_INTACT(count), `${JSON.stringify(served)}; peer kernel ${udpErrors(l.peer.netns)}; responder ${latestFigures(responder)}`);
    });

    it('prints JSON figures that add up: requests = replies + requests dropped (exact at the end, within one batch in between)', async () => {
      const final = await responder.stop();
      const lines = responder.lines;
      assert.equal(lines[0].event, 'ready');
      assert.deepEqual(lines[lines.length - 1], final);
      assert.equal(final.event, 'final');
      const stats = lines.slice(1, -1);
      assert.ok(stats.length >= 5, `${stats.length} stats lines`);
      let previous = { requests: 0, replies: 0, seconds: 0 };
      for (const line of stats) {
        assert.equal(line.event, 'stats', JSON.stringify(line));
        const { requests, replies, requestsDropped, seconds } = line as { requests: number; replies: number; requestsDropped: number; seconds: number };
        for (const value of [requests, replies, requestsDropped, seconds, line.rx, line.tx, line.gcEvents]) assert.equal(typeof value, 'number', JSON.stringify(line));
        const inFlight = requests - replies - requestsDropped;
        assert.ok(inFlight >= 0 && inFlight <= BATCH, `requests ${requests}, replies ${replies}, dropped ${requestsDropped}`);
        assert.ok(requests >= previous.requests && replies >= previous.replies && seconds > previous.seconds, JSON.stringify(line));
        previous = { requests, replies, seconds };
      }
      // Some second saw the load at work.
      assert.ok(stats.some((line) => (line.replyPps as number) > 1000), 'a stats line with replies per second above 1000');
      assert.equal(final.requests, requestsSent);
      assert.equal(final.replies, requestsSent);
      assert.equal(final.requestsDropped, 0);
      assert.equal((final.requests as number), (final.replies as number) + (final.requestsDropped as number));
      assert.ok((final.pings as number) >= pingsAnswered, `pings ${final.pings}`);
      assert.ok((final.rx as number) >= requestsSent && (final.tx as number) >= requestsSent, `rx ${final.rx}, tx ${final.tx}`);
      assert.equal(typeof final.gcEvents, 'number');
      assert.deepEqual({ backend: final.backend, service: final.service, ports: final.ports }, { backend: 'xdp', service: 'echo', ports: [7, port] });
    });
  });

  describe('nicring respond with a handler, --user and --pcap', function () {
    it('serves a handler module: examples/timestamp-responder.js answers with the request id and the time, and not requests under 12 bytes', async () => {
      const l = lab();
      const port = 9100;
      const count = 2000;
      const responder = startResponder(l, ['--port', String(port), '--handler', TIMESTAMP_HANDLER]);
      try {
        const ready = await responder.ready;
        assert.equal(ready.service, 'timestamp-responder.js');
        const result = await runClient(l.peer.netns, 'timestamp-client', { target: `${l.nicring.ip}:${port}`, count, rate: 5000, skewLimitMs: 5000 });
        const { maxSkewMs, ...counts } = result;
        assert.deepEqual(counts, {
          sent: count, sendErrors: 0, replies: count, good: count, badLength: 0, badId: 0, duplicates: 0, badTime: 0,
          shortSent: 12, shortReplies: 0,
        }, `${JSON.stringify(result)} (max skew ${maxSkewMs} ms)`);
        const final = await responder.stop();
        assert.equal(final.requests, count + 12);
        assert.equal(final.replies, count);
        assert.equal(final.requestsDropped, 12);
        // The peer's kernel keeps IPv6 on: what it sends of its own (router solicitations, MLD) is counted apart.
        const { ethernetIpv6: _ipv6, ...drops } = final.drops as Record<string, number>;
        assert.deepEqual(drops, { handlerDeclined: 12 });
      } finally {
        responder.agent.stop('SIGKILL');
      }
    });

    it('drops root with --user nobody once the port is open, and keeps serving', async () => {
      const l = lab();
      const port = 9200;
      const nobody = userIds('nobody');
      const asNobody = { uid: [nobody.uid, nobody.uid, nobody.uid, nobody.uid], gid: [nobody.gid, nobody.gid, nobody.gid, nobody.gid] };
      const responder = startResponder(l, ['--port', String(port), '--user', 'nobody']);
      try {
        const ready = await responder.ready;
        // ip netns exec execs its command: this PID is nicring's own.
        assert.match(fs.readFileSync(`/proc/${responder.pid}/cmdline`, 'utf8'), /nicring\.ts\0respond/);
        // It was root (the test runs as root) when it attached XDP and opened the port; now it is nobody.
        assert.ok(xdpAttached(l.nicring.netns, l.nicring.ifname), 'XDP attached');
        assert.deepEqual({ uid: procIds(responder.pid, 'Uid'), gid: procIds(responder.pid, 'Gid') }, asNobody);
        assert.equal(ready.uid, nobody.uid);
        const served = await runClient(l.peer.netns, 'echo-client', { target: `${l.nicring.ip}:${port}`, count: 5000, rate: 10000, minSize: 16, maxSize: 256 });
        assert.deepEqual(served, ECHO_ALL_INTACT(5000));
        const ping = await runInAsync(l.peer.netns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', l.nicring.ip]);
        assert.match(ping.stdout, /2 packets transmitted, 2 received/, ping.stdout);
        assert.deepEqual({ uid: procIds(responder.pid, 'Uid'), gid: procIds(responder.pid, 'Gid') }, asNobody);
        const final = await responder.stop();
        assert.equal(final.uid, nobody.uid);
        assert.equal(final.replies, 5000);
      } finally {
        responder.agent.stop('SIGKILL');
      }
    });

    it('with --busy-poll it serves load, prints its figures every second and stops on SIGINT and SIGTERM while spinning', async () => {
      const l = lab();
      const port = 9250;
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        const responder = startResponder(l, ['--port', String(port), '--busy-poll']);
        try {
          await responder.ready;
          const load = startClient(l.peer.netns, 'echo-client', { target: `${l.nicring.ip}:${port}`, count: 40_000, rate: 20000, minSize: 16, maxSize: 256 });
          // A stats line once replies flow: the once-a-second timer runs while the loop spins.
          await new Promise<void>((resolve) => {
            const check = setInterval(() => {
              if (responder.lines.some((line) => line.event === 'stats' && (line.replies as number) > 0)) {
                clearInterval(check);
                resolve();
              }
            }, 50);
          });
          responder.agent.stop(signal);
          const final = await lastLine(responder.agent, new Promise((resolve) => responder.agent.child.on('close', () => resolve(responder.lines))));
          assert.equal(final.event, 'final', `stopped on ${signal} with its final figures`);
          assert.ok((final.replies as number) > 0);
          await load.result.catch(() => undefined);
        } finally {
          responder.agent.stop('SIGKILL');
        }
      }
    });

    it("writes every request and reply to --pcap FILE, which tshark reads: replies with valid checksums, requests with the peer's partial ones", async () => {
      const l = lab();
      const port = 9300;
      const count = 1000;
      const file = path.join(directory, 'respond.pcap');
      const responder = startResponder(l, ['--port', String(port), '--pcap', file]);
      try {
        await responder.ready;
        const served = await runClient(l.peer.netns, 'echo-client', { target: `${l.nicring.ip}:${port}`, count, rate: 2000, minSize: 4, maxSize: 1472 });
        assert.deepEqual(served, ECHO_ALL_INTACT(count));
        await responder.stop();
      } finally {
        responder.agent.stop('SIGKILL');
      }
      const tshark = spawnSync('tshark', [
        '-r', file, '-n', '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
        '-Y', 'udp', '-T', 'fields', '-E', 'separator=,', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.srcport', '-e', 'udp.dstport',
        '-e', 'udp.length', '-e', 'udp.checksum', '-e', 'ip.checksum.status', '-e', 'udp.checksum.status',
      ], { encoding: 'utf8', timeout: 60000 });
      assert.equal(tshark.status, 0, tshark.stderr);
      const tally: Record<string, number> = {};
      for (const row of tshark.stdout.split('\n')) {
        if (row === '') continue;
        const [source, destination, sourcePort, destinationPort, length, checksum, ipStatus, udpStatus] = row.split(',');
        const direction = source === l.nicring.ip && sourcePort === String(port) ? 'reply'
          : source === l.peer.ip && destinationPort === String(port) ? 'request' : `other ${row}`;
        // tshark's checksum status: 1 good, 0 bad, 2 unverified. The peer's kernel left its checksums to
        // offload: the field holds the pseudo-header sum, which tshark cannot tell from a bad one.
        const udp = direction === 'request' && Number(checksum) === pseudoHeaderSum(source, destination, Number(length)) ? 'partial' : udpStatus;
        const key = `${direction} ip ${ipStatus} udp ${udp}`;
        tally[key] = (tally[key] ?? 0) + 1;
      }
      assert.deepEqual(tally, { 'request ip 1 udp partial': count, 'reply ip 1 udp 1': count });
    });
  });

  describe('nicring gen', function () {
    for (const engine of ['xdp', 'live']) {
      it(`${engine} engine against a Node dgram echo server: received equals the datagrams the server answered, lost is sent minus those`, async () => {
        const l = lab();
        const port = engine === 'xdp' ? 9400 : 9401;
        // The kernel on nicring's side holds the address for this test only: the dgram server binds to it.
        execIn(l.nicring.netns, ['ip', 'addr', 'add', l.nicring.address, 'dev', l.nicring.ifname]);
        let server: ReturnType<typeof runToEnd> | null = null;
        let gen: ReturnType<typeof runToEnd> | null = null;
        try {
          server = runToEnd(l.nicring.netns, [process.execPath, DGRAM_ECHO, '--address', l.nicring.ip, '--port', String(port)]);
          await server.agent.ready;
          gen = runToEnd(l.peer.netns, [process.execPath, '--import', 'tsx', CLI, 'gen', '--iface', l.peer.ifname, '--address', l.peer.address,
            '--target', `${l.nicring.ip}:${port}`, '--engine', engine, '--rate', '20000', '--count', '40000', '--linger-ms', '1000', '--json']);
          const generated = await gen.result;
          server.agent.stop('SIGTERM');
          const answered = await server.result;
          assert.equal(generated.event, 'final', JSON.stringify(generated));
          assert.equal(generated.sent, 40000);
          assert.equal(answered.sendErrors, 0, JSON.stringify(answered));
          assert.ok((answered.sent as number) > 0, JSON.stringify(answered));
          assert.equal(generated.received, answered.sent, `gen ${JSON.stringify(generated)}, server ${JSON.stringify(answered)}`);
          assert.equal(generated.lost, (generated.sent as number) - (answered.sent as number));
          assert.equal(generated.unexpected, 0);
          // The live engine's reply counter is detached when gen ends.
          assert.equal(xdpAttached(l.peer.netns, l.peer.ifname), false);
        } finally {
          gen?.agent.stop('SIGKILL');
          server?.agent.stop('SIGKILL');
          execIn(l.nicring.netns, ['ip', 'addr', 'del', l.nicring.address, 'dev', l.nicring.ifname]);
        }
      });
    }
  });
});
