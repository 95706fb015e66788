// The pps harness behind `nicring bench`: brings up the lab and, for each
// configuration, offers the same load to each responder in turn (A B C D,
// A B C D, ...), pinning responder and generator to different CPUs. Results
// are medians over rounds, with ratios taken within the same run, and the
// offered load is reported next to every result, with the CPU time the
// responder process spent per reply.
//
// The responders: nicring (native or generic XDP, waiting on its fd or
// busy-polling), the C AF_XDP echo in bench/baselines/xsk-echo.c (the
// yardstick on the same kernel path), the C recvmmsg/sendmmsg server and
// Node's dgram on kernel sockets; optionally nicring from another checkout
// (to measure a change) and another C AF_XDP echo built from a file given.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execIn, labDown, labUp, type Lab } from '../src/lab';
import { packageRoot } from '../src/native';
import { renderBarChart } from './chart';

/** The responders every run can have; `compare-*` need a compare tree, `reference-*` a reference file. */
export const RESPONDER_KINDS = [
  'nicring-native', 'nicring-native-busy', 'nicring-generic', 'nicring-generic-busy', 'xsk-native', 'xsk-generic', 'mmsg', 'dgram',
  'compare-native', 'compare-native-busy', 'compare-generic', 'compare-generic-busy', 'reference-native', 'reference-generic',
] as const;
export type ResponderKind = typeof RESPONDER_KINDS[number];
/** What `nicring bench` runs unless told otherwise. */
export const DEFAULT_RESPONDERS: ResponderKind[] = [
  'nicring-native', 'nicring-native-busy', 'nicring-generic', 'nicring-generic-busy', 'xsk-native', 'xsk-generic', 'mmsg', 'dgram',
];

/** What a responder kind is: who answers, in which XDP mode, busy-polling or not. */
export interface ResponderSpec {
  family: 'nicring' | 'compare' | 'xsk' | 'reference' | 'mmsg' | 'dgram';
  mode: 'native' | 'generic' | null;
  busyPoll: boolean;
}

export function responderSpec(kind: ResponderKind): ResponderSpec {
  const [family, mode, busy] = kind.split('-') as [ResponderSpec['family'], string | undefined, string | undefined];
  return { family, mode: mode === 'native' || mode === 'generic' ? mode : null, busyPoll: busy === 'busy' };
}

/** The C AF_XDP echo the nicring responder of `kind` is held against (same XDP mode), or null. */
export function yardstickOf(kind: ResponderKind): ResponderKind | null {
  const spec = responderSpec(kind);
  if (spec.mode === null || spec.family === 'xsk') return null;
  return `xsk-${spec.mode}` as ResponderKind;
}

/**
 * The C AF_XDP echo's settings in every run, its best on this path (see the
 * README): busy-spinning, rings as deep as nicring's, the copy-mode TX
 * budget raised to the ring so that one sendto sends everything queued,
 * need_wakeup on. The batch is the run's.
 */
export const XSK_ECHO_FLAGS = ['--ring-size', '4096', '--tx-budget', '4096', '--need-wakeup'];

export interface BenchOptions {
  durationS: number;
  rounds: number;
  sizes: number[];
  batches: number[];
  responders: ResponderKind[];
  /** live: the in-kernel live-frames flood; xdp: nicring's AF_XDP generator; socket: kernel UDP sockets (partial checksums on veth). */
  engine: 'live' | 'xdp' | 'socket';
  /** Offered load in requests per second; 0 floods. */
  rate: number;
  /** UDP ports every responder binds (the load goes to the first). */
  ports: number;
  /** Seconds each nicring and C AF_XDP responder is measured idle, once per run (0: not measured). */
  idleSeconds: number;
  /** Another checkout of nicring (built) whose responder runs as the compare-* kinds. */
  compareTree?: string;
  /** A C AF_XDP echo source (xsk-probe's command line) run as the reference-* kinds, and its flags. */
  reference?: { file: string; flags: string[] };
  /** Extra flags for the C AF_XDP echo (after XSK_ECHO_FLAGS). */
  xskFlags: string[];
  /** nicring's ring size. */
  ringSize: number;
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
  /** CPU time (user + system, every thread) the responder process spent from the generator's start to its exit. */
  responderCpuMs: number;
  /** responderCpuMs per reply the responder sent, in ns (softirq work on other CPUs is not in it). */
  cpuNsPerReply: number | null;
  /** GC events the responder saw after its warm-up: its first 100,000 requests and 1 s of load (nicring only). */
  gcEvents: number | null;
  checks: string[];
}

