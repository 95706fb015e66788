// Prometheus metrics for a running service: every counter the service
// reports, served in the Prometheus text format by prom-client over a kernel
// HTTP socket. Off the packet path: counters are read once per scrape, from
// the same objects the service's JSON lines are made of, so a counter that
// is added or renamed there shows up here under its new name.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Counters by group: `{ stack: { udpReceived: 12, ... }, ... }`; values that are not numbers are left out. */
export type CounterGroups = Record<string, object | null | undefined>;

/** Keys that go up and down (gauges); every other key is a counter. */
export const GAUGE_KEYS: ReadonlySet<string> = new Set([
  'txInFlight', 'freeFrames', 'rxQueued', 'rxRings', 'txRings', 'memId', 'lastSyncErrno', 'tcpCurrentEstablished', 'tcpConnections',
  // Cache sizes (Interface.cacheSizes()).
  'arpEntries', 'arpQueuedFrames', 'reassemblyDatagrams', 'reassemblyBufferBytes', 'tcpTimeWaitConnections', 'timersArmed',
]);

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** Read every counter: called once per scrape (a service in worker threads asks them, hence a promise). */
  read: () => CounterGroups | Promise<CounterGroups>;
  /** Labels of the `nicring_info` gauge (backend, mode, interface, ...). */
  info?: Record<string, string>;
}

/** Words Prometheus's lint takes for unit abbreviations when they stand alone between underscores. */
const UNIT_LIKE_WORDS = new Set(['s', 'ms', 'us', 'ns', 'sec', 'b', 'kb', 'mb', 'gb', 'tb', 'pb', 'm', 'h', 'd']);

/**
 * `rxFrames` → `rx_frames`; anything a metric name cannot hold → `_`; a word
 * the lint would read as a unit is joined to the one before it
 * (`ipv4NotForUs` → `ipv4_not_forus`).
 */
export function snakeCase(name: string): string {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase().replace(/[^a-z0-9_]/g, '_').split('_');
  let out = words[0];
  for (let i = 1; i < words.length; i++) out += UNIT_LIKE_WORDS.has(words[i]) ? words[i] : `_${words[i]}`;
  return out;
}

/** The metric name of counter `key` in `group`: `nicring_<group>_<key>_total` (gauges without `_total`). */
export function metricName(group: string, key: string): string {
  return `nicring_${snakeCase(group)}_${snakeCase(key)}${GAUGE_KEYS.has(key) ? '' : '_total'}`;
}

/** An HTTP listener serving `/metrics`. */
export class MetricsServer {
  readonly registry = new Registry();
  /** The names of the metrics made from the service's counters (not prom-client's process metrics). */
  readonly names: string[] = [];
  private readonly server: http.Server;
  private latest: CounterGroups = {};

  private constructor(private readonly options: MetricsServerOptions, groups: CounterGroups) {
    for (const group of Object.keys(groups)) {
      const values = groups[group] as Record<string, unknown> | null | undefined;
      if (values === null || values === undefined) continue;
      for (const key of Object.keys(values)) {
        if (typeof values[key] !== 'number') continue;
        this.add(group, key);
      }
    }
    if (options.info !== undefined) {
      const info = new Gauge({ name: 'nicring_info', help: 'the service: interface, backend, mode, service', labelNames: Object.keys(options.info), registers: [this.registry] });
      info.set(options.info, 1);
    }
    // Process metrics and GC durations; the event-loop delay sampled every 100 ms rather than 10 (it wakes the process).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    // prom-client names these gauges with a counter's `_total`, which Prometheus's lint rejects.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    this.server = http.createServer((request, response) => { void this.serve(request, response); });
  }

  /** Listen on `options.host`:`options.port`; rejects with the listen error (EADDRINUSE, EADDRNOTAVAIL, ...). */
  static async start(options: MetricsServerOptions): Promise<MetricsServer> {
    const metrics = new MetricsServer(options, await options.read());
    await new Promise<void>((resolve, reject) => {
      metrics.server.once('error', reject);
      metrics.server.listen(options.port, options.host, () => {
        metrics.server.off('error', reject);
        resolve();
      });
    });
    return metrics;
  }

  /** Where it listens. */
  get address(): { host: string; port: number } {
    const address = this.server.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** The exposition text, as a scrape gets it. */
  async scrape(): Promise<string> {
    this.latest = await this.options.read();
    return this.registry.metrics();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private add(group: string, key: string): void {
    const name = metricName(group, key);
    if (this.names.includes(name)) throw new Error(`metrics: two counters make the metric name ${name}`);
    this.names.push(name);
    const read = (): number => {
      const value = (this.latest[group] as Record<string, unknown> | null | undefined)?.[key];
      return typeof value === 'number' ? value : 0;
    };
    const help = `nicring ${group} counter ${key}`;
    if (GAUGE_KEYS.has(key)) {
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()); } });
    } else {
      new Counter({ name, help, registers: [this.registry], collect() { this.reset(); this.inc(Math.max(0, read())); } });
    }
  }

  private async serve(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' || (path !== '/metrics' && path !== '/')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: scrape /metrics\n');
      return;
    }
    try {
      const text = await this.scrape();
      response.writeHead(200, { 'content-type': this.registry.contentType }).end(text);
    } catch (error) {
      response.writeHead(500, { 'content-type': 'text/plain' }).end(`${(error as Error).message}\n`);
    }
  }
}
