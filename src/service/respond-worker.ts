// The responder as a worker module for serve(): each worker answers UDP on
// its own queue with its own Responder, and loads the handler module itself
// (its setup runs once per worker, so caches and rate limits are per queue,
// and so are its counters, which the main thread sums).
// `nicring respond` runs this module on every queue it serves.

import * as path from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import type { Interface } from '../iface/interface';
import type { Timer } from '../loop';
import { captureDevice } from '../phy/capture';
import type { Device } from '../phy/device';
import { startTcpEcho } from './tcp-echo';
import type { TcpServer } from '../socket/tcp';
import { Responder, echoHandler, loadHandlerModule, setupHandler, type CountingHandler } from './responder';
import type { CounterTree, OpenDeviceContext, WorkerContext, WorkerService } from './serve';

/** `ServeOptions.options` for this module. */
export interface RespondWorkerOptions {
  /** UDP ports to answer on. */
  ports: number[];
  /** TCP ports to run an echo service on, beside UDP. */
  tcpPorts?: number[];
  /** Path of a handler module (echo without one). */
  handler?: string;
  /** The handler module's own options, parsed from the command line, given to its setup. */
  handlerOptions?: Record<string, string | number | boolean | undefined>;
  /** Record every frame to this pcap file; serving several queues, one file per queue (NAME-qN.pcap). */
  pcap?: string;
  /** Whether several queues are served (pcap file names then carry the queue). */
  severalQueues?: boolean;
  /** GC events count as after warm-up once this many requests came (default 100,000)... */
  warmupRequests?: number;
  /** ...and this many milliseconds passed since the first (default 1000): V8 compiles the packet path meanwhile. */
  warmupMs?: number;
}

/** GC events a worker places by request count, after warm-up (the first few). */
const GC_TIMES_KEPT = 10;

/** The pcap file for `queue`: FILE itself for one queue, FILE-qN.EXT for several. */
export function pcapFileForQueue(file: string, queue: number, severalQueues: boolean): string {
  if (!severalQueues) return file;
  const extension = path.extname(file);
  return `${file.slice(0, file.length - extension.length)}-q${queue}${extension || '.pcap'}`;
}

export function openDevice(context: OpenDeviceContext): Device {
  const options = context.options as RespondWorkerOptions;
  const device = context.open();
  if (options.pcap === undefined) return device;
  return captureDevice(device, pcapFileForQueue(options.pcap, context.queue, options.severalQueues === true));
}

/** Raised when the handler module's own setup refuses (a missing option, a file it cannot read): the user's to fix. */
export class HandlerSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HandlerSetupError';
  }
}

/** Raised when a TCP echo port cannot be served (already bound): the user's to fix. */
export class TcpEchoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TcpEchoError';
  }
}

/** Load the handler module in this worker and run its setup for this worker's queue. */
async function loadHandler(options: RespondWorkerOptions, context: WorkerContext): Promise<{ handler: CountingHandler; allowLargerReplies: boolean }> {
  if (options.handler === undefined) return { handler: echoHandler, allowLargerReplies: false };
  const module = loadHandlerModule(options.handler);
  try {
    const handler = await setupHandler(module, { options: options.handlerOptions ?? {}, iface: context.iface!, queue: context.queue, ports: options.ports });
    return { handler, allowLargerReplies: module.allowLargerReplies };
  } catch (error) {
    throw new HandlerSetupError(`--handler ${module.file}: ${(error as Error).message}`);
  }
}

/** How often the worker looks whether warm-up is over, until it is. */
const WARMUP_CHECK_MS = 250;

/**
 * Once warm-up is over, one young-generation collection, where gc() is
 * exposed (the command line does): the garbage of the packet path's
 * unoptimized code (a few MB) is then gone at a moment chosen for it, and the
 * steady state (about 11 KB a second) starts from an empty young generation
 * instead of one that fills at some random minute. Looked at on a loop timer
 * every 250 ms until then, and never again.
 */
export function collectAtEndOfWarmup(iface: Interface, responder: Responder, warmupRequests: number, warmupMs: number): Timer {
  const collect = (globalThis as { gc?: (options: { type: 'minor' | 'major' }) => void }).gc;
  const timer = iface.loop.timer(() => {
    const first = responder.firstRequestMs;
    if (responder.counters.requests < warmupRequests || first < 0 || performance.now() < first + warmupMs) {
      timer.arm(WARMUP_CHECK_MS);
      return;
    }
    collect?.({ type: 'minor' });
  });
  if (typeof collect === 'function') timer.arm(WARMUP_CHECK_MS);
  return timer;
}

export async function setup(context: WorkerContext): Promise<WorkerService> {
  const options = context.options as RespondWorkerOptions;
  const iface = context.iface;
  if (iface === undefined) throw new TypeError('the responder needs an interface (serve option interface)');
  const { handler, allowLargerReplies } = await loadHandler(options, context);
  let responder: Responder;
  try {
    responder = new Responder(iface, { ports: options.ports, handler, allowLargerReplies });
  } catch (error) {
    handler.close?.();
    throw error;
  }
  let tcpServers: TcpServer[] = [];
  try {
    tcpServers = await startTcpEcho(iface, options.tcpPorts ?? []);
  } catch (error) {
    handler.close?.();
    responder.close();
    throw new TcpEchoError(`--tcp: ${(error as Error).message}`);
  }
  // The TCP ports the handler serves (DNS over TCP on its UDP ports), as a label: the same on every queue.
  const echoPorts = new Set(options.tcpPorts ?? []);
  const handlerTcpPorts = iface.tcp.listeningPorts().filter((port) => !echoPorts.has(port)).join(',');
  // GC events after warm-up, with the request count each came at. Warm-up is the first requests and the first
  // second of load: until V8 has compiled the packet path, its unoptimized code leaves garbage with every request.
  const warmupRequests = options.warmupRequests ?? 100_000;
  const warmupMs = options.warmupMs ?? 1000;
  let gcEventsAfterWarmup = 0;
  const gcAfterWarmupAtRequest: number[] = [];
  const observer = new PerformanceObserver((list) => {
    const requests = responder.counters.requests;
    const first = responder.firstRequestMs;
    if (requests < warmupRequests || first < 0) return;
    for (const entry of list.getEntries()) {
      // The collection asked for at the end of warm-up (below) is part of it.
      const flags = (entry as { detail?: { flags?: number } }).detail?.flags ?? 0;
      if (entry.startTime < first + warmupMs || (flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0) continue;
      gcEventsAfterWarmup++;
      if (gcAfterWarmupAtRequest.length < GC_TIMES_KEPT) gcAfterWarmupAtRequest.push(requests);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const warmupEnd = collectAtEndOfWarmup(iface, responder, warmupRequests, warmupMs);
  return {
    counters: (): CounterTree => {
      const c = responder.counters;
      return {
        requests: c.requests, replies: c.replies, requestBytes: c.requestBytes, replyBytes: c.replyBytes,
        requestsDropped: responder.droppedTotal(), dropped: { ...c.dropped },
        ...(responder.handlerCounters === null ? {} : { handler: { ...responder.handlerCounters } }),
        handlerTcpPorts, gcEventsAfterWarmup, gcAfterWarmupAtRequest: [...gcAfterWarmupAtRequest],
      };
    },
    close: () => {
      warmupEnd.cancel();
      observer.disconnect();
      for (const server of tcpServers) server.close();
      handler.close?.();
      responder.close();
    },
  };
}