export interface ResponderSummary {
  replyPps: number;
  offeredPps: number;
  lossPercent: number;
  p50Us: number | null;
  cpuNsPerReply: number | null;
  /** Replies/s of each round, in order. */
  rounds: number[];
  runs: number;
}

export interface ConfigSummary {
  size: number;
  batch: number;
  responders: Record<string, ResponderSummary>;
  /** `A/B`: medians of A over B's. */
  ratios: Record<string, number>;
  /** `A/B`: the ratio of each round (A's run against B's in the same round). */
  roundRatios: Record<string, number[]>;
}

export interface IdleResult {
  responder: ResponderKind;
  seconds: number;
  cpuPercent: number;
}

export interface BenchReport {
  startedAt: string;
  machine: { cpus: string; cores: number; kernel: string; node: string; memoryGiB: number; loadAverage: number[] };
  options: Omit<BenchOptions, 'log'>;
  runs: RunResult[];
  idle: IdleResult[];
  summary: ConfigSummary[];
  failedChecks: string[];
}

/** How to run the nicring CLI of the checkout at `root`: its tsc build when there is one, else its sources under tsx. */
export function nicringCommand(root = packageRoot()): string[] {
  const dist = path.join(root, 'dist', 'bin', 'nicring.js');
  if (existsSync(dist)) return [process.execPath, dist];
  return [process.execPath, '--import', 'tsx', path.join(root, 'bin', 'nicring.ts')];
}

/** Compile a C program into `bench/baselines/bin/NAME` when missing or stale; returns the binary. */
export function buildCProgram(source: string, name: string): string {
  const binary = path.join(packageRoot(), 'bench', 'baselines', 'bin', name);
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(path.dirname(binary), { recursive: true });
  const result = spawnSync('gcc', ['-O2', '-Wall', '-o', binary, source], { encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(`cannot build ${path.relative(packageRoot(), source)}: gcc is not installed (Debian: apt-get install gcc)`);
  }
  if (result.status !== 0) throw new Error(`cannot compile ${source}: ${result.stderr || result.error?.message}`);
  return binary;
}

/** The C recvmmsg/sendmmsg server, compiled. */
export function buildMmsgBaseline(): string {
  return buildCProgram(path.join(packageRoot(), 'bench', 'baselines', 'echo-mmsg.c'), 'echo-mmsg');
}

/** The C AF_XDP echo, compiled. */
export function buildXskEcho(): string {
  return buildCProgram(path.join(packageRoot(), 'bench', 'baselines', 'xsk-echo.c'), 'xsk-echo');
}

/** The kernel-socket load (`nicring gen --engine socket`), compiled. */
export function buildSocketFlood(): string {
  return buildCProgram(path.join(packageRoot(), 'bench', 'load', 'socket-flood.c'), 'socket-flood');
}

export interface Running {
  child: ChildProcess;
  lines: string[];
  /** Everything the process wrote to stderr so far. */
  stderr: () => string;
  ready: Promise<void>;
  exited: Promise<number>;
}

/** Processes the benchmark started and that still run (an interrupted run ends them). */
export const running = new Set<ChildProcess>();

/**
 * Run `command` in `netns` on `cpus` (a CPU number or a taskset list such as
 * "0-1"). `ip netns exec` and `taskset` exec the command, so the child's PID
 * is the command's. Ready when a stdout line says "ready" (or is a ready
 * event), or when `readyOnStderr` matches what it wrote to stderr.
 */
export function startIn(netns: string, cpus: number | string, command: string[], readyOnStderr?: RegExp): Running {
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
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (readyOnStderr !== undefined && readyOnStderr.test(stderr)) onReady();
  });
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code) => {
      if (buffered.trim()) lines.push(buffered.trim());
      onFail(new Error(`${command.join(' ')} exited (${code}) before it was ready: ${stderr.trim()}`));
      resolve(code ?? 1);
    });
  });
  ready.catch(() => undefined);
  return { child, lines, stderr: () => stderr, ready, exited };
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

/**
 * CPU time in ms a process has spent, user and system, all its threads
 * together: the sum of each live thread's run time from schedstat (ns),
 * which unlike /proc/PID/stat is not rounded to clock ticks.
 */
export function processCpuMs(pid: number): number {
  let ns = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return NaN;
  }
  for (const task of tasks) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e6;
}

const PORT = 9000;

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
 * responder under test; between two hosts it runs on the peer host. Only
 * the generator's side changes: its receive of the replies, not what it
 * sends.
 */
