// The event loop: wait for the device's fd through libuv, drain batches,
// run timers. It owns the clock: protocol code is handed `nowMs`, never
// reads time itself, so tests can drive it with a fake clock.
//
// On readability it drains up to `batchesPerTurn` batches, then yields to
// Node's loop (setImmediate) if more is pending, with the fd watch paused;
// once drained it re-arms the watch. It never blocks Node's loop and never
// spins when idle. Busy-poll mode (benchmarks) skips the watch and polls
// every turn of Node's loop instead.

import { loadNative } from './native';
import type { Device, FrameHandler } from './phy/device';

/** A source of monotonic milliseconds. */
export interface Clock {
  nowMs(): number;
}

/**
 * The monotonic clock behind `performance.now()`, read into a reused cell
 * through the addon where it is built: `performance.now()` returns a new heap
 * number at every call, and the loop reads the clock once per turn.
 */
class MonotonicClock implements Clock {
  private readonly cell = new Float64Array(1);
  /** performance.now() minus the addon's clock, so that both tell the same time. */
  private readonly offsetMs: number;

  constructor(private readonly read: (cell: Float64Array) => void) {
    read(this.cell);
    this.offsetMs = performance.now() - this.cell[0];
  }

  nowMs(): number {
    this.read(this.cell);
    return this.cell[0] + this.offsetMs;
  }
}

function makeSystemClock(): Clock {
  let read: ((cell: Float64Array) => void) | undefined;
  try {
    read = loadNative().readClock;
  } catch {
    // no addon built: performance.now() it is
  }
  return typeof read === 'function' ? new MonotonicClock(read) : { nowMs: () => performance.now() };
}

/** The real monotonic clock (performance.now()'s time). */
export const systemClock: Clock = makeSystemClock();

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  constructor(public timeMs = 0) {}
  nowMs(): number {
    return this.timeMs;
  }
  advance(ms: number): void {
    this.timeMs += ms;
  }
}

/** Called when a timer is due, with the loop's current time. */
export type TimerCallback = (nowMs: number) => void;

interface TimerEntry {
  dueMs: number;
  sequence: number;
  id: number;
  callback: TimerCallback;
}

/** A min-heap of timers keyed by due time (ties run in scheduling order). */
export class TimerQueue {
  private readonly heap: TimerEntry[] = [];
  private readonly live = new Set<number>();
  private nextId = 1;
  private sequence = 0;

  /** Schedule `callback` at `dueMs`; returns an id for cancel(). */
  schedule(dueMs: number, callback: TimerCallback): number {
    const id = this.nextId++;
    this.live.add(id);
    this.push({ dueMs, sequence: this.sequence++, id, callback });
    return id;
  }

  /** Cancel a scheduled timer; unknown or already-run ids are ignored. */
  cancel(id: number): void {
    this.live.delete(id);
  }

  /** Timers scheduled and not yet run or cancelled. */
  get size(): number {
    return this.live.size;
  }

  /** Due time of the earliest live timer, or Infinity. */
  nextDueMs(): number {
    this.dropCancelled();
    return this.heap.length === 0 ? Infinity : this.heap[0].dueMs;
  }

  /** Run every timer due at `nowMs` (including ones scheduled by them for no later than `nowMs`); returns how many ran. */
  runDue(nowMs: number): number {
    let ran = 0;
    for (;;) {
      this.dropCancelled();
      if (this.heap.length === 0 || this.heap[0].dueMs > nowMs) return ran;
      const entry = this.pop();
      this.live.delete(entry.id);
      ran++;
      entry.callback(nowMs);
    }
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && !this.live.has(this.heap[0].id)) this.pop();
  }

  private before(a: TimerEntry, b: TimerEntry): boolean {
    return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.sequence < b.sequence);
  }

  private push(entry: TimerEntry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private pop(): TimerEntry {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop() as TimerEntry;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && this.before(heap[left], heap[smallest])) smallest = left;
        if (right < heap.length && this.before(heap[right], heap[smallest])) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
        i = smallest;
      }
    }
    return top;
  }
}

/**
 * Frames a turn takes by default before yielding to Node's loop: about 2 ms
 * of work under a flood. Each turn is one call from libuv into JS, which
 * costs a little garbage, so turns are long.
 */
const TURN_FRAMES = 4096;
/** Empty polls a busy turn makes before it waits for the fd again (each reads the ring's producer index, some tens of ns). */
const SPIN_IDLE_POLLS = 4096;
/** A turn counts as busy from this many frames on, whatever the batch size. */
const SPIN_AFTER_FRAMES = 64;
/** Busy-poll turns may run this many times the normal batch budget. */
const BUSY_POLL_TURN_FACTOR = 8;
/** Busy-poll turns end after this many empty polls in a row (a few ms): each turn is an iteration of Node's loop, which leaves an object on the heap. */
const BUSY_POLL_IDLE_POLLS = 65536;

