// Two in-memory devices wired back to back, with the same contract as the
// real backends, so everything above phy is testable without root.
//
// Each side owns one ArrayBuffer of fixed-size buffers. A frame sent on one
// side is copied into a free buffer of the other side at flush() (as a wire
// would), and lent from there by receive(). Nothing allocates per frame.

import type { ChecksumCapabilities, Device, DeviceStats, FrameHandler, LinkState } from './device';
import { POISON_BYTE, emptyStats } from './device';
import { FULL_CHECKSUMS } from './checksum-capabilities';

export interface PairOptions {
  /** Bytes per buffer (default 2048). */
  frameSize?: number;
  /** Buffers per side (default 1024). */
  frameCount?: number;
  /** Frames a side's RX queue holds before dropping (default frameCount / 2). */
  rxQueueSize?: number;
  /** Poison released RX buffers with 0xa5. */
  poison?: boolean;
  /** MACs of side A and side B. */
  macAddresses?: [string, string];
  /** Side names (default 'pair0', 'pair1'). */
  names?: [string, string];
  /**
   * What both sides say received transport checksums may be: 'full'
   * (default, as from a wire) or 'partial' (as on veth, where a same-host
   * sender leaves only the pseudo-header sum). The pair copies frames as
   * they are either way.
   */
  rxChecksums?: 'full' | 'partial';
}

const PARTIAL_PAIR_CHECKSUMS: ChecksumCapabilities = Object.freeze({ rx: 'partial', tx: 'full', reason: 'pair device set to partial checksums' });

/** One side of an in-memory pair. */
export class PairDevice implements Device {
  readonly name: string;
  readonly backend = 'pair' as const;
  readonly mode = 'memory';
  readonly memory: DataView;
  readonly bytes: Uint8Array;
  readonly frameCapacity: number;
  readonly macAddress: string;
  readonly fd = -1;
  readonly checksums: ChecksumCapabilities;
  /** The other side; set by createPair. */
  peer!: PairDevice;
  /** While false, frames sent from or to this side are dropped (a link that is down). */
  linkUp = true;

  private readonly frameSize: number;
  private readonly freeStack: Int32Array;
  private freeCount = 0;
  /** RX queue: buffer offsets and lengths in a ring. */
  private readonly rxOffsets: Int32Array;
  private readonly rxLengths: Int32Array;
  private rxHead = 0;
  private rxCount = 0;
  /** TX queue, delivered to the peer at flush(). */
  private readonly txOffsets: Int32Array;
  private readonly txLengths: Int32Array;
  private txCount = 0;
  private readonly poison: boolean;
  private lentToken = -1;
  private lentReplied = false;
  private watcher: (() => void) | null = null;
  private wakeScheduled = false;
  private isClosed = false;
  private readonly counters: DeviceStats;
  private readonly wake = (): void => {
    this.wakeScheduled = false;
    if (this.watcher === null || this.rxCount === 0) return;
    this.watcher();
    // Level-triggered, as the kernel's poll: frames left over wake it again.
    if (this.watcher !== null && this.rxCount > 0) this.scheduleWake();
  };

  constructor(name: string, macAddress: string, frameSize: number, frameCount: number, rxQueueSize: number, poison: boolean, checksums: ChecksumCapabilities = FULL_CHECKSUMS) {
    this.name = name;
    this.checksums = checksums;
    this.macAddress = macAddress;
    this.frameSize = frameSize;
    this.frameCapacity = frameSize;
    const buffer = new ArrayBuffer(frameSize * frameCount);
    this.memory = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
    this.freeStack = new Int32Array(frameCount);
    for (let i = frameCount - 1; i >= 0; i--) this.freeStack[this.freeCount++] = i * frameSize;
    this.rxOffsets = new Int32Array(rxQueueSize);
    this.rxLengths = new Int32Array(rxQueueSize);
    this.txOffsets = new Int32Array(frameCount);
    this.txLengths = new Int32Array(frameCount);
    this.poison = poison;
    this.counters = emptyStats('pair', 'memory');
  }

  get closed(): boolean {
    return this.isClosed;
  }

  receive(budget: number, onFrame: FrameHandler): number {
    let done = 0;
    const capacity = this.rxOffsets.length;
    while (done < budget && this.rxCount > 0 && !this.isClosed) {
      const offset = this.rxOffsets[this.rxHead];
      const length = this.rxLengths[this.rxHead];
      this.rxHead = this.rxHead + 1 === capacity ? 0 : this.rxHead + 1;
      this.rxCount--;
      done++;
      this.lentToken = offset;
      this.lentReplied = false;
      onFrame(offset, length, offset);
      if (!this.lentReplied) this.release(offset);
    }
    this.lentToken = -1;
    return done;
  }

