// One worker thread of serve(): pin the thread, open this queue's port, put
// a host on it, load the worker module and run its setup, then answer the
// main thread (stats, neighbours, close) until closed. Everything on the
// packet path stays in this thread; messages carry only figures and
// batches of neighbour entries.
//
// An exception that escapes (from the module, a timer, the stack) closes
// this worker's port and reports the failure; the main thread then closes
// the others.

import { PerformanceObserver } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { Interface } from '../iface/interface';
import { NeighborShare } from '../iface/neighbor-share';
import { open } from '../index';
import { loadNative } from '../native';
import type { StackCountersSnapshot } from '../iface/counters';
import type { Device, LinkState } from '../phy/device';
import type {
  CounterTree, FromWorker, OpenDeviceContext, QueueStats, SerializedError, ToWorker, WorkerModule, WorkerService, WorkerStart,
} from './serve';

const start = workerData as WorkerStart;
const port = parentPort;
let device: Device | null = null;
let iface: Interface | undefined;
let service: WorkerService | undefined;
let share: NeighborShare | null = null;
let threadId: number | null = null;
let gcEvents = 0;
let finished = false;
const gcObserver = new PerformanceObserver((list) => {
  gcEvents += list.getEntries().length;
});

function send(message: FromWorker, transfer?: ArrayBuffer[]): void {
  port?.postMessage(message, transfer);
}

function serialize(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { code, errno, syscall } = error as Error & { code?: unknown; errno?: unknown; syscall?: unknown };
  return {
    name: error.name, message: error.message, stack: error.stack,
    code: typeof code === 'string' ? code : undefined,
    errno: typeof errno === 'number' ? errno : undefined,
    syscall: typeof syscall === 'string' ? syscall : undefined,
  };
}

/** The stack's figures of the last stats message, written over for the next: the message carries a copy. */
let stackFigures: StackCountersSnapshot | undefined;

/**
 * This queue's figures now, or null before the port is open. `reuse`: for a
 * message only (the main thread asks once a second for as long as the
 * service runs): the largest part, the stack's counters, is written into the
 * object the last message carried instead of a new one.
 */
function stats(reuse = false): QueueStats | null {
  if (device === null) return null;
  let own: CounterTree = {};
  if (service?.counters !== undefined) own = service.counters();
  let stack: StackCountersSnapshot | undefined;
  if (iface !== undefined) {
    stack = reuse && stackFigures !== undefined ? iface.countersInto(stackFigures) : iface.counters();
    if (reuse) stackFigures = stack;
  }
  return {
    queue: start.queue,
    threadId,
    cpus: start.cpus,
    device: device.stats(),
    stack,
    caches: iface?.cacheSizes(),
    loop: iface === undefined ? undefined : { ...iface.loop.counters },
    neighbors: share === null ? undefined : { ...share.counters },
    gcEvents,
    service: own,
  };
}

/** Stop the module's work, take the last figures, close the host and the port. */
async function closeAll(): Promise<QueueStats | null> {
  let last: QueueStats | null = null;
  try {
    if (service?.close !== undefined) await service.close();
    iface?.flush();
  } finally {
    try {
      last = stats();
    } catch {
      // the figures are lost with a broken port; closing matters more
    }
    gcObserver.disconnect();
    share?.detach();
    if (iface !== undefined) iface.close();
    if (device !== null && !device.closed) device.close();
  }
  return last;
}

async function fail(error: unknown): Promise<void> {
  if (finished) return;
  finished = true;
  let last: QueueStats | null = null;
  try {
    last = await closeAll();
  } catch {
    // report the first failure, not the one closing met
  }
  send({ kind: 'failed', error: serialize(error), stats: last });
  port?.close();
  process.exit(1);
}

async function close(): Promise<void> {
  if (finished) return;
  finished = true;
  const last = await closeAll();
  send({ kind: 'closed', stats: last });
  port?.close();
}

function onMessage(message: ToWorker): void {
  switch (message.kind) {
    case 'stats':
      // Always answered: null before the port is open (the main thread keeps what it had).
      send({ kind: 'stats', id: message.id, stats: stats(true) });
      break;
    case 'neighbors':
      share?.adopt(message.entries);
      break;
    case 'close':
      close().catch(fail);
      break;
  }
}

/**
 * One full collection before the port takes traffic, where the embedder
 * exposed gc() (the command line does): start-up leaves V8's old generation
 * at its first limit, and the collection that follows would otherwise come
 * in the first second of load.
 */
function collectBeforeTraffic(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (typeof collect === 'function') collect();
}

async function run(): Promise<void> {
  if (start.cpus !== null) threadId = loadNative().pinThread(start.cpus);
  gcObserver.observe({ entryTypes: ['gc'] });

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require(start.module) as WorkerModule & { default?: WorkerModule };
  const module: WorkerModule = typeof loaded.setup === 'function' ? loaded : (loaded.default ?? loaded);
  if (typeof module.setup !== 'function') throw new TypeError(`${start.module} must export setup(context)`);
  const openContext: OpenDeviceContext = {
    ifname: start.ifname, queue: start.queue, options: start.options,
    open: () => open(start.ifname, start.openQueue ? { ...start.open, queue: start.queue } : start.open),
  };
  device = module.openDevice !== undefined ? await module.openDevice(openContext) : openContext.open();
  if (start.interface !== null) {
    iface = new Interface(device, start.interface);
    iface.on('link', (state: LinkState) => send({ kind: 'link', state }));
    share = new NeighborShare(iface, (entries) => send({ kind: 'neighbors', entries }, [entries.buffer as ArrayBuffer]), { delayMs: start.shareNeighborsMs });
  }
  const returned = await module.setup({ ifname: start.ifname, queue: start.queue, options: start.options, device, iface, cpus: start.cpus });
  service = returned ?? undefined;
  if (finished) return;
  collectBeforeTraffic();
  iface?.start();
  send({
    kind: 'ready',
    port: {
      queue: start.queue, name: device.name, backend: device.backend, mode: device.mode, macAddress: device.macAddress,
      cpus: start.cpus, threadId, fallback: device.fallback ?? null,
      checksums: iface?.checksumPolicy ?? null, vlan: iface?.vlan ?? null,
    },
  });
}

process.on('uncaughtException', (error) => void fail(error));
process.on('unhandledRejection', (error) => void fail(error));
port?.on('message', onMessage);
run().catch(fail);
