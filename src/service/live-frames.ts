// The in-kernel flood engine: BPF_PROG_TEST_RUN in live-frames mode sends
// copies of one frame out of an interface from inside the kernel, far
// faster than a user-space sender. The run is synchronous, so it happens on
// a worker thread in chunks, leaving the main thread free to count replies.

import { Worker } from 'node:worker_threads';
import { packageRoot } from '../native';

export interface LiveFramesOptions {
  ifname: string;
  /** The whole frame, Ethernet header first. */
  frame: Uint8Array;
  /** Frames to send at most. */
  count: number;
  /** Stop after this long at the latest. */
  durationMs: number;
  /** Frames per second; 0 sends flat out. */
  rate: number;
  /** Frames the kernel builds per batch inside one run (BPF_PROG_TEST_RUN batch_size; 0: kernel default). */
  batchSize?: number;
  /** Called about every 100 ms with the frames sent so far. */
  onProgress?: (sent: number) => void;
  /**
   * Run the flood on this CPU (its thread pinned). On veth, frames sent by
   * XDP arrive on the receive queue numbered by the sending CPU (modulo the
   * queue count), so the CPU chooses the queue.
   */
  cpu?: number;
}

export interface LiveFramesResult {
  sent: number;
  seconds: number;
}

/** Frames per BPF_PROG_TEST_RUN call: long enough to amortise it, short enough to stop on time. */
const CHUNK = 65536;

// Plain JavaScript so that it runs the same from TypeScript sources and from dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.nodeGypBuild)(workerData.root);
const { ifname, frame, count, durationMs, rate, batchSize, chunk, cpu } = workerData;
const start = Date.now();
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let sent = 0;
let lastReport = start;
try {
  if (cpu !== null) addon.pinThread([cpu]);
  while (sent < count) {
    const elapsed = Date.now() - start;
    if (elapsed >= durationMs) break;
    let n = Math.min(chunk, count - sent);
    if (rate > 0) {
      const due = Math.min(count, Math.floor(((elapsed + 10) * rate) / 1000));
      n = Math.min(n, due - sent);
      if (n <= 0) { Atomics.wait(sleeper, 0, 0, 2); continue; }
    }
    const result = addon.xdpTestRunLive({ ifname, frame, count: n, batchSize });
    sent += result.count;
    const now = Date.now();
    if (now - lastReport >= 100) { lastReport = now; parentPort.postMessage({ progress: sent }); }
  }
  parentPort.postMessage({ done: true, sent, seconds: (Date.now() - start) / 1000 });
} catch (error) {
  parentPort.postMessage({ error: error.message, code: error.code, sent });
}
`;

/** Flood `frame` out of `ifname` from the kernel; resolves when count or duration is reached. */
export function runLiveFrames(options: LiveFramesOptions): Promise<LiveFramesResult> {
  if (!Number.isInteger(options.count) || options.count < 1 || options.count > 100_000_000) {
    return Promise.reject(new RangeError(`count must be 1 to 100,000,000, got ${options.count}`));
  }
  if (options.cpu !== undefined && (!Number.isInteger(options.cpu) || options.cpu < 0 || options.cpu > 1023)) {
    return Promise.reject(new RangeError(`cpu must be a CPU number (0 to 1023), got ${options.cpu}`));
  }
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      nodeGypBuild: require.resolve('node-gyp-build'),
      root: packageRoot(),
      ifname: options.ifname,
      frame: options.frame,
      count: options.count,
      durationMs: options.durationMs,
      rate: options.rate,
      batchSize: options.batchSize ?? 0,
      chunk: CHUNK,
      cpu: options.cpu ?? null,
    },
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    worker.on('message', (message: { progress?: number; done?: boolean; sent?: number; seconds?: number; error?: string; code?: string }) => {
      if (message.progress !== undefined) options.onProgress?.(message.progress);
      else if (message.done) {
        settled = true;
        resolve({ sent: message.sent ?? 0, seconds: message.seconds ?? 0 });
      } else if (message.error !== undefined) {
        settled = true;
        reject(Object.assign(new Error(`live-frames engine: ${message.error}`), { code: message.code }));
      }
    });
    worker.on('error', (error) => {
      if (!settled) reject(error);
      settled = true;
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`live-frames worker exited with code ${code}`));
    });
  });
}
