// Neighbours shared between the ports of one interface. With one port per
// NIC queue, each port's host has its own ARP cache, and an ARP reply lands
// on one queue only: a port that sends (rather than replies in place) would
// wait for an answer another queue received. Each cache's learned entries
// are collected here, posted in batches (a few milliseconds apart, never one
// message per packet) to the other ports, and adopted there as if the ARP
// packet had come to them.

import type { Interface } from './interface';
import type { Timer } from '../loop';

/** u32 fields per shared entry: address, MAC high 16 bits, MAC low 32 bits, confirmed (1 or 0). */
export const NEIGHBOR_SHARE_FIELDS = 4;

export interface NeighborShareOptions {
  /** How long learned entries are collected before they are posted (default 10 ms). */
  delayMs?: number;
  /** Distinct neighbours one batch holds (default: the cache's maxEntries); more are counted and left out. */
  capacity?: number;
}

/** What a NeighborShare did, for the service's stats. */
export interface NeighborShareCounters {
  /** Entries posted to the other ports. */
  sent: number;
  /** Batches posted. */
  batches: number;
  /** Entries taken from other ports. */
  adopted: number;
  /** Entries left out because a batch was full. */
  overflow: number;
}

/** Collects what one interface's ARP cache learns, posts it in batches, and adopts what other ports learned. */
export class NeighborShare {
  readonly counters: NeighborShareCounters = { sent: 0, batches: 0, adopted: 0, overflow: 0 };
  readonly delayMs: number;
  readonly capacity: number;
  private readonly iface: Interface;
  private readonly post: (entries: Uint32Array) => void;
  private readonly pending: Uint32Array;
  private count = 0;
  /** Address → its entry's index in `pending`, while a batch collects. */
  private readonly slots = new Map<number, number>();
  /** Armed while a batch collects: the batch leaves when it runs. */
  private readonly timer: Timer;

  /** Share `iface`'s learned neighbours through `post` (a copy of the batch is handed over: it may be transferred). */
  constructor(iface: Interface, post: (entries: Uint32Array) => void, options: NeighborShareOptions = {}) {
    this.iface = iface;
    this.post = post;
    this.delayMs = options.delayMs ?? 10;
    if (!(this.delayMs >= 0) || !Number.isFinite(this.delayMs)) throw new TypeError(`delayMs must be a number of milliseconds, got ${options.delayMs}`);
    this.capacity = options.capacity ?? iface.neighbors.maxEntries;
    if (!Number.isInteger(this.capacity) || this.capacity < 1) throw new TypeError(`capacity must be a positive integer, got ${options.capacity}`);
    this.pending = new Uint32Array(this.capacity * NEIGHBOR_SHARE_FIELDS);
    this.timer = iface.loop.timer(() => this.flush());
    iface.neighbors.onLearned = (address, high16, low32, confirmed) => this.learned(address, high16, low32, confirmed);
  }

  /** Post what has been collected now. */
  flush(): void {
    this.timer.cancel();
    const count = this.count;
    if (count === 0) return;
    this.count = 0;
    this.slots.clear();
    this.counters.sent += count;
    this.counters.batches++;
    this.post(this.pending.slice(0, count * NEIGHBOR_SHARE_FIELDS));
  }

  /** Learn the entries another port posted; frames waiting for them leave now. Returns how many were taken. */
  adopt(entries: Uint32Array): number {
    const iface = this.iface;
    if (iface.closed) return 0;
    const nowMs = iface.loop.nowMs();
    const count = Math.floor(entries.length / NEIGHBOR_SHARE_FIELDS);
    for (let i = 0; i < count; i++) {
      const at = i * NEIGHBOR_SHARE_FIELDS;
      iface.neighbors.adopt(entries[at], entries[at + 1], entries[at + 2], entries[at + 3] === 1, nowMs);
    }
    this.counters.adopted += count;
    iface.flush();
    return count;
  }

  /** Stop listening to the cache (what was collected is dropped). */
  detach(): void {
    this.timer.cancel();
    this.count = 0;
    this.slots.clear();
    this.iface.neighbors.onLearned = null;
  }

  private learned(address: number, high16: number, low32: number, confirmed: boolean): void {
    const pending = this.pending;
    let slot = this.slots.get(address);
    if (slot === undefined) {
      if (this.count === this.capacity) {
        this.counters.overflow++;
        return;
      }
      slot = this.count++;
      this.slots.set(address, slot);
      pending[slot * NEIGHBOR_SHARE_FIELDS + 3] = 0;
    }
    const at = slot * NEIGHBOR_SHARE_FIELDS;
    pending[at] = address;
    pending[at + 1] = high16;
    pending[at + 2] = low32;
    // A confirmation anywhere in the batch confirms the entry.
    if (confirmed) pending[at + 3] = 1;
    if (!this.timer.armed) this.timer.arm(this.delayMs);
  }
}
