// The pps harness behind `nicring bench`: brings up the lab and, for each
// configuration, offers the same load to each responder in turn (A B C D,
// A B C D, ...), pinning responder and generator to different CPUs. Results
// are medians over rounds, with ratios taken within the same run, and the
// offered load is reported next to every result.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execIn, labDown, labUp, type Lab } from '../src/lab';
import { packageRoot } from '../src/native';
import { renderBarChart } from './chart';

export type ResponderKind = 'nicring-native' | 'nicring-generic' | 'dgram' | 'mmsg';
export const RESPONDER_KINDS: ResponderKind[] = ['nicring-native', 'nicring-generic', 'dgram', 'mmsg'];

export interface BenchOptions {
  durationS: number;
  rounds: number;
  sizes: number[];
  batches: number[];
  responders: ResponderKind[];
  engine: 'live' | 'xdp';
  /** Offered load in requests per second; 0 floods. */
  rate: number;
  outDir: string;
  responderCpu: number;
  generatorCpu: number;
  /**
   * Where the peer receives the replies: 'generator', a NAPI thread on the
   * generator's CPU (as on a separate host); 'sender', veth's default, in the
   * softirq of the CPU that sent them, which is the responder's.
   */
  peerReceive: 'generator' | 'sender';
  log: (line: string) => void;
}

export interface RunResult {
  responder: ResponderKind;
  size: number;
  batch: number;
  round: number;
  offeredPps: number;
  replyPps: number;
  sent: number;
  received: number;
  lossPercent: number;
  p50Us: number | null;
  p99Us: number | null;
  /** What the responder says it answered. */
  responderReplies: number;
  /** GC events the responder saw after its first 100,000 requests (nicring only). */
  gcEvents: number | null;
  checks: string[];
}

export interface ConfigSummary {
  size: number;
  batch: number;
  responders: Record<string, { replyPps: number; offeredPps: number; lossPercent: number; p50Us: number | null; runs: number }>;
  ratios: Record<string, number>;
}

export interface BenchReport {
  startedAt: string;
  machine: { cpus: string; cores: number; kernel: string; node: string; memoryGiB: number };
  options: Omit<BenchOptions, 'log'>;
  runs: RunResult[];
  summary: ConfigSummary[];
  failedChecks: string[];
}

/** How to run the nicring CLI: the tsc build when there is one, else the sources under tsx. */
export function nicringCommand(): string[] {
  const root = packageRoot();
  const dist = path.join(root, 'dist', 'bin', 'nicring.js');
  if (existsSync(dist)) return [process.execPath, dist];
  return [process.execPath, '--import', 'tsx', path.join(root, 'bin', 'nicring.ts')];
}

/** Compile the C baseline into the cache folder when missing or stale. */
export function buildMmsgBaseline(): string {
  const source = path.join(packageRoot(), 'bench', 'baselines', 'echo-mmsg.c');
  const binary = path.join(packageRoot(), 'bench', 'baselines', 'bin', 'echo-mmsg');
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(path.dirname(binary), { recursive: true });
  const result = spawnSync('cc', ['-O2', '-Wall', '-o', binary, source], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`cannot compile ${source}: ${result.stderr || result.error?.message}`);
  return binary;
}

export interface Running {
  child: ChildProcess;
  lines: string[];
  ready: Promise<void>;
  exited: Promise<number>;
}

/** Processes the benchmark started and that still run (an interrupted run ends them). */
export const running = new Set<ChildProcess>();

/** Run `command` in `netns` on `cpus` (a CPU number or a taskset list such as "0-1"). */
export function startIn(netns: string, cpus: number | string, command: string[]): Running {
  const child = spawn('ip', ['netns', 'exec', netns, 'taskset', '-c', String(cpus), ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.on('exit', () => running.delete(child));
  const lines: string[] = [];
  let buffered = '';
  let stderr = '';
  let onReady: () => void = () => undefined;
  let onFail: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onFail = reject;
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      if (line === 'ready' || line.includes('"event":"ready"')) onReady();
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code) => {
      if (buffered.trim()) lines.push(buffered.trim());
      onFail(new Error(`${command.join(' ')} exited (${code}) before it was ready: ${stderr.trim()}`));
      resolve(code ?? 1);
    });
  });
  ready.catch(() => undefined);
  return { child, lines, ready, exited };
}

export function lastJson(lines: string[]): Record<string, unknown> {
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i].startsWith('{')) {
      try {
        return JSON.parse(lines[i]) as Record<string, unknown>;
      } catch {
        // keep looking
      }
    }
  }
  return {};
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const PORT = 9000;
/** nicring's rings in the benchmark: the deepest open() allows, as a kernel socket buffer is deep (8 MiB here). */
const NICRING_RING_SIZE = 16384;

/** Kernel threads named `napi/IFNAME-ID`, by PID. */
function napiThreads(ifname: string): Set<number> {
  const found = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith(`napi/${ifname}-`)) found.add(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Run the peer's receive work (the generator's replies) in a NAPI thread on
 * the generator's CPU. A veth otherwise receives in the softirq of the CPU
 * that sent, which would charge the generator's receive work to the
 * responder under test; between two hosts it runs on the peer host.
 */
