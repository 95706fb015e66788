// A fake netmap module for tests: what netmap (89607e1, sys/dev/netmap/) does
// with its emulated adapter on a veth, as test/netmap-vm/ sees the real module
// do it. Offsets and constants are written out here, not imported from src/.
//
// Registration (NIOCCTRL, netmap_interp_ringid / netmap_krings_get):
// - the name's mode and flags bind rings: all NIC rings, one NIC ring pair,
//   the host rings, both; /R and /T drop a direction. The reply counts every
//   NIC and host ring of the interface, bound or not.
// - a ring index the interface does not have: EINVAL. An unknown interface:
//   ENXIO. Rings held by a port with /x, or asked for with /x while another
//   port holds them: EBUSY.
// - the first port with RX rings on an interface checks its MTU against the
//   buffer size (netmap_buf_size_validate): MTU > nr_buf_size is EINVAL.
// The region:
// - netmap_if at nr_offset (0 for the first port of the module), then
//   ring_ofs[]: NIC TX, host TX, NIC RX, host RX rings, 0 for unbound ones.
// - rings are laid out RX before TX, buffers after all rings; buf_ofs is
//   relative to each ring, so every ring + buf_ofs is the same address.
//   Buffers 0 and 1 are netmap's own; RX slots get 2, 3, ... then TX slots.
//   Every slot starts with len = nr_buf_size and no flags.
// - ring headers: dir 1 on TX rings, 0 on RX rings (kring->tx); ringid 0..n-1
//   for NIC rings and n.. for host rings; TX rings start with head = cur = 0
//   and tail = num_slots - 1, RX rings with everything 0.
// Sync:
// - TXSYNC sends [hwcur, head) and clears NS_BUF_CHANGED and NS_REPORT on
//   those slots. On a veth the frames are completed within the call, so tail
//   comes back as head - 1 (holdTxCompletions models a device that is
//   slower).
// - RXSYNC clears NS_BUF_CHANGED on the slots given back [hwcur, head), then
//   imports waiting frames while they fit before hwcur (one slot stays
//   empty). A frame longer than a buffer takes several slots, NS_MOREFRAG on
//   all but its last. Once more than num_slots frames wait, the next ones
//   are dropped (generic_rx_handler).
// - head or cur outside [hwcur, hwtail] is a ring reinit: the kernel puts
//   head, cur and tail back to its own values and the call still returns 0.
// Traffic:
// - a peer's frame sent on its TX queue q lands on RX ring q - 1 (mod the
//   ring count; 0 for q = 0): veth hands queue_mapping over and the emulated
//   adapter reads it as a recorded RX queue.
// - the host stack's frames reach the host RX ring only while the NIC TX
//   ring is in netmap mode; otherwise they leave on the wire as usual.
//   Frames with a partial checksum are dropped on the way (no
//   generic_hwcsum); frames put on a host TX ring go up the host stack.

import type { NetmapPort, NetmapPortOptions } from '../../../src/native';

// struct netmap_if
const IF_NAME = 0;
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
export const NR_EXCLUSIVE = 0x800;
export const NR_RX_RINGS_ONLY = 0x2000;
export const NR_TX_RINGS_ONLY = 0x4000;

/** netmap_ring.dir. */
const DIR_TX = 1;
const DIR_RX = 0;

const EBADF = 9;
const ENXIO = 6;
const EBUSY = 16;
const EINVAL = 22;
/** netmap keeps buffers 0 and 1 for itself. */
const FIRST_BUFFER = 2;
/** Where the buffers of a fake port start: after the netmap_if and the rings, page aligned. */
const PAGE = 4096;
/** Bytes between netmap_if structures of successive ports (the real allocator's if pool). */
const IF_STRIDE = 1024;

/** An error shaped like the addon's (NativeError). */
export class FakeNetmapError extends Error {
  constructor(readonly errno: number, readonly code: string, readonly syscall: string, readonly ifname: string, text: string) {
    super(`${syscall} ${ifname}: ${text} (${code})`);
  }
}