function pinPeerReceive(lab: Lab, cpu: number): number[] {
  const before = napiThreads(lab.peer.ifname);
  // A veth has NAPI only with GRO on or an XDP program attached, and the lab's peer keeps GRO off as its kernel does.
  execIn(lab.peer.netns, ['ethtool', '-K', lab.peer.ifname, 'gro', 'on']);
  execIn(lab.peer.netns, ['sh', '-c', `echo 1 > /sys/class/net/${lab.peer.ifname}/threaded`]);
  const created = [...napiThreads(lab.peer.ifname)].filter((pid) => !before.has(pid));
  if (created.length === 0) throw new Error(`no NAPI thread appeared for ${lab.peer.ifname} after enabling threaded NAPI`);
  for (const pid of created) {
    const result = spawnSync('taskset', ['-pc', String(cpu), String(pid)], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`taskset ${pid}: ${result.stderr}`);
  }
  return created;
}

/** The C programs a run needs, compiled once. */
interface Binaries {
  mmsg: string;
  xsk: string;
  reference: string | null;
}

/** The ports every responder binds: PORT and the ones after it. */
function boundPorts(count: number): number[] {
  return Array.from({ length: count }, (_, i) => PORT + i);
}

/** The command that starts responder `kind`, and how to tell it is ready when it says so on stderr only. */
function responderCommand(kind: ResponderKind, lab: Lab, batch: number, options: BenchOptions, binaries: Binaries): { command: string[]; readyOnStderr?: RegExp } {
  const spec = responderSpec(kind);
  const ports = boundPorts(options.ports);
  switch (spec.family) {
    case 'dgram':
      return { command: [process.execPath, path.join(packageRoot(), 'bench', 'baselines', 'dgram-echo.js'), '--port', String(PORT)] };
    case 'mmsg':
      return { command: [binaries.mmsg, '--port', String(PORT), '--batch', String(Math.min(batch, 256))] };
    case 'xsk':
      return {
        command: [binaries.xsk, '--iface', lab.nicring.ifname, '--mode', spec.mode as string, '--address', lab.nicring.ip, '--port', String(PORT),
          '--batch', String(batch), ...XSK_ECHO_FLAGS, ...options.xskFlags],
      };
    case 'reference':
      // Its echo loop starts right after it says the socket is bound and the map holds it.
      return {
        command: [binaries.reference as string, 'echo', '-i', lab.nicring.ifname, '-m', spec.mode === 'native' ? 'drv' : 'skb', '-d', '3600', '-b', String(batch),
          ...(options.reference?.flags ?? [])],
        readyOnStderr: /bind\(AF_XDP[^\n]*\) OK/,
      };
    case 'nicring':
    case 'compare': {
      const root = spec.family === 'compare' ? options.compareTree as string : packageRoot();
      return {
        command: [...nicringCommand(root), 'respond', '--iface', lab.nicring.ifname, '--address', lab.nicring.address, '--port', ports.join(','),
          '--xdp-mode', spec.mode as string, '--batch', String(batch), '--ring-size', String(options.ringSize), '--json',
          ...(spec.busyPoll ? ['--busy-poll'] : [])],
      };
    }
  }
}

/** The replies a responder says it sent, from its last JSON line (or the reference's SNAP line on stderr). */
function responderReplies(kind: ResponderKind, responder: Running): number {
  if (responderSpec(kind).family === 'reference') {
    const snaps = [...responder.stderr().matchAll(/SNAP rx=(\d+) tx=(\d+)/g)];
    return snaps.length === 0 ? 0 : Number(snaps[snaps.length - 1][2]);
  }
  const served = lastJson(responder.lines);
  return Number(served.replies ?? served.sent ?? 0);
}

async function waitReady(kind: ResponderKind, responder: Running): Promise<void> {
  await Promise.race([responder.ready, new Promise((_, reject) => setTimeout(() => reject(new Error(`${kind} did not start in 20 s`)), 20000))]);
  // The reference says it is bound a moment before its socket is in the map.
  if (responderSpec(kind).family === 'reference') await new Promise((resolve) => setTimeout(resolve, 300));
}

/**
 * Start responder `kind` and wait until it is ready. A socket closed just
 * before on the same queue may still be going away: a responder that gives
 * up on bind's EBUSY (the reference) is started again.
 */
