// A fake netmap port for tests: a region laid out byte by byte from the
// tables in shared/ref/netmap-abi.md (the numbers below are copied from
// there, not imported from src/), and a fake kernel that moves head, cur and
// tail on TXSYNC / RXSYNC the way netmap does, checking the ring protocol.

import type { NetmapPort } from '../../../src/native';

// struct netmap_if
const IF_NAME = 0;
const IF_VERSION = 16;
const IF_TX_RINGS = 24;
const IF_RX_RINGS = 28;
const IF_BUFS_HEAD = 32;
const IF_HOST_TX_RINGS = 36;
const IF_HOST_RX_RINGS = 40;
const IF_RING_OFS = 56;

// struct netmap_ring
const RING_BUF_OFS = 0;
const RING_NUM_SLOTS = 8;
const RING_NR_BUF_SIZE = 12;
const RING_RINGID = 16;
const RING_DIR = 18;
const RING_HEAD = 20;
const RING_CUR = 24;
const RING_TAIL = 28;
const RING_SLOT = 256;

// struct netmap_slot
const SLOT_BUF_IDX = 0;
const SLOT_LEN = 4;
const SLOT_FLAGS = 6;
const SLOT_SIZE = 16;

export const NS_BUF_CHANGED = 0x1;
export const NS_REPORT = 0x2;
export const NS_MOREFRAG = 0x20;

export const NR_REG_ALL_NIC = 1;
export const NR_REG_SW = 2;
export const NR_REG_NIC_SW = 3;
export const NR_REG_ONE_NIC = 4;
export const NR_REG_ONE_SW = 8;
export const NR_RX_RINGS_ONLY = 0x2000;
export const NR_TX_RINGS_ONLY = 0x4000;

const EINVAL = 22;
const EBADF = 9;
/** netmap keeps buffers 0 and 1 for itself. */
const FIRST_BUFFER = 2;

export interface FakeNetmapOptions {
  /** NIC ring pairs (default 1). */
  nicRings?: number;
  /** Host-stack ring pairs (default 1). */
  hostRings?: number;
  /** Slots per ring (default 1000: not a power of two). */
  slots?: number;
  /** nr_buf_size (default 2048). */
  bufferSize?: number;
  /** nr_mode (default NR_REG_ALL_NIC). */
  mode?: number;
  ringId?: number;
  /** nr_flags: NR_RX_RINGS_ONLY / NR_TX_RINGS_ONLY. */
  flags?: number;
}

/** A frame the fake kernel took from a TX ring on TXSYNC. */
export interface SentFrame {
  /** Index in the TX half of ring_ofs[]. */
  ring: number;
  slot: number;
  bufIdx: number;
  flags: number;
  bytes: Uint8Array;
}

/** The kernel side of one ring. */
export class FakeRing {
  /** Frames (and the slot flags they arrive with) waiting on the "wire" for this RX ring. */
  readonly pending: { bytes: Uint8Array; flags: number }[] = [];
  hwcur = 0;
  hwtail: number;
  constructor(
    readonly direction: 'tx' | 'rx',
    /** Index in this direction's half of ring_ofs[]. */
    readonly index: number,
    readonly offset: number,
    readonly slots: number,
    readonly bound: boolean,
  ) {
    // An empty TX ring offers every slot but one; an empty RX ring offers none.
    this.hwtail = direction === 'tx' ? slots - 1 : 0;
  }

  following(i: number): number {
    return i + 1 === this.slots ? 0 : i + 1;
  }
}

/** A NetmapPort whose kernel is JavaScript. */
export class FakeNetmap implements NetmapPort {
  readonly fd = -1;
  memory: ArrayBuffer;
  readonly ifOffset = 0x1000;
  readonly memsize: number;
  readonly txRings: number;
  readonly rxRings: number;
  readonly hostTxRings: number;
  readonly hostRxRings: number;
  readonly txSlots: number;
  readonly rxSlots: number;
  readonly memId = 1;
  readonly bufferSize: number;
  readonly bufferArea: number;
  readonly bufferCount: number;
  readonly tx: FakeRing[] = [];
  readonly rx: FakeRing[] = [];
  /** Frames taken from TX rings, in order. */
  readonly sent: SentFrame[] = [];
  /** Ring-protocol violations the kernel saw (netmap would reset the ring). */
  readonly violations: string[] = [];
  /** When true, TXSYNC sends but does not complete: tail stays, as with a slow NIC. */
  holdTxCompletions = false;
  txSyncs = 0;
  rxSyncs = 0;
  closed = false;
  watcher: (() => void) | null = null;
  private view: DataView;

