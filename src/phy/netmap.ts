// The netmap device: all ring work in JS over the port's one mapped region.
//
//   region ─┬─ netmap_if (at nr_offset): ring counts, ring_ofs[] (from the netmap_if)
//           ├─ netmap_ring × N: header (head, cur, tail, ...), slots at +256
//           └─ buffers: ring + buf_ofs + buf_idx * nr_buf_size, shared by all rings
//
// Slots in [head, tail) belong to user space. RX: read from head towards
// tail, give slots back by moving head and cur, RXSYNC for more. TX: fill
// slots from head, move head and cur, TXSYNC sends them and moves tail.
// Every slot always holds exactly one buffer; buffers move between slots
// only by swapping buf_idx, flagged with NS_BUF_CHANGED.
//
// TX slots the device holds are split in three runs, in ring order:
// [published, next) filled and waiting for flush(), [next, reserved) lent by
// allocTx(), [reserved, tail) free.

import { existsSync } from 'node:fs';
import { readMacAddress, readModuleParameter, readMtu, readQueueCounts } from './sysfs';
import { loadNative } from '../native';
import type { NativeError, NetmapPort, NetmapPortOptions } from '../native';
import type { Device, DeviceStats, FrameHandler } from './device';
import { POISON_BYTE, emptyStats } from './device';
import { type ChecksumCapabilities, detectChecksumCapabilities } from './checksum-capabilities';
import { NR_REG_ALL_NIC, NR_REG_NIC_SW, NR_REG_ONE_NIC, NR_REG_ONE_SW, NR_REG_SW, NR_TX_RINGS_ONLY, parseNetmapName, registerModeName } from './netmap-name';

/** Where netmap's control device lives; it exists when the module is loaded. */
export const NETMAP_DEVICE_PATH = '/dev/netmap';

// struct netmap_if (netmap-abi.md)
const IF_TX_RINGS = 24;
const IF_RX_RINGS = 28;
const IF_HOST_TX_RINGS = 36;
const IF_HOST_RX_RINGS = 40;
const IF_RING_OFS = 56;
const RING_OFS_ENTRY_LEN = 8;

// struct netmap_ring
const RING_BUF_OFS = 0;
const RING_NUM_SLOTS = 8;
const RING_NR_BUF_SIZE = 12;
const RING_DIR = 18;
const RING_HEAD = 20;
const RING_CUR = 24;
const RING_TAIL = 28;
const RING_SLOT = 256;

// struct netmap_slot
const SLOT_BUF_IDX = 0;
const SLOT_LEN = 4;
const SLOT_FLAGS = 6;
const SLOT_LEN_BYTES = 16;

/** netmap_ring.dir of a TX ring: the kernel stores kring->tx (enum txrx: NR_RX 0, NR_TX 1). */
const DIR_TX = 1;
/** netmap_ring.dir of an RX ring. */
const DIR_RX = 0;

/** netmap_slot.flags: buf_idx changed since the kernel last saw the slot. */
export const NS_BUF_CHANGED = 0x1;
/** netmap_slot.flags: the frame continues in the next slot. */
export const NS_MOREFRAG = 0x20;

/** The netmap ABI offsets this device reads, keyed like netmapLayout(). */
export const NETMAP_DEVICE_LAYOUT: Readonly<Record<string, number>> = Object.freeze({
  'netmap_if.ni_tx_rings': IF_TX_RINGS,
  'netmap_if.ni_rx_rings': IF_RX_RINGS,
  'netmap_if.ni_host_tx_rings': IF_HOST_TX_RINGS,
  'netmap_if.ni_host_rx_rings': IF_HOST_RX_RINGS,
  'netmap_if.ring_ofs': IF_RING_OFS,
  'netmap_ring.buf_ofs': RING_BUF_OFS,
  'netmap_ring.num_slots': RING_NUM_SLOTS,
  'netmap_ring.nr_buf_size': RING_NR_BUF_SIZE,
  'netmap_ring.dir': RING_DIR,
  'netmap_ring.head': RING_HEAD,
  'netmap_ring.cur': RING_CUR,
  'netmap_ring.tail': RING_TAIL,
  'netmap_ring.slot': RING_SLOT,
  'netmap_slot.size': SLOT_LEN_BYTES,
  'netmap_slot.buf_idx': SLOT_BUF_IDX,
  'netmap_slot.len': SLOT_LEN,
  'netmap_slot.flags': SLOT_FLAGS,
});