/** A frame the fake kernel took from a TX ring on TXSYNC. */
export interface SentFrame {
  /** Index in the TX half of the table: NIC rings, then host rings. */
  ring: number;
  slot: number;
  bufIdx: number;
  flags: number;
  bytes: Uint8Array;
}

/** The kernel's side of one ring of an interface (a netmap_kring). */
export class FakeKring {
  /** Ports bound to this ring. */
  users = 0;
  exclusive = false;
  constructor(readonly direction: 'tx' | 'rx', readonly index: number, readonly host: boolean) {}
}

export interface FakeInterfaceOptions {
  /** NIC ring pairs: the interface's queues (default 1). */
  queues?: number;
  /** MTU (default 1500). */
  mtu?: number;
}

/** An interface the fake module can put in netmap mode. */
export class FakeInterface {
  readonly queues: number;
  mtu: number;
  /** NIC rings then the one host ring, per direction. */
  readonly tx: FakeKring[] = [];
  readonly rx: FakeKring[] = [];
  /** Frames that left on the wire (sent from NIC TX rings, or by the host stack while no port intercepts it). */
  readonly wire: Uint8Array[] = [];
  /** Frames handed up to the host stack (sent on a host TX ring). */
  readonly hostStack: Uint8Array[] = [];
  /** Host-stack frames netmap dropped (partial checksums). */
  hostDropped = 0;
  /** Ports registered on this interface. */
  readonly ports = new Set<FakeNetmap>();

  constructor(readonly module: FakeNetmapModule, readonly name: string, options: FakeInterfaceOptions = {}) {
    this.queues = options.queues ?? 1;
    this.mtu = options.mtu ?? 1500;
    for (let i = 0; i <= this.queues; i++) {
      this.tx.push(new FakeKring('tx', i, i === this.queues));
      this.rx.push(new FakeKring('rx', i, i === this.queues));
    }
  }

  /** A frame from the peer, sent on its TX queue `txQueue`: lands on the RX ring veth's queue mapping names. */
  peerSend(frame: Uint8Array, txQueue = 0): void {
    const ring = txQueue === 0 ? 0 : (txQueue - 1) % this.queues;
    for (const port of this.ports) {
      if (port.binds('rx', ring)) {
        port.deliver(frame, ring);
        return;
      }
    }
    this.hostStack.push(frame); // not in netmap mode: the kernel receives it
  }

  /** A frame the host stack transmits on this interface. */
  hostSend(frame: Uint8Array, options: { partialChecksum?: boolean } = {}): void {
    if (!this.ports.size || ![...this.ports].some((port) => port.bindsNicTx())) {
      this.wire.push(frame);
      return;
    }
    if (options.partialChecksum === true) {
      this.hostDropped++;
      return;
    }
    for (const port of this.ports) {
      if (port.binds('rx', this.queues)) {
        port.deliver(frame, this.queues);
        return;
      }
    }
    this.hostDropped++;
  }
}

/** The module: its buffer size, the interfaces it knows, and NIOCCTRL. */
export class FakeNetmapModule {
  /** nr_buf_size (/sys/module/netmap/parameters/buf_size). */
  bufferSize: number;
  /** Slots per ring (generic_ringsize). */
  readonly slots: number;
  readonly interfaces = new Map<string, FakeInterface>();
  private registrations = 0;

  constructor(options: { bufferSize?: number; slots?: number } = {}) {
    this.bufferSize = options.bufferSize ?? 2048;
    this.slots = options.slots ?? 1024;
  }

  addInterface(name: string, options: FakeInterfaceOptions = {}): FakeInterface {
    const iface = new FakeInterface(this, name, options);
    this.interfaces.set(name, iface);
    return iface;
  }

  /** NIOCCTRL NETMAP_REQ_REGISTER: a port, or the error netmap answers. */
  register(request: NetmapPortOptions): FakeNetmap {
    return new FakeNetmap(this.reserve(request));
  }

