// Memory under a fragment flood: `nicring respond` (the command line, with
// its heap settings) takes 200,000 first fragments of datagrams that never
// complete, from spoofed sources, twice in a row, sent as raw frames from the
// peer namespace. Reassembly holds at most 16 datagrams (about 1.1 MiB of
// buffers) and allocates nothing per fragment, so the resident size stays
// within a few MiB of where it started, during the floods and after the
// reassembly timeout (3 s here, --reassembly-timeout), and reassembly keeps
// working for the peer's real pings.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IPV4_MAX_PAYLOAD_LEN } from '../../src/iface/reassembly';
import { IPV4_MAX_HEADER_LEN } from '../../src/wire/ipv4';
import { labName, startInNetns, useLab } from './harness';
import { latestFigures, runToEnd, startResponder, type Json, type RunningResponder } from './respond-harness';

const RAW_FRAMES = path.join(__dirname, 'raw-frames.py');
const MiB = 1024 * 1024;
/** Fragments per flood, as fast as the sender manages up to 100,000 a second, 30 s at most. */
const FLOOD_FRAGMENTS = 200_000;
/** Growth of the resident size allowed at the peak of a flood, and after the floods once reassembly timed out. */
const PEAK_GROWTH_BOUND = 16 * MiB;
const SETTLED_GROWTH_BOUND = 8 * MiB;
const REASSEMBLY_TIMEOUT_S = 3;
/** One reassembly slot: the longest header, the largest payload, and a flag per 8-byte block. */
const REASSEMBLY_SLOT_BYTES = IPV4_MAX_HEADER_LEN + IPV4_MAX_PAYLOAD_LEN + Math.ceil(IPV4_MAX_PAYLOAD_LEN / 8);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident bytes of process `pid` (VmRSS). */
function residentBytes(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((text) => text.startsWith('VmRSS:'));
  if (line === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(line.split(/\s+/)[1]) * 1024;
}

/** iputils ping from the peer: how many of `count` came back, and its output. */
function ping(netns: string, address: string, size: number, count: number): { received: number; output: string } {
  const result = spawnSync('ip', ['netns', 'exec', netns, 'ping', '-c', String(count), '-i', '0.2', '-W', '2', '-s', String(size), address], { encoding: 'utf8', timeout: 30000 });
  const match = /(\d+) received/.exec(result.stdout ?? '');
  return { received: match === null ? 0 : Number(match[1]), output: `${result.stdout}${result.stderr}` };
}

/** The responder's next JSON figures line (it prints one a second). */
async function nextFigures(responder: RunningResponder): Promise<Json> {
  const seen = responder.lines.length;
  for (let waited = 0; waited < 5000 && responder.lines.length === seen; waited += 50) await sleep(50);
  return responder.lines[responder.lines.length - 1];
}

describe('fragment floods against nicring respond over AF_XDP on veth: memory bounded and given back', function () {
  this.timeout(240000);
  const { lab } = useLab({ name: labName('f'), staticNeighbor: false });
  let responder: RunningResponder;

  before(async function () {
    this.timeout(60000);
    if (spawnSync('which', ['python3']).status !== 0) throw new Error('python3 is not installed');
    responder = startResponder(lab(), ['--port', '9000', '--reassembly-timeout', String(REASSEMBLY_TIMEOUT_S)]);
    await responder.ready;
  });

  after(async function () {
    this.timeout(30000);
    await responder?.stop();
  });

  it(`holds the resident size within ${PEAK_GROWTH_BOUND / MiB} MiB through two floods of ${FLOOD_FRAGMENTS} spoofed first fragments, and within ${SETTLED_GROWTH_BOUND / MiB} MiB of the start once reassembly timed out`, async () => {
    const l = lab();
    // Warm up what the floods will exercise (reassembly, fragmented replies) before the baseline.
    assert.equal(ping(l.peer.netns, l.nicring.ip, 4000, 3).received, 3);
    await sleep((REASSEMBLY_TIMEOUT_S + 2) * 1000);
    const baseline = residentBytes(responder.pid);
    let peak = baseline;
    const floods: Json[] = [];
    const duringFloods: number[] = [];
    for (let round = 0; round < 2; round++) {
      const flood = runToEnd(l.peer.netns, ['python3', RAW_FRAMES, 'fragments', '--iface', l.peer.ifname,
        '--dst-mac', l.nicring.mac, '--src-mac', l.peer.mac, '--dst-ip', l.nicring.ip,
        '--count', String(FLOOD_FRAGMENTS), '--rate', '100000', '--duration', '30', '--seed', String(round + 1)]);
      const sampler = setInterval(() => {
        if (responder.agent.child.exitCode === null) peak = Math.max(peak, residentBytes(responder.pid));
      }, 100);
      // Reassembly keeps answering real fragmented pings while the slots are flooded.
      const during = startInNetns(l.peer.netns, ['ping', '-c', '5', '-i', '0.2', '-W', '2', '-s', '4000', l.nicring.ip]);
      const duringEnded = new Promise((resolve) => during.child.once('close', resolve));
      let duringOutput = '';
      during.child.stdout?.on('data', (chunk: Buffer) => { duringOutput += chunk.toString(); });
      try {
        floods.push(await flood.result);
        await duringEnded;
      } finally {
        clearInterval(sampler);
        during.stop('SIGKILL');
      }
      duringFloods.push(Number(/(\d+) received/.exec(duringOutput)?.[1] ?? 0));
      peak = Math.max(peak, residentBytes(responder.pid));
    }
    const figures = await nextFigures(responder);
    const caches = figures.caches as Record<string, number>;
    const stack = figures.stack as Record<string, number>;
    const sent = floods.reduce((sum, flood) => sum + (flood.sent as number), 0);
    const context = JSON.stringify({ floods, duringFloods, baselineMiB: baseline / MiB, peakMiB: peak / MiB, caches, figures: latestFigures(responder) });
    assert.equal(sent, 2 * FLOOD_FRAGMENTS, context);
    assert.ok(caches.reassemblyDatagrams <= 16, context);
    assert.ok(caches.reassemblyBufferBytes <= 16 * REASSEMBLY_SLOT_BYTES, context);
    assert.ok(stack.ipv4FragmentsReceived >= 0.99 * sent, `the floods reached the stack: ${stack.ipv4FragmentsReceived} ${context}`);
    assert.deepEqual(figures.unaccounted, { frames: 0, datagrams: 0, icmp: 0, tcp: 0 }, context);
    assert.ok(peak - baseline <= PEAK_GROWTH_BOUND, `peak growth ${((peak - baseline) / MiB).toFixed(1)} MiB ${context}`);

    // Past the reassembly timeout every slot has gone; the resident size is back near the start.
    await sleep((REASSEMBLY_TIMEOUT_S + 3) * 1000);
    const settledFigures = await nextFigures(responder);
    assert.equal((settledFigures.caches as Record<string, number>).reassemblyDatagrams, 0, context);
    const settled = residentBytes(responder.pid);
    assert.ok(settled - baseline <= SETTLED_GROWTH_BOUND, `settled growth ${((settled - baseline) / MiB).toFixed(1)} MiB ${context}`);
    assert.ok(duringFloods.every((received) => received >= 1), `pings answered during the floods: ${duringFloods} ${context}`);
    const afterwards = ping(l.peer.netns, l.nicring.ip, 4000, 3);
    assert.equal(afterwards.received, 3, afterwards.output);
  });
});