function pinPeerReceive(lab: Lab, cpu: number): number[] {
  const before = napiThreads(lab.peer.ifname);
  execIn(lab.peer.netns, ['sh', '-c', `echo 1 > /sys/class/net/${lab.peer.ifname}/threaded`]);
  const created = [...napiThreads(lab.peer.ifname)].filter((pid) => !before.has(pid));
  if (created.length === 0) throw new Error(`no NAPI thread appeared for ${lab.peer.ifname} after enabling threaded NAPI`);
  for (const pid of created) {
    const result = spawnSync('taskset', ['-pc', String(cpu), String(pid)], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`taskset ${pid}: ${result.stderr}`);
  }
  return created;
}

/** One responder run under one load; the lab is already up. */
async function runOnce(lab: Lab, kind: ResponderKind, size: number, batch: number, round: number, options: BenchOptions, mmsg: string): Promise<RunResult> {
  const nicring = nicringCommand();
  const kernelSide = kind === 'dgram' || kind === 'mmsg';
  if (kernelSide) execIn(lab.nicring.netns, ['ip', 'addr', 'add', lab.nicring.address, 'dev', lab.nicring.ifname]);
  let responder: Running | null = null;
  try {
    const command = kind === 'dgram'
      ? [process.execPath, path.join(packageRoot(), 'bench', 'baselines', 'dgram-echo.js'), '--port', String(PORT)]
      : kind === 'mmsg'
        ? [mmsg, '--port', String(PORT), '--batch', String(Math.min(batch, 256))]
        : [...nicring, 'respond', '--iface', lab.nicring.ifname, '--address', lab.nicring.address, '--port', String(PORT),
          '--xdp-mode', kind === 'nicring-native' ? 'native' : 'generic', '--batch', String(batch), '--ring-size', String(NICRING_RING_SIZE), '--json'];
    responder = startIn(lab.nicring.netns, options.responderCpu, command);
    await Promise.race([responder.ready, new Promise((_, reject) => setTimeout(() => reject(new Error(`${kind} did not start in 20 s`)), 20000))]);
    const generator = startIn(lab.peer.netns, options.generatorCpu, [...nicring, 'gen', '--iface', lab.peer.ifname, '--address', lab.peer.address,
      '--target', `${lab.nicring.ip}:${PORT}`, '--engine', options.engine, '--duration', String(options.durationS),
      '--count', String(100_000_000), '--rate', String(options.rate), '--size', String(size), '--json']);
    const code = await generator.exited;
    const gen = lastJson(generator.lines);
    if (code !== 0 || gen.sent === undefined) throw new Error(`generator failed (${code}): ${generator.lines.slice(-3).join(' | ')}`);
    responder.child.kill('SIGTERM');
    await responder.exited;
    const served = lastJson(responder.lines);
    const sent = Number(gen.sent);
    const received = Number(gen.received);
    const responderReplies = Number(served.replies ?? served.sent ?? 0);
    const latency = gen.latency as { samples: number; p50Us: number; p99Us: number } | undefined;
    const checks: string[] = [];
    if (received > responderReplies) checks.push(`generator counted ${received} replies but the responder sent ${responderReplies}`);
    if (Number(gen.unexpected ?? 0) > 0 && options.engine === 'xdp') checks.push(`${gen.unexpected} unexpected replies`);
    const gcEvents = served.gcEventsAfterWarmup === undefined ? null : Number(served.gcEventsAfterWarmup);
    const gcAt = Array.isArray(served.gcAfterWarmupAtRequest) ? ` (at request ${(served.gcAfterWarmupAtRequest as number[]).join(', ')} of ${served.requests})` : '';
    if (gcEvents !== null && gcEvents > 0) checks.push(`${gcEvents} GC events in the responder after its first 100,000 requests${gcAt}`);
    return {
      responder: kind, size, batch, round,
      offeredPps: Number(gen.offeredPps), replyPps: Number(gen.replyPps), sent, received,
      lossPercent: sent > 0 ? +((100 * (sent - received)) / sent).toFixed(2) : 0,
      p50Us: latency && latency.samples > 0 ? latency.p50Us : null,
      p99Us: latency && latency.samples > 0 ? latency.p99Us : null,
      responderReplies, gcEvents, checks,
    };
  } finally {
    if (responder !== null && responder.child.exitCode === null) {
      responder.child.kill('SIGKILL');
      await responder.exited;
    }
    if (kernelSide) execIn(lab.nicring.netns, ['ip', 'addr', 'del', lab.nicring.address, 'dev', lab.nicring.ifname]);
  }
}

export function machine(): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    cpus: cpus[0]?.model ?? 'unknown', cores: cpus.length, kernel: os.release(), node: process.version,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