  /** The checks and ring reservations of a registration; throws as netmap answers. */
  reserve(request: NetmapPortOptions): PortSetup {
    const iface = this.interfaces.get(request.name);
    const fail = (errno: number, code: string, text: string): never => {
      throw new FakeNetmapError(errno, code, 'ioctl(NIOCCTRL)', request.name, text);
    };
    if (iface === undefined) return fail(ENXIO, 'ENXIO', 'No such device or address');
    const bound = boundRings(request, iface.queues);
    if (bound === null) return fail(EINVAL, 'EINVAL', 'Invalid argument');
    if (iface.ports.size === 0 && bound.rx.length > 0 && iface.mtu > this.bufferSize) return fail(EINVAL, 'EINVAL', 'Invalid argument');
    const exclusive = (request.flags & NR_EXCLUSIVE) !== 0;
    const krings = [...bound.tx.map((i) => iface.tx[i]), ...bound.rx.map((i) => iface.rx[i])];
    if (krings.some((kring) => kring.exclusive || (exclusive && kring.users > 0))) return fail(EBUSY, 'EBUSY', 'Device or resource busy');
    for (const kring of krings) {
      kring.users++;
      if (exclusive) kring.exclusive = true;
    }
    return { module: this, iface, bound, ifOffset: this.registrations++ * IF_STRIDE, krings };
  }

  /** A port was closed: its rings are free again. */
  release(port: FakeNetmap, iface: FakeInterface, krings: FakeKring[]): void {
    for (const kring of krings) {
      kring.users--;
      kring.exclusive = false;
    }
    iface.ports.delete(port);
  }
}

/** Which rings a request binds, by index per direction (NIC rings, then the host ring at `queues`); null when the index is invalid. */
function boundRings(request: NetmapPortOptions, queues: number): { tx: number[]; rx: number[] } | null {
  let rings: number[];
  switch (request.mode) {
    case NR_REG_ALL_NIC: rings = range(0, queues); break;
    case NR_REG_SW: rings = [queues]; break;
    case NR_REG_NIC_SW: rings = range(0, queues + 1); break;
    case NR_REG_ONE_NIC:
      if (request.ringId >= queues) return null;
      rings = [request.ringId];
      break;
    case NR_REG_ONE_SW:
      if (request.ringId >= 1) return null;
      rings = [queues];
      break;
    default: return null;
  }
  return {
    tx: (request.flags & NR_RX_RINGS_ONLY) !== 0 ? [] : rings,
    rx: (request.flags & NR_TX_RINGS_ONLY) !== 0 ? [] : rings,
  };
}

