// A fake AF_XDP kernel for ring tests, written from af-xdp-abi.md alone (it
// does not use src/phy/xdp-ring.ts): four rings with producer, consumer,
// flags and descriptors at chosen offsets, free-running u32 indices, a UMEM,
// and the kernel's side of each ring (consume fill and TX, produce RX and
// completion).

import type { RingInfo, XdpPort, XdpStatistics } from '../../../src/native';

const HEADROOM = 256;
/** Offsets inside each fake ring area, as XDP_MMAP_OFFSETS would report them. */
const PRODUCER = 0;
const CONSUMER = 64;
const FLAGS = 128;
const DESC = 192;

class FakeRing {
  readonly info: RingInfo;
  readonly words: Uint32Array;
  constructor(readonly size: number, readonly entryBytes: number, startIndex: number) {
    const buffer = new ArrayBuffer(DESC + size * entryBytes);
    this.info = { buffer, producer: PRODUCER, consumer: CONSUMER, flags: FLAGS, desc: DESC, size };
    this.words = new Uint32Array(buffer);
    this.words[PRODUCER / 4] = startIndex;
    this.words[CONSUMER / 4] = startIndex;
  }
  get producer(): number { return this.words[PRODUCER / 4]; }
  set producer(v: number) { this.words[PRODUCER / 4] = v >>> 0; }
  get consumer(): number { return this.words[CONSUMER / 4]; }
  set consumer(v: number) { this.words[CONSUMER / 4] = v >>> 0; }
  set flags(v: number) { this.words[FLAGS / 4] = v; }
  /** Entries between consumer and producer. */
  get used(): number { return (this.producer - this.consumer) >>> 0; }
  entryWord(index: number): number { return (DESC + (index % this.size) * this.entryBytes) / 4; }
  readU64(index: number): number {
    const w = this.entryWord(index);
    return this.words[w + 1] * 2 ** 32 + this.words[w];
  }
  writeU64(index: number, value: number): void {
    const w = this.entryWord(index);
    this.words[w] = value % 2 ** 32;
    this.words[w + 1] = Math.floor(value / 2 ** 32);
  }
  readLength(index: number): number { return this.words[this.entryWord(index) + 2]; }
  writeLength(index: number, length: number): void { this.words[this.entryWord(index) + 2] = length; }
  writeOptions(index: number, options: number): void { this.words[this.entryWord(index) + 3] = options; }
  /** Every u64 address (fill/completion) or descriptor address (RX/TX) between consumer and producer. */
  pendingAddresses(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.used; i++) out.push(this.readU64((this.consumer + i) >>> 0));
    return out;
  }
}

export interface SentFrame {
  addr: number;
  bytes: Uint8Array;
}

export interface FakeKernelOptions {
  ringSize?: number;
  frameSize?: number;
  frameCount?: number;
  /** Initial value of every producer and consumer index. */
  startIndex?: number;
  /** Frames the kernel sends per kick (copy mode sends 32). */
  txPerKick?: number;
  needWakeup?: boolean;
  /** Bound with XDP_USE_SG: frames larger than a chunk go out in several descriptors (XDP_PKT_CONTD). */
  multiBuffer?: boolean;
}

/** The kernel side of an AF_XDP socket, and a port object shaped like the addon's. */
export class FakeXdpKernel {
  readonly fill: FakeRing;
  readonly completion: FakeRing;
  readonly rx: FakeRing;
  readonly tx: FakeRing;
  readonly umem: ArrayBuffer;
  readonly umemBytes: Uint8Array;
  readonly frameSize: number;
  readonly frameCount: number;
  readonly sent: SentFrame[] = [];
  stats = { fillEmpty: 0, rxFull: 0 };
  calls = { kick: 0, wakeup: 0, statistics: 0, watch: 0, unwatch: 0, defer: 0, later: 0, close: 0 };
  private laterTimer: NodeJS.Timeout | null = null;
  closed = false;
  /** When false, TX stays with the kernel (completions withheld). */
  completeTx = true;
  private readonly txPerKick: number;
  private readonly multiBuffer: boolean;
  readonly port: XdpPort;