/** One bound netmap_ring, with the device's own view of its indices. */
class MappedRing {
  /** Byte offset of struct netmap_ring in the region. */
  readonly offset: number;
  readonly slots: number;
  /** Byte offset of slot[0]. */
  readonly slotBase: number;
  /** Uint32Array indices of head, cur and tail, for Atomics. */
  readonly headWord: number;
  readonly curWord: number;
  readonly tailWord: number;
  /** RX: the next slot to read. TX: the first slot not yet published. */
  published: number;
  /** TX: the first slot not filled for transmit. */
  next: number;
  /** TX: the first free slot (after those lent by allocTx). */
  reserved: number;
  /** RX: inside a multi-slot frame that is being dropped. */
  inFragments = false;

  constructor(offset: number, slots: number, head: number) {
    this.offset = offset;
    this.slots = slots;
    this.slotBase = offset + RING_SLOT;
    this.headWord = (offset + RING_HEAD) >>> 2;
    this.curWord = (offset + RING_CUR) >>> 2;
    this.tailWord = (offset + RING_TAIL) >>> 2;
    this.published = head;
    this.next = head;
    this.reserved = head;
  }

  following(index: number): number {
    return index + 1 === this.slots ? 0 : index + 1;
  }

  preceding(index: number): number {
    return index === 0 ? this.slots - 1 : index - 1;
  }

  slotAt(index: number): number {
    return this.slotBase + index * SLOT_LEN_BYTES;
  }
}

/** How a NetmapDevice describes its port. */
export interface NetmapDeviceOptions {
  /** Interface name for the device (nr_name). */
  name: string;
  /** nr_mode the port was registered with, for `mode` and stats. */
  registerMode?: number;
  /** Poison released RX buffers with 0xa5 so a view kept too long shows up. */
  poison?: boolean;
  /** The interface's MAC; read from sysfs when not given. */
  macAddress?: string;
  /** Checksum capabilities; found from sysfs and the register mode when not given. */
  checksums?: ChecksumCapabilities;
}

/** netmap implementation of the device contract, over a registered NetmapPort (or anything shaped like one). */
export class NetmapDevice implements Device {
  readonly name: string;
  readonly backend = 'netmap' as const;
  readonly mode: string;
  readonly memory: DataView;
  readonly bytes: Uint8Array;
  readonly macAddress: string;
  readonly frameCapacity: number;
  readonly fd: number;
  readonly checksums: ChecksumCapabilities;
  /** Where buffer 0 would start: ring + buf_ofs, the same for every ring of a port. */
  readonly bufferBase: number;
  readonly bufferSize: number;
  /** Calls made into the port since open (the "one native call per batch" budget). */
  nativeCalls = 0;

  private readonly port: NetmapPort;
  private readonly words: Uint32Array;
  private readonly rxRings: MappedRing[];
  private readonly txRings: MappedRing[];
  private readonly poison: boolean;
  private rxCursor = 0;
  private txCursor = 0;
  private lentRing: MappedRing | null = null;
  private lentSlot = -1;
  private lentReplied = false;
  /** Byte offset of the slot txRingLending found. */
  private lendingSlot = -1;
  private isClosed = false;
  private syncErrors = 0;
  private lastSyncError = 0;
  private readonly counters: DeviceStats;

