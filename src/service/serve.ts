// Serving every queue of an interface: one worker thread per NIC queue, each
// with its own port, loop and host (neighbour cache, counters, reassembly,
// sockets), set up by a worker module the caller names. Nothing is shared
// between workers but what the kernel shares (the interface's XDP program
// and XSKMAP, or netmap's memory region) and the neighbour entries their ARP
// caches learn, which the main thread passes on in batches. The main thread
// starts the workers, watches them and sums their counters when asked: no
// per-packet message crosses threads.
//
// A worker that fails takes the service down: every other worker closes its
// port, and `closed` rejects with the failure.

import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import type { CacheSizes, InterfaceOptions } from '../iface/interface';
import type { NeighborShareCounters } from '../iface/neighbor-share';
import type { LoopStats } from '../loop';
import type { BackendFallback, BackendName, Device, DeviceStats, LinkState } from '../phy/device';
import { hasNetmapPrefix, NR_REG_ALL_NIC, NR_REG_ONE_NIC, NR_REG_ONE_SW, parseNetmapName } from '../phy/netmap-name';
import { readQueueCounts } from '../phy/sysfs';
import type { Interface } from '../iface/interface';
import type { OpenOptions } from '../index';
import type { StackCountersSnapshot } from '../iface/counters';

/** Counters a worker module reports: numbers, nested groups of them, and a few labels. */
export interface CounterTree {
  [name: string]: number | string | boolean | null | number[] | CounterTree;
}

/** What a worker module's openDevice gets. */
export interface OpenDeviceContext {
  ifname: string;
  queue: number;
  /** `ServeOptions.options`, as passed (a structured clone). */
  options: any;
  /** Open the port the default way: open(ifname, { ...ServeOptions.open, queue }). */
  open(): Device;
}

/** What a worker module's setup gets: its queue, its port, and the host on it. */
export interface WorkerContext {
  ifname: string;
  queue: number;
  /** `ServeOptions.options`, as passed (a structured clone). */
  options: any;
  /** This worker's port on its queue. */
  device: Device;
  /**
   * The host on `device` (ServeOptions.interface), not started yet: the
   * runtime starts it once setup returns. Undefined when serve() was given
   * no interface (the module drives the device itself).
   */
  iface: Interface | undefined;
  /** The CPUs this worker's thread is pinned to, or null. */
  cpus: number[] | null;
}

/** What setup may return: the worker's own counters, and what to do before its port closes. */
export interface WorkerService {
  /** Counters summed over the workers by the main thread (called when stats are asked for, never per packet). */
  counters?(): CounterTree;
  /** Stop the worker's own work; the runtime closes the interface and the port afterwards. */
  close?(): void | Promise<void>;
}

/** What a worker module exports. */
export interface WorkerModule {
  /** Set up this worker's service on its port, once, before traffic is taken. */
  setup(context: WorkerContext): WorkerService | void | Promise<WorkerService | void>;
  /** Open this worker's port another way (a capture wrapper, an in-memory pair in tests). */
  openDevice?(context: OpenDeviceContext): Device | Promise<Device>;
}

/** How to serve an interface. */
export interface ServeOptions {
  /** The worker module: a file each worker thread loads (absolute, or relative to the working directory). */
  module: string;
  /** Queues to serve: 'all' (default: every queue the interface has, or the rings a netmap port name names) or a list. */
  queues?: 'all' | number[];
  /** Pin worker i to CPU cpus[i % cpus.length] (pthread_setaffinity_np on the worker's own thread). */
  cpus?: number[];
  /** Passed to every worker's openDevice and setup as `context.options`: plain data (structured clone). */
  options?: unknown;
  /** How each worker opens its port (the queue is the worker's own). */
  open?: Omit<OpenOptions, 'queue'>;
  /** A host on each port: address, gateway, ARP, loop settings (plain data; the clock is the real one). */
  interface?: Omit<InterfaceOptions, 'clock'>;
  /** How long each worker collects learned neighbours before passing them on (default 10 ms). */
  shareNeighborsMs?: number;
  /** How long close() waits for a worker to close its port before terminating its thread (default 5000 ms). */
  closeTimeoutMs?: number;
}

