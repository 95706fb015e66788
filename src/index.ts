// nicring's public API: open a port on an interface, the devices, the loop
// and the lab.

import type { BackendFallback, Device } from './phy/device';
import { netmapAvailable, openNetmapDevice, type OpenNetmapOptions } from './phy/netmap';
import { hasNetmapPrefix } from './phy/netmap-name';
import { openXdpDevice, type XdpDeviceOptions } from './phy/xdp';
import type { NativeError, XdpPortOptions } from './native';

export type { Device, DeviceStats, FrameHandler, BackendName, BackendFallback, ChecksumCapabilities } from './phy/device';
export { POISON_BYTE } from './phy/device';
export { detectChecksumCapabilities, FULL_CHECKSUMS } from './phy/checksum-capabilities';
export type { ChecksumDetectOptions } from './phy/checksum-capabilities';
export { XdpDevice, openXdpDevice, XDP_PACKET_HEADROOM } from './phy/xdp';
export { PairDevice, createPair } from './phy/pair';
export { NetmapDevice, openNetmapDevice, netmapAvailable } from './phy/netmap';
export { parseNetmapName } from './phy/netmap-name';
export type { PairOptions } from './phy/pair';
export { Loop, TimerQueue, FakeClock, systemClock } from './loop';
export type { Clock, LoopOptions, LoopStats, TimerCallback } from './loop';
export * as lab from './lab';
export type { NativeError } from './native';

export interface OpenOptions {
  /** 'auto' tries netmap (when /dev/netmap exists), then AF_XDP native, then generic. */
  backend?: 'auto' | 'netmap' | 'xdp';
  /** NIC queue to bind (AF_XDP default 0; netmap default: the rings the port name says, all NIC rings for a plain name). */
  queue?: number;
  /** AF_XDP attach mode (default 'auto': native, then generic). */
  xdpMode?: 'auto' | 'native' | 'generic';
  /** Entries in each AF_XDP ring (power of two, default 2048). */
  ringSize?: number;
  /** UMEM chunk size: 2048 (default) or 4096. */
  frameSize?: number;
  /** UMEM chunks (default 2 × ringSize). */
  frameCount?: number;
  /** Bind with XDP_USE_NEED_WAKEUP (default true). */
  needWakeup?: boolean;
  /** AF_XDP zero-copy: 'auto' (default), 'on' or 'off'. */
  zeroCopy?: 'auto' | 'on' | 'off';
  /**
   * Multi-buffer AF_XDP (XDP_USE_SG, Linux 6.6+), so frames larger than a
   * buffer (a same-host peer's TSO and GRO segments, up to 64 KiB) are
   * received: 'auto' (default: where the kernel allows), 'on' or 'off'.
   */
  multiBuffer?: 'auto' | 'on' | 'off';
  /** Copy-mode frames per TX kick (default ringSize; 0 keeps the kernel's 32). */
  txBudget?: number;
  /** Poison released RX buffers with 0xa5 (debugging views kept too long). */
  poison?: boolean;
}

/** One failed attempt while opening a port. */
export interface OpenAttempt {
  backend: 'netmap' | 'xdp';
  mode: string;
  error: Error;
}

/** open() failed on every backend it tried; `attempts` says why for each. */
export class OpenError extends Error {
  readonly attempts: OpenAttempt[];
  readonly code: string;
  constructor(ifname: string, attempts: OpenAttempt[]) {
    const lines = attempts.map((a) => `  ${a.backend} ${a.mode}: ${a.error.message}`);
    super(`cannot open ${ifname}:\n${lines.join('\n')}`);
    this.name = 'OpenError';
    this.attempts = attempts;
    const last = attempts[attempts.length - 1]?.error as Partial<NativeError> | undefined;
    this.code = last?.code ?? 'EINVAL';
  }
}

