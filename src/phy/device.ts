// The device contract: every backend (xdp, netmap, pair, capture) implements
// it, and nothing above src/phy/ sees anything else. See DESIGN.md.

import type { ChecksumCapabilities } from './checksum-capabilities';

export type { ChecksumCapabilities } from './checksum-capabilities';

/**
 * Called once per received frame. `offset`/`length` locate the frame inside
 * `device.memory`; `token` identifies the buffer for `replyInPlace`. The frame
 * is lent: it is valid only until the callback returns.
 */
export type FrameHandler = (offset: number, length: number, token: number) => void;

/** The state of the link under a device: 'absent' once its interface is gone. */
export type LinkState = 'up' | 'down' | 'absent';

/** Which backend a device runs on. */
export type BackendName = 'xdp' | 'netmap' | 'pair';

/** The backend open() tried first and could not use, when it fell back to another. */
export interface BackendFallback {
  backend: BackendName;
  /** The error's code (errno name), e.g. 'EINVAL'. */
  code: string;
  message: string;
}

/** Counters every device keeps, plus backend-specific kernel counters. */
export interface DeviceStats {
  backend: BackendName;
  /** Backend mode, e.g. 'native', 'generic', 'copy', 'zerocopy', 'memory'. */
  mode: string;
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames handed to the kernel for transmit and not yet completed. */
  txInFlight: number;
  /** Transmit attempts refused because the TX ring or the buffer pool was full. */
  txRingFull: number;
  /** Kicks (syscalls) made to push TX or refill RX. */
  kicks: number;
  /** Received frames dropped by the device itself (its RX queue or buffers full). */
  rxDropped: number;
  /** Backend counters read from the kernel (AF_XDP XDP_STATISTICS, ...). */
  kernel: Record<string, number>;
}

export interface Device {
  /** Interface name (or pair side name). */
  readonly name: string;
  readonly backend: BackendName;
  /** Backend mode, as in DeviceStats.mode. */
  readonly mode: string;
  /** One DataView over all packet buffers, kept for the device's life. */
  readonly memory: DataView;
  /** One Uint8Array over the same bytes. */
  readonly bytes: Uint8Array;
  /** The interface's hardware address, "aa:bb:cc:dd:ee:ff". */
  readonly macAddress: string;
  /** Largest frame a buffer holds (bytes available from a frame's offset). */
  readonly frameCapacity: number;
  /**
   * Largest frame receive() may lend, when larger than frameCapacity: a
   * frame that came in several buffers (multi-buffer AF_XDP) is lent whole
   * from one contiguous region, with token -1 (it cannot be replied in place).
   */
  readonly maxReceiveFrame?: number;
  /** The descriptor the loop waits on; -1 when there is none (pair). */
  readonly fd: number;
  readonly closed: boolean;
  /** What received transport checksums may be (partial on same-host links) and what transmit needs. */
  readonly checksums: ChecksumCapabilities;
  /** Set when open() fell back to this backend because the one it tried first failed. */
  readonly fallback?: BackendFallback;

  /**
   * Lend up to `budget` received frames to `onFrame`; returns how many.
   * After each callback the buffer goes back to the device unless the
   * callback passed its token to `replyInPlace`.
   */
  receive(budget: number, onFrame: FrameHandler): number;
  /**
   * Queue the received buffer itself for transmit, `length` bytes from the
   * frame's offset. Only valid inside the receive callback. Returns false
   * (and recycles the buffer) when the TX ring is full.
   */
  replyInPlace(token: number, length: number): boolean;
  /** Take a free transmit buffer; returns its offset in `memory`, or -1. */
  allocTx(): number;
  /** Queue `length` bytes at `offset` (from allocTx) for transmit. Returns false when the TX ring is full (the buffer is freed). */
  transmit(offset: number, length: number): boolean;
  /** Give back a buffer from allocTx that will not be sent. */
  freeTx(offset: number): void;
  /** Publish queued TX, reap completions, refill RX, kick the kernel as it needs. */
  flush(): void;
  /** True when queued or in-flight transmit work remains (flush again later). */
  txPending(): boolean;

  /** Call `callback` whenever the device may have frames to receive. */
  watch(callback: () => void): void;
  unwatch(): void;
  /**
   * Run `callback` once on the next turn of Node's loop without allocating
   * (optional: the loop falls back to setImmediate).
   */
  defer?(callback: () => void): void;
  /**
   * Run `callback` once after `delayMs`, re-arming replaces a pending call;
   * allocates nothing (optional: the loop falls back to a Node timer).
   */
  later?(callback: () => void, delayMs: number): void;

  stats(): DeviceStats;
  /** The link's state now (optional: a device without it is taken as always up). */
  linkState?(): LinkState;
  /** Close the port; detaches `memory` so later access throws instead of reaching freed memory. */
  close(): void;
}

/** The zero-copy debug switch: poison released RX buffers with this byte. */
export const POISON_BYTE = 0xa5;

/** A fresh stats object with every common counter at zero. */
export function emptyStats(backend: BackendName, mode: string): DeviceStats {
  return {
    backend, mode,
    rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0,
    txInFlight: 0, txRingFull: 0, kicks: 0, rxDropped: 0,
    kernel: {},
  };
}
