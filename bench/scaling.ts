// The scaling benchmark behind `nicring bench --queues 1,N`: the responder on
// one queue against the responder on N queues (one worker thread each, each
// pinned to its own CPU), in the same run, alternating configurations round
// by round. Each configuration has its own lab whose veth has that many
// queues. The generator drives every queue itself: one live-frames flood per
// queue, each from its own CPU, since on veth a frame sent by XDP arrives on
// the receiving queue numbered by the sending CPU (a kernel socket would
// need its flows hashed over queues instead). The replies are counted by an
// XDP program on the generator's interface.
//
// With as many CPUs as queues, the responder's workers, the floods and the
// peer's receive of the replies share every CPU: the ratio says what N
// workers get out of the machine against one, not what N cores would give.

import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { labDown, labUp, type Lab } from '../src/lab';
import { lastJson, machine, median, nicringCommand, running, startIn, type BenchReport, type Running } from './pps';

export interface ScalingOptions {
  durationS: number;
  rounds: number;
  /** UDP payload bytes. */
  size: number;
  /** Receive batch size of the responder. */
  batch: number;
  /** Requests per second offered in all, split over the floods; 0 floods flat out. */
  rate: number;
  /** Queue counts to compare; the first is the base of the ratios (normally 1). */
  queueCounts: number[];
  xdpMode: 'native' | 'generic';
  outDir: string;
  log: (line: string) => void;
}

export interface ScalingRun {
  queues: number;
  round: number;
  offeredPps: number;
  replyPps: number;
  sent: number;
  received: number;
  /** How long the flood ran. */
  sendSeconds: number;
  /** Replies each responder worker sent, by queue. */
  perQueueReplies: Record<string, number>;
  responderReplies: number;
  checks: string[];
}

export interface ScalingSummary {
  queues: number;
  replyPps: number;
  offeredPps: number;
  perQueueReplyPps: Record<string, number>;
  /** replies/s against the first configuration's. */
  ratio: number;
  runs: number;
}

export interface ScalingReport {
  startedAt: string;
  machine: BenchReport['machine'];
  options: Omit<ScalingOptions, 'log'>;
  runs: ScalingRun[];
  summary: ScalingSummary[];
  failedChecks: string[];
}

const PORT = 9000;
const RING_SIZE = 16384;

/** CPUs for `count` things, one each from CPU 0, as a taskset list. */
function cpuList(count: number): string {
  return count === 1 ? '0' : `0-${count - 1}`;
}

async function runOnce(lab: Lab, queues: number, round: number, options: ScalingOptions): Promise<ScalingRun> {
  const nicring = nicringCommand();
  const cpus = os.cpus().length;
  // One queue: the responder on CPU 0, its flood on CPU 1 (on a 1-queue veth every CPU sends to queue 0).
  // N queues: worker q and the flood for queue q both on CPU q.
  const responderCpus = queues === 1 ? '0' : cpuList(Math.min(queues, cpus));
  const floodCpus = queues === 1 ? String(Math.min(1, cpus - 1)) : cpuList(Math.min(queues, cpus));
  let responder: Running | null = null;
  try {
    responder = startIn(lab.nicring.netns, responderCpus, [...nicring, 'respond', '--iface', lab.nicring.ifname, '--address', lab.nicring.address,
      '--port', String(PORT), '--xdp-mode', options.xdpMode, '--batch', String(options.batch), '--ring-size', String(RING_SIZE),
      '--queues', 'all', '--cpus', responderCpus, '--json']);
    await Promise.race([responder.ready, new Promise((_, reject) => setTimeout(() => reject(new Error('the responder did not start in 30 s')), 30000))]);
    const generator = startIn(lab.peer.netns, queues === 1 ? floodCpus : cpuList(cpus), [...nicring, 'gen', '--iface', lab.peer.ifname,
      '--address', lab.peer.address, '--target', `${lab.nicring.ip}:${PORT}`, '--engine', 'live', '--queues', 'all', '--cpus', floodCpus,
      '--duration', String(options.durationS), '--count', String(100_000_000), '--rate', String(options.rate), '--size', String(options.size), '--json']);
    const code = await generator.exited;
    const gen = lastJson(generator.lines);
    if (code !== 0 || gen.sent === undefined) throw new Error(`generator failed (${code}): ${generator.lines.slice(-3).join(' | ')}`);
    responder.child.kill('SIGTERM');
    await responder.exited;
    const served = lastJson(responder.lines);
    const perQueueReplies: Record<string, number> = {};
    for (const q of (served.perQueue as { queue: number; replies: number }[] | undefined) ?? []) perQueueReplies[q.queue] = q.replies;
    const responderReplies = Number(served.replies ?? 0);
    const received = Number(gen.received);
    const checks: string[] = [];
    if (received > responderReplies) checks.push(`generator counted ${received} replies but the responder sent ${responderReplies}`);
    const idle = Object.entries(perQueueReplies).filter(([, replies]) => replies === 0).map(([queue]) => queue);
    if (idle.length > 0) checks.push(`queue ${idle.join(', ')} answered nothing: the load did not reach every queue`);
    const gcEvents = Number(served.gcEventsAfterWarmup ?? 0);
    if (gcEvents > 0) checks.push(`${gcEvents} GC events in the responder's workers after their warm-up (first 100,000 requests and 1 s of load)`);
    return {
      queues, round, offeredPps: Number(gen.offeredPps), replyPps: Number(gen.replyPps), sent: Number(gen.sent), received,
      sendSeconds: Number(gen.sendSeconds), perQueueReplies, responderReplies, checks,
    };
  } finally {
    if (responder !== null && responder.child.exitCode === null) {
      responder.child.kill('SIGKILL');
      await responder.exited;
    }
  }
}

