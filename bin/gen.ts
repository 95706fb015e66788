// nicring gen: bounded UDP load against a responder, counting replies.

import { Interface } from '../src/iface/interface';
import { open } from '../src/index';
import { loadNative } from '../src/native';
import type { FrameHandler } from '../src/phy/device';
import {
  UdpGenerator, buildRequestFrame, checkGeneratorOptions, emptyLatency, microsFromMs,
  type GeneratorOptions, type GeneratorReport,
} from '../src/service/generator';
import { runLiveFrames } from '../src/service/live-frames';
import { parseMac } from '../src/wire/ethernet';
import { parseIpv4 } from '../src/wire/ipv4';
import { UsageError, parseArgs, type OptionSpecs } from './args';
import { OPEN_OPTIONS, openOptions, parseTarget, requireRoot, warnOnFallback } from './common';
import { LiveLine, formatRate, helpText } from './output';

export const GEN_OPTIONS: OptionSpecs = {
  ...OPEN_OPTIONS,
  address: { kind: 'string', help: "the generator's own address, with its prefix", meta: 'IP/PREFIX' },
  target: { kind: 'string', help: 'the responder', meta: 'IP:PORT' },
  count: { kind: 'integer', help: 'requests to send at most', default: 100000, min: 1, max: 100000000, meta: 'N' },
  duration: { kind: 'number', help: 'stop sending after this many seconds at the latest', default: 10, min: 0.01, max: 3600, meta: 'SECONDS' },
  rate: { kind: 'integer', help: 'requests per second (0: flat out)', default: 0, min: 0, max: 100000000, meta: 'PPS' },
  size: { kind: 'integer', help: 'UDP payload bytes per request', default: 64, min: 12, max: 1472, meta: 'BYTES' },
  ports: { kind: 'integer', help: 'spread requests over this many source ports', default: 64, min: 1, max: 16384, meta: 'N' },
  'source-port': { kind: 'integer', help: 'first source port', default: 40000, min: 1, max: 65535, meta: 'PORT' },
  batch: { kind: 'integer', help: 'requests per transmit batch (xdp engine)', default: 64, min: 1, max: 1024, meta: 'N' },
  engine: { kind: 'string', help: 'xdp: AF_XDP transmit from JS; live: in-kernel live-frames flood, replies counted in the kernel (one frame repeated, no latency)', default: 'xdp', choices: ['xdp', 'live'] },
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
    console.log('latency: not measured (the live-frames engine repeats one frame)');
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
  requireRoot('nicring gen');
  const json = options.json as boolean;
  const live = new LiveLine(json);
  const engine = options.engine as 'xdp' | 'live';

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
    const destinationMac = await iface.resolveNeighbor(target.address, 3500);
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
        const result = await runLiveFrames({
          ifname: device.name, frame, count: generatorOptions.count, durationMs: generatorOptions.durationMs, rate: generatorOptions.rate,
          onProgress: (sent) => {
            const elapsed = performance.now() - startMs;
            if (elapsed - rate.lastMs >= 1000) progress(sent, counter.value(), elapsed, rate);
          },
        });
        const lingerEnd = performance.now() + generatorOptions.lingerMs!;
        while (counter.value() < result.sent && performance.now() < lingerEnd) await new Promise((resolve) => setTimeout(resolve, 10));
        const counted = counter.value();
        const received = Math.min(counted, result.sent);
        report = {
          sent: result.sent, received, lost: result.sent - received, unexpected: Math.max(0, counted - result.sent), txRingFull: 0,
          sendSeconds: +result.seconds.toFixed(3), offeredPps: Math.round(result.sent / Math.max(result.seconds, 1e-6)),
          replyPps: Math.round(received / Math.max(result.seconds, 1e-6)), latency: emptyLatency(),
        };
      } finally {
        counter.close();
      }
    }
    live.end();
    const final = { event: 'final', engine, target: `${target.address}:${target.port}`, size: generatorOptions.payloadSize, ...report };
    if (json) console.log(JSON.stringify(final));
    else printReport(final);
    return 0;
  } finally {
    iface.close();
  }
}
