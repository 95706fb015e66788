// nicring gen: bounded UDP load against a responder, counting replies.

import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { buildSocketFlood } from '../bench/pps';
import { Interface } from '../src/iface/interface';
import { open } from '../src/index';
import { loadNative } from '../src/native';
import type { FrameHandler } from '../src/phy/device';
import {
  UdpGenerator, buildRequestFrame, checkGeneratorOptions, emptyLatency, microsFromMs, summarizeLatency,
  type GeneratorOptions, type GeneratorReport,
} from '../src/service/generator';
import type { GenQueueShare, GenWorkerOptions } from '../src/service/gen-worker';
import { builtinWorkerModule, resolveQueues, serve, type QueueStats } from '../src/service/serve';
import { runLiveFrames } from '../src/service/live-frames';
import { parseMac } from '../src/wire/ethernet';
import { parseIpv4 } from '../src/wire/ipv4';
import { UsageError, parseArgs, type OptionSpecs, type ParsedOptions } from './args';
import { OPEN_OPTIONS, QUEUES_OPTIONS, openOptions, parseCpuList, parseTarget, queueSelection, requireRoot, warnOnFallback } from './common';
import { LiveLine, formatRate, helpText } from './output';

export const GEN_OPTIONS: OptionSpecs = {
  ...OPEN_OPTIONS,
  ...QUEUES_OPTIONS,
  address: { kind: 'string', help: "the generator's own address, with its prefix", meta: 'IP/PREFIX' },
  target: { kind: 'string', help: 'the responder', meta: 'IP:PORT' },
  count: { kind: 'integer', help: 'requests to send at most', default: 100000, min: 1, max: 100000000, meta: 'N' },
  duration: { kind: 'number', help: 'stop sending after this many seconds at the latest', default: 10, min: 0.01, max: 3600, meta: 'SECONDS' },
  rate: { kind: 'integer', help: 'requests per second (0: flat out)', default: 0, min: 0, max: 100000000, meta: 'PPS' },
  size: { kind: 'integer', help: 'UDP payload bytes per request', default: 64, min: 12, max: 1472, meta: 'BYTES' },
  ports: { kind: 'integer', help: 'spread requests over this many source ports', default: 64, min: 1, max: 16384, meta: 'N' },
  'source-port': { kind: 'integer', help: 'first source port', default: 40000, min: 1, max: 65535, meta: 'PORT' },
  'target-mac': { kind: 'string', help: "the target's MAC address: no ARP (for a responder that does not answer ARP)", meta: 'MAC' },
  batch: { kind: 'integer', help: 'requests per transmit batch (xdp engine)', default: 64, min: 1, max: 1024, meta: 'N' },
  engine: { kind: 'string', help: "xdp: AF_XDP transmit from JS; live: in-kernel live-frames flood, replies counted in the kernel (one frame repeated, no latency); socket: the kernel's own UDP socket (sendmmsg from a C program, from the namespace's address: on veth its checksums are partial), replies counted in the kernel", default: 'xdp', choices: ['xdp', 'live', 'socket'] },
  'linger-ms': { kind: 'integer', help: 'wait this long for late replies', default: 500, min: 0, max: 60000, meta: 'MS' },
  json: { kind: 'boolean', help: 'progress and the final report as JSON lines' },
  help: { kind: 'boolean', help: 'show this help' },
};

function printReport(report: GeneratorReport & { engine: string }): void {
  console.log(`sent ${report.sent}, received ${report.received}, lost ${report.lost} (${report.sent ? ((100 * report.lost) / report.sent).toFixed(2) : '0'}%)`
    + `${report.unexpected ? `, unexpected ${report.unexpected}` : ''}`);
  console.log(`offered ${formatRate(report.offeredPps)}pps over ${report.sendSeconds} s, replies ${formatRate(report.replyPps)}pps (${report.engine} engine)`);
  const l = report.latency;
  if (l.samples === 0) {
    console.log(`latency: not measured (the ${report.engine} engine does not time replies)`);
    return;
  }
  console.log(`latency µs (${l.samples} sampled): min ${l.minUs}  p50 ${l.p50Us}  p90 ${l.p90Us}  p99 ${l.p99Us}  max ${l.maxUs}`);
  const total = l.histogram.reduce((sum, bucket) => sum + bucket.count, 0);
  for (const bucket of l.histogram) {
    const bar = '#'.repeat(Math.max(1, Math.round((40 * bucket.count) / total)));
    console.log(`  <= ${String(bucket.leUs).padStart(7)} µs ${String(bucket.count).padStart(10)} ${bar}`);
  }
}