  constructor(options: FakeNetmapOptions = {}) {
    const nic = options.nicRings ?? 1;
    const host = options.hostRings ?? 1;
    const slots = options.slots ?? 1000;
    const mode = options.mode ?? NR_REG_ALL_NIC;
    const ringId = options.ringId ?? 0;
    const flags = options.flags ?? 0;
    this.bufferSize = options.bufferSize ?? 2048;
    this.txRings = nic;
    this.rxRings = nic;
    this.hostTxRings = host;
    this.hostRxRings = host;
    this.txSlots = slots;
    this.rxSlots = slots;

    const total = nic + host;
    const ifLength = IF_RING_OFS + 2 * total * 8;
    const ringLength = align(RING_SLOT + slots * SLOT_SIZE, 256);
    const firstRing = align(this.ifOffset + ifLength, 4096);
    this.bufferArea = align(firstRing + 2 * total * ringLength, 4096);
    this.bufferCount = FIRST_BUFFER + 2 * total * slots;
    this.memsize = align(this.bufferArea + this.bufferCount * this.bufferSize, 4096);
    this.memory = new ArrayBuffer(this.memsize);
    this.view = new DataView(this.memory);
    const m = this.view;

    const nifp = this.ifOffset;
    'fake0'.split('').forEach((c, i) => m.setUint8(nifp + IF_NAME + i, c.charCodeAt(0)));
    m.setUint32(nifp + IF_VERSION, 14, true);
    m.setUint32(nifp + IF_TX_RINGS, nic, true);
    m.setUint32(nifp + IF_RX_RINGS, nic, true);
    m.setUint32(nifp + IF_BUFS_HEAD, 0, true);
    m.setUint32(nifp + IF_HOST_TX_RINGS, host, true);
    m.setUint32(nifp + IF_HOST_RX_RINGS, host, true);

    // Buffers handed out in a scrambled order, so buf_idx never follows the slot number.
    const order = scrambled(this.bufferCount - FIRST_BUFFER).map((i) => i + FIRST_BUFFER);
    let nextBuffer = 0;
    for (const direction of ['tx', 'rx'] as const) {
      for (let i = 0; i < total; i++) {
        const tableIndex = (direction === 'tx' ? 0 : total) + i;
        const offset = firstRing + tableIndex * ringLength;
        const isHost = i >= nic;
        const ringNumber = isHost ? i - nic : i;
        const bound = isBound(mode, ringId, flags, direction, isHost, ringNumber);
        const ring = new FakeRing(direction, i, offset, slots, bound);
        (direction === 'tx' ? this.tx : this.rx).push(ring);
        writeInt64(m, nifp + IF_RING_OFS + tableIndex * 8, bound ? offset - nifp : 0);
        writeInt64(m, offset + RING_BUF_OFS, this.bufferArea - offset);
        m.setUint32(offset + RING_NUM_SLOTS, slots, true);
        m.setUint32(offset + RING_NR_BUF_SIZE, this.bufferSize, true);
        m.setUint16(offset + RING_RINGID, i, true);
        m.setUint16(offset + RING_DIR, direction === 'tx' ? 1 : 0, true);
        m.setUint32(offset + RING_HEAD, 0, true);
        m.setUint32(offset + RING_CUR, 0, true);
        m.setUint32(offset + RING_TAIL, ring.hwtail, true);
        for (let s = 0; s < slots; s++) {
          m.setUint32(offset + RING_SLOT + s * SLOT_SIZE + SLOT_BUF_IDX, order[nextBuffer++], true);
        }
      }
    }
  }

  // ----- the NetmapPort surface -----

