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
  /**
   * Optional: write the time into `cells[0]` and say whether it has reached
   * `cells[1]`. The loop calls it once a turn: a turn runs too seldom for V8
   * to optimize it, and code V8 has not optimized puts every double it reads
   * or returns on the heap (a time returned by nowMs(), a field holding one),
   * so a clock that can read itself and compare outside JS leaves nothing
   * behind. Without it the loop uses nowMs().
   */
  tick?(cells: Float64Array): boolean;
}

/**
 * The monotonic clock behind `performance.now()`, read into a reused cell
 * through the addon where it is built: `performance.now()` returns a new heap
 * number at every call, and the loop reads the clock once per turn.
 */
class MonotonicClock implements Clock {
  private readonly cell = new Float64Array(1);
  /** performance.now() minus the addon's clock, so that both tell the same time; the addon reads it from here. */
  private readonly offset = new Float64Array(1);

  constructor(
    private readonly read: (cell: Float64Array) => void,
    private readonly readAndCompare: (cells: Float64Array, offset: Float64Array) => boolean,
  ) {
    read(this.cell);
    this.offset[0] = performance.now() - this.cell[0];
  }

  nowMs(): number {
    this.read(this.cell);
    return this.cell[0] + this.offset[0];
  }

  tick(cells: Float64Array): boolean {
    return this.readAndCompare(cells, this.offset);
  }
}

