// The addon's typed contract (declarations only) and its loader.
// The JS side validates arguments; the C++ side trusts them. Errors thrown by
// the addon are NativeError: errno, code (uv_err_name), syscall, ifname.

import * as path from 'node:path';

/** An error raised by the addon. */
export interface NativeError extends Error {
  errno: number;
  code: string;
  syscall: string;
  ifname?: string;
}

/** One mapped AF_XDP ring: byte offsets inside `buffer` come from XDP_MMAP_OFFSETS. */
export interface RingInfo {
  /** The ring's whole mapped area, as an external ArrayBuffer. */
  buffer: ArrayBuffer;
  producer: number;
  consumer: number;
  flags: number;
  desc: number;
  /** Entries (a power of two). */
  size: number;
}

/** struct xdp_statistics, field by field. */
export interface XdpStatistics {
  rxDropped: number;
  rxInvalidDescs: number;
  txInvalidDescs: number;
  rxRingFull: number;
  rxFillRingEmptyDescs: number;
  txRingEmptyDescs: number;
}

export interface XdpPortOptions {
  ifname: string;
  queue: number;
  /** XDP attach mode of the interface's program: driver (native) or skb (generic). */
  mode: 'native' | 'generic';
  /** UMEM chunk size: 2048 or 4096. */
  frameSize: number;
  /** UMEM chunks. */
  frameCount: number;
  rxSize: number;
  txSize: number;
  fillSize: number;
  completionSize: number;
  /** Bind with XDP_USE_NEED_WAKEUP. */
  needWakeup: boolean;
  /** 'on': XDP_ZEROCOPY only; 'off': XDP_COPY only; 'auto': no flag, the kernel tries zero-copy, then copy. */
  zeroCopy: 'auto' | 'on' | 'off';
  /** XDP_MAX_TX_SKB_BUDGET for copy mode; 0 keeps the kernel default. */
  txBudget: number;
  /** XDP_USE_SG: 'auto' (default) binds with it where the kernel and driver allow, 'on' insists, 'off' never. */
  multiBuffer?: 'auto' | 'on' | 'off';
}

/**
 * An open AF_XDP port (socket + UMEM + four mapped rings). The interface's XDP
 * program is shared by the process's ports on it: xdpOpen refuses (EBUSY) a
 * queue that already has a port, and a mode other than the attached one
 * (syscall 'bpf(BPF_LINK_CREATE)'); the last port's close detaches it.
 */
export interface XdpPort {
  /** The socket; -1 once closed. */
  readonly fd: number;
  readonly ifindex: number;
  readonly queue: number;
  readonly mode: 'native' | 'generic';
  readonly zeroCopy: boolean;
  readonly needWakeup: boolean;
  /** The TX budget in force (0: the kernel's default, 32 in copy mode). */
  readonly txBudget: number;
  /** Bound with XDP_USE_SG: a frame larger than a chunk arrives in several descriptors. */
  readonly multiBuffer: boolean;
  /** The UMEM, one external ArrayBuffer of frameSize * frameCount bytes. */
  readonly umem: ArrayBuffer;
  readonly rx: RingInfo;
  readonly tx: RingInfo;
  readonly fill: RingInfo;
  readonly completion: RingInfo;
  /** sendto(MSG_DONTWAIT): push TX. Returns 0, or -errno for transient EAGAIN/EBUSY/ENOBUFS/ENETDOWN; throws otherwise. */
  kick(): number;
  /** recvfrom(MSG_DONTWAIT): let the kernel refill RX when the fill ring needs a wake-up. Returns 0 or -errno. */
  wakeup(): number;
  statistics(): XdpStatistics;
  /** Start a uv_poll readability watch; `callback` runs on Node's loop. */
  watch(callback: () => void): void;
  unwatch(): void;
  /** Run `callback` once on the next turn of Node's loop (a reused libuv idle handle, as setImmediate: no JS allocation). */
  defer(callback: () => void): void;
  /** Run `callback` once after `delayMs` (a second reused libuv timer; re-arming replaces a pending call). */
  later(callback: () => void, delayMs: number): void;
  /**
   * Detach every external ArrayBuffer, then unmap and close. Idempotent.
   * Afterwards kick, wakeup, statistics and watch throw EBADF ("The port is
   * closed."); unwatch and close do nothing.
   */
  close(): void;
}

export interface XdpTestRunLiveOptions {
  ifname: string;
  /** One whole Ethernet frame (14 bytes up to about 3.5 KiB). */
  frame: Uint8Array;
  /** Copies to send: 1 to 100,000,000. */
  count: number;
  /** Frames per kernel batch, up to 256 (default 64). */
  batchSize?: number;
}

