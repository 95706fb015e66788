// The AF_XDP device: all ring work in JS over the addon's mapped rings.
//
// Every UMEM frame is in exactly one place: the free pool, the fill ring
// (kernel), the RX ring or lent to a callback, the TX ring (queued or with
// the kernel), or the completion ring. Received frames go back to the fill
// ring; replies in place go from RX straight to TX with the same address.

import { loadNative } from '../native';
import { LinkStateReader, readLinkState, readMacAddress } from './sysfs';
import type { XdpPort, XdpPortOptions } from '../native';
import type { BackendFallback, Device, DeviceStats, FrameHandler, LinkState } from './device';
import { POISON_BYTE, emptyStats } from './device';
import { type ChecksumCapabilities, detectChecksumCapabilities } from './checksum-capabilities';
import { XDP_PKT_CONTD, XdpConsumerRing, XdpProducerRing } from './xdp-ring';

/** Bytes the kernel keeps in front of received data inside a chunk (XDP_PACKET_HEADROOM). */
export const XDP_PACKET_HEADROOM = 256;

const EAGAIN = 11;
/** Free frames kept back from the fill ring for allocTx. */
const TX_RESERVE = 256;
/** Frames the kernel sends per TX kick in copy mode unless the budget was raised. */
const COPY_MODE_TX_BATCH = 32;
/** Largest frame put together from several descriptors: a 64 KiB IPv4 datagram, an Ethernet header and a VLAN tag. */
export const XDP_MAX_MULTI_BUFFER_FRAME = 0xffff + 14 + 4;

export interface XdpDeviceOptions {
  /** Poison released RX buffers with 0xa5 so a view kept too long shows up. */
  poison?: boolean;
  /** The interface's MAC; read from sysfs when not given. */
  macAddress?: string;
  /** Checksum capabilities; found from sysfs and the attach mode when not given. */
  checksums?: ChecksumCapabilities;
}

/** AF_XDP implementation of the device contract, over an open XdpPort. */
export class XdpDevice implements Device {
  readonly name: string;
  readonly backend = 'xdp' as const;
  readonly mode: string;
  readonly memory: DataView;
  readonly bytes: Uint8Array;
  readonly frameCapacity: number;
  readonly macAddress: string;
  readonly fd: number;
  readonly checksums: ChecksumCapabilities;
  readonly frameSize: number;
  readonly frameCount: number;
  readonly maxReceiveFrame: number;
  /** Bound with XDP_USE_SG: frames larger than a chunk arrive in pieces and are put together. */
  readonly multiBuffer: boolean;
  /** Calls made into the addon since open (the "one native call per batch" budget). */
  nativeCalls = 0;
  /** Set by open() when netmap was tried first and failed. */
  fallback?: BackendFallback;

  private readonly port: XdpPort;
  private readonly rx: XdpConsumerRing;
  private readonly tx: XdpProducerRing;
  private readonly fill: XdpProducerRing;
  private readonly completion: XdpConsumerRing;
  private readonly needWakeup: boolean;
  private readonly poison: boolean;
  private readonly kickBatch: number;
  /** Free chunk base addresses (a stack). */
  private readonly pool: Uint32Array;
  private poolCount = 0;
  /** Frames the pool keeps back from the fill ring for transmit. */
  private readonly txReserve: number;
  /** TX descriptors written and not yet published. */
  private txQueued = 0;
  /** TX descriptors published and not yet completed. */
  private txOutstanding = 0;
  private lentToken = -1;
  private lentReplied = false;
  private isClosed = false;
  private readonly counters: DeviceStats;
  private readonly linkReader: LinkStateReader;
  /** Where a frame that came in several descriptors is put together: chunks at the UMEM's end, never lent to the kernel. */
  private readonly assemblyOffset: number;
  private readonly assemblyCapacity: number;
  /** Bytes of the frame being put together (it may span receive() calls). */
  private assembled = 0;
  private assemblyOverflow = false;
  private multiBufferFrames = 0;
  private multiBufferTooLong = 0;

