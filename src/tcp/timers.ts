// TCP's timers: every connection has one deadline (the earliest of its
// retransmission, delayed-ACK, persist, keepalive and close timers), kept
// in an indexed min-heap here, and the layer holds a single loop timer for
// the heap's earliest. Moving a deadline is a field write and a sift: no
// allocation, and nothing is left behind when a timer is cancelled.
//
// The loop timer is the only contact with the loop's timer queue: one
// handle, brought forward when a deadline comes before it, so TCP holds at
// most one entry in the loop's queue however many connections and
// deadlines there are.

import type { Timer, TimerCallback } from '../loop';

/** Something with a deadline in the heap. */
export interface TimedEntry {
  /** Position in the heap; -1 when not in it. */
  heapIndex: number;
  /** When it is due (loop milliseconds); Infinity: never. */
  dueMs: number;
}

/** What the timers need of the loop. */
export interface TimerHost {
  timer(callback: TimerCallback): Timer;
  nowMs(): number;
}

/** An indexed min-heap of deadlines driving one loop timer. */
export class TcpTimers<T extends TimedEntry> {
  private readonly heap: T[] = [];
  private readonly onDue: (entry: T, nowMs: number) => void;
  /** The loop timer, armed at the heap's earliest deadline while there is one. */
  private readonly loopTimer: Timer;
  private running = false;

  /** `onDue` is called for each entry whose deadline has come; it must set a new dueMs (or Infinity) and call update(). */
  constructor(host: TimerHost, onDue: (entry: T, nowMs: number) => void) {
    this.onDue = onDue;
    this.loopTimer = host.timer((nowMs) => this.runDue(nowMs));
  }

  /** Entries with a deadline. */
  get size(): number {
    return this.heap.length;
  }

  /** The earliest deadline, or Infinity. */
  get nextDueMs(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0].dueMs;
  }

  /** Put `entry` where its (changed) dueMs belongs; Infinity takes it out. */
  update(entry: T): void {
    const index = entry.heapIndex;
    if (entry.dueMs === Infinity) {
      if (index >= 0) this.removeAt(index);
      return;
    }
    if (index < 0) {
      entry.heapIndex = this.heap.length;
      this.heap.push(entry);
      this.siftUp(entry.heapIndex);
    } else {
      this.siftUp(index);
      this.siftDown(entry.heapIndex);
    }
    if (entry.heapIndex === 0 && !this.running) this.arm();
  }

  /** Take `entry` out of the heap. */
  remove(entry: T): void {
    if (entry.heapIndex >= 0) this.removeAt(entry.heapIndex);
  }

  /** Run every entry due at `nowMs`. */
  runDue(nowMs: number): void {
    this.running = true;
    try {
      const heap = this.heap;
      // An entry re-armed for no later than now runs again in this call; the bound stops a runaway.
      for (let guard = 0; heap.length > 0 && heap[0].dueMs <= nowMs && guard < 1_000_000; guard++) this.onDue(heap[0], nowMs);
    } finally {
      this.running = false;
    }
    this.arm();
  }

  /** Forget every entry and the loop timer. */
  clear(): void {
    for (const entry of this.heap) entry.heapIndex = -1;
    this.heap.length = 0;
    this.loopTimer.cancel();
  }

  /**
   * Bring the loop timer forward to the earliest deadline. A deadline that
   * moved later, or left, leaves the loop timer where it was: it then runs
   * early, finds nothing due and is armed again, which costs less than
   * moving it on every acknowledgment.
   */
  private arm(): void {
    const heap = this.heap;
    if (heap.length === 0) return;
    const dueMs = heap[0].dueMs;
    if (!this.loopTimer.armed || dueMs < this.loopTimer.dueMs) this.loopTimer.armAt(dueMs);
  }

  private removeAt(index: number): void {
    const heap = this.heap;
    const entry = heap[index];
    entry.heapIndex = -1;
    const last = heap.pop() as T;
    if (index === heap.length) return;
    heap[index] = last;
    last.heapIndex = index;
    this.siftUp(index);
    this.siftDown(last.heapIndex);
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const entry = heap[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex];
      if (parent.dueMs <= entry.dueMs) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.heapIndex = index;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const entry = heap[index];
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && heap[right].dueMs < heap[left].dueMs ? right : left;
      if (heap[child].dueMs >= entry.dueMs) break;
      heap[index] = heap[child];
      heap[index].heapIndex = index;
      index = child;
    }
    heap[index] = entry;
    entry.heapIndex = index;
  }
}