/** Medians per configuration and the ratio of each to the first. */
export function summariseScaling(runs: ScalingRun[], queueCounts: number[]): ScalingSummary[] {
  const summary = queueCounts.map((queues) => {
    const mine = runs.filter((r) => r.queues === queues);
    const perQueueReplyPps: Record<string, number> = {};
    for (const queue of new Set(mine.flatMap((r) => Object.keys(r.perQueueReplies)))) {
      perQueueReplyPps[queue] = Math.round(median(mine.map((r) => (r.perQueueReplies[queue] ?? 0) / Math.max(r.sendSeconds, 1e-3))));
    }
    return {
      queues, replyPps: Math.round(median(mine.map((r) => r.replyPps))), offeredPps: Math.round(median(mine.map((r) => r.offeredPps))),
      perQueueReplyPps, ratio: 1, runs: mine.length,
    };
  });
  const base = summary[0]?.replyPps ?? 0;
  for (const entry of summary) entry.ratio = base > 0 ? +(entry.replyPps / base).toFixed(2) : 0;
  return summary;
}

/** The summary as a Markdown table. */
export function formatScalingTable(summary: ScalingSummary[]): string {
  const rows = summary.map((s) => [
    String(s.queues), `${(s.replyPps / 1e3).toFixed(0)}k`, `${(s.offeredPps / 1e6).toFixed(2)}M`,
    Object.entries(s.perQueueReplyPps).map(([queue, pps]) => `q${queue} ${(pps / 1e3).toFixed(0)}k`).join(', '), `${s.ratio}×`,
  ]);
  const header = ['queues (workers)', 'replies/s', 'offered/s', 'replies/s per queue (responder\'s count)', `vs ${summary[0]?.queues ?? 1} queue`];
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

/** Run the scaling comparison; writes scaling.json into options.outDir and returns the report. */
export async function runScaling(options: ScalingOptions): Promise<ScalingReport> {
  const labs = new Map<number, Lab>();
  const interrupted = (signal: NodeJS.Signals): void => {
    for (const child of running) child.kill('SIGKILL');
    for (const lab of labs.values()) labDown(lab.name);
    options.log(`interrupted (${signal}): labs taken down`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const startedAt = new Date().toISOString();
  const runs: ScalingRun[] = [];
  try {
    for (const queues of options.queueCounts) labs.set(queues, labUp({ name: `scale${queues}`, queues }));
    const plan = [];
    for (let round = 1; round <= options.rounds; round++) for (const queues of options.queueCounts) plan.push({ round, queues });
    for (let i = 0; i < plan.length; i++) {
      const { round, queues } = plan[i];
      const result = await runOnce(labs.get(queues) as Lab, queues, round, options);
      runs.push(result);
      options.log(`[${i + 1}/${plan.length}] ${queues} queue${queues > 1 ? 's' : ''} round ${round}: ${(result.replyPps / 1e3).toFixed(0)}k replies/s of `
        + `${(result.offeredPps / 1e3).toFixed(0)}k offered (${Object.entries(result.perQueueReplies).map(([q, n]) => `q${q} ${n}`).join(', ')})`
        + `${result.checks.length ? `  CHECK: ${result.checks.join('; ')}` : ''}`);
    }
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    for (const lab of labs.values()) labDown(lab.name);
  }
  const report: ScalingReport = {
    startedAt, machine: machine(), options: { ...options, log: undefined } as unknown as ScalingReport['options'],
    runs, summary: summariseScaling(runs, options.queueCounts),
    failedChecks: runs.flatMap((r) => r.checks.map((c) => `${r.queues} queues round ${r.round}: ${c}`)),
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(path.join(options.outDir, 'scaling.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