  constructor(port: XdpPort, frameSize: number, frameCount: number, ifname: string, options: XdpDeviceOptions = {}) {
    this.port = port;
    this.name = ifname;
    this.linkReader = new LinkStateReader(ifname);
    this.frameSize = frameSize;
    this.frameCount = frameCount;
    this.mode = port.mode + (port.zeroCopy ? '/zerocopy' : '/copy');
    this.memory = new DataView(port.umem);
    this.bytes = new Uint8Array(port.umem);
    this.frameCapacity = frameSize - XDP_PACKET_HEADROOM;
    this.multiBuffer = port.multiBuffer === true;
    const assemblyChunks = this.multiBuffer ? Math.ceil(XDP_MAX_MULTI_BUFFER_FRAME / frameSize) : 0;
    this.assemblyOffset = (frameCount - assemblyChunks) * frameSize;
    this.assemblyCapacity = assemblyChunks * frameSize;
    this.maxReceiveFrame = this.multiBuffer ? XDP_MAX_MULTI_BUFFER_FRAME : this.frameCapacity;
    this.macAddress = options.macAddress ?? readMacAddress(ifname);
    this.checksums = options.checksums ?? detectChecksumCapabilities(ifname, { xdpMode: port.mode });
    this.fd = port.fd;
    this.rx = new XdpConsumerRing(port.rx);
    this.tx = new XdpProducerRing(port.tx);
    this.fill = new XdpProducerRing(port.fill);
    this.completion = new XdpConsumerRing(port.completion);
    this.needWakeup = port.needWakeup;
    this.poison = options.poison === true;
    this.kickBatch = port.zeroCopy ? this.tx.size : (port.txBudget > 0 ? port.txBudget : COPY_MODE_TX_BATCH);
    this.pool = new Uint32Array(frameCount);
    for (let i = frameCount - 1 - assemblyChunks; i >= 0; i--) this.pool[this.poolCount++] = i * frameSize;
    // The fill ring takes every free frame it has room for, but a few stay for allocTx (ARP, ICMP, sends).
    this.txReserve = Math.max(0, Math.min(TX_RESERVE, frameCount - this.fill.size));
    this.counters = emptyStats('xdp', this.mode);
    this.refillFill();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  receive(budget: number, onFrame: FrameHandler): number {
    if (this.isClosed) return 0;
    const rx = this.rx;
    const count = rx.peek(budget);
    if (count === 0) {
      this.wakeRxIfNeeded();
      return 0;
    }
    let index = rx.cachedConsumer;
    const counters = this.counters;
    for (let i = 0; i < count; i++) {
      const addr = rx.readDescAddr(index);
      const length = rx.readDescLength(index);
      const continued = (rx.readDescOptions(index) & XDP_PKT_CONTD) !== 0;
      index = (index + 1) >>> 0;
      counters.rxBytes += length;
      if (continued || this.assembled > 0) {
        this.assemble(addr, length, continued, onFrame);
        if (this.isClosed) return i + 1;
        continue;
      }
      counters.rxFrames++;
      this.lentToken = addr;
      this.lentReplied = false;
      onFrame(addr, length, addr);
      if (this.isClosed) return i + 1;
      if (!this.lentReplied) this.recycle(addr);
    }
    this.lentToken = -1;
    rx.release(count);
    // Completed TX frames are the fill ring's supply when replying in place: take them back first.
    this.reapCompletions();
    this.refillFill();
    return count;
  }

  replyInPlace(token: number, length: number): boolean {
    if (token < 0 || token !== this.lentToken || this.lentReplied) return false;
    if (!this.queueTx(token, length)) return false;
    this.lentReplied = true;
    return true;
  }

  allocTx(): number {
    if (this.poolCount === 0) this.reapCompletions();
    if (this.poolCount === 0) return -1;
    return this.pool[--this.poolCount];
  }

  transmit(offset: number, length: number): boolean {
    if (this.queueTx(offset, length)) return true;
    this.freeTx(offset);
    return false;
  }

  freeTx(offset: number): void {
    this.pool[this.poolCount++] = offset - (offset & (this.frameSize - 1));
  }

  flush(): void {
    if (this.isClosed) return;
    if (this.txQueued > 0) {
      this.tx.submit(this.txQueued);
      this.txOutstanding += this.txQueued;
      this.txQueued = 0;
    }
    if (this.txOutstanding > 0 && this.tx.outstanding() > 0) this.kickTx();
    this.reapCompletions();
    this.refillFill();
  }

  txPending(): boolean {
    return this.txQueued > 0 || this.txOutstanding > 0;
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
    const out: DeviceStats = { ...this.counters, txInFlight: this.txOutstanding + this.txQueued, kernel: {} };
    if (!this.isClosed) {
      this.nativeCalls++;
      // The socket's XDP_STATISTICS, named apart from the device's own counts (xdpRxDropped is not rxDropped).
      const kernel = this.port.statistics();
      out.kernel.xdpRxDropped = kernel.rxDropped;
      out.kernel.xdpRxInvalidDescs = kernel.rxInvalidDescs;
      out.kernel.xdpTxInvalidDescs = kernel.txInvalidDescs;
      out.kernel.xdpRxRingFull = kernel.rxRingFull;
      out.kernel.xdpRxFillRingEmptyDescs = kernel.rxFillRingEmptyDescs;
      out.kernel.xdpTxRingEmptyDescs = kernel.txRingEmptyDescs;
    }
    out.kernel.freeFrames = this.poolCount;
    out.kernel.nativeCalls = this.nativeCalls;
    if (this.multiBuffer) {
      out.kernel.multiBufferFrames = this.multiBufferFrames;
      out.kernel.multiBufferTooLong = this.multiBufferTooLong;
    }
    return out;
  }

  /** From sysfs (the calling process's namespace): 'absent' once the interface is gone. */
  linkState(): LinkState {
    // A closed device keeps no file open.
    return this.isClosed ? readLinkState(this.name) : this.linkReader.read();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.linkReader.close();
    this.port.close();
  }

  /** The UMEM address of the TX descriptor queued most recently (tests: reply in place keeps the address). */
  lastQueuedTxAddress(): number {
    return this.tx.readDescAddr((this.tx.cachedProducer + this.txQueued - 1) >>> 0);
  }

  /** The chunk addresses in the free pool (tests: every frame is in exactly one place). */
  freeChunks(): number[] {
    return Array.from(this.pool.subarray(0, this.poolCount));
  }

  /**
   * One piece of a frame that came in several descriptors: copied into the
   * assembly region (a memmove inside the UMEM), its chunk recycled; the
   * last piece lends the whole frame, with token -1.
   */
  private assemble(addr: number, length: number, continued: boolean, onFrame: FrameHandler): void {
    if (this.assembled + length <= this.assemblyCapacity) {
      this.bytes.copyWithin(this.assemblyOffset + this.assembled, addr, addr + length);
    } else {
      this.assemblyOverflow = true;
    }
    this.assembled += length;
    this.recycle(addr);
    if (continued) return;
    const frameLength = this.assembled;
    const overflow = this.assemblyOverflow;
    this.assembled = 0;
    this.assemblyOverflow = false;
    if (overflow) {
      this.multiBufferTooLong++;
      this.counters.rxDropped++;
      return;
    }
    this.counters.rxFrames++;
    this.multiBufferFrames++;
    this.lentToken = -1;
    onFrame(this.assemblyOffset, frameLength, -1);
  }

  private queueTx(addr: number, length: number): boolean {
    const need = this.txQueued + 1;
    if (this.tx.free(need) < need) {
      this.counters.txRingFull++;
      return false;
    }
    this.tx.writeDesc(this.tx.cachedProducer + this.txQueued, addr, length);
    this.txQueued++;
    this.counters.txFrames++;
    this.counters.txBytes += length;
    return true;
  }

  private recycle(addr: number): void {
    const chunk = addr - (addr & (this.frameSize - 1));
    if (this.poison) this.bytes.fill(POISON_BYTE, chunk, chunk + this.frameSize);
    this.pool[this.poolCount++] = chunk;
  }

  private refillFill(): void {
    const spare = this.poolCount - this.txReserve;
    if (spare <= 0) return;
    const count = this.fill.reserve(spare);
    if (count === 0) return;
    const start = this.fill.cachedProducer;
    for (let i = 0; i < count; i++) this.fill.writeAddr(start + i, this.pool[--this.poolCount]);
    this.fill.submit(count);
  }

  private reapCompletions(): void {
    const completion = this.completion;
    const count = completion.peek(completion.size);
    if (count === 0) return;
    const start = completion.cachedConsumer;
    for (let i = 0; i < count; i++) {
      const addr = completion.readAddr(start + i);
      this.pool[this.poolCount++] = addr - (addr & (this.frameSize - 1));
    }
    completion.release(count);
    this.txOutstanding -= count;
  }

  private kickTx(): void {
    if (this.needWakeup && !this.tx.needsWakeup()) return;
    let queued = this.tx.outstanding();
    let tries = Math.ceil(queued / this.kickBatch) + 1;
    while (queued > 0 && tries-- > 0) {
      this.nativeCalls++;
      this.counters.kicks++;
      const rc = this.port.kick();
      if (rc !== 0 && rc !== -EAGAIN) break;
      queued = this.tx.outstanding();
    }
  }

  private wakeRxIfNeeded(): void {
    if (!this.needWakeup || !this.fill.needsWakeup()) return;
    this.nativeCalls++;
    this.counters.kicks++;
    this.port.wakeup();
  }
}

export { readLinkState, readMacAddress } from './sysfs';

/** Open an AF_XDP port through the addon and wrap it as a device. */
export function openXdpDevice(options: XdpPortOptions, deviceOptions: XdpDeviceOptions = {}): XdpDevice {
  const port = loadNative().xdpOpen(options);
  return new XdpDevice(port, options.frameSize, options.frameCount, options.ifname, deviceOptions);
}
