// nicring respond on every queue of a multi-queue veth, one worker thread
// per queue, as a user runs it: kernel clients in the peer namespace whose
// flows the peer's kernel spreads over its transmit queues (on veth, the
// queue a frame leaves on is the queue it arrives on), raw frames sent from
// each of the peer's queues, queues left to the kernel, a worker that fails,
// a process that is killed, and workers that send rather than reply.

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { execIn, type Lab } from '../../src/lab';
import { labName, startInNetns, useLab, xdpAttached, type Agent } from './harness';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'nicring.ts');
const QUEUES_AGENT = path.join(__dirname, 'queues-agent.ts');
const FAULT_HANDLER = path.join(ROOT, 'test', 'fixtures', 'handlers', 'fault-on-queue.js');

type Json = Record<string, any>;

/** Every JSON line an agent prints, and a promise of all of them once its output ended. */
function jsonLines(agent: Agent): { lines: Json[]; closed: Promise<Json[]> } {
  const lines: Json[] = [];
  let pending = '';
  agent.child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const text of complete) if (text.startsWith('{')) lines.push(JSON.parse(text) as Json);
  });
  return { lines, closed: new Promise((resolve) => agent.child.on('close', () => resolve(lines))) };
}

interface Responder {
  agent: Agent;
  lines: Json[];
  ready: Promise<Json>;
  closed: Promise<Json[]>;
  stderr: () => string;
  /** The latest stats line that came after `afterSeconds`. */
  statsAfter(afterSeconds: number): Promise<Json>;
  stop(): Promise<Json>;
}

function startResponder(l: Lab, args: string[], env: string[] = []): Responder {
  const agent = startInNetns(l.nicring.netns, ['env', ...env, process.execPath, '--import', 'tsx', CLI, 'respond', '--json',
    '--iface', l.nicring.ifname, '--address', l.nicring.address, ...args]);
  let stderr = '';
  agent.child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const output = jsonLines(agent);
  const ready = new Promise<Json>((resolve, reject) => {
    const timer = setInterval(() => {
      const line = output.lines.find((l) => l.event === 'ready');
      if (line !== undefined) {
        clearInterval(timer);
        resolve(line);
      } else if (agent.child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`nicring respond exited before it was ready: ${stderr}`));
      }
    }, 20);
  });
  ready.catch(() => undefined);
  return {
    agent, lines: output.lines, ready, closed: output.closed, stderr: () => stderr,
    async statsAfter(afterSeconds: number) {
      for (;;) {
        const line = [...output.lines].reverse().find((l) => l.event === 'stats');
        if (line !== undefined && line.seconds > afterSeconds) return line;
        await sleep(100);
      }
    },
    async stop() {
      agent.stop('SIGTERM');
      const lines = await output.closed;
      return lines[lines.length - 1];
    },
  };
}

function queuesAgent(netns: string, job: string, args: Record<string, string | number>): Agent {
  return startInNetns(netns, [process.execPath, '--import', 'tsx', QUEUES_AGENT, job, ...Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)])]);
}

function runIn(netns: string, args: string[]): Promise<{ stdout: string; status: number | null }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', netns, ...args], { encoding: 'utf8', timeout: 60000 }, (error, stdout, stderr) => {
      resolve({ stdout: stdout + stderr, status: error === null ? 0 : typeof error.code === 'number' ? error.code : null });
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function untilDetached(l: Lab): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (!xdpAttached(l.nicring.netns, l.nicring.ifname)) return true;
    await sleep(100);
  }
  return false;
}

/** An IPv4 counter of a namespace's kernel (nstat's names, e.g. IpInAddrErrors). */
function kernelCounter(netns: string, name: string): number {
  const match = new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(execIn(netns, ['nstat', '-az', name]));
  return match === null ? 0 : Number(match[1]);
}