/** The kernel's view of one ring as a port maps it. */
export class FakeRing {
  /** Frames waiting for the next RXSYNC (the emulated adapter's rx queue). */
  readonly pending: Uint8Array[] = [];
  /** Frames dropped because the queue was full. */
  dropped = 0;
  hwcur = 0;
  hwtail: number;
  constructor(
    readonly direction: 'tx' | 'rx',
    /** Index in this direction's half of ring_ofs[]: NIC rings, then host rings. */
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

/** How a FakeNetmap is made: by FakeNetmapModule.register, or alone with the shorthand options. */
export interface PortSetup {
  module: FakeNetmapModule;
  iface: FakeInterface;
  bound: { tx: number[]; rx: number[] };
  ifOffset: number;
  krings: FakeKring[];
}

export interface FakeNetmapOptions {
  /** NIC ring pairs (default 1). */
  nicRings?: number;
  /** Slots per ring (default 1024). */
  slots?: number;
  /** nr_buf_size (default 2048). */
  bufferSize?: number;
  /** nr_mode (default NR_REG_ALL_NIC). */
  mode?: number;
  ringId?: number;
  /** nr_flags. */
  flags?: number;
}

/** A registered port whose kernel is JavaScript. */
export class FakeNetmap implements NetmapPort {
  readonly fd = -1;
  memory: ArrayBuffer;
  readonly ifOffset: number;
  readonly memsize: number;
  readonly txRings: number;
  readonly rxRings: number;
  readonly hostTxRings = 1;
  readonly hostRxRings = 1;
  readonly txSlots: number;
  readonly rxSlots: number;
  readonly memId = 1;
  readonly bufferSize: number;
  readonly bufferArea: number;
  readonly bufferCount: number;
  readonly iface: FakeInterface;
  /** Per direction: NIC rings, then the host ring. */
  readonly tx: FakeRing[] = [];
  readonly rx: FakeRing[] = [];
  /** Frames taken from TX rings, in order. */
  readonly sent: SentFrame[] = [];
  /** Ring-protocol violations the kernel saw (each reset the ring). */
  readonly violations: string[] = [];
  /** When true, TXSYNC sends but does not complete: tail stays, as on a device slower than veth. */
  holdTxCompletions = false;
  txSyncs = 0;
  rxSyncs = 0;
  closed = false;
  watcher: (() => void) | null = null;
  private readonly view: DataView;
  private readonly module: FakeNetmapModule;
  private readonly krings: FakeKring[];

  /** A port on a fresh module with one interface "fake0" (shorthand for tests of one port), or what FakeNetmapModule.register set up. */
  constructor(options?: FakeNetmapOptions);
  constructor(setup: PortSetup);
  constructor(options: FakeNetmapOptions | PortSetup = {}) {
    const setup = 'module' in options ? options : shorthand(options);
    this.module = setup.module;
    this.iface = setup.iface;
    this.krings = setup.krings;
    this.ifOffset = setup.ifOffset;
    this.iface.ports.add(this);
    const queues = this.iface.queues;
    const slots = this.module.slots;
    this.bufferSize = this.module.bufferSize;
    this.txRings = queues;
    this.rxRings = queues;
    this.txSlots = slots;
    this.rxSlots = slots;

    const total = queues + 1;
    const ringLength = align(RING_SLOT + slots * SLOT_SIZE, PAGE);
    const firstRing = align(this.ifOffset + IF_RING_OFS + 2 * total * 8, PAGE);
    this.bufferArea = firstRing + 2 * total * ringLength;
    this.bufferCount = FIRST_BUFFER + 2 * total * slots;
    this.memsize = align(this.bufferArea + this.bufferCount * this.bufferSize, PAGE);
    this.memory = new ArrayBuffer(this.memsize);
    this.view = new DataView(this.memory);
    const m = this.view;

    const nifp = this.ifOffset;
    [...this.iface.name].forEach((c, i) => m.setUint8(nifp + IF_NAME + i, c.charCodeAt(0)));
    m.setUint32(nifp + IF_TX_RINGS, queues, true);
    m.setUint32(nifp + IF_RX_RINGS, queues, true);
    m.setUint32(nifp + IF_BUFS_HEAD, 0, true);
    m.setUint32(nifp + IF_HOST_TX_RINGS, 1, true);
    m.setUint32(nifp + IF_HOST_RX_RINGS, 1, true);

    // RX rings first in memory and in buffer numbering, as the real allocator does.
    let nextBuffer = FIRST_BUFFER;
    let place = 0;
    for (const direction of ['rx', 'tx'] as const) {
      const rings: FakeRing[] = [];
      for (let i = 0; i < total; i++) {
        const tableIndex = (direction === 'tx' ? 0 : total) + i;
        const offset = firstRing + place++ * ringLength;
        const bound = setup.bound[direction].includes(i);
        const ring = new FakeRing(direction, i, offset, slots, bound);
        rings.push(ring);
        writeInt64(m, nifp + IF_RING_OFS + tableIndex * 8, bound ? offset - nifp : 0);
        writeInt64(m, offset + RING_BUF_OFS, this.bufferArea - offset);
        m.setUint32(offset + RING_NUM_SLOTS, slots, true);
        m.setUint32(offset + RING_NR_BUF_SIZE, this.bufferSize, true);
        m.setUint16(offset + RING_RINGID, i, true);
        m.setUint16(offset + RING_DIR, direction === 'tx' ? DIR_TX : DIR_RX, true);
        m.setUint32(offset + RING_HEAD, 0, true);
        m.setUint32(offset + RING_CUR, 0, true);
        m.setUint32(offset + RING_TAIL, ring.hwtail, true);
        for (let s = 0; s < slots; s++) {
          const at = offset + RING_SLOT + s * SLOT_SIZE;
          m.setUint32(at + SLOT_BUF_IDX, nextBuffer++, true);
          m.setUint16(at + SLOT_LEN, this.bufferSize, true);
        }
      }
      (direction === 'tx' ? this.tx : this.rx).push(...rings);
    }
  }

  // ----- the NetmapPort surface -----

  txSync(): number {
    if (this.closed) return -EBADF;
    this.txSyncs++;
    const m = this.view;
    for (const ring of this.tx) {
      if (!ring.bound) continue;
      const head = m.getUint32(ring.offset + RING_HEAD, true);
      const cur = m.getUint32(ring.offset + RING_CUR, true);
      if (!this.checkIndices(ring, head, cur)) continue;
      for (let s = ring.hwcur; s !== head; s = ring.following(s)) {
        const at = this.slotOffset(ring, s);
        const length = m.getUint16(at + SLOT_LEN, true);
        const flags = m.getUint16(at + SLOT_FLAGS, true);
        const bufIdx = m.getUint32(at + SLOT_BUF_IDX, true);
        if (length > this.bufferSize) this.violations.push(`tx ${ring.index} slot ${s}: len ${length} > ${this.bufferSize}`);
        const start = this.bufferOffset(bufIdx);
        const bytes = new Uint8Array(this.memory.slice(start, start + Math.min(length, this.bufferSize)));
        this.sent.push({ ring: ring.index, slot: s, bufIdx, flags, bytes });
        if (ring.index === this.iface.queues) this.iface.hostStack.push(bytes);
        else this.iface.wire.push(bytes);
        m.setUint16(at + SLOT_FLAGS, flags & ~(NS_BUF_CHANGED | NS_REPORT), true);
      }
      ring.hwcur = head;
      if (!this.holdTxCompletions) ring.hwtail = head === 0 ? ring.slots - 1 : head - 1;
      m.setUint32(ring.offset + RING_TAIL, ring.hwtail, true);
    }
    return 0;
  }

  rxSync(): number {
    if (this.closed) return -EBADF;
    this.rxSyncs++;
    const m = this.view;
    for (const ring of this.rx) {
      if (!ring.bound) continue;
      const head = m.getUint32(ring.offset + RING_HEAD, true);
      const cur = m.getUint32(ring.offset + RING_CUR, true);
      if (this.checkIndices(ring, head, cur)) {
        for (let s = ring.hwcur; s !== head; s = ring.following(s)) {
          const at = this.slotOffset(ring, s);
          m.setUint16(at + SLOT_FLAGS, m.getUint16(at + SLOT_FLAGS, true) & ~NS_BUF_CHANGED, true);
        }
        ring.hwcur = head;
      }
      // Free slots: from hwtail up to the one before hwcur.
      let free = forward(ring.hwtail, ring.hwcur, ring.slots) - 1;
      if (free < 0) free += ring.slots;
      while (ring.pending.length > 0) {
        const frame = ring.pending[0];
        const pieces = Math.max(1, Math.ceil(frame.length / this.bufferSize));
        if (pieces > free) break;
        ring.pending.shift();
        free -= pieces;
        for (let piece = 0; piece < pieces; piece++) {
          const at = this.slotOffset(ring, ring.hwtail);
          const from = piece * this.bufferSize;
          const bytes = frame.subarray(from, Math.min(frame.length, from + this.bufferSize));
          new Uint8Array(this.memory, this.bufferOffset(m.getUint32(at + SLOT_BUF_IDX, true)), bytes.length).set(bytes);
          m.setUint16(at + SLOT_LEN, bytes.length, true);
          m.setUint16(at + SLOT_FLAGS, piece + 1 < pieces ? NS_MOREFRAG : 0, true);
          ring.hwtail = ring.following(ring.hwtail);
        }
      }
      m.setUint32(ring.offset + RING_TAIL, ring.hwtail, true);
    }
    return 0;
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
    this.module.release(this, this.iface, this.krings);
    // Detach, as the addon does before munmap.
    structuredClone(this.memory, { transfer: [this.memory] });
  }

  // ----- the module's side -----

  /** Whether this port binds ring `index` (NIC rings, then the host ring) in `direction`. */
  binds(direction: 'tx' | 'rx', index: number): boolean {
    return (direction === 'tx' ? this.tx : this.rx)[index].bound;
  }

  /** Whether this port holds a NIC TX ring (the host stack's frames are then turned to the host RX ring). */
  bindsNicTx(): boolean {
    return this.tx.some((ring) => ring.bound && ring.index < this.iface.queues);
  }

  // ----- test helpers -----

  /** Queue a frame for RX ring `index` (NIC rings, then the host ring); it lands on the next RXSYNC. */
  deliver(frame: Uint8Array, index = this.firstBound(this.rx)): void {
    const ring = this.rx[index];
    // generic_rx_handler drops once its queue holds more than the ring's slots.
    if (ring.pending.length > ring.slots) {
      ring.dropped++;
      return;
    }
    ring.pending.push(frame);
  }

  /** Queue `count` frames of `length` bytes; frame i starts with i as a big-endian u32. */
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

  /** The ring header fields the kernel writes once. */
  header(ring: FakeRing): { numSlots: number; bufSize: number; ringid: number; dir: number } {
    return {
      numSlots: this.view.getUint32(ring.offset + RING_NUM_SLOTS, true),
      bufSize: this.view.getUint32(ring.offset + RING_NR_BUF_SIZE, true),
      ringid: this.view.getUint16(ring.offset + RING_RINGID, true),
      dir: this.view.getUint16(ring.offset + RING_DIR, true),
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
    return range(FIRST_BUFFER, this.bufferCount - FIRST_BUFFER);
  }

  private firstBound(rings: FakeRing[]): number {
    const ring = rings.find((r) => r.bound);
    if (ring === undefined) throw new Error('no bound ring');
    return ring.index;
  }

  /** netmap's sync prologue: hwcur <= head <= cur <= hwtail in ring order, or the ring is reset. */
  private checkIndices(ring: FakeRing, head: number, cur: number): boolean {
    const span = forward(ring.hwcur, ring.hwtail, ring.slots);
    const ok = head < ring.slots && cur < ring.slots &&
      forward(ring.hwcur, head, ring.slots) <= span &&
      forward(ring.hwcur, cur, ring.slots) <= span &&
      forward(ring.hwcur, head, ring.slots) <= forward(ring.hwcur, cur, ring.slots);
    if (ok) return true;
    this.violations.push(`${ring.direction} ${ring.index}: head ${head} cur ${cur} outside hwcur ${ring.hwcur}..hwtail ${ring.hwtail}`);
    // netmap_ring_reinit: the user's indices go back to the kernel's.
    this.view.setUint32(ring.offset + RING_HEAD, ring.hwcur, true);
    this.view.setUint32(ring.offset + RING_CUR, ring.hwcur, true);
    this.view.setUint32(ring.offset + RING_TAIL, ring.hwtail, true);
    return false;
  }
}

/** The setup of `new FakeNetmap(options)`: a fresh module with interface "fake0", and one registration on it. */
function shorthand(options: FakeNetmapOptions): PortSetup {
  const module = new FakeNetmapModule({ bufferSize: options.bufferSize, slots: options.slots });
  module.addInterface('fake0', { queues: options.nicRings ?? 1 });
  return module.reserve({ name: 'fake0', mode: options.mode ?? NR_REG_ALL_NIC, ringId: options.ringId ?? 0, flags: options.flags ?? 0, txSlots: 0, rxSlots: 0 });
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
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