function optionError(name: string, expected: string, got: unknown): TypeError {
  return new TypeError(`open(): option ${name} must be ${expected}, got ${JSON.stringify(got)}`);
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

interface ResolvedOptions extends Required<OpenOptions> {}

const KNOWN_OPTIONS = new Set(['backend', 'queue', 'xdpMode', 'ringSize', 'frameSize', 'frameCount', 'needWakeup', 'zeroCopy', 'multiBuffer', 'txBudget', 'poison']);

/** Check every option once and fill in defaults; throws a one-line TypeError naming the bad option. */
export function resolveOpenOptions(options: OpenOptions = {}): ResolvedOptions {
  for (const key of Object.keys(options)) if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`open(): unknown option ${key}`);
  const backend = options.backend ?? 'auto';
  if (!['auto', 'netmap', 'xdp'].includes(backend)) throw optionError('backend', "'auto', 'netmap' or 'xdp'", backend);
  const queue = options.queue ?? 0;
  if (!Number.isInteger(queue) || queue < 0 || queue > 1023) throw optionError('queue', 'an integer from 0 to 1023', queue);
  const xdpMode = options.xdpMode ?? 'auto';
  if (!['auto', 'native', 'generic'].includes(xdpMode)) throw optionError('xdpMode', "'auto', 'native' or 'generic'", xdpMode);
  const ringSize = options.ringSize ?? 2048;
  if (!isPowerOfTwo(ringSize) || ringSize < 64 || ringSize > 16384) throw optionError('ringSize', 'a power of two from 64 to 16384', ringSize);
  const frameSize = options.frameSize ?? 2048;
  if (frameSize !== 2048 && frameSize !== 4096) throw optionError('frameSize', '2048 or 4096', frameSize);
  const frameCount = options.frameCount ?? 2 * ringSize;
  if (!Number.isInteger(frameCount) || frameCount < ringSize + 64 || frameCount * frameSize > 2 ** 32) {
    throw optionError('frameCount', `an integer from ringSize + 64 (${ringSize + 64}) up to a 4 GiB UMEM`, frameCount);
  }
  const needWakeup = options.needWakeup ?? true;
  if (typeof needWakeup !== 'boolean') throw optionError('needWakeup', 'a boolean', needWakeup);
  const zeroCopy = options.zeroCopy ?? 'auto';
  if (!['auto', 'on', 'off'].includes(zeroCopy)) throw optionError('zeroCopy', "'auto', 'on' or 'off'", zeroCopy);
  const multiBuffer = options.multiBuffer ?? 'auto';
  if (!['auto', 'on', 'off'].includes(multiBuffer)) throw optionError('multiBuffer', "'auto', 'on' or 'off'", multiBuffer);
  const txBudget = options.txBudget ?? ringSize;
  if (!Number.isInteger(txBudget) || txBudget < 0 || txBudget > 65536) throw optionError('txBudget', 'an integer from 0 to 65536', txBudget);
  const poison = options.poison ?? false;
  if (typeof poison !== 'boolean') throw optionError('poison', 'a boolean', poison);
  return { backend, queue, xdpMode, ringSize, frameSize, frameCount, needWakeup, zeroCopy, multiBuffer, txBudget, poison };
}

/** The backends open() chooses between: the real ones, or stand-ins in tests. */
export interface OpenBackends {
  netmapAvailable(): boolean;
  openNetmap(ifname: string, options: OpenNetmapOptions): Device;
  openXdp(options: XdpPortOptions, deviceOptions: XdpDeviceOptions): Device & { fallback?: BackendFallback };
}

const SYSTEM_BACKENDS: OpenBackends = { netmapAvailable, openNetmap: openNetmapDevice, openXdp: openXdpDevice };

/**
 * Open a port on `ifname` and return it as a Device. With backend 'auto' it
 * tries netmap (if /dev/netmap exists), then AF_XDP native, then generic;
 * when every attempt fails, one OpenError lists them all. When netmap was
 * tried and AF_XDP opened instead, the device's `fallback` says why. A name in
 * netmap's syntax ("netmap:eth0", "netmap:eth0-2", "netmap:eth0^") selects
 * netmap.
 */
export function open(ifname: string, options: OpenOptions = {}): Device {
  return openWithBackends(ifname, options, SYSTEM_BACKENDS);
}

/** open() over the given backends. */
export function openWithBackends(ifname: string, options: OpenOptions, backends: OpenBackends): Device {
  if (typeof ifname !== 'string' || ifname.length === 0) throw new TypeError('open(): ifname must be a non-empty interface name');
  const resolved = resolveOpenOptions(options);
  const attempts: OpenAttempt[] = [];
  const netmapName = hasNetmapPrefix(ifname);
  if (netmapName && resolved.backend === 'xdp') throw optionError('backend', `'netmap' or 'auto' for the netmap port name "${ifname}"`, resolved.backend);
  if (resolved.backend === 'netmap' || netmapName || (resolved.backend === 'auto' && backends.netmapAvailable())) {
    try {
      return backends.openNetmap(ifname, { poison: resolved.poison, queue: options.queue });
    } catch (error) {
      attempts.push({ backend: 'netmap', mode: options.queue === undefined ? 'port' : `queue ${options.queue}`, error: error as Error });
      if (resolved.backend === 'netmap' || netmapName) throw new OpenError(ifname, attempts);
    }
  }
  const xdpModes: ('native' | 'generic')[] = resolved.xdpMode === 'auto' ? ['native', 'generic'] : [resolved.xdpMode];
  if (resolved.backend === 'xdp' || resolved.backend === 'auto') {
    for (const mode of xdpModes) {
      try {
        const device = backends.openXdp({
          ifname,
          queue: resolved.queue,
          mode,
          frameSize: resolved.frameSize,
          frameCount: resolved.frameCount,
          rxSize: resolved.ringSize,
          txSize: resolved.ringSize,
          fillSize: resolved.ringSize,
          completionSize: resolved.ringSize,
          needWakeup: resolved.needWakeup,
          zeroCopy: resolved.zeroCopy,
          multiBuffer: resolved.multiBuffer,
          txBudget: resolved.txBudget,
        }, { poison: resolved.poison });
        const netmapFailure = attempts.find((attempt) => attempt.backend === 'netmap');
        if (netmapFailure !== undefined) device.fallback = fallbackFrom(netmapFailure);
        return device;
      } catch (error) {
        attempts.push({ backend: 'xdp', mode, error: error as Error });
        // A missing interface, a missing privilege or a taken queue fails the same way in every mode;
        // EBUSY from the attach (the program is there in the other mode) is worth the next mode.
        const { code, syscall } = error as Partial<NativeError>;
        if (code === 'ENODEV' || code === 'EPERM' || code === 'EACCES' || (code === 'EBUSY' && syscall !== 'bpf(BPF_LINK_CREATE)')) break;
      }
    }
  }
  throw new OpenError(ifname, attempts);
}

