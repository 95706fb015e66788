// A device that wraps any other and records every frame in and out to a
// pcap file, like tcpdump on the interface: received frames as they are
// lent, replies in place and transmitted frames as they are queued. Nothing
// allocates per frame (the pcap writer copies into one buffer).

import type { BackendFallback, BackendName, ChecksumCapabilities, Device, DeviceStats, FrameHandler, LinkState } from './device';
import { PcapWriter, type PcapWriterOptions } from '../wire/pcap';

/** Capture options: the pcap writer's, and where timestamps come from. */
export interface CaptureOptions extends PcapWriterOptions {
  /** Timestamp source in nanoseconds since the epoch (default: the wall clock). */
  timestampNs?: () => number;
}

/** Records every frame of `inner` to a pcap file. */
export class CaptureDevice implements Device {
  readonly inner: Device;
  readonly writer: PcapWriter;
  /** Frames recorded: received, and sent (transmitted or replied in place). */
  framesIn = 0;
  framesOut = 0;
  private readonly timestampNs: (() => number) | null;
  private handler: FrameHandler | null = null;
  private lentOffset = -1;
  private lentToken = -1;
  private readonly recordingHandler: FrameHandler = (offset, length, token) => {
    this.record(offset, length);
    this.framesIn++;
    this.lentOffset = offset;
    this.lentToken = token;
    (this.handler as FrameHandler)(offset, length, token);
  };

  /** Wrap `inner`, writing to `target`: a path (created or truncated), an open fd, or a PcapWriter. */
  constructor(inner: Device, target: string | number | PcapWriter, options: CaptureOptions = {}) {
    this.inner = inner;
    this.writer = target instanceof PcapWriter ? target : new PcapWriter(target, options);
    this.timestampNs = options.timestampNs ?? null;
  }

  get name(): string {
    return this.inner.name;
  }
  get backend(): BackendName {
    return this.inner.backend;
  }
  get mode(): string {
    return this.inner.mode;
  }
  get memory(): DataView {
    return this.inner.memory;
  }
  get bytes(): Uint8Array {
    return this.inner.bytes;
  }
  get macAddress(): string {
    return this.inner.macAddress;
  }
  get frameCapacity(): number {
    return this.inner.frameCapacity;
  }
  get fd(): number {
    return this.inner.fd;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  get checksums(): ChecksumCapabilities {
    return this.inner.checksums;
  }
  get fallback(): BackendFallback | undefined {
    return this.inner.fallback;
  }

  receive(budget: number, onFrame: FrameHandler): number {
    this.handler = onFrame;
    const count = this.inner.receive(budget, this.recordingHandler);
    this.lentOffset = -1;
    this.lentToken = -1;
    return count;
  }

  replyInPlace(token: number, length: number): boolean {
    const offset = token === this.lentToken ? this.lentOffset : -1;
    // Record before handing over: once queued, the buffer belongs to the device.
    if (offset >= 0) this.record(offset, length);
    const queued = this.inner.replyInPlace(token, length);
    if (queued && offset >= 0) this.framesOut++;
    return queued;
  }

  allocTx(): number {
    return this.inner.allocTx();
  }

  transmit(offset: number, length: number): boolean {
    this.record(offset, length);
    this.framesOut++;
    return this.inner.transmit(offset, length);
  }

  freeTx(offset: number): void {
    this.inner.freeTx(offset);
  }

  flush(): void {
    this.inner.flush();
  }

  txPending(): boolean {
    return this.inner.txPending();
  }

  watch(callback: () => void): void {
    this.inner.watch(callback);
  }

  unwatch(): void {
    this.inner.unwatch();
  }

  stats(): DeviceStats {
    return this.inner.stats();
  }

  linkState(): LinkState {
    return this.inner.linkState === undefined ? 'up' : this.inner.linkState();
  }

  /** Write buffered records to the file now. */
  flushCapture(): void {
    this.writer.flush();
  }

  /** Close the pcap file (all records written), then the wrapped device. */
  close(): void {
    this.writer.close();
    this.inner.close();
  }

  private record(offset: number, length: number): void {
    if (this.timestampNs === null) this.writer.write(this.inner.bytes, offset, length);
    else this.writer.write(this.inner.bytes, offset, length, this.timestampNs());
  }
}

/** Wrap `device` so every frame in and out is written to the pcap file `target`. */
export function captureDevice(device: Device, target: string | number | PcapWriter, options: CaptureOptions = {}): CaptureDevice {
  return new CaptureDevice(device, target, options);
}