/** Summarise runs per configuration: medians and ratios against the baselines from the same run. */
export function summarise(runs: RunResult[]): ConfigSummary[] {
  const configs = new Map<string, RunResult[]>();
  for (const run of runs) {
    const key = `${run.size}/${run.batch}`;
    configs.set(key, [...(configs.get(key) ?? []), run]);
  }
  const out: ConfigSummary[] = [];
  for (const group of configs.values()) {
    const responders: ConfigSummary['responders'] = {};
    for (const kind of new Set(group.map((r) => r.responder))) {
      const mine = group.filter((r) => r.responder === kind);
      const p50s = mine.map((r) => r.p50Us).filter((v): v is number => v !== null);
      responders[kind] = {
        replyPps: Math.round(median(mine.map((r) => r.replyPps))),
        offeredPps: Math.round(median(mine.map((r) => r.offeredPps))),
        lossPercent: +median(mine.map((r) => r.lossPercent)).toFixed(2),
        p50Us: p50s.length ? median(p50s) : null,
        runs: mine.length,
      };
    }
    const ratios: Record<string, number> = {};
    for (const kind of ['nicring-native', 'nicring-generic']) {
      for (const base of ['dgram', 'mmsg']) {
        const a = responders[kind]?.replyPps;
        const b = responders[base]?.replyPps;
        if (a !== undefined && b) ratios[`${kind}/${base}`] = +(a / b).toFixed(2);
      }
    }
    out.push({ size: group[0].size, batch: group[0].batch, responders, ratios });
  }
  return out;
}

/** The summary as a Markdown table. */
export function formatTable(summary: ConfigSummary[], responders: ResponderKind[]): string {
  const header = ['payload', 'batch', ...responders.map((r) => `${r} replies/s (offered)`), 'native/dgram', 'native/mmsg'];
  const rows = summary.map((config) => [
    `${config.size} B`, String(config.batch),
    ...responders.map((r) => {
      const s = config.responders[r];
      return s ? `${(s.replyPps / 1e3).toFixed(0)}k (${(s.offeredPps / 1e6).toFixed(2)}M, loss ${s.lossPercent}%)` : '-';
    }),
    config.ratios['nicring-native/dgram'] !== undefined ? `${config.ratios['nicring-native/dgram']}×` : '-',
    config.ratios['nicring-native/mmsg'] !== undefined ? `${config.ratios['nicring-native/mmsg']}×` : '-',
  ]);
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

/** Run the whole benchmark; writes JSON and SVG into options.outDir and returns the report. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const mmsg = buildMmsgBaseline();
  const lab = labUp({ name: 'bench' });
  if (options.peerReceive === 'generator') pinPeerReceive(lab, options.generatorCpu);
  const runs: RunResult[] = [];
  const startedAt = new Date().toISOString();
  const plan: { size: number; batch: number; round: number; kind: ResponderKind }[] = [];
  for (const size of options.sizes) {
    for (const batch of options.batches) {
      for (let round = 1; round <= options.rounds; round++) {
        // The dgram server has no batch size: measure it once per payload size and round.
        for (const kind of options.responders) if (kind !== 'dgram' || batch === options.batches[0]) plan.push({ size, batch, round, kind });
      }
    }
  }
  // Ctrl-C or SIGTERM: end what the benchmark started and take the lab down before exiting.
  const interrupted = (signal: NodeJS.Signals): void => {
    for (const child of running) child.kill('SIGKILL');
    labDown(lab.name);
    options.log(`interrupted (${signal}): lab ${lab.name} taken down`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    for (let i = 0; i < plan.length; i++) {
      const { size, batch, round, kind } = plan[i];
      const result = await runOnce(lab, kind, size, batch, round, options, mmsg);
      runs.push(result);
      options.log(`[${i + 1}/${plan.length}] ${kind.padEnd(15)} payload ${String(size).padStart(4)} batch ${String(batch).padStart(3)} round ${round}: `
        + `${(result.replyPps / 1e3).toFixed(0)}k replies/s of ${(result.offeredPps / 1e3).toFixed(0)}k offered, loss ${result.lossPercent}%`
        + `${result.checks.length ? `  CHECK: ${result.checks.join('; ')}` : ''}`);
    }
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    labDown(lab.name);
  }
  // dgram was measured once per size; compare against it at every batch size of that size.
  const dgramCopies = runs.filter((r) => r.responder === 'dgram').flatMap((run) => options.batches.slice(1).map((batch) => ({ ...run, batch })));
  const summary = summarise([...runs, ...dgramCopies]);
  const report: BenchReport = {
    startedAt, machine: machine(), options: { ...options, log: undefined } as unknown as BenchReport['options'],
    runs, summary, failedChecks: runs.flatMap((r) => r.checks.map((c) => `${r.responder} ${r.size}/${r.batch} round ${r.round}: ${c}`)),
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(path.join(options.outDir, 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);
  const chart = renderBarChart(`UDP echo replies/s, ${options.engine === 'live' ? 'live-frames flood' : 'AF_XDP generator'} (median of ${options.rounds})`,
    'replies per second', options.responders,
    summary.map((c) => ({ label: `${c.size}B b${c.batch}`, values: Object.fromEntries(Object.entries(c.responders).map(([k, v]) => [k, v.replyPps])) })));
  writeFileSync(path.join(options.outDir, 'bench.svg'), chart);
  return report;
}