export interface XdpCounterOptions {
  ifname: string;
  /** The replies' source address, dotted IPv4. */
  address: string;
  /** The replies' source port. */
  port: number;
  mode: 'native' | 'generic';
}

/**
 * An XDP program attached to an interface (bpf_link) that counts and drops
 * IPv4 UDP frames without IP options from one address and port, and passes
 * every other frame to the kernel.
 */
export interface XdpCounter {
  /** Frames counted so far (one map lookup). */
  value(): number;
  /** Detach the program; value() then throws EBADF. */
  close(): void;
}

export interface NetmapPortOptions {
  /** nr_name, without any "netmap:" prefix. */
  name: string;
  /** nr_mode: NR_REG_ALL_NIC 1, SW 2, NIC_SW 3, ONE_NIC 4, ONE_SW 8. */
  mode: number;
  /** nr_ringid, for ONE_NIC / ONE_SW. */
  ringId: number;
  /** nr_flags. */
  flags: number;
  txSlots: number;
  rxSlots: number;
}

/** A registered netmap port: the whole mapped region and the register reply. */
export interface NetmapPort {
  readonly fd: number;
  /** The mapped region (nr_memsize bytes), one external ArrayBuffer. */
  readonly memory: ArrayBuffer;
  /** nr_offset: where struct netmap_if starts inside `memory`. */
  readonly ifOffset: number;
  readonly memsize: number;
  readonly txRings: number;
  readonly rxRings: number;
  readonly hostTxRings: number;
  readonly hostRxRings: number;
  readonly txSlots: number;
  readonly rxSlots: number;
  readonly memId: number;
  /** NIOCTXSYNC. Returns 0 or -errno. */
  txSync(): number;
  /** NIOCRXSYNC. Returns 0 or -errno. */
  rxSync(): number;
  watch(callback: () => void): void;
  unwatch(): void;
  /** Run `callback` once on the next turn of Node's loop (a reused libuv idle handle, as setImmediate: no JS allocation). */
  defer(callback: () => void): void;
  /** Run `callback` once after `delayMs` (a second reused libuv timer; re-arming replaces a pending call). */
  later(callback: () => void, delayMs: number): void;
  close(): void;
}

/** Sizes and offsets of the C structures the addon was compiled with. */
export interface NetmapLayout {
  [name: string]: number;
}

export interface NativeAddon {
  xdpOpen(options: XdpPortOptions): XdpPort;
  /**
   * Send `count` copies of `frame` out of `ifname`, synchronously, with an XDP
   * program returning XDP_TX run by BPF_PROG_TEST_RUN in live-frames mode
   * (Linux 5.18+). `durationNs` is the wall-clock time of the run.
   */
  xdpTestRunLive(options: XdpTestRunLiveOptions): { count: number; durationNs: number };
  /** Attach a reply counter; throws as xdpOpen does when the interface already has a program. */
  xdpCounterAttach(options: XdpCounterOptions): XdpCounter;
  netmapOpen(options: NetmapPortOptions): NetmapPort;
  /** sizeof/offsetof of the netmap ABI structs and the ioctl numbers, as compiled. */
  netmapLayout(): NetmapLayout;
  /**
   * Restrict the calling thread (main or worker) to `cpus` with
   * pthread_setaffinity_np; returns its thread id. Throws EINVAL when none of
   * them is online or allowed.
   */
  pinThread(cpus: number[]): number;
  /** Write the monotonic clock (libuv's uv_hrtime) in milliseconds into `cell[0]`: a clock read that leaves nothing on the heap. */
  readClock(cell: Float64Array): void;
  /** Write the same clock plus `offset[0]` into `cells[0]`; true when that has reached `cells[1]` (the loop's earliest timer). */
  tickClock(cells: Float64Array, offset: Float64Array): boolean;
}

let cached: NativeAddon | undefined;

/** Load the addon once (node-gyp-build finds build/Release or prebuilds/). */
export function loadNative(): NativeAddon {
  if (cached === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const build = require('node-gyp-build') as (dir: string) => NativeAddon;
    cached = build(packageRoot());
  }
  return cached;
}

/** The package's root folder, from src/ or from dist/src/. */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    dir = path.dirname(dir);
    try {
      require.resolve(path.join(dir, 'package.json'));
      return dir;
    } catch {
      // keep climbing
    }
  }
  return path.resolve(__dirname, '..');
}