for (const queueCount of [2, 4]) {
  describe(`nicring respond on every queue of a ${queueCount}-queue veth`, function () {
    this.timeout(180000);
    const { lab } = useLab({ name: labName(`rq${queueCount}`), queues: queueCount, staticNeighbor: false });
    let responder: Responder;

    before(async function () {
      this.timeout(60000);
      // No --queues: every queue the interface has is the default.
      responder = startResponder(lab(), ['--port', '9000']);
      const ready = await responder.ready;
      assert.deepEqual(ready.queues, Array.from({ length: queueCount }, (_, i) => i));
    });

    after(() => responder?.agent.stop('SIGKILL'));

    it('answers a kernel client\'s datagrams from many source ports byte-exact, and every queue takes a share', async () => {
      const l = lab();
      // The peer's kernel picks a transmit queue per socket by hashing its flow: enough sockets reach every queue.
      let perQueue: Json[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const flows = await queuesAgent(l.peer.netns, 'echo-flows', { target: `${l.nicring.ip}:9000`, flows: 32, count: 100, rate: 4000 }).result;
        assert.deepEqual({ intact: flows.intact, corrupt: flows.corrupt, duplicates: flows.duplicates }, { intact: 3200, corrupt: 0, duplicates: 0 }, JSON.stringify(flows));
        const stats = await responder.statsAfter((await responder.statsAfter(0)).seconds);
        perQueue = stats.perQueue as Json[];
        if (perQueue.every((q) => q.requests > 0)) break;
      }
      assert.deepEqual(perQueue.map((q) => q.queue), Array.from({ length: queueCount }, (_, i) => i));
      for (const q of perQueue) assert.ok(q.requests > 0 && q.replies === q.requests, `queue ${q.queue}: ${JSON.stringify(q)}`);
    });

    it('answers ARP and ping on every queue (raw frames sent from each of the peer\'s queues)', async () => {
      const l = lab();
      const probe = await queuesAgent(l.peer.netns, 'probe', {
        iface: l.peer.ifname, queues: Array.from({ length: queueCount }, (_, i) => i).join(','),
        peerMac: l.peer.mac, peer: l.peer.ip, targetMac: l.nicring.mac, target: l.nicring.ip,
      }).result;
      for (const r of probe.results as Json[]) assert.deepEqual({ queue: r.queue, arpReply: r.arpReply, echoReply: r.echoReply }, { queue: r.queue, arpReply: true, echoReply: true });
      const stats = await responder.statsAfter((await responder.statsAfter(0)).seconds);
      for (const q of stats.perQueue as Json[]) assert.ok(q.pings > 0 && q.arpReplies > 0, `queue ${q.queue}: ${JSON.stringify(q)}`);
    });

    it('answers iputils ping from several source addresses of the peer', async () => {
      const l = lab();
      const [a, b, c] = l.peer.ip.split('.');
      const sources = Array.from({ length: 8 }, (_, i) => `${a}.${b}.${c}.${20 + i}`);
      for (const source of sources) execIn(l.peer.netns, ['ip', 'addr', 'add', `${source}/24`, 'dev', l.peer.ifname]);
      try {
        for (const source of sources) {
          const ping = await runIn(l.peer.netns, ['ping', '-c', '2', '-i', '0.2', '-W', '2', '-I', source, l.nicring.ip]);
          assert.match(ping.stdout, /2 packets transmitted, 2 received/, `from ${source}: ${ping.stdout}`);
        }
      } finally {
        for (const source of sources) execIn(l.peer.netns, ['ip', 'addr', 'del', `${source}/24`, 'dev', l.peer.ifname]);
      }
    });

    if (queueCount === 2) {
      it('takes a live-frames flood on every queue, each flood from its own CPU', async () => {
        const l = lab();
        const before = (await responder.statsAfter(0)).perQueue as Json[];
        const gen = jsonLines(startInNetns(l.peer.netns, [process.execPath, '--import', 'tsx', CLI, 'gen', '--json', '--iface', l.peer.ifname,
          '--address', l.peer.address, '--target', `${l.nicring.ip}:9000`, '--engine', 'live', '--queues', 'all', '--count', '20000', '--rate', '20000']));
        const report = (await gen.closed).pop() as Json;
        assert.equal(report.sent, 20000, JSON.stringify(report));
        const after = (await responder.statsAfter((await responder.statsAfter(0)).seconds)).perQueue as Json[];
        const gained = after.map((q, i) => q.replies - before[i].replies);
        assert.ok(gained.every((n) => n >= 5000), `replies per queue during the flood: ${gained.join(', ')}`);
        assert.ok(report.received <= gained.reduce((a, b) => a + b, 0));
      });
    }

    it('sums the workers in its figures, and on SIGTERM closes every port and prints the totals', async () => {
      const l = lab();
      const final = await responder.stop();
      assert.equal(final.event, 'final');
      const perQueue = final.perQueue as Json[];
      assert.equal(perQueue.length, queueCount);
      for (const field of ['requests', 'replies', 'rx', 'tx', 'pings'] as const) {
        assert.equal(final[field], perQueue.reduce((sum, q) => sum + q[field], 0), `${field} is the sum over the queues`);
      }
      assert.equal(final.requests, final.replies + final.requestsDropped);
      assert.equal(responder.agent.child.exitCode, 0);
      assert.equal(await untilDetached(l), true, 'no XDP program left');
    });
  });
}