export interface LoopOptions {
  /** Frames per receive call (default 64). */
  batchSize?: number;
  /** Batches per turn before yielding to Node's loop (default: 4096 frames' worth); partial batches count for the frames they hold. */
  batchesPerTurn?: number;
  /** Poll every turn of Node's loop instead of waiting for the fd (benchmarks). */
  busyPoll?: boolean;
  /**
   * After a turn of 64 frames or more, poll the drained ring a little longer
   * (tens of µs) before waiting for the fd (default true).
   */
  spin?: boolean;
  /** The clock (default: performance.now). */
  clock?: Clock;
}

/** Loop counters, readable at any time. */
export interface LoopStats {
  turns: number;
  batches: number;
  frames: number;
  /** Turns that ended with frames still pending (yielded to Node's loop). */
  yields: number;
  /** Times the fd watch was (re-)armed. */
  rearms: number;
  timersRun: number;
}

/** Drives one device: receive batches into `onFrame`, flush, run timers. */
export class Loop {
  readonly device: Device;
  readonly timers = new TimerQueue();
  readonly clock: Clock;
  readonly counters: LoopStats = { turns: 0, batches: 0, frames: 0, yields: 0, rearms: 0, timersRun: 0 };
  /** Where received frames go (the stack's input). */
  onFrame: FrameHandler;

  private readonly batchSize: number;
  private readonly batchesPerTurn: number;
  private readonly busyPoll: boolean;
  private readonly spinAfterFrames: number;
  /** Frames a turn takes at most: batchesPerTurn full batches. */
  private readonly turnFrames: number;
  /** Whether the last turn took spinAfterFrames frames or more. */
  private lastTurnBusy = false;
  private running = false;
  private watching = false;
  private turnScheduled = false;
  private flushScheduled = false;
  private timerHandle: NodeJS.Timeout | null = null;
  private timerDueMs = Infinity;
  /**
   * No live timer is due before this (cancelled ones may make it early):
   * a turn looks here before it asks the queue, since handing the time to a
   * call that is not inlined boxes it, a heap number per turn.
   */
  private earliestDueMs = Infinity;
  /** One Timeout, re-armed with refresh(): a new one per turn would be garbage. */
  private txRetry: NodeJS.Timeout | null = null;
  private txRetryArmed = false;
  private inTurn = false;
  private turnNowMs = 0;
  private readonly onReadable = (): void => this.turn();
  private readonly onYielded = (): void => {
    this.turnScheduled = false;
    this.turn();
  };
  private readonly onFlush = (): void => {
    this.flushScheduled = false;
    if (this.running && !this.device.closed) this.flushDevice();
  };
  private readonly onTimer = (): void => {
    this.timerHandle = null;
    this.timerDueMs = Infinity;
    if (!this.running) return;
    this.runTimers();
    this.flushDevice();
  };
  private readonly onTxRetry = (): void => {
    this.txRetryArmed = false;
    if (this.running && !this.device.closed) this.flushDevice();
  };

  constructor(device: Device, onFrame: FrameHandler, options: LoopOptions = {}) {
    this.device = device;
    this.onFrame = onFrame;
    this.batchSize = options.batchSize ?? 64;
    // A turn takes about TURN_FRAMES frames whatever the batch size: small batches must not mean many turns.
    this.batchesPerTurn = options.batchesPerTurn ?? Math.max(1, Math.ceil(TURN_FRAMES / this.batchSize));
    this.busyPoll = options.busyPoll === true;
    this.spinAfterFrames = options.spin === false ? Infinity : SPIN_AFTER_FRAMES;
    this.turnFrames = this.batchesPerTurn * this.batchSize;
    this.clock = options.clock ?? systemClock;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    if (!Number.isInteger(this.batchesPerTurn) || this.batchesPerTurn < 1) throw new RangeError(`batchesPerTurn must be a positive integer, got ${options.batchesPerTurn}`);
  }