  constructor(options: FakeKernelOptions = {}) {
    const ringSize = options.ringSize ?? 64;
    const start = options.startIndex ?? 0xfffffff0;
    this.frameSize = options.frameSize ?? 2048;
    this.frameCount = options.frameCount ?? ringSize * 2;
    this.fill = new FakeRing(ringSize, 8, start);
    this.completion = new FakeRing(ringSize, 8, start);
    this.rx = new FakeRing(ringSize, 16, start);
    this.tx = new FakeRing(ringSize, 16, start);
    this.umem = new ArrayBuffer(this.frameSize * this.frameCount);
    this.umemBytes = new Uint8Array(this.umem);
    this.txPerKick = options.txPerKick ?? 32;
    const needWakeup = options.needWakeup ?? false;
    this.multiBuffer = options.multiBuffer ?? false;
    if (needWakeup) this.tx.flags = 1;
    const kernel = this;
    this.port = {
      fd: 99, ifindex: 7, queue: 0, mode: 'native', zeroCopy: false, needWakeup, txBudget: 0, multiBuffer: this.multiBuffer,
      umem: this.umem, rx: this.rx.info, tx: this.tx.info, fill: this.fill.info, completion: this.completion.info,
      kick(): number { kernel.calls.kick++; kernel.transmit(kernel.txPerKick); return kernel.tx.used > 0 ? -11 : 0; },
      wakeup(): number { kernel.calls.wakeup++; return 0; },
      statistics(): XdpStatistics {
        kernel.calls.statistics++;
        return { rxDropped: kernel.stats.rxFull, rxInvalidDescs: 0, txInvalidDescs: 0, rxRingFull: kernel.stats.rxFull, rxFillRingEmptyDescs: kernel.stats.fillEmpty, txRingEmptyDescs: 0 };
      },
      watch(): void { kernel.calls.watch++; },
      unwatch(): void { kernel.calls.unwatch++; },
      defer(callback: () => void): void { kernel.calls.defer++; setImmediate(callback); },
      later(callback: () => void, delayMs: number): void {
        kernel.calls.later++;
        if (kernel.laterTimer !== null) clearTimeout(kernel.laterTimer);
        kernel.laterTimer = setTimeout(callback, delayMs);
      },
      close(): void {
        kernel.calls.close++;
        if (kernel.laterTimer !== null) clearTimeout(kernel.laterTimer);
        kernel.closed = true;
        for (const buffer of [kernel.umem, kernel.fill.info.buffer, kernel.completion.info.buffer, kernel.rx.info.buffer, kernel.tx.info.buffer]) {
          if (buffer.byteLength > 0) structuredClone(buffer, { transfer: [buffer] });
        }
      },
    };
  }

  /** Receive one frame from the wire: take a fill address, copy, post an RX descriptor. Returns false when dropped. */
  deliver(frame: Uint8Array): boolean {
    const room = this.frameSize - HEADROOM;
    if (frame.length > room) return this.deliverPieces(frame, room);
    if (this.fill.used === 0) {
      this.stats.fillEmpty++;
      return false;
    }
    if (this.rx.used === this.rx.size) {
      this.stats.rxFull++;
      return false;
    }
    const chunk = this.fill.readU64(this.fill.consumer);
    this.fill.consumer = this.fill.consumer + 1;
    const addr = chunk + HEADROOM;
    this.umemBytes.set(frame, addr);
    this.rx.writeU64(this.rx.producer, addr);
    this.rx.writeLength(this.rx.producer, frame.length);
    this.rx.writeOptions(this.rx.producer, 0);
    this.rx.producer = this.rx.producer + 1;
    return true;
  }

  /** A frame larger than a chunk: in pieces with XDP_PKT_CONTD on all but the last, or dropped without multi-buffer (as the kernel does). */
  private deliverPieces(frame: Uint8Array, room: number): boolean {
    const pieces = Math.ceil(frame.length / room);
    if (!this.multiBuffer || this.fill.used < pieces || this.rx.size - this.rx.used < pieces) {
      this.stats.rxFull++;
      return false;
    }
    for (let i = 0; i < pieces; i++) {
      const chunk = this.fill.readU64(this.fill.consumer);
      this.fill.consumer = this.fill.consumer + 1;
      const addr = chunk + HEADROOM;
      const piece = frame.subarray(i * room, Math.min(frame.length, (i + 1) * room));
      this.umemBytes.set(piece, addr);
      this.rx.writeU64(this.rx.producer, addr);
      this.rx.writeLength(this.rx.producer, piece.length);
      this.rx.writeOptions(this.rx.producer, i + 1 < pieces ? 1 : 0);
      this.rx.producer = this.rx.producer + 1;
    }
    return true;
  }

  /** Send up to `max` TX descriptors and post their completions. */
  transmit(max: number): number {
    let done = 0;
    while (done < max && this.tx.used > 0 && this.completion.used < this.completion.size && this.completeTx) {
      const addr = this.tx.readU64(this.tx.consumer);
      const length = this.tx.readLength(this.tx.consumer);
      this.sent.push({ addr, bytes: this.umemBytes.slice(addr, addr + length) });
      this.tx.consumer = this.tx.consumer + 1;
      this.completion.writeU64(this.completion.producer, addr);
      this.completion.producer = this.completion.producer + 1;
      done++;
    }
    return done;
  }

  /** Chunk base of an address. */
  chunkOf(addr: number): number {
    return addr - (addr % this.frameSize);
  }

  /** Chunks the kernel side holds right now: fill, RX, TX and completion ring contents. */
  heldChunks(): number[] {
    return [this.fill, this.rx, this.tx, this.completion].flatMap((ring) => ring.pendingAddresses().map((a) => this.chunkOf(a)));
  }
}