/** One queue's figures. */
export interface QueueStats {
  queue: number;
  /** The worker's thread id (gettid) when pinned, else null. */
  threadId: number | null;
  cpus: number[] | null;
  device: DeviceStats;
  /** The host's counters; absent without an interface. */
  stack?: StackCountersSnapshot;
  /** How full the host's caches and queues are; absent without an interface. */
  caches?: CacheSizes;
  loop?: LoopStats;
  neighbors?: NeighborShareCounters;
  /** GC events in the worker's isolate since it started. */
  gcEvents: number;
  /** The worker module's own counters. */
  service: CounterTree;
}

/** Every queue's figures and their sum. */
export interface ServiceStats {
  /** Sums over the queues (labels such as backend and mode kept when the queues agree). */
  total: {
    device: DeviceStats;
    stack?: StackCountersSnapshot;
    caches?: CacheSizes;
    loop?: LoopStats;
    neighbors?: NeighborShareCounters;
    gcEvents: number;
    service: CounterTree;
  };
  queues: QueueStats[];
}

/** One worker's port, as it reported when ready. */
export interface ServedPort {
  queue: number;
  name: string;
  backend: BackendName;
  mode: string;
  macAddress: string;
  cpus: number[] | null;
  threadId: number | null;
  /** Why open() fell back from the backend it tried first (see Device.fallback), or null. */
  fallback: BackendFallback | null;
  /** How the worker's host takes received transport checksums (Interface.checksumPolicy), or null without a host. */
  checksums: string | null;
  /** The 802.1Q VLAN the worker's host serves (0: untagged), or null without a host. */
  vlan: number | null;
}

/** A failure in a worker: the error it threw, with the queue it served. */
export interface WorkerError extends Error {
  queue: number;
  code?: string;
}

/** Messages from a worker thread. */
export type FromWorker =
  | { kind: 'ready'; port: ServedPort }
  | { kind: 'stats'; id: number; stats: QueueStats | null }
  | { kind: 'neighbors'; entries: Uint32Array }
  | { kind: 'link'; state: LinkState }
  | { kind: 'closed'; stats: QueueStats | null }
  | { kind: 'failed'; error: SerializedError; stats: QueueStats | null };

/** Messages to a worker thread. */
export type ToWorker =
  | { kind: 'stats'; id: number }
  | { kind: 'neighbors'; entries: Uint32Array }
  | { kind: 'close' };

/** An Error's fields, as they cross threads. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  errno?: number;
  syscall?: string;
}

/** What each worker thread is started with. */
export interface WorkerStart {
  ifname: string;
  queue: number;
  module: string;
  options: unknown;
  open: Omit<OpenOptions, 'queue'>;
  interface: Omit<InterfaceOptions, 'clock'> | null;
  cpus: number[] | null;
  shareNeighborsMs: number;
  /** Open with `queue` (false: the port name names its rings itself). */
  openQueue: boolean;
}

const DEFAULT_CLOSE_TIMEOUT_MS = 5000;
const KNOWN_OPTIONS = new Set(['module', 'queues', 'cpus', 'options', 'open', 'interface', 'shareNeighborsMs', 'closeTimeoutMs']);

/** Whether `ifname` is a netmap port name that binds rings of its own choosing (not every NIC ring). */
function netmapNamedRings(ifname: string, backend: OpenOptions['backend']): { name: string; ring: number } | null {
  if (!hasNetmapPrefix(ifname) && backend !== 'netmap') return null;
  const port = parseNetmapName(ifname);
  if (port.mode === NR_REG_ALL_NIC) return null;
  return { name: port.name, ring: port.mode === NR_REG_ONE_NIC || port.mode === NR_REG_ONE_SW ? port.ringId : 0 };
}

/**
 * The queues to serve on `ifname`: 'all' is every queue the interface has
 * (its rx-N entries in sysfs); a list must name queues it has. Throws a
 * one-line error otherwise. A list for an interface sysfs does not show is
 * left to the workers' opens to refuse. A netmap port name that names its
 * rings ("netmap:eth0-2", "netmap:eth0^") is served as it is, by one worker
 * (its ring number stands for the queue), and takes no list.
 */