  /**
   * The loop's current time in milliseconds: read once per turn and shared
   * by everything that runs in it (reading a clock allocates a number), and
   * read fresh outside a turn.
   */
  nowMs(): number {
    return this.inTurn ? this.turnNowMs : this.clock.nowMs();
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Start receiving. */
  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.busyPoll) this.scheduleTurn();
    else this.arm();
    this.armTimer();
  }

  /** Stop receiving and cancel the loop's own Node timers (the device stays open). */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    if (this.watching && !this.device.closed) this.device.unwatch();
    this.watching = false;
    if (this.timerHandle !== null) clearTimeout(this.timerHandle);
    if (this.txRetry !== null) clearTimeout(this.txRetry);
    this.timerHandle = null;
    this.txRetry = null;
    this.txRetryArmed = false;
    this.timerDueMs = Infinity;
  }

  /** Run `callback` at `delayMs` from now on the loop's clock; returns an id for cancelTimer. */
  setTimer(delayMs: number, callback: TimerCallback): number {
    const dueMs = this.nowMs() + delayMs;
    const id = this.timers.schedule(dueMs, callback);
    if (dueMs < this.earliestDueMs) this.earliestDueMs = dueMs;
    this.armTimer();
    return id;
  }

  cancelTimer(id: number): void {
    this.timers.cancel(id);
  }

  /** Ask for a device flush soon (frames queued outside a receive turn). */
  requestFlush(): void {
    if (this.flushScheduled || !this.running) return;
    this.flushScheduled = true;
    setImmediate(this.onFlush);
  }

  /** One turn: drain up to batchesPerTurn batches, flush, run timers, then wait or yield. */
  turn(): void {
    if (!this.running || this.device.closed) return;
    this.turnNowMs = this.clock.nowMs();
    this.inTurn = true;
    try {
      this.drain();
    } finally {
      this.inTurn = false;
    }
  }

  private drain(): void {
    const device = this.device;
    const counters = this.counters;
    counters.turns++;
    let received = 0;
    let batches = 0;
    if (this.busyPoll) {
      // Spin: poll until the batch budget is spent or the ring stayed empty for a while,
      // so a busy loop costs one setImmediate per turn, not one per empty poll.
      let idlePolls = 0;
      const maxBatches = this.batchesPerTurn * BUSY_POLL_TURN_FACTOR;
      while (batches < maxBatches && idlePolls < BUSY_POLL_IDLE_POLLS && this.running) {
        received = device.receive(this.batchSize, this.onFrame);
        counters.frames += received;
        if (device.closed) return;
        if (received > 0) {
          batches++;
          idlePolls = 0;
          device.flush();
        } else {
          idlePolls++;
          if (device.txPending()) device.flush();
        }
      }
      received = idlePolls === 0 ? this.batchSize : 0;
    } else {
      let turnFrames = 0;
      let idlePolls = 0;
      for (;;) {
        received = device.receive(this.batchSize, this.onFrame);
        counters.frames += received;
        turnFrames += received;
        if (device.closed) return;
        if (received > 0) {
          batches++;
          idlePolls = 0;
          device.flush();
        }
        // The budget is in frames: partial batches count for what they hold.
        if (turnFrames >= this.turnFrames || !this.running) break;
        if (received === this.batchSize) continue;
        // The ring is drained. After a busy turn the next frames are
        // microseconds away: look a while longer rather than return to
        // epoll, since every wakeup is a call into JS (and its garbage).
        // A turn that follows a busy one spins from the start: under a steady
        // load the frames come in bunches smaller than a batch.
        if ((turnFrames < this.spinAfterFrames && !this.lastTurnBusy) || idlePolls >= SPIN_IDLE_POLLS) break;
        idlePolls++;
        if (device.txPending()) device.flush();
      }
      this.lastTurnBusy = turnFrames >= this.spinAfterFrames;
    }
    counters.batches += batches;
    this.runTimers();
    if (!this.running || device.closed) return;
    this.flushDevice();
    if (this.busyPoll || received === this.batchSize) {
      if (received === this.batchSize) counters.yields++;
      // Frames still wait: come back on the next turn of Node's loop without
      // the fd watch, which would be woken by every transmit completion.
      if (this.watching) {
        device.unwatch();
        this.watching = false;
      }
      this.scheduleTurn();
    } else {
      this.arm();
    }
  }

  private arm(): void {
    if (this.watching || this.busyPoll) return;
    this.watching = true;
    this.counters.rearms++;
    this.device.watch(this.onReadable);
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    // The device's deferral reuses one libuv handle; setImmediate allocates an Immediate per call.
    // Either way the next turn comes after Node's poll phase, so signals and timers still run.
    if (this.device.defer !== undefined) this.device.defer(this.onYielded);
    else setImmediate(this.onYielded);
  }

  private flushDevice(): void {
    const device = this.device;
    device.flush();
    if (device.txPending() && !this.txRetryArmed && !device.closed) {
      // Completions come back asynchronously: look again shortly, without spinning.
      this.txRetryArmed = true;
      // The device's own timer when it has one: a Node timer allocates each time it is re-armed and fires.
      if (device.later !== undefined) device.later(this.onTxRetry, 1);
      else if (this.txRetry === null) this.txRetry = setTimeout(this.onTxRetry, 1);
      else this.txRetry.refresh();
    }
  }

  private runTimers(): void {
    if (this.timers.size === 0 || this.nowMs() < this.earliestDueMs) return;
    this.counters.timersRun += this.timers.runDue(this.nowMs());
    this.earliestDueMs = this.timers.nextDueMs();
    this.armTimer();
  }

  private armTimer(): void {
    if (!this.running) return;
    const due = this.timers.nextDueMs();
    if (due === this.timerDueMs) return;
    if (this.timerHandle !== null) clearTimeout(this.timerHandle);
    this.timerHandle = null;
    this.timerDueMs = due;
    if (due === Infinity) return;
    this.timerHandle = setTimeout(this.onTimer, Math.max(0, Math.ceil(due - this.nowMs())));
  }
}