  replyInPlace(token: number, length: number): boolean {
    if (token !== this.lentToken || this.lentReplied) return false;
    this.queueTx(token, length);
    this.lentReplied = true;
    return true;
  }

  allocTx(): number {
    if (this.freeCount === 0) return -1;
    return this.freeStack[--this.freeCount];
  }

  transmit(offset: number, length: number): boolean {
    this.queueTx(offset, length);
    return true;
  }

  freeTx(offset: number): void {
    this.freeStack[this.freeCount++] = offset;
  }

  flush(): void {
    if (this.isClosed) return;
    const count = this.txCount;
    this.txCount = 0;
    for (let i = 0; i < count; i++) {
      const offset = this.txOffsets[i];
      this.peer.deliver(this.bytes, offset, this.txLengths[i], this.linkUp);
      this.freeStack[this.freeCount++] = offset;
    }
  }

  txPending(): boolean {
    return this.txCount > 0;
  }

  watch(callback: () => void): void {
    this.watcher = callback;
    if (this.rxCount > 0) this.scheduleWake();
  }

  unwatch(): void {
    this.watcher = null;
  }

  stats(): DeviceStats {
    return { ...this.counters, kernel: { freeFrames: this.freeCount, rxQueued: this.rxCount } };
  }

  /** 'up' or 'down', from the `linkUp` flag. */
  linkState(): LinkState {
    return this.linkUp ? 'up' : 'down';
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.watcher = null;
    // Detach the memory, as the real backends do, so stale views throw.
    structuredClone(this.memory.buffer, { transfer: [this.memory.buffer as ArrayBuffer] });
  }

  /** Frames waiting in this side's RX queue. */
  get rxQueued(): number {
    return this.rxCount;
  }

  /** Buffers free on this side (tests: nothing leaks). */
  get freeBuffers(): number {
    return this.freeCount;
  }

  private queueTx(offset: number, length: number): void {
    this.txOffsets[this.txCount] = offset;
    this.txLengths[this.txCount] = length;
    this.txCount++;
    this.counters.txFrames++;
    this.counters.txBytes += length;
  }

  private release(offset: number): void {
    if (this.poison) this.bytes.fill(POISON_BYTE, offset, offset + this.frameSize);
    this.freeStack[this.freeCount++] = offset;
  }

  /** Take a frame off the wire into a free buffer (the peer's flush calls this). */
  private deliver(source: Uint8Array, offset: number, length: number, senderLinkUp: boolean): void {
    if (this.isClosed || !senderLinkUp || !this.linkUp || this.freeCount === 0 || this.rxCount === this.rxOffsets.length) {
      this.counters.rxDropped++;
      return;
    }
    const target = this.freeStack[--this.freeCount];
    const copyLength = length < this.frameSize ? length : this.frameSize;
    copyBytes(source, offset, this.bytes, target, copyLength);
    let tail = this.rxHead + this.rxCount;
    if (tail >= this.rxOffsets.length) tail -= this.rxOffsets.length;
    this.rxOffsets[tail] = target;
    this.rxLengths[tail] = copyLength;
    this.rxCount++;
    this.counters.rxFrames++;
    this.counters.rxBytes += copyLength;
    if (this.watcher !== null) this.scheduleWake();
  }

  private scheduleWake(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(this.wake);
  }
}

/** Copy `length` bytes between buffers without allocating a subarray. */
function copyBytes(source: Uint8Array, sourceOffset: number, target: Uint8Array, targetOffset: number, length: number): void {
  for (let i = 0; i < length; i++) target[targetOffset + i] = source[sourceOffset + i];
}

/** Make two devices wired back to back: what one flushes, the other receives. */
export function createPair(options: PairOptions = {}): [PairDevice, PairDevice] {
  const frameSize = options.frameSize ?? 2048;
  const frameCount = options.frameCount ?? 1024;
  const rxQueueSize = options.rxQueueSize ?? frameCount >> 1;
  const poison = options.poison === true;
  const [macA, macB] = options.macAddresses ?? ['02:00:00:00:00:01', '02:00:00:00:00:02'];
  const [nameA, nameB] = options.names ?? ['pair0', 'pair1'];
  const rxChecksums = options.rxChecksums ?? 'full';
  if (rxChecksums !== 'full' && rxChecksums !== 'partial') throw new TypeError(`createPair(): rxChecksums must be 'full' or 'partial', got ${JSON.stringify(rxChecksums)}`);
  const checksums = rxChecksums === 'partial' ? PARTIAL_PAIR_CHECKSUMS : FULL_CHECKSUMS;
  const a = new PairDevice(nameA, macA, frameSize, frameCount, rxQueueSize, poison, checksums);
  const b = new PairDevice(nameB, macB, frameSize, frameCount, rxQueueSize, poison, checksums);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
