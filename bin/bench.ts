// nicring bench: the responders compared in the lab under the same load.

import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { DEFAULT_RESPONDERS, RESPONDER_KINDS, formatIdle, formatTable, runBench, type ResponderKind } from '../bench/pps';
import { formatScalingTable, runScaling } from '../bench/scaling';
import { UsageError, parseArgs, type OptionSpecs } from './args';
import { requireRoot } from './common';
import { helpText } from './output';

export const BENCH_OPTIONS: OptionSpecs = {
  duration: { kind: 'number', help: 'seconds of load per run', default: 3, min: 0.5, max: 60, meta: 'SECONDS' },
  rounds: { kind: 'integer', help: 'rounds (each responder once per round, alternating)', default: 3, min: 1, max: 20, meta: 'N' },
  sizes: { kind: 'string', help: 'UDP payload sizes', default: '64,512,1400', meta: 'B[,B...]' },
  batches: { kind: 'string', help: 'receive batch sizes (nicring and the C servers)', default: '64', meta: 'N[,N...]' },
  responders: { kind: 'string', help: `which responders, of ${RESPONDER_KINDS.join(',')} (compare-* need --compare-tree, reference-* --reference)`, default: DEFAULT_RESPONDERS.join(','), meta: 'LIST' },
  engine: { kind: 'string', help: "load engine: live (the kernel's live-frames flood), socket (the peer kernel's UDP socket: partial checksums on veth) or xdp (nicring's AF_XDP generator, with latency)", default: 'live', choices: ['live', 'socket', 'xdp'] },
  'peer-receive': { kind: 'string', help: "where the generator's side receives the replies: generator (a NAPI thread on the generator's CPU, as on another host, so the responder's CPU does only the responder's work; the generator may then limit the fastest responders) or sender (veth's default: the softirq of the responder's CPU, so every responder also pays for the generator's receive)", default: 'generator', choices: ['generator', 'sender'] },
  rate: { kind: 'integer', help: 'offered requests per second (0: flood)', default: 0, min: 0, max: 100000000, meta: 'PPS' },
  ports: { kind: 'integer', help: 'UDP ports every responder binds (nicring; the load goes to the first)', default: 1, min: 1, max: 1024, meta: 'N' },
  idle: { kind: 'number', help: 'seconds each AF_XDP responder is measured idle, once per run (0: skip)', default: 10, min: 0, max: 600, meta: 'SECONDS' },
  'ring-size': { kind: 'integer', help: "nicring's ring size", default: 16384, min: 64, max: 16384, meta: 'N' },
  'xsk-flags': { kind: 'string', help: 'extra flags for the C AF_XDP echo (bench/baselines/xsk-echo.c), after its defaults', default: '', meta: '"FLAGS"' },
  'compare-tree': { kind: 'string', help: 'another built checkout of nicring, run as the compare-* responders (a change measured in the same run)', meta: 'DIR' },
  reference: { kind: 'string', help: "a C AF_XDP echo's source with xsk-probe's command line (echo -i IF -m drv|skb -b N), run as the reference-* responders", meta: 'FILE' },
  'reference-flags': { kind: 'string', help: "the reference's own flags", default: '', meta: '"FLAGS"' },
  quick: { kind: 'boolean', help: 'one payload size (64) and one batch size (64)' },
  queues: { kind: 'string', help: 'instead: nicring on 1 queue against N queues (one worker each, a flood per queue), e.g. 1,2; payload the first of --sizes, batch 64', meta: 'N[,N...]' },
  'xdp-mode': { kind: 'string', help: 'with --queues: the AF_XDP mode', default: 'native', choices: ['native', 'generic'] },
  out: { kind: 'string', help: 'where bench.json and bench.svg go', default: 'bench/out', meta: 'DIR' },
  help: { kind: 'boolean', help: 'show this help' },
};

function list(option: string, text: string, min: number, max: number): number[] {
  const values = text.split(',').map(Number);
  if (values.some((v) => !Number.isInteger(v) || v < min || v > max)) throw new UsageError(`--${option} must be integers from ${min} to ${max} separated by commas, got "${text}"`);
  return values;
}