export function resolveQueues(ifname: string, queues: 'all' | number[] = 'all', backend: OpenOptions['backend'] = 'auto'): number[] {
  let name = ifname;
  if (hasNetmapPrefix(ifname) || backend === 'netmap') {
    const named = netmapNamedRings(ifname, backend);
    if (named !== null) {
      if (queues !== 'all') throw new RangeError(`the netmap port name "${ifname}" already names its rings: give the interface (netmap:${named.name}) to choose queues`);
      return [named.ring];
    }
    name = parseNetmapName(ifname).name;
  }
  const count = readQueueCounts(name)?.rx ?? -1;
  if (queues === 'all') {
    if (count < 0) throw new RangeError(`no interface ${name} in this network namespace: check \`ip link\`, or run inside its namespace (ip netns exec NS ...)`);
    if (count === 0) throw new RangeError(`${name} shows no receive queues in /sys/class/net/${name}/queues: name the queues to serve`);
    return Array.from({ length: count }, (_, i) => i);
  }
  if (!Array.isArray(queues) || queues.length === 0) throw new TypeError(`queues must be 'all' or a non-empty list of queue numbers, got ${JSON.stringify(queues)}`);
  for (const queue of queues) {
    if (!Number.isInteger(queue) || queue < 0 || queue > 1023) throw new RangeError(`queues: ${JSON.stringify(queue)} is not a queue number (0 to 1023)`);
    if (count > 0 && queue >= count) throw new RangeError(`${name} has ${count} queue${count === 1 ? '' : 's'} (0-${count - 1}): it has no queue ${queue} (see ethtool -l ${name})`);
  }
  if (new Set(queues).size !== queues.length) throw new RangeError(`queues lists a queue twice: ${queues.join(',')}`);
  return [...queues];
}

function checkCpus(cpus: unknown): number[] | null {
  if (cpus === undefined) return null;
  if (!Array.isArray(cpus) || cpus.length === 0 || cpus.some((cpu) => !Number.isInteger(cpu) || cpu < 0 || cpu > 1023)) {
    throw new TypeError(`cpus must be a non-empty list of CPU numbers (0 to 1023), got ${JSON.stringify(cpus)}`);
  }
  return cpus as number[];
}

function toError(serialized: SerializedError, queue: number): WorkerError {
  const error = new Error(serialized.message) as WorkerError & Partial<SerializedError>;
  error.name = serialized.name;
  if (serialized.stack !== undefined) error.stack = serialized.stack;
  if (serialized.code !== undefined) error.code = serialized.code;
  if (serialized.errno !== undefined) error.errno = serialized.errno;
  if (serialized.syscall !== undefined) error.syscall = serialized.syscall;
  error.queue = queue;
  return error;
}

/** The path of a built-in worker module: the responder's, the generator's or the sink's (next to this file, compiled or not). */
export function builtinWorkerModule(name: 'respond' | 'gen' | 'sink'): string {
  return path.join(__dirname, `${name}-worker${path.extname(__filename)}`);
}