function fallbackFrom(attempt: OpenAttempt): BackendFallback {
  const code = (attempt.error as Partial<NativeError>).code;
  return { backend: attempt.backend, code: typeof code === 'string' ? code : attempt.error.name, message: attempt.error.message };
}

/** The one-line warning a command prints on stderr when `device` is not on the backend open() tried first; null otherwise. */
export function fallbackWarning(device: Pick<Device, 'name' | 'backend' | 'mode' | 'fallback'>): string | null {
  const fallback = device.fallback;
  if (fallback === undefined) return null;
  return `nicring: warning: ${fallback.backend} could not open ${device.name} (${fallback.code}), so this runs on ${device.backend} `
    + `(${device.mode}) instead: ${fallback.message.replace(/\s*\n\s*/g, ' ')}`;
}

// The host stack: an interface on a device, its counters, UDP and TCP sockets, and pcap capture.
export { Interface } from './iface/interface';
export type { CacheSizes, InterfaceOptions } from './iface/interface';
export { unaccounted } from './iface/accounting';
export type { Unaccounted } from './iface/accounting';
export { StackCounters } from './iface/counters';
export type { StackCountersSnapshot } from './iface/counters';
export type { NeighborCacheOptions, NeighborInfo } from './iface/neighbor-cache';
export type { ReassemblyOptions } from './iface/reassembly';
export type { IcmpRateOptions } from './iface/icmp';
export type { UdpDatagram } from './iface/udp';
export type { LinkState } from './phy/device';
export { CaptureDevice, captureDevice } from './phy/capture';
export type { CaptureOptions } from './phy/capture';
export { UdpSocket, UdpSocketError, UdpPayload, UdpRemoteInfo, AddressInUseError, createSocket as createUdpSocket } from './socket/udp';
export type { UdpMessageListener, UdpRequestHandler } from './socket/udp';
export * as udp from './socket/udp';
export { TcpSocket, TcpServer, createServer as createTcpServer, connect as connectTcp } from './socket/tcp';
export type { TcpSocketOptions, TcpServerOptions, TcpConnectOptions } from './socket/tcp';
export * as tcp from './socket/tcp';
export type { TcpOptions, TcpConfig } from './tcp/config';

// Services: the UDP responder, the load generator and its engines, the sink.
export { Responder, echoHandler, loadHandlerModule } from './service/responder';
export type { ResponderHandler, ResponderOptions, ResponderCounters, ResponderDrops, ResponderHandlerModule } from './service/responder';
export { UdpGenerator, ReplyMeter, emitRequestTemplate, microsFromMs, nowMicros } from './service/generator';
export type { GeneratorOptions, GeneratorReport, LatencySummary } from './service/generator';
export { runLiveFrames } from './service/live-frames';
export type { LiveFramesOptions, LiveFramesResult } from './service/live-frames';
export { Sink } from './service/sink';

// Every queue of an interface: one worker thread per queue.
export { serve, Service, resolveQueues, builtinWorkerModule } from './service/serve';
export type {
  ServeOptions, ServiceStats, QueueStats, ServedPort, WorkerModule, WorkerContext, OpenDeviceContext, WorkerService, WorkerError, CounterTree,
} from './service/serve';
export { NeighborShare } from './iface/neighbor-share';
export type { NeighborShareCounters, NeighborShareOptions } from './iface/neighbor-share';
export type { NeighborLearnedListener } from './iface/neighbor-cache';