  txSync(): number {
    if (this.closed) return -EBADF;
    this.txSyncs++;
    const m = this.view;
    let rc = 0;
    for (const ring of this.tx) {
      if (!ring.bound) continue;
      const head = m.getUint32(ring.offset + RING_HEAD, true);
      const cur = m.getUint32(ring.offset + RING_CUR, true);
      if (!this.checkIndices(ring, head, cur)) {
        rc = -EINVAL;
        continue;
      }
      for (let s = ring.hwcur; s !== head; s = ring.following(s)) {
        const at = this.slotOffset(ring, s);
        const length = m.getUint16(at + SLOT_LEN, true);
        const flags = m.getUint16(at + SLOT_FLAGS, true);
        const bufIdx = m.getUint32(at + SLOT_BUF_IDX, true);
        if (length > this.bufferSize) this.violations.push(`tx ${ring.index} slot ${s}: len ${length} > ${this.bufferSize}`);
        const start = this.bufferOffset(bufIdx);
        this.sent.push({ ring: ring.index, slot: s, bufIdx, flags, bytes: new Uint8Array(this.memory.slice(start, start + length)) });
        // Drivers reload the buffer's mapping and clear the request flags.
        m.setUint16(at + SLOT_FLAGS, flags & ~(NS_BUF_CHANGED | NS_REPORT), true);
      }
      ring.hwcur = head;
      if (!this.holdTxCompletions) ring.hwtail = head === 0 ? ring.slots - 1 : head - 1;
      m.setUint32(ring.offset + RING_TAIL, ring.hwtail, true);
    }
    return rc;
  }

  rxSync(): number {
    if (this.closed) return -EBADF;
    this.rxSyncs++;
    const m = this.view;
    let rc = 0;
    for (const ring of this.rx) {
      if (!ring.bound) continue;
      const head = m.getUint32(ring.offset + RING_HEAD, true);
      const cur = m.getUint32(ring.offset + RING_CUR, true);
      if (!this.checkIndices(ring, head, cur)) {
        rc = -EINVAL;
        continue;
      }
      for (let s = ring.hwcur; s !== head; s = ring.following(s)) {
        const at = this.slotOffset(ring, s);
        m.setUint16(at + SLOT_FLAGS, m.getUint16(at + SLOT_FLAGS, true) & ~NS_BUF_CHANGED, true);
      }
      ring.hwcur = head;
      // One slot always stays empty: the kernel stops just before hwcur.
      while (ring.pending.length > 0 && ring.following(ring.hwtail) !== ring.hwcur) {
        const frame = ring.pending.shift()!;
        const at = this.slotOffset(ring, ring.hwtail);
        const bufIdx = m.getUint32(at + SLOT_BUF_IDX, true);
        new Uint8Array(this.memory, this.bufferOffset(bufIdx), frame.bytes.length).set(frame.bytes);
        m.setUint16(at + SLOT_LEN, frame.bytes.length, true);
        m.setUint16(at + SLOT_FLAGS, frame.flags, true);
        ring.hwtail = ring.following(ring.hwtail);
      }
      m.setUint32(ring.offset + RING_TAIL, ring.hwtail, true);
    }
    return rc;
  }

  watch(callback: () => void): void {
    this.watcher = callback;
  }

  unwatch(): void {
    this.watcher = null;
  }

  defer(callback: () => void): void {
    setImmediate(callback);
  }

  private laterTimer: NodeJS.Timeout | null = null;

  later(callback: () => void, delayMs: number): void {
    if (this.laterTimer !== null) clearTimeout(this.laterTimer);
    this.laterTimer = setTimeout(callback, delayMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.laterTimer !== null) clearTimeout(this.laterTimer);
    this.watcher = null;
    // Detach, as the addon does before munmap.
    structuredClone(this.memory, { transfer: [this.memory] });
  }

  // ----- test helpers -----

  /** Put a frame on the wire of RX ring `index` (NIC rings first, then host rings); it lands on the next RXSYNC. */
  deliver(frame: Uint8Array, index = this.firstBound(this.rx), flags = 0): void {
    this.rx[index].pending.push({ bytes: frame, flags });
  }