export async function commandBench(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, BENCH_OPTIONS);
  if (options.help) {
    console.log(helpText('bench', '[options]', BENCH_OPTIONS, 'Brings up a lab and offers the same load to each responder in turn, pinned to different CPUs;\nprints medians and ratios measured in the same run, and writes JSON and an SVG chart.'));
    return 0;
  }
  if (options.queues !== undefined) return scaling(options as Record<string, unknown>);
  const responders = String(options.responders).split(',') as ResponderKind[];
  for (const r of responders) if (!RESPONDER_KINDS.includes(r)) throw new UsageError(`--responders: unknown responder "${r}" (${RESPONDER_KINDS.join(', ')})`);
  const compareTree = options['compare-tree'] === undefined ? undefined : path.resolve(options['compare-tree'] as string);
  if (responders.some((r) => r.startsWith('compare-')) && compareTree === undefined) throw new UsageError('--responders: compare-* need --compare-tree DIR');
  if (compareTree !== undefined && !existsSync(path.join(compareTree, 'dist', 'bin', 'nicring.js')) && !existsSync(path.join(compareTree, 'bin', 'nicring.ts'))) {
    throw new UsageError(`--compare-tree ${compareTree}: no nicring checkout there (dist/bin/nicring.js or bin/nicring.ts)`);
  }
  const reference = options.reference === undefined ? undefined : path.resolve(options.reference as string);
  if (responders.some((r) => r.startsWith('reference-')) && reference === undefined) throw new UsageError('--responders: reference-* need --reference FILE');
  if (reference !== undefined && !existsSync(reference)) throw new UsageError(`--reference ${reference}: no such file`);
  const words = (text: unknown): string[] => String(text ?? '').split(/\s+/).filter((word) => word !== '');
  requireRoot('nicring bench');
  const quick = options.quick as boolean;
  const report = await runBench({
    durationS: options.duration as number,
    rounds: options.rounds as number,
    sizes: quick ? [64] : list('sizes', String(options.sizes), 12, 1472),
    batches: quick ? [64] : list('batches', String(options.batches), 1, 1024),
    responders,
    engine: options.engine as 'live' | 'socket' | 'xdp',
    rate: options.rate as number,
    ports: options.ports as number,
    idleSeconds: options.idle as number,
    compareTree,
    reference: reference === undefined ? undefined : { file: reference, flags: words(options['reference-flags']) },
    xskFlags: words(options['xsk-flags']),
    ringSize: options['ring-size'] as number,
    outDir: path.resolve(options.out as string),
    responderCpu: 0,
    generatorCpu: 1,
    peerReceive: options['peer-receive'] as 'generator' | 'sender',
    log: (line) => console.log(line),
  });
  console.log('');
  console.log(formatTable(report.summary, responders));
  if (report.idle.length > 0) console.log(`\n${formatIdle(report.idle)}`);
  console.log(`\n${report.machine.cores} × ${report.machine.cpus}, Linux ${report.machine.kernel}, Node ${report.machine.node}; `
    + `results in ${path.join(path.resolve(options.out as string), 'bench.json')} and bench.svg`);
  if (report.failedChecks.length > 0) {
    console.log(`checks FAILED:\n  ${report.failedChecks.join('\n  ')}`);
    return 1;
  }
  console.log('checks passed: every reply counted by the generator was sent by the responder; no GC in nicring responders after warm-up');
  return 0;
}

async function scaling(options: Record<string, unknown>): Promise<number> {
  const queueCounts = list('queues', String(options.queues), 1, 64);
  requireRoot('nicring bench');
  const outDir = path.resolve(options.out as string);
  const report = await runScaling({
    durationS: options.duration as number,
    rounds: options.rounds as number,
    size: list('sizes', String(options.sizes), 12, 1472)[0],
    batch: 64,
    rate: options.rate as number,
    queueCounts,
    xdpMode: options['xdp-mode'] as 'native' | 'generic',
    outDir,
    log: (line) => console.log(line),
  });
  console.log('');
  console.log(formatScalingTable(report.summary));
  console.log(`\n${report.machine.cores} × ${report.machine.cpus}, Linux ${report.machine.kernel}, Node ${report.machine.node}; results in ${path.join(outDir, 'scaling.json')}`);
  if (report.failedChecks.length > 0) {
    console.log(`checks FAILED:\n  ${report.failedChecks.join('\n  ')}`);
    return 1;
  }
  console.log('checks passed: every reply counted by the generator was sent by the responder; every queue answered; no GC in the workers after warm-up');
  return 0;
}