function makeSystemClock(): Clock {
  let native: ReturnType<typeof loadNative> | undefined;
  try {
    native = loadNative();
  } catch {
    // no addon built: performance.now() it is
  }
  return typeof native?.readClock === 'function' && typeof native.tickClock === 'function'
    ? new MonotonicClock(native.readClock, native.tickClock)
    : { nowMs: () => performance.now() };
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

/**
 * A timer that is armed, re-armed and cancelled any number of times without
 * allocating: made once (`Loop.timer()` or `TimerQueue.timer()`) for an
 * object that needs one, such as a retransmission or a retry. While armed it
 * holds one slot in its queue's heap; disarmed, none.
 */
export class Timer {
  /** When it runs, in the queue's milliseconds (meaningful while armed). */
  dueMs = 0;
  readonly callback: TimerCallback;
  /** Position in the queue's heap; -1 while disarmed. */
  heapIndex = -1;
  /** Order among timers due at the same time: the one armed first runs first. */
  sequence = 0;
  /** The id `TimerQueue.schedule` gave it (0 for timers from timer()). */
  id = 0;
  private readonly queue: TimerQueue;

  constructor(queue: TimerQueue, callback: TimerCallback) {
    this.queue = queue;
    this.callback = callback;
  }

  /** True from arm() until it runs or is cancelled. */
  get armed(): boolean {
    return this.heapIndex >= 0;
  }

  /** Run it `delayMs` from the queue's now; re-arming an armed timer moves it. */
  arm(delayMs: number): void {
    this.queue.arm(this, this.queue.nowMs() + delayMs);
  }

  /** Run it at `dueMs` on the queue's clock; re-arming an armed timer moves it. */
  armAt(dueMs: number): void {
    this.queue.arm(this, dueMs);
  }

  /** Disarm it (a no-op when it is not armed). */
  cancel(): void {
    this.queue.disarm(this);
  }
}

/**
 * A min-heap of armed timers keyed by due time (ties run in arming order).
 * Its memory is bounded by what is armed: a cancelled timer leaves the heap
 * at once, and re-arming moves a timer's one entry instead of adding another.
 */
export class TimerQueue {
  /** Called when a timer armed becomes the earliest (the loop moves its wake-up). */
  onEarliestChanged: (() => void) | null = null;
  private readonly heap: Timer[] = [];
  /** One-shot timers from schedule(), by id, while armed. */
  private readonly byId = new Map<number, Timer>();
  private readonly now: () => number;
  private nextId = 1;
  private sequence = 0;

  /** `now` is the clock arm(delayMs) counts from (the loop's). */
  constructor(now: () => number = () => 0) {
    this.now = now;
  }

  /** The queue's current time. */
  nowMs(): number {
    return this.now();
  }

  /** A reusable timer running `callback`, disarmed. */
  timer(callback: TimerCallback): Timer {
    return new Timer(this, callback);
  }

  /** Schedule a one-shot `callback` at `dueMs`; returns an id for cancel(). Allocates a Timer: use timer() for one re-armed often. */
  schedule(dueMs: number, callback: TimerCallback): number {
    const timer = new Timer(this, callback);
    timer.id = this.nextId++;
    this.byId.set(timer.id, timer);
    this.arm(timer, dueMs);
    return timer.id;
  }

  /** Cancel a timer from schedule(); unknown or already-run ids are ignored. */
  cancel(id: number): void {
    const timer = this.byId.get(id);
    if (timer !== undefined) this.disarm(timer);
  }

  /** Timers armed: the heap's entries, no more. */
  get size(): number {
    return this.heap.length;
  }

  /** One-shot timers from schedule() still armed (each holds one id entry besides its heap entry). */
  get scheduledIds(): number {
    return this.byId.size;
  }

  /** Due time of the earliest armed timer, or Infinity. */
  nextDueMs(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0].dueMs;
  }

  /** Run every timer due at `nowMs` (including ones armed by them for no later than `nowMs`); returns how many ran. */
  runDue(nowMs: number): number {
    const heap = this.heap;
    let ran = 0;
    while (heap.length > 0 && heap[0].dueMs <= nowMs) {
      const timer = heap[0];
      this.removeAt(0);
      if (timer.id !== 0) this.byId.delete(timer.id);
      ran++;
      timer.callback(nowMs);
    }
    return ran;
  }

  /** Arm `timer` (one of this queue's) at `dueMs`, moving it when armed already. */
  arm(timer: Timer, dueMs: number): void {
    timer.dueMs = dueMs;
    timer.sequence = this.sequence++;
    const heap = this.heap;
    if (timer.heapIndex < 0) {
      timer.heapIndex = heap.length;
      heap.push(timer);
      this.siftUp(timer.heapIndex);
    } else {
      // A later due time or sequence moves it down; an earlier one up.
      this.siftDown(timer.heapIndex);
      this.siftUp(timer.heapIndex);
    }
    if (timer.heapIndex === 0 && this.onEarliestChanged !== null) this.onEarliestChanged();
  }

  /** Take `timer` out of the heap (a no-op when it is not armed). */
  disarm(timer: Timer): void {
    if (timer.heapIndex < 0) return;
    this.removeAt(timer.heapIndex);
    if (timer.id !== 0) this.byId.delete(timer.id);
  }

  private removeAt(index: number): void {
    const heap = this.heap;
    const removed = heap[index];
    const last = heap.pop() as Timer;
    removed.heapIndex = -1;
    if (last === removed) return;
    heap[index] = last;
    last.heapIndex = index;
    this.siftDown(index);
    this.siftUp(last.heapIndex);
  }

  private static before(a: Timer, b: Timer): boolean {
    return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.sequence < b.sequence);
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const timer = heap[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex];
      if (!TimerQueue.before(timer, parent)) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = timer;
    timer.heapIndex = index;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const timer = heap[index];
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && TimerQueue.before(heap[right], heap[left]) ? right : left;
      if (!TimerQueue.before(heap[child], timer)) break;
      heap[index] = heap[child];
      heap[index].heapIndex = index;
      index = child;
    }
    heap[index] = timer;
    timer.heapIndex = index;
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
/** spinAfterFrames when spinning is off: more frames than any turn takes. */
const NEVER_SPIN = 0x3fffffff;
/** nowCell's indexes: the loop's time, and no live timer due before this. */
const NOW = 0;
const EARLIEST_DUE = 1;
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
  /** The stack's timers, on the loop's clock. */
  readonly timers: TimerQueue;
  readonly clock: Clock;
  readonly counters: LoopStats = { turns: 0, batches: 0, frames: 0, yields: 0, rearms: 0, timersRun: 0 };
  /**
   * The loop's time at index 0: the turn's time during a turn, else what
   * refreshNow() last read. Per-packet code that needs the time calls
   * refreshNow() and reads it here: a number returned from a call that is
   * not inlined is boxed, a garbage object per packet. Index 1 is the
   * loop's own: no live timer is due before it (cancelled ones may make it
   * early), so a turn whose time is earlier leaves the queue alone.
   */
  readonly nowCell = new Float64Array(2);
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
  /** One Timeout, re-armed with refresh(): a new one per turn would be garbage. */
  private txRetry: NodeJS.Timeout | null = null;
  private txRetryArmed = false;
  private inTurn = false;
  private runningTimers = false;
  /** Whether the turn's time has reached nowCell[1]: the clock says so as it reads the time. */
  private timersDue = false;
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
    this.readClock();
    this.runTimers();
    // Node's timer may fire before the loop's clock says the earliest is due (runTimers then runs nothing): wait again.
    this.armTimer();
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
    // A small integer, not Infinity: the turn compares with it, and a double read there is a heap number.
    this.spinAfterFrames = options.spin === false ? NEVER_SPIN : SPIN_AFTER_FRAMES;
    this.turnFrames = this.batchesPerTurn * this.batchSize;
    this.clock = options.clock ?? systemClock;
    this.timers = new TimerQueue(() => this.nowMs());
    this.nowCell[EARLIEST_DUE] = Infinity;
    // A timer armed earlier than the loop's wake-up moves it (after runTimers the loop re-arms anyway).
    this.timers.onEarliestChanged = () => {
      const due = this.timers.nextDueMs();
      if (due < this.nowCell[EARLIEST_DUE]) {
        this.nowCell[EARLIEST_DUE] = due;
        // Armed during a turn for the turn's time or earlier: this turn runs it.
        if (this.inTurn && due <= this.nowCell[NOW]) this.timersDue = true;
      }
      if (!this.runningTimers) this.armTimer();
    };
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    if (!Number.isInteger(this.batchesPerTurn) || this.batchesPerTurn < 1) throw new RangeError(`batchesPerTurn must be a positive integer, got ${options.batchesPerTurn}`);
  }

  /**
   * The loop's current time in milliseconds: read once per turn and shared
   * by everything that runs in it (reading a clock allocates a number), and
   * read fresh outside a turn.
   */
  nowMs(): number {
    return this.inTurn ? this.nowCell[NOW] : this.clock.nowMs();
  }

  /** Bring nowCell to nowMs() (outside a turn, frames handed to the stack by hand, as tests do, need it). */
  refreshNow(): void {
    if (!this.inTurn) this.nowCell[NOW] = this.clock.nowMs();
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

  /**
   * A reusable timer on the loop's clock: `arm(delayMs)`, `armAt(dueMs)`,
   * `cancel()`, any number of times, without allocating. For anything armed
   * again and again (retries, retransmissions).
   */
  timer(callback: TimerCallback): Timer {
    return this.timers.timer(callback);
  }

  /** Run `callback` once at `delayMs` from now on the loop's clock; returns an id for cancelTimer. Allocates per call: see timer(). */
  setTimer(delayMs: number, callback: TimerCallback): number {
    return this.timers.schedule(this.nowMs() + delayMs, callback);
  }

  /** Cancel a timer from setTimer (its memory goes with it). */
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
    this.readClock();
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
    if (this.timers.size === 0 || !this.timersDue) return;
    this.runningTimers = true;
    try {
      // The time readClock() just put in the cell (a turn's, or onTimer's): no second read of the clock.
      this.counters.timersRun += this.timers.runDue(this.nowCell[NOW]);
    } finally {
      this.runningTimers = false;
    }
    this.nowCell[EARLIEST_DUE] = this.timers.nextDueMs();
    this.timersDue = false;
    this.armTimer();
  }

  /** Read the clock into nowCell[NOW], and whether a timer may be due. */
  private readClock(): void {
    const clock = this.clock;
    if (clock.tick !== undefined) {
      this.timersDue = clock.tick(this.nowCell);
      return;
    }
    const now = clock.nowMs();
    this.nowCell[NOW] = now;
    this.timersDue = now >= this.nowCell[EARLIEST_DUE];
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