  /** Put `count` frames of `length` bytes on the wire; frame i starts with i as a big-endian u32. */
  deliverNumbered(count: number, length = 60, index?: number): void {
    for (let i = 0; i < count; i++) {
      const frame = new Uint8Array(length).fill(0x11);
      new DataView(frame.buffer).setUint32(0, i);
      this.deliver(frame, index);
    }
  }

  /** Byte offset of buffer `bufIdx` in the region. */
  bufferOffset(bufIdx: number): number {
    return this.bufferArea + bufIdx * this.bufferSize;
  }

  slotOffset(ring: FakeRing, slot: number): number {
    return ring.offset + RING_SLOT + slot * SLOT_SIZE;
  }

  /** The slot as user space sees it. */
  slot(ring: FakeRing, slot: number): { bufIdx: number; len: number; flags: number } {
    const at = this.slotOffset(ring, slot);
    return {
      bufIdx: this.view.getUint32(at + SLOT_BUF_IDX, true),
      len: this.view.getUint16(at + SLOT_LEN, true),
      flags: this.view.getUint16(at + SLOT_FLAGS, true),
    };
  }

  /** head, cur and tail as user space sees them. */
  indices(ring: FakeRing): { head: number; cur: number; tail: number } {
    return {
      head: this.view.getUint32(ring.offset + RING_HEAD, true),
      cur: this.view.getUint32(ring.offset + RING_CUR, true),
      tail: this.view.getUint32(ring.offset + RING_TAIL, true),
    };
  }

  /** Every buf_idx held by a slot, over all rings: each buffer must appear exactly once. */
  bufferCensus(): number[] {
    const found: number[] = [];
    for (const ring of [...this.tx, ...this.rx]) {
      for (let s = 0; s < ring.slots; s++) found.push(this.slot(ring, s).bufIdx);
    }
    return found.sort((a, b) => a - b);
  }

  /** The census a fresh port has. */
  expectedCensus(): number[] {
    return Array.from({ length: this.bufferCount - FIRST_BUFFER }, (_, i) => i + FIRST_BUFFER);
  }

  private firstBound(rings: FakeRing[]): number {
    const ring = rings.find((r) => r.bound);
    if (ring === undefined) throw new Error('no bound ring');
    return ring.index;
  }

  /** netmap's sync prologue: hwcur <= head <= cur <= hwtail, in ring order. */
  private checkIndices(ring: FakeRing, head: number, cur: number): boolean {
    const span = forward(ring.hwcur, ring.hwtail, ring.slots);
    const ok = head < ring.slots && cur < ring.slots &&
      forward(ring.hwcur, head, ring.slots) <= span &&
      forward(ring.hwcur, cur, ring.slots) <= span &&
      forward(ring.hwcur, head, ring.slots) <= forward(ring.hwcur, cur, ring.slots);
    if (!ok) {
      this.violations.push(`${ring.direction} ${ring.index}: head ${head} cur ${cur} outside hwcur ${ring.hwcur}..hwtail ${ring.hwtail}`);
    }
    return ok;
  }
}

function isBound(mode: number, ringId: number, flags: number, direction: 'tx' | 'rx', isHost: boolean, ringNumber: number): boolean {
  if (direction === 'tx' && (flags & NR_RX_RINGS_ONLY) !== 0) return false;
  if (direction === 'rx' && (flags & NR_TX_RINGS_ONLY) !== 0) return false;
  switch (mode) {
    case NR_REG_ALL_NIC: return !isHost;
    case NR_REG_SW: return isHost;
    case NR_REG_NIC_SW: return true;
    case NR_REG_ONE_NIC: return !isHost && ringNumber === ringId;
    case NR_REG_ONE_SW: return isHost && ringNumber === ringId;
    default: throw new Error(`fake netmap: mode ${mode} not modelled`);
  }
}

function forward(from: number, to: number, slots: number): number {
  return to >= from ? to - from : to + slots - from;
}

function align(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

function writeInt64(m: DataView, at: number, value: number): void {
  m.setUint32(at, value >>> 0, true);
  m.setInt32(at + 4, Math.floor(value / 0x1_0000_0000), true);
}

/** 0..count-1 in a fixed scrambled order. */
function scrambled(count: number): number[] {
  const out = Array.from({ length: count }, (_, i) => i);
  let seed = 12345;
  for (let i = count - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
