// Giving an attack's memory back. A service that allocates nothing in its
// steady state gets few garbage collections, and the command line turns
// V8's memory reducer off for small heaps (bin/heap-settings.ts) so that
// none comes in the middle of serving. The other side of that: a heap that
// grew under a burst of work (a flood, a burst of new neighbours, a large
// reassembly) may keep its size, and the process its resident pages, for
// as long as nothing else triggers a collection. The reclaimer watches the
// resident size once a second; when it has grown by `growthBytes` over the
// level after the last collection and the service has then been quiet for
// `quietMs`, it runs one full collection, which returns the freed pages.
// It never runs under load, and never twice for the same growth.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collector = () => void;
let collector: Collector | null = null;

/**
 * Run a full garbage collection now, synchronously. Uses `global.gc` when
 * the process was started with --expose-gc, else turns the flag on and
 * takes the function from a fresh context (the flag only affects contexts
 * made after it is set).
 */
export function collectGarbage(): void {
  if (collector === null) {
    const exposed = (globalThis as { gc?: Collector }).gc;
    if (typeof exposed === 'function') collector = exposed;
    else {
      setFlagsFromString('--expose-gc');
      collector = runInNewContext('gc') as Collector;
    }
  }
  collector();
}

/** When the reclaimer collects. */
export interface HeapReclaimerOptions {
  /** Growth of the resident size over the level after the last collection that counts (default 8 MiB). */
  growthBytes?: number;
  /** How long the service must have been quiet after the growth (default 10000 ms). */
  quietMs?: number;
  /** Work units (frames) per second at or under which the service counts as quiet (default 1000). */
  quietRate?: number;
  /** Reads the resident size (default process.memoryUsage.rss). */
  readRss?: () => number;
  /** Runs the collection (default collectGarbage). */
  collect?: () => void;
}

/** What the reclaimer has done. */
export interface HeapReclaimerStats {
  /** Resident bytes right after the last collection it ran (or at start). */
  baselineRssBytes: number;
  /** Resident bytes at the last sample. */
  rssBytes: number;
  /** Highest resident size seen at a sample. */
  peakRssBytes: number;
  /** Collections it ran. */
  collections: number;
}

/** Decides, once a second, whether to give grown memory back. */
export class HeapReclaimer {
  readonly growthBytes: number;
  readonly quietMs: number;
  readonly quietRate: number;
  readonly stats: HeapReclaimerStats;
  private readonly readRss: () => number;
  private readonly collect: () => void;
  private lastMs = -1;
  private lastWork = 0;
  private quietSinceMs = -1;

  constructor(options: HeapReclaimerOptions = {}) {
    this.growthBytes = options.growthBytes ?? 8 * 1024 * 1024;
    this.quietMs = options.quietMs ?? 10_000;
    this.quietRate = options.quietRate ?? 1000;
    if (!(this.growthBytes > 0)) throw new TypeError(`growthBytes must be positive, got ${options.growthBytes}`);
    if (!(this.quietMs >= 0)) throw new TypeError(`quietMs must not be negative, got ${options.quietMs}`);
    this.readRss = options.readRss ?? (() => process.memoryUsage.rss());
    this.collect = options.collect ?? collectGarbage;
    const rss = this.readRss();
    this.stats = { baselineRssBytes: rss, rssBytes: rss, peakRssBytes: rss, collections: 0 };
  }

  /**
   * Take a sample at `nowMs`, with `work` the service's running count of
   * work done (frames received). Returns true when it collected.
   */
  sample(nowMs: number, work: number): boolean {
    const stats = this.stats;
    const rss = this.readRss();
    stats.rssBytes = rss;
    if (rss > stats.peakRssBytes) stats.peakRssBytes = rss;
    // The baseline follows the heap down: growth is measured from the lowest level since the last collection.
    if (rss < stats.baselineRssBytes) stats.baselineRssBytes = rss;
    const elapsedMs = this.lastMs < 0 ? 0 : nowMs - this.lastMs;
    const rate = elapsedMs > 0 ? ((work - this.lastWork) * 1000) / elapsedMs : 0;
    this.lastMs = nowMs;
    this.lastWork = work;
    if (rate > this.quietRate) {
      this.quietSinceMs = -1;
      return false;
    }
    if (this.quietSinceMs < 0) this.quietSinceMs = nowMs;
    if (rss - stats.baselineRssBytes < this.growthBytes || nowMs - this.quietSinceMs < this.quietMs) return false;
    this.collect();
    stats.collections++;
    const after = this.readRss();
    stats.rssBytes = after;
    stats.baselineRssBytes = after;
    return true;
  }
}