describe('nicring respond on some queues, and when it fails', function () {
  this.timeout(180000);
  const { lab } = useLab({ name: labName('rqs'), queues: 4, staticNeighbor: false });

  it('--queues 0,2 serves those queues only; frames on the others go to the kernel', async () => {
    const l = lab();
    const responder = startResponder(l, ['--port', '9000', '--queues', '0,2']);
    try {
      assert.deepEqual((await responder.ready).queues, [0, 2]);
      const kernelBefore = kernelCounter(l.nicring.netns, 'IpInReceives');
      // The generator sends from each of the peer's four queues; on veth each arrives on nicring's queue of the same number.
      // Its workers on queues 1 and 3 get no ARP answer there, and send with the neighbour their other workers learned.
      const gen = jsonLines(startInNetns(l.peer.netns, [process.execPath, '--import', 'tsx', CLI, 'gen', '--json', '--iface', l.peer.ifname,
        '--address', l.peer.address, '--target', `${l.nicring.ip}:9000`, '--queues', 'all', '--count', '4000', '--rate', '4000']));
      const report = (await gen.closed).pop() as Json;
      assert.equal(report.event, 'final', JSON.stringify(report));
      const byQueue = Object.fromEntries((report.perQueue as Json[]).map((q) => [q.queue, q]));
      assert.deepEqual([0, 1, 2, 3].map((q) => byQueue[q].sent), [1000, 1000, 1000, 1000]);
      assert.deepEqual([0, 1, 2, 3].map((q) => byQueue[q].received), [1000, 0, 1000, 0]);
      const final = await responder.stop();
      assert.deepEqual((final.perQueue as Json[]).map((q) => [q.queue, q.requests, q.replies]), [[0, 1000, 1000], [2, 1000, 1000]]);
      // The kernel on nicring's side holds no address: it counts them and drops them.
      assert.ok(kernelCounter(l.nicring.netns, 'IpInReceives') - kernelBefore >= 2000, 'the kernel received the other queues\' datagrams');
      assert.equal(await untilDetached(l), true);
    } finally {
      responder.agent.stop('SIGKILL');
    }
  });

  it('in generic mode a frame from the peer\'s queue q arrives on queue q - 1 (queue 0 for 0 and 1), so the last queue gets none', async () => {
    const l = lab();
    const responder = startResponder(l, ['--port', '9000', '--xdp-mode', 'generic']);
    try {
      assert.equal((await responder.ready).mode, 'generic/copy');
      const gen = jsonLines(startInNetns(l.peer.netns, [process.execPath, '--import', 'tsx', CLI, 'gen', '--json', '--iface', l.peer.ifname,
        '--address', l.peer.address, '--target', `${l.nicring.ip}:9000`, '--queues', 'all', '--count', '400', '--rate', '2000']));
      const report = (await gen.closed).pop() as Json;
      assert.deepEqual((report.perQueue as Json[]).map((q) => q.sent), [100, 100, 100, 100]);
      const final = await responder.stop();
      assert.deepEqual((final.perQueue as Json[]).map((q) => q.requests), [200, 100, 100, 0]);
    } finally {
      responder.agent.stop('SIGKILL');
    }
  });

  it('a worker that throws ends the service: every port closed, the error printed, a non-zero exit', async () => {
    const l = lab();
    const responder = startResponder(l, ['--port', '9000', '--handler', FAULT_HANDLER], ['NICRING_TEST_FAULT_QUEUE=2', 'NICRING_TEST_FAULT_AFTER_MS=1000']);
    await responder.ready;
    assert.equal(xdpAttached(l.nicring.netns, l.nicring.ifname), true);
    await responder.closed;
    assert.equal(responder.agent.child.exitCode, 1);
    assert.match(responder.stderr(), /^nicring: the worker for queue 2 failed, every port is closed: injected fault on queue 2$/m);
    assert.equal(await untilDetached(l), true, 'no XDP program left');
  });

  it('SIGKILL of the whole process leaves no XDP program attached', async () => {
    const l = lab();
    const responder = startResponder(l, ['--port', '9000']);
    await responder.ready;
    assert.equal(xdpAttached(l.nicring.netns, l.nicring.ifname), true);
    responder.agent.stop('SIGKILL');
    await responder.closed;
    assert.equal(await untilDetached(l), true, 'detached after SIGKILL');
  });

  it('lets every worker send to the peer, though the peer\'s ARP reply reaches one queue only', async () => {
    const l = lab();
    const collector = queuesAgent(l.peer.netns, 'collect', { port: 7100, bind: l.peer.ip });
    await collector.ready;
    const sender = queuesAgent(l.nicring.netns, 'serve-send', { iface: l.nicring.ifname, address: l.nicring.address, target: l.peer.ip, port: 7100, count: 5 });
    await sender.ready;
    await sleep(3000);
    sender.stop();
    const served = await sender.result;
    collector.stop();
    const { received } = await collector.result as { received: string[] };
    for (let queue = 0; queue < 4; queue++) {
      const mine = received.filter((text) => text.startsWith(`queue ${queue} #`));
      assert.equal(mine.length, 5, `queue ${queue}'s datagrams reached the peer: ${JSON.stringify(served)}`);
    }
    const queues = served.queues as Json[];
    // The peer's kernel hashes its ARP replies (no ports) to one transmit queue: the other workers never hear one.
    const deaf = queues.filter((q) => q.arpRepliesReceived === 0);
    assert.ok(deaf.length > 0, `the peer's ARP replies reached every queue: ${JSON.stringify(queues)}`);
    for (const q of deaf) assert.ok(q.adopted > 0, `queue ${q.queue} learned the peer from another worker: ${JSON.stringify(queues)}`);
  });
});