async function startResponder(lab: Lab, kind: ResponderKind, batch: number, options: BenchOptions, binaries: Binaries): Promise<Running> {
  for (let attempt = 1; ; attempt++) {
    const { command, readyOnStderr } = responderCommand(kind, lab, batch, options, binaries);
    const responder = startIn(lab.nicring.netns, options.responderCpu, command, readyOnStderr);
    try {
      await waitReady(kind, responder);
      return responder;
    } catch (error) {
      if (responder.child.exitCode === null) {
        responder.child.kill('SIGKILL');
        await responder.exited;
      }
      if (attempt >= 20 || !/Device or resource busy/.test(responder.stderr())) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function stopResponder(kind: ResponderKind, responder: Running): Promise<void> {
  if (responderSpec(kind).family === 'reference') {
    // Its totals come from a snapshot it prints on SIGUSR1.
    responder.child.kill('SIGUSR1');
    const deadline = Date.now() + 2000;
    while (!/SNAP /.test(responder.stderr()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  responder.child.kill('SIGTERM');
  await responder.exited;
}

/** One responder run under one load; the lab is already up. */
async function runOnce(lab: Lab, kind: ResponderKind, size: number, batch: number, round: number, options: BenchOptions, binaries: Binaries): Promise<RunResult> {
  const nicring = nicringCommand();
  const spec = responderSpec(kind);
  const kernelSide = spec.family === 'dgram' || spec.family === 'mmsg';
  if (kernelSide) execIn(lab.nicring.netns, ['ip', 'addr', 'add', lab.nicring.address, 'dev', lab.nicring.ifname]);
  let responder: Running | null = null;
  try {
    responder = await startResponder(lab, kind, batch, options, binaries);
    const pid = responder.child.pid as number;
    const cpuBeforeMs = processCpuMs(pid);
    const generator = startIn(lab.peer.netns, options.generatorCpu, [...nicring, 'gen', '--iface', lab.peer.ifname, '--address', lab.peer.address,
      '--target', `${lab.nicring.ip}:${PORT}`, '--engine', options.engine, '--duration', String(options.durationS),
      '--count', String(100_000_000), '--rate', String(options.rate), '--size', String(size), '--json',
      // The reference answers no ARP.
      ...(responderSpec(kind).family === 'reference' ? ['--target-mac', lab.nicring.mac] : [])]);
    const code = await generator.exited;
    const responderCpuMs = processCpuMs(pid) - cpuBeforeMs;
    const gen = lastJson(generator.lines);
    if (code !== 0 || gen.sent === undefined) throw new Error(`generator failed (${code}): ${generator.lines.slice(-3).join(' | ')} ${generator.stderr().trim().split('\n').slice(-3).join(' | ')}`);
    await stopResponder(kind, responder);
    const served = lastJson(responder.lines);
    const sent = Number(gen.sent);
    const received = Number(gen.received);
    const replies = responderReplies(kind, responder);
    const latency = gen.latency as { samples: number; p50Us: number; p99Us: number } | undefined;
    const checks: string[] = [];
    if (received > replies) checks.push(`generator counted ${received} replies but the responder sent ${replies}`);
    if (Number(gen.unexpected ?? 0) > 0 && options.engine === 'xdp') checks.push(`${gen.unexpected} unexpected replies`);
    const gcEvents = served.gcEventsAfterWarmup === undefined ? null : Number(served.gcEventsAfterWarmup);
    const gcAtRequests = Array.isArray(served.gcAfterWarmupAtRequest) ? served.gcAfterWarmupAtRequest as number[] : [];
    const gcAt = gcAtRequests.length > 0 ? ` (at request ${gcAtRequests.join(', ')} of ${served.requests})` : '';
    // One at the responder's last request came once the load was over (a busy-polling loop keeps turning): no request waited for it.
    const gcAfterLoad = gcAtRequests.filter((at) => at >= Number(served.requests)).length;
    const gcDuringLoad = gcEvents === null ? 0 : gcEvents - gcAfterLoad;
    if (gcDuringLoad > 0) checks.push(`${gcDuringLoad} GC events in the responder under load after its warm-up (its first 100,000 requests and 1 s of load)${gcAt}`);
    return {
      responder: kind, size, batch, round,
      offeredPps: Number(gen.offeredPps), replyPps: Number(gen.replyPps), sent, received,
      lossPercent: sent > 0 ? +((100 * (sent - received)) / sent).toFixed(2) : 0,
      p50Us: latency && latency.samples > 0 ? latency.p50Us : null,
      p99Us: latency && latency.samples > 0 ? latency.p99Us : null,
      responderReplies: replies, responderCpuMs: +responderCpuMs.toFixed(1),
      cpuNsPerReply: replies > 0 ? Math.round((responderCpuMs * 1e6) / replies) : null,
      gcEvents, checks,
    };
  } finally {
    if (responder !== null && responder.child.exitCode === null) {
      responder.child.kill('SIGKILL');
      await responder.exited;
    }
    if (kernelSide) execIn(lab.nicring.netns, ['ip', 'addr', 'del', lab.nicring.address, 'dev', lab.nicring.ifname]);
  }
}

/** CPU an idle responder takes: started, left a second to settle, then measured over `seconds` with no load. */
async function measureIdle(lab: Lab, kind: ResponderKind, options: BenchOptions, binaries: Binaries): Promise<IdleResult> {
  const responder = await startResponder(lab, kind, 64, options, binaries);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const pid = responder.child.pid as number;
    const beforeMs = processCpuMs(pid);
    const startMs = performance.now();
    await new Promise((resolve) => setTimeout(resolve, options.idleSeconds * 1000));
    const cpuMs = processCpuMs(pid) - beforeMs;
    const seconds = (performance.now() - startMs) / 1000;
    return { responder: kind, seconds: +seconds.toFixed(2), cpuPercent: +((100 * cpuMs) / (seconds * 1000)).toFixed(3) };
  } finally {
    if (responder.child.exitCode === null) {
      responder.child.kill('SIGKILL');
      await responder.exited;
    }
  }
}

export function machine(): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    cpus: cpus[0]?.model ?? 'unknown', cores: cpus.length, kernel: os.release(), node: process.version,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30), loadAverage: os.loadavg().map((v) => +v.toFixed(2)),
  };
}

/** The comparisons a configuration reports: each responder against its C AF_XDP yardstick, and nicring against the kernel-socket servers. */
export function comparisons(kinds: readonly string[]): [ResponderKind, ResponderKind][] {
  const pairs: [ResponderKind, ResponderKind][] = [];
  for (const kind of kinds as ResponderKind[]) {
    const yardstick = yardstickOf(kind);
    if (yardstick !== null && kinds.includes(yardstick)) pairs.push([kind, yardstick]);
    if (kind.startsWith('nicring-')) for (const base of ['mmsg', 'dgram'] as ResponderKind[]) if (kinds.includes(base)) pairs.push([kind, base]);
  }
  return pairs;
}

/** Summarise runs per configuration: medians, and ratios against the yardsticks from the same run (of medians, and round by round). */
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
      const mine = group.filter((r) => r.responder === kind).sort((a, b) => a.round - b.round);
      const p50s = mine.map((r) => r.p50Us).filter((v): v is number => v !== null);
      const cpu = mine.map((r) => r.cpuNsPerReply).filter((v): v is number => v !== null);
      responders[kind] = {
        replyPps: Math.round(median(mine.map((r) => r.replyPps))),
        offeredPps: Math.round(median(mine.map((r) => r.offeredPps))),
        lossPercent: +median(mine.map((r) => r.lossPercent)).toFixed(2),
        p50Us: p50s.length ? median(p50s) : null,
        cpuNsPerReply: cpu.length ? Math.round(median(cpu)) : null,
        rounds: mine.map((r) => r.replyPps),
        runs: mine.length,
      };
    }
    const ratios: Record<string, number> = {};
    const roundRatios: Record<string, number[]> = {};
    for (const [kind, base] of comparisons(Object.keys(responders))) {
      const a = responders[kind].replyPps;
      const b = responders[base].replyPps;
      if (b > 0) ratios[`${kind}/${base}`] = +(a / b).toFixed(3);
      const byRound = new Map(group.filter((r) => r.responder === base).map((r) => [r.round, r.replyPps]));
      roundRatios[`${kind}/${base}`] = group.filter((r) => r.responder === kind && (byRound.get(r.round) ?? 0) > 0)
        .sort((x, y) => x.round - y.round).map((r) => +(r.replyPps / (byRound.get(r.round) as number)).toFixed(3));
    }
    out.push({ size: group[0].size, batch: group[0].batch, responders, ratios, roundRatios });
  }
  return out;
}