export async function commandGen(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, GEN_OPTIONS);
  if (options.help) {
    console.log(helpText('gen', '--iface IF --address IP/PREFIX --target IP:PORT [options]', GEN_OPTIONS,
      'Sends bounded UDP load (count and duration) to a responder and counts its replies.\nRun it inside the namespace that holds the interface: ip netns exec NS nicring gen ...'));
    return 0;
  }
  if (options.iface === undefined) throw new UsageError('--iface is required (the interface to send from)');
  if (options.address === undefined) throw new UsageError("--address is required (the generator's own IPv4 address and prefix, e.g. 198.18.0.2/24)");
  const target = parseTarget(options.target as string | undefined);
  if (options['target-mac'] !== undefined && parseMac(options['target-mac'] as string) === null) throw new UsageError(`--target-mac: "${options['target-mac']}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  requireRoot('nicring gen');
  const json = options.json as boolean;
  const live = new LiveLine(json);
  const engine = options.engine as 'xdp' | 'live' | 'socket';
  if (engine === 'socket') return generateFromSocket(options, target, live);
  const selection = queueSelection(options, false);
  const queues = selection === null ? null : resolveQueues(options.iface as string, selection, options.backend as 'auto' | 'netmap' | 'xdp');
  const cpus = options.cpus === undefined ? undefined : parseCpuList(options.cpus as string);
  if (queues !== null && engine === 'xdp') return generateOnQueues(options, target, queues, cpus, live);
  if (queues !== null) {
    // The live engine: the flood for queue q runs on CPU q (or the i-th of --cpus).
    const online = os.cpus().length;
    queues.forEach((queue, index) => {
      const cpu = cpus === undefined ? queue : cpus[index % cpus.length];
      if (cpu >= online) throw new UsageError(`--engine live floods queue ${queue} from CPU ${cpu}, and this machine has ${online} CPUs: name fewer queues, or CPUs with --cpus (on veth, CPU c reaches queue c modulo the queue count)`);
    });
  }

  const device = open(options.iface as string, openOptions(options));
  warnOnFallback(device);
  let iface: Interface;
  try {
    iface = new Interface(device, { address: options.address as string });
  } catch (error) {
    device.close();
    throw new UsageError((error as Error).message.replace(/^(\w+) must/, '--$1 must'));
  }
  try {
    iface.start();
    const destinationMac = options['target-mac'] === undefined ? await iface.resolveNeighbor(target.address, 3500) : options['target-mac'] as string;
    const generatorOptions: GeneratorOptions = {
      sourceMac: parseMac(device.macAddress) ?? 0,
      destinationMac: parseMac(destinationMac) ?? 0,
      sourceAddress: iface.addressing.address,
      destinationAddress: parseIpv4(target.address) as number,
      destinationPort: target.port,
      sourcePortBase: options['source-port'] as number,
      sourcePorts: options.ports as number,
      payloadSize: options.size as number,
      count: options.count as number,
      durationMs: (options.duration as number) * 1000,
      rate: options.rate as number,
      batchSize: options.batch as number,
      lingerMs: options['linger-ms'] as number,
    };
    try {
      checkGeneratorOptions(generatorOptions, device.frameCapacity);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const progress = (sent: number, received: number, elapsedMs: number, rate: { last: number; lastMs: number }): void => {
      const pps = ((sent - rate.last) * 1000) / Math.max(1, elapsedMs - rate.lastMs);
      rate.last = sent;
      rate.lastMs = elapsedMs;
      live.show(`gen ${engine} | sent ${sent} (${formatRate(pps)}pps) | received ${received} | ${(elapsedMs / 1000).toFixed(1)} s`,
        { event: 'progress', sent, received, seconds: +(elapsedMs / 1000).toFixed(3), pps: Math.round(pps) });
    };
    const rate = { last: 0, lastMs: 0 };
    const stackInput: FrameHandler = iface.frameHandler;
    let report: GeneratorReport;
    if (engine === 'xdp') {
      const generator = new UdpGenerator(device, { ...generatorOptions, onProgress: (s) => progress(s.sent, s.received, s.elapsedMs, rate) });
      const loop = iface.loop;
      iface.loop.onFrame = (offset, length, token) => {
        if (!generator.observe(offset, length, microsFromMs(loop.nowMs()))) stackInput(offset, length, token);
      };
      report = await generator.run();
    } else {
      // Replies to a flood are counted and dropped by an XDP program in the
      // kernel: no copy, no JS. The generator's own port goes first (an
      // interface has one XDP program); from here on the kernel answers ARP.
      const mode = device.mode.startsWith('generic') ? 'generic' : 'native';
      iface.close();
      const counter = loadNative().xdpCounterAttach({ ifname: device.name, address: target.address, port: target.port, mode });
      try {
        const frame = buildRequestFrame(generatorOptions);
        const startMs = performance.now();
        // With several queues, one flood per queue, each from its own CPU: on veth the sending CPU picks the receiving queue.
        const floods = queues ?? [null];
        const sentBy = floods.map(() => 0);
        const results = await Promise.all(floods.map((queue, index) => runLiveFrames({
          ifname: device.name, frame, count: split(generatorOptions.count, floods.length, index), durationMs: generatorOptions.durationMs,
          rate: split(generatorOptions.rate, floods.length, index),
          cpu: queue === null ? undefined : (cpus === undefined ? queue : cpus[index % cpus.length]),
          onProgress: (sent) => {
            sentBy[index] = sent;
            const elapsed = performance.now() - startMs;
            if (elapsed - rate.lastMs >= 1000) progress(sentBy.reduce((a, b) => a + b, 0), counter.value(), elapsed, rate);
          },
        })));
        const sent = results.reduce((sum, r) => sum + r.sent, 0);
        report = await countedReport(counter, sent, Math.max(...results.map((r) => r.seconds)), generatorOptions.lingerMs!);
      } finally {
        counter.close();
      }
    }
    printFinal(live, json, { event: 'final', engine, target: `${target.address}:${target.port}`, size: generatorOptions.payloadSize, ...report });
    return 0;
  } finally {
    iface.close();
  }
}

/**
 * The socket engine: the kernel's UDP socket sends (a C program doing
 * sendmmsg, on this process's CPUs), and an XDP program counts the replies
 * before the kernel sees them.
 */
async function generateFromSocket(options: ParsedOptions, target: { address: string; port: number }, live: LiveLine): Promise<number> {
  const json = options.json as boolean;
  const size = options.size as number;
  if (size > 1472) throw new UsageError('--size must be at most 1472 with --engine socket');
  const durationS = options.duration as number;
  const lingerMs = options['linger-ms'] as number;
  const flood = buildSocketFlood();
  const mode = options['xdp-mode'] === 'generic' ? 'generic' : 'native';
  const counter = loadNative().xdpCounterAttach({ ifname: options.iface as string, address: target.address, port: target.port, mode });
  let report: GeneratorReport;
  try {
    const startMs = performance.now();
    const child = spawn(flood, ['--target', `${target.address}:${target.port}`, '--size', String(size), '--count', String(options.count),
      '--duration', String(durationS), '--rate', String(options.rate), '--batch', String(Math.min(256, options.batch as number))], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const ticker = setInterval(() => {
      const elapsed = performance.now() - startMs;
      live.show(`gen socket | received ${counter.value()} | ${(elapsed / 1000).toFixed(1)} s`, { event: 'progress', received: counter.value(), seconds: +(elapsed / 1000).toFixed(3) });
    }, 1000);
    const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
    clearInterval(ticker);
    const result = JSON.parse(output.trim().split('\n').pop() || '{}') as { sent?: number; seconds?: number };
    if (code !== 0 || result.sent === undefined) throw new Error(`${flood} failed (${code}): ${output.trim()}`);
    report = await countedReport(counter, result.sent, result.seconds ?? durationS, lingerMs);
  } finally {
    counter.close();
  }
  printFinal(live, json, { event: 'final', engine: 'socket', target: `${target.address}:${target.port}`, size, ...report });
  return 0;
}

/**
 * The report of a flood whose replies an XDP program counts in the kernel:
 * waits up to `lingerMs` for late replies, then counts what came.
 */
async function countedReport(counter: { value(): number }, sent: number, seconds: number, lingerMs: number): Promise<GeneratorReport> {
  const lingerEnd = performance.now() + lingerMs;
  while (counter.value() < sent && performance.now() < lingerEnd) await new Promise((resolve) => setTimeout(resolve, 10));
  const counted = counter.value();
  const received = Math.min(counted, sent);
  return {
    sent, received, lost: sent - received, unexpected: Math.max(0, counted - sent), txRingFull: 0,
    sendSeconds: +seconds.toFixed(3), offeredPps: Math.round(sent / Math.max(seconds, 1e-6)),
    replyPps: Math.round(received / Math.max(seconds, 1e-6)), latency: emptyLatency(),
  };
}

/** End the live line and print the final report, as JSON or text. */
function printFinal(live: LiveLine, json: boolean, final: GeneratorReport & { event: string; engine: string; target: string; size: number }): void {
  live.end();
  if (json) console.log(JSON.stringify(final));
  else printReport(final);
}

/** Share `index` of `total` split `parts` ways (the first shares take the remainder). */
function split(total: number, parts: number, index: number): number {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}

/** The AF_XDP engine on several queues: one worker thread each, reports merged. */
async function generateOnQueues(options: ParsedOptions, target: { address: string; port: number }, queues: number[], cpus: number[] | undefined, live: LiveLine): Promise<number> {
  const json = options.json as boolean;
  const count = options.count as number;
  const rate = options.rate as number;
  const ports = options.ports as number;
  const base = options['source-port'] as number;
  if (base + ports * queues.length - 1 > 65535) throw new UsageError(`--source-port ${base} with --ports ${ports} on ${queues.length} queues runs past port 65535`);
  const shares: Record<number, GenQueueShare> = {};
  queues.forEach((queue, index) => {
    shares[queue] = { count: split(count, queues.length, index), rate: split(rate, queues.length, index), sourcePortBase: base + index * ports };
  });
  if (queues.some((queue) => shares[queue].count === 0)) throw new UsageError(`--count ${count} leaves some of the ${queues.length} queues nothing to send`);
  const workerOptions: GenWorkerOptions = {
    targetAddress: target.address, targetPort: target.port, sourcePorts: ports, payloadSize: options.size as number,
    durationMs: (options.duration as number) * 1000, batchSize: options.batch as number, lingerMs: options['linger-ms'] as number, shares,
  };
  const { queue: _queue, ...open } = openOptions(options);
  let service;
  try {
    service = await serve(options.iface as string, {
      module: builtinWorkerModule('gen'), queues, cpus, open, options: workerOptions,
      interface: { address: options.address as string },
    });
  } catch (error) {
    if (/must be|payload size|source ports/.test((error as Error).message)) throw new UsageError((error as Error).message.replace(/^queue \d+: /, ''));
    throw error;
  }
  const [first] = service.ports;
  if (first.fallback !== null) warnOnFallback({ ...first, fallback: first.fallback });
  const startMs = performance.now();
  const last = { sent: 0, ms: startMs };
  let stats: QueueStats[];
  try {
    for (;;) {
      const outcome = await Promise.race([service.stats(), service.closed.then(() => null)]);
      if (outcome === null) throw new Error('the generator stopped');
      stats = outcome.queues;
      const now = performance.now();
      const sent = stats.reduce((sum, q) => sum + (q.service.sent as number), 0);
      const received = stats.reduce((sum, q) => sum + (q.service.received as number), 0);
      const pps = ((sent - last.sent) * 1000) / Math.max(1, now - last.ms);
      last.sent = sent;
      last.ms = now;
      if (stats.every((q) => q.service.finished === 1)) break;
      live.show(`gen xdp ${queues.length} queues | sent ${sent} (${formatRate(pps)}pps) | received ${received} | ${((now - startMs) / 1000).toFixed(1)} s`,
        { event: 'progress', sent, received, seconds: +((now - startMs) / 1000).toFixed(3), pps: Math.round(pps) });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    await service.close().catch(() => undefined);
  }
  await service.closed;
  const sum = (name: string): number => stats.reduce((total, q) => total + (q.service[name] as number), 0);
  const report: GeneratorReport = {
    sent: sum('sent'), received: sum('received'), lost: sum('lost'), unexpected: sum('unexpected'), txRingFull: sum('txRingFull'),
    sendSeconds: Math.max(...stats.map((q) => q.service.sendSeconds as number)),
    offeredPps: sum('offeredPps'), replyPps: sum('replyPps'),
    latency: summarizeLatency(stats.flatMap((q) => q.service.latencySamples as number[]),
      (stats[0].service.latencyHistogram as number[]).map((_, bucket) => stats.reduce((total, q) => total + (q.service.latencyHistogram as number[])[bucket], 0))),
  };
  live.end();
  const perQueue = stats.map((q) => ({ queue: q.queue, sent: q.service.sent, received: q.service.received, lost: q.service.lost, replyPps: q.service.replyPps }));
  const final = { event: 'final', engine: 'xdp', target: `${target.address}:${target.port}`, size: options.size as number, queues, ...report, perQueue };
  if (json) console.log(JSON.stringify(final));
  else {
    printReport(final);
    console.log(`per queue: ${perQueue.map((q) => `q${q.queue} sent ${q.sent} received ${q.received}`).join(', ')}`);
  }
  return 0;
}