  constructor(port: NetmapPort, options: NetmapDeviceOptions) {
    this.port = port;
    this.name = options.name;
    this.mode = registerModeName(options.registerMode ?? NR_REG_ALL_NIC);
    this.memory = new DataView(port.memory);
    this.bytes = new Uint8Array(port.memory);
    this.words = new Uint32Array(port.memory, 0, port.memory.byteLength >>> 2);
    this.fd = port.fd;
    this.poison = options.poison === true;
    this.macAddress = options.macAddress ?? readMacAddress(options.name);
    const mode = options.registerMode ?? NR_REG_ALL_NIC;
    const hostRings = mode === NR_REG_SW || mode === NR_REG_ONE_SW || mode === NR_REG_NIC_SW;
    this.checksums = options.checksums ?? detectChecksumCapabilities(options.name, { hostRings });

    const m = this.memory;
    const nifp = port.ifOffset;
    if (nifp + IF_RING_OFS > m.byteLength) throw new Error(`netmap ${this.name}: netmap_if at ${nifp} lies outside the ${m.byteLength}-byte region`);
    const txTotal = m.getUint32(nifp + IF_TX_RINGS, true) + m.getUint32(nifp + IF_HOST_TX_RINGS, true);
    const rxTotal = m.getUint32(nifp + IF_RX_RINGS, true) + m.getUint32(nifp + IF_HOST_RX_RINGS, true);
    this.txRings = this.boundRings(nifp, 0, txTotal, DIR_TX);
    this.rxRings = this.boundRings(nifp, txTotal, rxTotal, DIR_RX);
    if (this.txRings.length + this.rxRings.length === 0) throw new Error(`netmap ${this.name}: the registration bound no rings`);

    const first = this.rxRings.length > 0 ? this.rxRings[0] : this.txRings[0];
    this.bufferBase = first.offset + readInt64(m, first.offset + RING_BUF_OFS);
    this.bufferSize = m.getUint32(first.offset + RING_NR_BUF_SIZE, true);
    for (const ring of [...this.rxRings, ...this.txRings]) {
      const base = ring.offset + readInt64(m, ring.offset + RING_BUF_OFS);
      if (base !== this.bufferBase || m.getUint32(ring.offset + RING_NR_BUF_SIZE, true) !== this.bufferSize) {
        throw new Error(`netmap ${this.name}: rings do not share one buffer area`);
      }
    }
    if (this.bufferSize === 0) throw new Error(`netmap ${this.name}: nr_buf_size is 0`);
    this.frameCapacity = this.bufferSize;
    this.counters = emptyStats('netmap', this.mode);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  receive(budget: number, onFrame: FrameHandler): number {
    if (this.isClosed || budget <= 0 || this.rxRings.length === 0) return 0;
    let count = this.drainRx(budget, onFrame);
    if (count < budget && !this.isClosed) {
      // Hand back what was read and fetch more: one RXSYNC per call at most.
      this.sync(false);
      count += this.drainRx(budget - count, onFrame);
    }
    return count;
  }

  replyInPlace(token: number, length: number): boolean {
    const rx = this.lentRing;
    if (rx === null || token !== this.lentSlot || this.lentReplied) return false;
    if (length < 0 || length > this.frameCapacity) return false;
    const tx = this.txRingWithRoom();
    if (tx === null) {
      this.counters.txRingFull++;
      return false;
    }
    const m = this.memory;
    const rxAt = rx.slotAt(token);
    const nextAt = tx.slotAt(tx.next);
    const freeAt = tx.slotAt(tx.reserved);
    const rxBuffer = m.getUint32(rxAt + SLOT_BUF_IDX, true);
    const freeBuffer = m.getUint32(freeAt + SLOT_BUF_IDX, true);
    if (freeAt !== nextAt) {
      // A buffer lent by allocTx sits in the next TX slot: move it to the free slot.
      m.setUint32(freeAt + SLOT_BUF_IDX, m.getUint32(nextAt + SLOT_BUF_IDX, true), true);
      markChanged(m, freeAt);
    }
    m.setUint32(nextAt + SLOT_BUF_IDX, rxBuffer, true);
    m.setUint16(nextAt + SLOT_LEN, length, true);
    m.setUint16(nextAt + SLOT_FLAGS, NS_BUF_CHANGED, true);
    m.setUint32(rxAt + SLOT_BUF_IDX, freeBuffer, true);
    markChanged(m, rxAt);
    tx.next = tx.following(tx.next);
    tx.reserved = tx.following(tx.reserved);
    this.lentReplied = true;
    this.counters.txFrames++;
    this.counters.txBytes += length;
    return true;
  }

  allocTx(): number {
    const tx = this.txRingWithRoom();
    if (tx === null) {
      this.counters.txRingFull++;
      return -1;
    }
    const buffer = this.memory.getUint32(tx.slotAt(tx.reserved) + SLOT_BUF_IDX, true);
    tx.reserved = tx.following(tx.reserved);
    return this.bufferBase + buffer * this.bufferSize;
  }

  transmit(offset: number, length: number): boolean {
    if (length < 0 || length > this.frameCapacity) {
      throw new RangeError(`netmap ${this.name}: frame length ${length} does not fit a ${this.frameCapacity}-byte buffer`);
    }
    const buffer = this.bufferIndexOf(offset);
    const tx = this.txRingLending(buffer);
    const m = this.memory;
    const nextAt = tx.slotAt(tx.next);
    const slotAt = this.lendingSlot;
    if (slotAt !== nextAt) {
      // Sent out of allocation order: swap it into the next slot to publish.
      m.setUint32(slotAt + SLOT_BUF_IDX, m.getUint32(nextAt + SLOT_BUF_IDX, true), true);
      markChanged(m, slotAt);
      m.setUint32(nextAt + SLOT_BUF_IDX, buffer, true);
      markChanged(m, nextAt);
    }
    m.setUint16(nextAt + SLOT_LEN, length, true);
    m.setUint16(nextAt + SLOT_FLAGS, m.getUint16(nextAt + SLOT_FLAGS, true) & NS_BUF_CHANGED, true);
    tx.next = tx.following(tx.next);
    this.counters.txFrames++;
    this.counters.txBytes += length;
    return true;
  }

  freeTx(offset: number): void {
    const buffer = this.bufferIndexOf(offset);
    const tx = this.txRingLending(buffer);
    const m = this.memory;
    const last = tx.preceding(tx.reserved);
    const lastAt = tx.slotAt(last);
    const slotAt = this.lendingSlot;
    if (slotAt !== lastAt) {
      m.setUint32(slotAt + SLOT_BUF_IDX, m.getUint32(lastAt + SLOT_BUF_IDX, true), true);
      markChanged(m, slotAt);
      m.setUint32(lastAt + SLOT_BUF_IDX, buffer, true);
      markChanged(m, lastAt);
    }
    tx.reserved = last;
  }

  flush(): void {
    if (this.isClosed) return;
    let published = false;
    for (let i = 0; i < this.txRings.length; i++) {
      const tx = this.txRings[i];
      if (tx.next === tx.published) continue;
      Atomics.store(this.words, tx.curWord, tx.next);
      Atomics.store(this.words, tx.headWord, tx.next);
      tx.published = tx.next;
      published = true;
    }
    if (published || this.inFlight() > 0) this.sync(true);
  }

  txPending(): boolean {
    if (this.isClosed) return false;
    for (let i = 0; i < this.txRings.length; i++) {
      if (this.txRings[i].next !== this.txRings[i].published) return true;
    }
    return this.inFlight() > 0;
  }

  watch(callback: () => void): void {
    this.nativeCalls++;
    this.port.watch(callback);
  }

  unwatch(): void {
    if (this.isClosed) return;
    this.nativeCalls++;
    this.port.unwatch();
  }

  defer(callback: () => void): void {
    this.nativeCalls++;
    this.port.defer(callback);
  }

  later(callback: () => void, delayMs: number): void {
    this.nativeCalls++;
    this.port.later(callback, delayMs);
  }

  stats(): DeviceStats {
    const out: DeviceStats = { ...this.counters, kernel: {} };
    if (!this.isClosed) out.txInFlight = this.inFlight() + this.queued();
    out.kernel.rxRings = this.rxRings.length;
    out.kernel.txRings = this.txRings.length;
    out.kernel.memId = this.port.memId;
    out.kernel.syncErrors = this.syncErrors;
    out.kernel.lastSyncErrno = this.lastSyncError;
    out.kernel.nativeCalls = this.nativeCalls;
    return out;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.lentRing = null;
    this.port.close();
  }

  /** The RX rings' and TX rings' byte offsets in the region, in the order the device walks them. */
  ringOffsets(): { rx: number[]; tx: number[] } {
    return { rx: this.rxRings.map((r) => r.offset), tx: this.txRings.map((r) => r.offset) };
  }

  private boundRings(nifp: number, first: number, count: number, dir: number): MappedRing[] {
    const m = this.memory;
    const rings: MappedRing[] = [];
    for (let i = 0; i < count; i++) {
      const entry = nifp + IF_RING_OFS + (first + i) * RING_OFS_ENTRY_LEN;
      // The kernel writes 0 for the rings this registration did not bind.
      const relative = readInt64(m, entry);
      if (relative === 0) continue;
      const offset = nifp + relative;
      if (offset < 0 || offset % 4 !== 0 || offset + RING_SLOT > m.byteLength) {
        throw new Error(`netmap ${this.name}: ring_ofs[${first + i}] points outside the region`);
      }
      const slots = m.getUint32(offset + RING_NUM_SLOTS, true);
      if (slots < 2 || offset + RING_SLOT + slots * SLOT_LEN_BYTES > m.byteLength) {
        throw new Error(`netmap ${this.name}: ring at ${offset} has ${slots} slots that do not fit the region`);
      }
      if (m.getUint16(offset + RING_DIR, true) !== dir) {
        throw new Error(`netmap ${this.name}: ring at ${offset} is not a ${dir === DIR_TX ? 'TX' : 'RX'} ring`);
      }
      rings.push(new MappedRing(offset, slots, m.getUint32(offset + RING_HEAD, true)));
    }
    return rings;
  }

  /** Walk the RX rings round-robin, lending up to `budget` frames. */
  private drainRx(budget: number, onFrame: FrameHandler): number {
    let count = 0;
    const rings = this.rxRings;
    for (let visited = 0; visited < rings.length && count < budget; visited++) {
      const ring = rings[this.rxCursor];
      this.rxCursor = this.rxCursor + 1 === rings.length ? 0 : this.rxCursor + 1;
      count += this.drainRing(ring, budget - count, onFrame);
      if (this.isClosed) break;
    }
    return count;
  }

  private drainRing(ring: MappedRing, budget: number, onFrame: FrameHandler): number {
    const m = this.memory;
    const counters = this.counters;
    const tail = Atomics.load(this.words, ring.tailWord);
    let head = ring.published;
    let count = 0;
    while (head !== tail && count < budget) {
      const slotAt = ring.slotAt(head);
      const flags = m.getUint16(slotAt + SLOT_FLAGS, true);
      if (ring.inFragments || (flags & NS_MOREFRAG) !== 0) {
        // Frames larger than one buffer are not supported: drop every piece.
        if (!ring.inFragments) counters.rxDropped++;
        ring.inFragments = (flags & NS_MOREFRAG) !== 0;
        head = ring.following(head);
        continue;
      }
      const offset = this.bufferBase + m.getUint32(slotAt + SLOT_BUF_IDX, true) * this.bufferSize;
      const length = m.getUint16(slotAt + SLOT_LEN, true);
      counters.rxFrames++;
      counters.rxBytes += length;
      this.lentRing = ring;
      this.lentSlot = head;
      this.lentReplied = false;
      onFrame(offset, length, head);
      count++;
      if (this.isClosed) return count;
      if (this.poison && !this.lentReplied) this.bytes.fill(POISON_BYTE, offset, offset + this.bufferSize);
      head = ring.following(head);
    }
    this.lentRing = null;
    this.lentSlot = -1;
    if (head !== ring.published) {
      ring.published = head;
      Atomics.store(this.words, ring.curWord, head);
      Atomics.store(this.words, ring.headWord, head);
    }
    return count;
  }

  /** A TX ring with a free slot, preferring the one in use. */
  private txRingWithRoom(): MappedRing | null {
    const rings = this.txRings;
    for (let tried = 0; tried < rings.length; tried++) {
      const tx = rings[this.txCursor];
      if (tx.reserved !== Atomics.load(this.words, tx.tailWord)) return tx;
      this.txCursor = this.txCursor + 1 === rings.length ? 0 : this.txCursor + 1;
    }
    return null;
  }

  /** The TX ring whose allocTx run holds `buffer`; sets lendingSlot. */
  private txRingLending(buffer: number): MappedRing {
    const m = this.memory;
    for (let r = 0; r < this.txRings.length; r++) {
      const tx = this.txRings[r];
      for (let index = tx.next; index !== tx.reserved; index = tx.following(index)) {
        const slotAt = tx.slotAt(index);
        if (m.getUint32(slotAt + SLOT_BUF_IDX, true) === buffer) {
          this.lendingSlot = slotAt;
          return tx;
        }
      }
    }
    throw new Error(`netmap ${this.name}: buffer ${buffer} was not taken with allocTx() (or was already sent or freed)`);
  }

  private bufferIndexOf(offset: number): number {
    return Math.floor((offset - this.bufferBase) / this.bufferSize);
  }

  /** TX frames filled and not yet published. */
  private queued(): number {
    let count = 0;
    for (let i = 0; i < this.txRings.length; i++) {
      const tx = this.txRings[i];
      count += distance(tx.published, tx.next, tx.slots);
    }
    return count;
  }

  /** Published TX frames the kernel has not handed back yet ([tail, head) less the one empty slot). */
  private inFlight(): number {
    let count = 0;
    for (let i = 0; i < this.txRings.length; i++) {
      const tx = this.txRings[i];
      // head === tail means the kernel holds every slot: num_slots - 1 frames and the empty one.
      const held = tx.published - Atomics.load(this.words, tx.tailWord) - 1;
      count += held < 0 ? held + tx.slots : held;
    }
    return count;
  }

  private sync(transmit: boolean): void {
    this.nativeCalls++;
    this.counters.kicks++;
    const rc = transmit ? this.port.txSync() : this.port.rxSync();
    if (rc !== 0) {
      this.syncErrors++;
      this.lastSyncError = -rc;
    }
  }
}

/** Slots from `from` forward to `to` in a ring of `slots`. */
function distance(from: number, to: number, slots: number): number {
  return to >= from ? to - from : to + slots - from;
}

function markChanged(m: DataView, slotAt: number): void {
  m.setUint16(slotAt + SLOT_FLAGS, m.getUint16(slotAt + SLOT_FLAGS, true) | NS_BUF_CHANGED, true);
}

/** A signed 64-bit field as two 32-bit halves (BigInt would allocate). */
function readInt64(m: DataView, at: number): number {
  return m.getInt32(at + 4, true) * 0x1_0000_0000 + m.getUint32(at, true);
}

/** True when the netmap module is loaded (/dev/netmap exists). */
export function netmapAvailable(): boolean {
  return existsSync(NETMAP_DEVICE_PATH);
}

/** Options for openNetmapDevice. */
export interface OpenNetmapOptions {
  /** Poison released RX buffers with 0xa5 (debug). */
  poison?: boolean;
  /** Bind only this NIC ring pair (as the "-N" suffix does) when the name has no ring suffix of its own. */
  queue?: number;
  /** Slots per ring to ask for; 0 or absent keeps the driver's choice. */
  txSlots?: number;
  rxSlots?: number;
}

/** The register request for a port name and open options; throws on bad syntax or a conflicting queue. */
export function netmapPortOptions(ifname: string, options: OpenNetmapOptions = {}): NetmapPortOptions {
  const port = parseNetmapName(ifname);
  if (options.queue !== undefined) {
    if (port.mode === NR_REG_ALL_NIC) {
      port.mode = NR_REG_ONE_NIC;
      port.ringId = options.queue;
    } else if (port.mode !== NR_REG_ONE_NIC || port.ringId !== options.queue) {
      throw new Error(`netmap port "${ifname}" already names its rings; it cannot also take queue ${options.queue}`);
    }
  }
  return {
    name: port.name,
    mode: port.mode,
    ringId: port.ringId,
    flags: port.flags,
    txSlots: options.txSlots ?? 0,
    rxSlots: options.rxSlots ?? 0,
  };
}

/** What explainRegisterError reads about the system. */
export interface NetmapSystemView {
  mtu(ifname: string): number | null;
  queues(ifname: string): { rx: number; tx: number } | null;
  /** netmap's buf_size module parameter: the size of every netmap buffer. */
  bufferSize(): number | null;
}

/** The system as sysfs shows it to the calling process (its network namespace). */
export const sysfsSystemView: NetmapSystemView = {
  mtu: readMtu,
  queues: readQueueCounts,
  bufferSize: () => readModuleParameter('netmap', 'buf_size'),
};

/** Bytes a frame adds to the MTU: the Ethernet header. */
const ETHERNET_HEADER_LEN = 14;

/**
 * netmap answers NIOCCTRL with a bare EINVAL (and a line in dmesg) for an MTU
 * larger than its buffers and for a ring index the interface does not have.
 * Say which, and how to fix it; every other error passes through unchanged.
 */
export function explainRegisterError(error: unknown, request: NetmapPortOptions, system: NetmapSystemView = sysfsSystemView): unknown {
  const { code, syscall } = error as Partial<NativeError>;
  if (!(error instanceof Error) || code !== 'EINVAL' || syscall !== 'ioctl(NIOCCTRL)') return error;
  const reason = invalidRegistration(request, system);
  if (reason !== null) error.message = `ioctl(NIOCCTRL) ${request.name}: Invalid argument (EINVAL). ${reason}`;
  return error;
}

function invalidRegistration(request: NetmapPortOptions, system: NetmapSystemView): string | null {
  const name = request.name;
  // netmap_buf_size_validate: checked when a port with RX rings puts the interface in netmap mode.
  if ((request.flags & NR_TX_RINGS_ONLY) === 0) {
    const mtu = system.mtu(name);
    const bufferSize = system.bufferSize();
    if (mtu !== null && bufferSize !== null && mtu > bufferSize) {
      const raised = Math.ceil((mtu + ETHERNET_HEADER_LEN) / 1024) * 1024;
      return `${name}'s MTU (${mtu}) is larger than netmap's ${bufferSize}-byte buffers, and netmap refuses an interface `
        + `whose frames would not fit one. Lower the MTU to ${bufferSize - ETHERNET_HEADER_LEN} or less `
        + `(ip link set dev ${name} mtu 1500), or raise netmap's buffer size while no netmap port is open `
        + `(echo ${raised} > /sys/module/netmap/parameters/buf_size, or load netmap with buf_size=${raised}).`;
    }
  }
  if (request.mode === NR_REG_ONE_NIC) {
    const queues = system.queues(name);
    if (queues !== null && request.ringId >= Math.max(queues.rx, queues.tx)) {
      const pairs = Math.max(queues.rx, queues.tx);
      return `${name} has ${pairs} ring pair${pairs === 1 ? '' : 's'} (netmap:${name}-0${pairs > 1 ? ` to -${pairs - 1}` : ''}): there is no ring ${request.ringId}.`;
    }
  }
  if (request.mode === NR_REG_ONE_SW && request.ringId > 0) {
    return `netmap gives ${name} one host ring pair (netmap:${name}^0, or ^ for all host rings): there is no host ring ${request.ringId}.`;
  }
  return null;
}

/**
 * Register `ifname` with netmap and wrap it as a device. `ifname` takes
 * netmap's port syntax: eth0, netmap:eth0, netmap:eth0-2, netmap:eth0^, ...
 */
export function openNetmapDevice(ifname: string, options: OpenNetmapOptions = {}): NetmapDevice {
  const request = netmapPortOptions(ifname, options);
  let port: NetmapPort;
  try {
    port = loadNative().netmapOpen(request);
  } catch (error) {
    throw explainRegisterError(error, request);
  }
  try {
    return new NetmapDevice(port, { name: request.name, registerMode: request.mode, poison: options.poison });
  } catch (error) {
    port.close();
    throw error;
  }
}