function thousands(pps: number): string {
  return `${(pps / 1e3).toFixed(0)}k`;
}

/** The summary as Markdown tables: replies/s with the ratios from the same run, then CPU per reply. */
export function formatTable(summary: ConfigSummary[], responders: ResponderKind[]): string {
  const pairs = comparisons(responders);
  const ratioName = (kind: string, base: string): string => `${kind.replace(/^nicring-/, '')} / ${base === 'xsk-native' || base === 'xsk-generic' ? 'C AF_XDP' : base}`;
  const header = ['payload', 'batch', ...responders.map((r) => `${r} replies/s (offered, loss)`), ...pairs.map(([k, b]) => ratioName(k, b))];
  const rows = summary.map((config) => [
    `${config.size} B`, String(config.batch),
    ...responders.map((r) => {
      const s = config.responders[r];
      return s ? `${thousands(s.replyPps)} (${(s.offeredPps / 1e6).toFixed(2)}M, ${s.lossPercent}%)` : '-';
    }),
    ...pairs.map(([k, b]) => {
      const ratio = config.ratios[`${k}/${b}`];
      return ratio === undefined ? '-' : `${ratio.toFixed(2)}×`;
    }),
  ]);
  const cpuHeader = ['payload', 'batch', ...responders.map((r) => `${r} ns CPU/reply`)];
  const cpuRows = summary.map((config) => [
    `${config.size} B`, String(config.batch),
    ...responders.map((r) => {
      const ns = config.responders[r]?.cpuNsPerReply;
      return ns === null || ns === undefined ? '-' : String(ns);
    }),
  ]);
  const table = (head: string[], body: string[][]): string =>
    [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...body.map((row) => `| ${row.join(' | ')} |`)].join('\n');
  return `${table(header, rows)}\n\n${table(cpuHeader, cpuRows)}`;
}