/** How to start a worker thread: this directory's serve-worker, compiled, or under tsx from source. */
function workerEntry(): { script: string; eval: boolean; execArgv: string[] | undefined } {
  const extension = path.extname(__filename);
  const file = path.join(__dirname, `serve-worker${extension}`);
  if (extension !== '.ts') return { script: file, eval: false, execArgv: undefined };
  // From TypeScript sources (tests, development): register tsx's CommonJS hook
  // in the worker, without the ESM loader flags, which workers do not honour.
  const execArgv: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    if (/^--(import|loader|experimental-loader)$/.test(argv[i]) && /tsx/.test(argv[i + 1] ?? '')) i++;
    else if (!/^--(import|loader|experimental-loader)=.*tsx/.test(argv[i])) execArgv.push(argv[i]);
  }
  const script = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`;
  return { script, eval: true, execArgv };
}

/** Add `source` into `target`: numbers summed, groups recursively, lists joined, labels kept when they agree. */
export function addCounters(target: CounterTree, source: CounterTree): CounterTree {
  for (const key of Object.keys(source)) {
    const value = source[key];
    const current = target[key];
    if (typeof value === 'number') target[key] = typeof current === 'number' ? current + value : value;
    else if (Array.isArray(value)) target[key] = Array.isArray(current) ? [...current, ...value] : [...value];
    else if (value !== null && typeof value === 'object') {
      target[key] = addCounters(current !== null && typeof current === 'object' && !Array.isArray(current) ? current : {}, value);
    } else if (current === undefined) target[key] = value;
    else if (current !== value) target[key] = `${current},${value}`;
  }
  return target;
}

function sumStats(queues: QueueStats[]): ServiceStats['total'] {
  const total: CounterTree = {};
  for (const stats of queues) {
    const { queue: _queue, threadId: _threadId, cpus: _cpus, ...figures } = stats;
    addCounters(total, figures as unknown as CounterTree);
  }
  return total as unknown as ServiceStats['total'];
}

/** One worker thread, seen from the main thread. */
class WorkerHandle {
  readonly queue: number;
  readonly worker: Worker;
  port: ServedPort | null = null;
  last: QueueStats | null = null;
  exited = false;
  /** The main thread asked it to close. */
  closeRequested = false;
  readonly exit: Promise<number>;
  private readonly pending = new Map<number, (stats: QueueStats | null) => void>();

  constructor(queue: number, worker: Worker) {
    this.queue = queue;
    this.worker = worker;
    this.exit = new Promise((resolve) => worker.once('exit', (code) => {
      this.exited = true;
      for (const resolveStats of this.pending.values()) resolveStats(this.last);
      this.pending.clear();
      resolve(code);
    }));
  }

  post(message: ToWorker): void {
    if (message.kind === 'close') this.closeRequested = true;
    if (!this.exited) this.worker.postMessage(message);
  }

  requestStats(id: number): Promise<QueueStats | null> {
    if (this.exited) return Promise.resolve(this.last);
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.post({ kind: 'stats', id });
    });
  }

  answered(id: number, stats: QueueStats | null): void {
    if (stats !== null) this.last = stats;
    const resolve = this.pending.get(id);
    this.pending.delete(id);
    resolve?.(this.last);
  }
}

/** A running service's events. */
export interface Service {
  /** A worker's host saw its link change ('down', 'up', 'absent'); every worker reports it. */
  on(event: 'link', listener: (state: LinkState, queue: number) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** A running service: one worker per queue. */
export class Service extends EventEmitter {
  readonly ifname: string;
  readonly queues: readonly number[];
  /** Resolves with the final figures once every port is closed; rejects with a worker's failure (after every port closed). */
  readonly closed: Promise<ServiceStats>;
  private readonly workers: WorkerHandle[];
  private readonly closeTimeoutMs: number;
  private nextStatsId = 1;
  private closing: Promise<ServiceStats> | null = null;
  private failure: WorkerError | null = null;
  private settle!: { resolve: (stats: ServiceStats) => void; reject: (error: Error) => void };

  /** @internal Made by serve(). */
  constructor(ifname: string, workers: WorkerHandle[], closeTimeoutMs: number) {
    super();
    this.ifname = ifname;
    this.workers = workers;
    this.queues = workers.map((w) => w.queue);
    this.closeTimeoutMs = closeTimeoutMs;
    this.closed = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.closed.catch(() => undefined);
  }

  /** Each worker's port: queue, backend, mode, pinning. */
  get ports(): ServedPort[] {
    return this.workers.map((w) => w.port).filter((port): port is ServedPort => port !== null);
  }

  /** Every queue's figures and their sum, read from the workers now. */
  async stats(): Promise<ServiceStats> {
    const id = this.nextStatsId++;
    const queues = await Promise.all(this.workers.map((w) => w.requestStats(id)));
    return this.collect(queues);
  }

  /** Close every port (each worker closes its own) and resolve with the final figures. Idempotent. */
  close(): Promise<ServiceStats> {
    if (this.closing === null) {
      this.closing = this.shutDown().then((stats) => {
        if (this.failure !== null) {
          this.settle.reject(this.failure);
          throw this.failure;
        }
        this.settle.resolve(stats);
        return stats;
      });
      this.closing.catch(() => undefined);
    }
    return this.closing;
  }

  /** @internal A worker failed: remember the first failure and close the rest. */
  failed(error: WorkerError): void {
    if (this.failure === null) this.failure = error;
    void this.close();
  }

  private collect(queues: (QueueStats | null)[]): ServiceStats {
    const present = queues.filter((q): q is QueueStats => q !== null);
    return { total: sumStats(present), queues: present };
  }

  private async shutDown(): Promise<ServiceStats> {
    for (const w of this.workers) w.post({ kind: 'close' });
    await Promise.all(this.workers.map(async (w) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          // The thread's teardown still closes its port (the addon's per-thread cleanup).
          void w.worker.terminate();
          resolve();
        }, this.closeTimeoutMs);
      });
      await Promise.race([w.exit, timeout]);
      clearTimeout(timer);
      await w.exit;
    }));
    return this.collect(this.workers.map((w) => w.last));
  }
}

/**
 * Serve `ifname` with one worker thread per queue. Each worker opens its
 * queue's port, puts a host on it (`options.interface`), loads
 * `options.module` and calls its setup; the promise resolves once every
 * worker is taking traffic. When any worker fails to start, the others are
 * closed and the promise rejects with that failure (its `queue` says where).
 */
export async function serve(ifname: string, options: ServeOptions): Promise<Service> {
  if (typeof ifname !== 'string' || ifname.length === 0) throw new TypeError('serve(): ifname must be a non-empty interface name');
  if (options === null || typeof options !== 'object') throw new TypeError('serve(): options with a module are required');
  for (const key of Object.keys(options)) if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`serve(): unknown option ${key}`);
  if (typeof options.module !== 'string' || options.module.length === 0) throw new TypeError('serve(): module must be the path of a worker module');
  const queues = resolveQueues(ifname, options.queues ?? 'all', options.open?.backend);
  const openQueue = netmapNamedRings(ifname, options.open?.backend) === null;
  const cpus = checkCpus(options.cpus);
  const shareNeighborsMs = options.shareNeighborsMs ?? 10;
  if (!(shareNeighborsMs >= 0) || !Number.isFinite(shareNeighborsMs)) throw new TypeError(`serve(): shareNeighborsMs must be a number of milliseconds, got ${options.shareNeighborsMs}`);
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  if (!(closeTimeoutMs > 0)) throw new TypeError(`serve(): closeTimeoutMs must be positive, got ${options.closeTimeoutMs}`);
  if ((options.open as { queue?: unknown } | undefined)?.queue !== undefined) throw new TypeError('serve(): open.queue is not an option here: each worker opens its own queue (see queues)');
  const module = path.resolve(options.module);
  const entry = workerEntry();

  const handles: WorkerHandle[] = [];
  const readiness: Promise<void>[] = [];
  let service: Service | null = null;
  let startFailure: WorkerError | null = null;
  queues.forEach((queue, index) => {
    const start: WorkerStart = {
      ifname, queue, module, options: options.options ?? {}, open: options.open ?? {}, interface: options.interface ?? null,
      cpus: cpus === null ? null : [cpus[index % cpus.length]], shareNeighborsMs, openQueue,
    };
    const worker = new Worker(entry.script, { eval: entry.eval, workerData: start, execArgv: entry.execArgv, name: `nicring queue ${queue}` });
    const handle = new WorkerHandle(queue, worker);
    handles.push(handle);
    readiness.push(new Promise<void>((resolve) => {
      const fail = (error: WorkerError): void => {
        if (service !== null) service.failed(error);
        else if (startFailure === null) startFailure = error;
        resolve();
      };
      worker.on('message', (message: FromWorker) => {
        switch (message.kind) {
          case 'ready':
            handle.port = message.port;
            resolve();
            break;
          case 'stats':
            handle.answered(message.id, message.stats);
            break;
          case 'neighbors':
            // Relayed from the start: a worker may wait for a neighbour in its setup.
            for (const other of handles) if (other !== handle) other.post({ kind: 'neighbors', entries: message.entries });
            break;
          case 'link':
            service?.emit('link', message.state, queue);
            break;
          case 'closed':
            if (message.stats !== null) handle.last = message.stats;
            break;
          case 'failed':
            if (message.stats !== null) handle.last = message.stats;
            fail(toError(message.error, queue));
            break;
        }
      });
      worker.on('error', (error) => {
        const failure = error as WorkerError;
        failure.queue = queue;
        fail(failure);
      });
      void handle.exit.then((code) => {
        if (code === 0 && handle.closeRequested) return;
        const error = new Error(code === 0 ? `the worker for queue ${queue} stopped on its own` : `the worker for queue ${queue} exited with code ${code}`) as WorkerError;
        error.queue = queue;
        fail(error);
      });
    }));
  });
  // Ports are opened and set up in parallel; the first failure wins.
  await Promise.all(readiness);
  service = new Service(ifname, handles, closeTimeoutMs);
  if (startFailure !== null) {
    const failure: WorkerError = startFailure;
    service.failed(failure);
    await service.close().catch(() => undefined);
    failure.message = `queue ${failure.queue}: ${failure.message}`;
    throw failure;
  }
  return service;
}
