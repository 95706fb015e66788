// The AF_XDP load generator as a worker module for serve(): each worker
// sends its share of the requests from its own queue (on veth, the queue a
// frame leaves on is the queue it arrives on at the other end), resolves the
// target with ARP on its own host (neighbours are shared between workers),
// and counts the replies that come back to its queue. `nicring gen --queues`
// runs it and merges the workers' reports.

import { parseMac } from '../wire/ethernet';
import { parseIpv4 } from '../wire/ipv4';
import { UdpGenerator, microsFromMs, type GeneratorOptions, type GeneratorReport } from './generator';
import type { CounterTree, WorkerContext, WorkerService } from './serve';

/** One queue's share of the load. */
export interface GenQueueShare {
  count: number;
  /** Requests per second (0: flat out). */
  rate: number;
  /** First source port of this queue's range. */
  sourcePortBase: number;
}

/** `ServeOptions.options` for this module. */
export interface GenWorkerOptions {
  /** The responder, dotted IPv4 and port. */
  targetAddress: string;
  targetPort: number;
  /** Source ports per queue. */
  sourcePorts: number;
  payloadSize: number;
  durationMs: number;
  batchSize: number;
  lingerMs: number;
  /** ARP resolution of the target may take this long (default 3500 ms). */
  resolveTimeoutMs?: number;
  /** Each queue's share, by queue number. */
  shares: Record<number, GenQueueShare>;
}

export async function setup(context: WorkerContext): Promise<WorkerService> {
  const options = context.options as GenWorkerOptions;
  const iface = context.iface;
  if (iface === undefined) throw new TypeError('the generator needs an interface (serve option interface)');
  const share = options.shares[context.queue];
  if (share === undefined) throw new RangeError(`no share of the load for queue ${context.queue}`);
  iface.start();
  const destinationMac = await iface.resolveNeighbor(options.targetAddress, options.resolveTimeoutMs ?? 3500);
  const generatorOptions: GeneratorOptions = {
    sourceMac: parseMac(context.device.macAddress) ?? 0,
    destinationMac: parseMac(destinationMac) ?? 0,
    sourceAddress: iface.addressing.address,
    destinationAddress: parseIpv4(options.targetAddress) as number,
    destinationPort: options.targetPort,
    sourcePortBase: share.sourcePortBase,
    sourcePorts: options.sourcePorts,
    payloadSize: options.payloadSize,
    count: share.count,
    durationMs: options.durationMs,
    rate: share.rate,
    batchSize: options.batchSize,
    lingerMs: options.lingerMs,
  };
  const generator = new UdpGenerator(context.device, generatorOptions);
  const loop = iface.loop;
  const stackInput = iface.frameHandler;
  // Replies are counted first; everything else (ARP) goes to the stack.
  loop.onFrame = (offset, length, token) => {
    if (!generator.observe(offset, length, microsFromMs(loop.nowMs()))) stackInput(offset, length, token);
  };
  let report: GeneratorReport | null = null;
  const running = generator.run().then((result) => {
    report = result;
  });
  return {
    counters: (): CounterTree => {
      if (report === null) return { finished: 0, sent: generator.sent, received: generator.meter.received };
      const { latency: _latency, ...figures } = report as GeneratorReport;
      return {
        finished: 1, ...figures,
        latencySamples: generator.meter.latencySamples(), latencyHistogram: generator.meter.histogramCounts(),
      };
    },
    close: async () => {
      generator.stop();
      await running;
    },
  };
}