/** The idle figures as one line. */
export function formatIdle(idle: IdleResult[]): string {
  return `idle CPU over ${idle[0]?.seconds ?? 0} s: ${idle.map((i) => `${i.responder} ${i.cpuPercent}%`).join(', ')}`;
}

/** Run the whole benchmark; writes JSON and SVG into options.outDir and returns the report. */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const binaries: Binaries = {
    mmsg: buildMmsgBaseline(),
    xsk: buildXskEcho(),
    reference: options.reference === undefined ? null : buildCProgram(path.resolve(options.reference.file), 'reference-echo'),
  };
  const lab = labUp({ name: `bench${process.pid % 100000}` });
  if (options.peerReceive === 'generator') pinPeerReceive(lab, options.generatorCpu);
  const runs: RunResult[] = [];
  const idle: IdleResult[] = [];
  const startedAt = new Date().toISOString();
  const loadAtStart = os.loadavg();
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
    if (options.idleSeconds > 0) {
      for (const kind of options.responders) {
        if (responderSpec(kind).mode === null) continue;
        const result = await measureIdle(lab, kind, options, binaries);
        idle.push(result);
        options.log(`idle ${kind.padEnd(20)} ${result.cpuPercent}% of a CPU over ${result.seconds} s`);
      }
    }
    for (let i = 0; i < plan.length; i++) {
      const { size, batch, round, kind } = plan[i];
      const result = await runOnce(lab, kind, size, batch, round, options, binaries);
      runs.push(result);
      options.log(`[${i + 1}/${plan.length}] ${kind.padEnd(20)} payload ${String(size).padStart(4)} batch ${String(batch).padStart(3)} round ${round}: `
        + `${(result.replyPps / 1e3).toFixed(0)}k replies/s of ${(result.offeredPps / 1e3).toFixed(0)}k offered, loss ${result.lossPercent}%, `
        + `${result.cpuNsPerReply ?? '-'} ns CPU/reply`
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
    startedAt, machine: { ...machine(), loadAverage: loadAtStart.map((v) => +v.toFixed(2)) },
    options: { ...options, log: undefined } as unknown as BenchReport['options'],
    runs, idle, summary, failedChecks: runs.flatMap((r) => r.checks.map((c) => `${r.responder} ${r.size}/${r.batch} round ${r.round}: ${c}`)),
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(path.join(options.outDir, 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);
  const engineName = options.engine === 'live' ? 'live-frames flood' : options.engine === 'socket' ? 'kernel UDP sockets' : 'AF_XDP generator';
  const chart = renderBarChart(`UDP echo replies/s, ${engineName} (median of ${options.rounds})`,
    'replies per second', options.responders,
    summary.map((c) => ({ label: `${c.size}B b${c.batch}`, values: Object.fromEntries(Object.entries(c.responders).map(([k, v]) => [k, v.replyPps])) })));
  writeFileSync(path.join(options.outDir, 'bench.svg'), chart);
  return report;
}
