// One host interface bound to a device: our MAC, IPv4 address and prefix,
// an optional gateway, optionally one 802.1Q VLAN. It owns the loop that
// drives the device, demultiplexes received frames (ARP, IPv4; IPv6 and
// anything else counted and dropped), and holds the layers: neighbor cache,
// IPv4 in and out with reassembly, ICMP, UDP, TCP.
//
// It also watches the link: the device's state is polled on a loop timer,
// and a change is counted and emitted as a 'link' event. While the link is
// down nothing is sent (counted); when the interface disappears the loop is
// paused; when the link comes back the stack carries on with its counters,
// cache and sockets, and announces itself again.

import { EventEmitter } from 'node:events';
import { Loop, type Clock, type LoopOptions, type Timer } from '../loop';
import type { Device, FrameHandler, LinkState } from '../phy/device';
import {
  ETHERNET_HEADER_LEN, ETHERNET_VLAN_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ethernetField, macToString, parseMac,
} from '../wire/ethernet';
import { ipv4ToString, parseIpv4 } from '../wire/ipv4';
import { Ipv4Addressing } from './address';
import { StackCounters, type StackCountersSnapshot } from './counters';
import { IcmpLayer, type IcmpRateOptions } from './icmp';
import { Ipv4Input } from './ipv4-input';
import { Ipv4Identification, Ipv4Output } from './ipv4-output';
import { Link } from './link';
import { NeighborCache, type NeighborCacheOptions, type NeighborInfo } from './neighbor-cache';
import { Reassembler, type ReassemblyOptions } from './reassembly';
import { TransportChecksums } from './transport-checksum';
import { UdpLayer } from './udp';
import { TcpLayer } from '../tcp/layer';
import type { TcpOptions } from '../tcp/config';

/**
 * How full the interface's caches and queues are (gauges). TCP's
 * connection count is the stack counter tcpConnections.
 */
export interface CacheSizes {
  /** Neighbour cache entries (at most arp.maxEntries). */
  arpEntries: number;
  /** Frames waiting for a neighbour to resolve (at most arp.maxQueuedFrames). */
  arpQueuedFrames: number;
  /** Datagrams being reassembled (at most reassembly.maxDatagrams). */
  reassemblyDatagrams: number;
  /** Bytes of reassembly buffers allocated (at most maxDatagrams of about 72 KiB). */
  reassemblyBufferBytes: number;
  /** TCP connections in TIME-WAIT (at most tcp.maxTimeWait). */
  tcpTimeWaitConnections: number;
  /** Timers armed in the loop's queue. */
  timersArmed: number;
}

/** How to set up an interface. */
export interface InterfaceOptions {
  /** Our address and prefix, e.g. "198.18.0.1/24". */
  address: string;
  /** Default gateway (on our subnet); without it only on-link destinations are reachable. */
  gateway?: string;
  /** IP MTU (default: 1500, or less when the device's buffers are smaller). */
  mtu?: number;
  /** Our MAC (default: the device's). */
  macAddress?: string;
  /**
   * Serve one 802.1Q VLAN (1..4094): receive only frames tagged with it and
   * tag every frame sent. Without it the interface is untagged, and takes
   * priority-tagged frames (VLAN 0) as untagged, as Linux does.
   */
  vlan?: number;
  /** ARP settings; `gratuitous: false` skips the announcement on start and link up. */
  arp?: NeighborCacheOptions & { gratuitous?: boolean };
  reassembly?: ReassemblyOptions;
  /** ICMP error rate limits. */
  icmp?: IcmpRateOptions;
  /** TCP settings (Linux's defaults). */
  tcp?: TcpOptions;
  /** The loop's clock (tests pass a FakeClock). */
  clock?: Clock;
  /** Batch sizes and busy polling of the loop. */
  loop?: Omit<LoopOptions, 'clock'>;
  /** How often the link state is polled (default 500 ms). */
  linkPollMs?: number;
  /** Close the device on close() (default true). */
  closeDevice?: boolean;
  /**
   * Verify every received UDP checksum in full, even where the device says
   * a same-host sender may leave it partial (default false: partial
   * checksums are accepted there and counted).
   */
  strictChecksums?: boolean;
}

/** Largest IPv4 datagram built in one piece before fragmenting (its payload). */
const SCRATCH_LEN = 0x10000;
const DEFAULT_MTU = 1500;
const MIN_MTU = 68;

/** The interface's events. */
export interface Interface {
  /** The link changed: 'down', 'up', or 'absent' (the interface is gone). */
  on(event: 'link', listener: (state: LinkState) => void): this;
  /** The interface was closed. */
  on(event: 'close', listener: () => void): this;
  once(event: 'link', listener: (state: LinkState) => void): this;
  once(event: 'close', listener: () => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** An IPv4 host on one device. */
export class Interface extends EventEmitter {
  readonly device: Device;
  /** The loop that drives the device; its clock is the stack's time. */
  readonly loop: Loop;
  readonly addressing: Ipv4Addressing;
  readonly mtu: number;
  readonly neighbors: NeighborCache;
  readonly reassembler: Reassembler;
  readonly icmp: IcmpLayer;
  readonly udp: UdpLayer;
  /** The 802.1Q VLAN served, or 0 (untagged). */
  readonly vlan: number;
  /** How received transport checksums are judged (from the device's capabilities and strictChecksums). */
  readonly checksums: TransportChecksums;
  readonly tcp: TcpLayer;
  /** The stack's input: the loop calls it per frame; tests may call `device.receive(n, iface.frameHandler)` themselves. */
  readonly frameHandler: FrameHandler;
  private readonly stats = new StackCounters();
  private readonly link: Link;
  private readonly ipv4: Ipv4Input;
  private readonly output: Ipv4Output;
  private readonly linkPollMs: number;
  private readonly gratuitousArp: boolean;
  private readonly closeDevice: boolean;
  private state: LinkState = 'up';
  private started = false;
  private isClosed = false;
  private paused = false;
  private receiving = false;
  /** Polls the link state while the loop runs. */
  private readonly linkTimer: Timer;
  private pausedPoll: NodeJS.Timeout | null = null;
  private readonly onPausedPoll = (): void => {
    this.pausedPoll = null;
    this.pollLink();
    if (this.paused && !this.isClosed) this.pausedPoll = setTimeout(this.onPausedPoll, this.linkPollMs);
  };

  constructor(device: Device, options: InterfaceOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new TypeError('Interface: options with an address are required');
    this.device = device;
    this.addressing = new Ipv4Addressing(options.address, options.gateway);
    const mac = parseMac(options.macAddress ?? device.macAddress);
    if (mac === null) throw new TypeError(`macAddress must look like "02:00:00:00:00:01", got ${JSON.stringify(options.macAddress ?? device.macAddress)}`);
    this.vlan = options.vlan ?? 0;
    if (!Number.isInteger(this.vlan) || this.vlan < 0 || this.vlan > 4094) throw new TypeError(`vlan must be an integer from 1 to 4094 (0: none), got ${JSON.stringify(options.vlan)}`);
    const largest = device.frameCapacity - (this.vlan === 0 ? ETHERNET_HEADER_LEN : ETHERNET_VLAN_HEADER_LEN);
    this.mtu = options.mtu ?? Math.min(DEFAULT_MTU, largest);
    if (!Number.isInteger(this.mtu) || this.mtu < MIN_MTU || this.mtu > largest) throw new TypeError(`mtu must be an integer from ${MIN_MTU} to ${largest} (the device's buffers), got ${options.mtu}`);
    this.linkPollMs = options.linkPollMs ?? 500;
    if (!(this.linkPollMs > 0)) throw new TypeError(`linkPollMs must be positive, got ${options.linkPollMs}`);
    this.gratuitousArp = options.arp?.gratuitous ?? true;
    this.closeDevice = options.closeDevice ?? true;
    const strictChecksums = options.strictChecksums ?? false;
    if (typeof strictChecksums !== 'boolean') throw new TypeError(`strictChecksums must be a boolean, got ${JSON.stringify(options.strictChecksums)}`);
    this.checksums = new TransportChecksums(device.checksums, strictChecksums);

    this.frameHandler = (offset, length, token) => this.input(offset, length, token);
    this.loop = new Loop(device, this.frameHandler, { ...options.loop, clock: options.clock });
    this.linkTimer = this.loop.timer(() => {
      this.pollLink();
      this.armLinkPoll();
    });
    const now = (): number => this.loop.nowMs();
    const scratch = new DataView(new ArrayBuffer(SCRATCH_LEN));
    const counters = this.stats;
    this.link = new Link(device, mac, counters, this.vlan);
    this.neighbors = new NeighborCache(this.link, this.addressing, counters, this.loop, options.arp);
    const identification = new Ipv4Identification();
    this.output = new Ipv4Output(this.link, this.addressing, this.neighbors, counters, identification, this.mtu, now);
    this.reassembler = new Reassembler(counters, this.loop, (slot, nowMs) => this.icmp.reassemblyTimedOut(slot, nowMs), options.reassembly);
    this.icmp = new IcmpLayer(this.link, this.output, identification, counters, this.addressing, scratch, now, options.icmp);
    this.udp = new UdpLayer(this.link, this.output, identification, this.icmp, this.addressing, counters, this.checksums, scratch, () => this.sent());
    this.ipv4 = new Ipv4Input(this.addressing, counters, this.reassembler, device.frameCapacity);
    this.ipv4.icmp = this.icmp;
    this.ipv4.udp = this.udp;
    this.icmp.udp = this.udp;
    this.tcp = new TcpLayer(this.link, this.output, this.addressing, counters, this.checksums, this.loop, () => this.sent(), options.tcp);
    this.ipv4.tcp = this.tcp;
  }

  /** How received transport checksums are taken, in words: "partial accepted (why)", "strict" or "full". */
  get checksumPolicy(): string {
    if (this.checksums.acceptPartial) return `partial accepted (${this.device.checksums.reason})`;
    return this.device.checksums.rx === 'partial' ? 'strict' : 'full';
  }

  /** Our address, dotted. */
  get address(): string {
    return ipv4ToString(this.addressing.address);
  }

  /** Our address with its prefix length. */
  get cidr(): string {
    return `${this.address}/${this.addressing.prefixLength}`;
  }

  /** Our MAC, "aa:bb:cc:dd:ee:ff". */
  get macAddress(): string {
    return macToString(this.link.mac);
  }

  /** The link state last seen. */
  get linkState(): LinkState {
    return this.state;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Start the loop, begin watching the link, and announce our address. */
  start(): this {
    if (this.isClosed) throw new Error('Interface: start() after close()');
    if (this.started) return this;
    this.started = true;
    this.state = this.readLinkState();
    this.link.up = this.state === 'up';
    if (this.state === 'absent') {
      this.pause();
      return this;
    }
    this.loop.start();
    this.armLinkPoll();
    if (this.link.up && this.gratuitousArp) {
      this.neighbors.announce();
      this.loop.requestFlush();
    }
    return this;
  }

  /** Stop everything: sockets closed, queued frames freed, timers cancelled, loop stopped, device closed (unless closeDevice is false). */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.linkTimer.cancel();
    if (this.pausedPoll !== null) clearTimeout(this.pausedPoll);
    this.pausedPoll = null;
    this.udp.closeAll();
    this.tcp.closeAll();
    this.neighbors.clear();
    this.reassembler.clear();
    this.flush();
    this.loop.stop();
    if (this.closeDevice && !this.device.closed) this.device.close();
    this.emit('close');
  }

  /** Every counter, as a plain object (a copy). */
  counters(): StackCountersSnapshot {
    return { ...this.stats };
  }

  /** The same figures written into `into` (an earlier snapshot), for a caller that reads them again and again and keeps nothing. */
  countersInto(into: StackCountersSnapshot): StackCountersSnapshot {
    return Object.assign(into, this.stats);
  }

  /** How full each cache and queue is now (their bounds: docs/limits.md). */
  cacheSizes(): CacheSizes {
    return {
      arpEntries: this.neighbors.size,
      arpQueuedFrames: this.neighbors.pendingFrames,
      reassemblyDatagrams: this.reassembler.pending,
      reassemblyBufferBytes: this.reassembler.memoryBytes,
      tcpTimeWaitConnections: this.tcp.timeWaitConnections,
      timersArmed: this.loop.timers.size,
    };
  }

  /** What the neighbor cache holds for `address` ("198.18.0.2"), or null. */
  neighbor(address: string): NeighborInfo | null {
    const parsed = parseIpv4(address);
    return parsed === null ? null : this.neighbors.lookup(parsed, this.loop.nowMs());
  }

  /**
   * Resolve the on-link neighbor `address` with ARP (retries as configured);
   * resolves with its MAC, rejects when it does not answer within `timeoutMs`.
   */
  resolveNeighbor(address: string, timeoutMs = 3500): Promise<string> {
    const target = parseIpv4(address);
    if (target === null) return Promise.reject(new TypeError(`resolveNeighbor: address must be dotted IPv4, got ${JSON.stringify(address)}`));
    if (!this.addressing.isOnLink(target)) return Promise.reject(new RangeError(`resolveNeighbor: ${address} is not on ${this.address}'s subnet`));
    const deadlineMs = this.loop.nowMs() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.isClosed) {
          reject(new Error(`resolveNeighbor: interface closed while resolving ${address}`));
          return;
        }
        const nowMs = this.loop.nowMs();
        if (this.neighbors.resolve(target, nowMs)) {
          resolve(this.neighbors.lookup(target, nowMs)?.mac ?? '');
          return;
        }
        this.flush();
        if (nowMs >= deadlineMs) reject(new Error(`no ARP reply from ${address} within ${timeoutMs} ms: is anything there on ${this.device.name}?`));
        else setTimeout(check, 10);
      };
      check();
    });
  }

  /** Push queued frames to the device now. */
  flush(): void {
    if (this.device.closed) return;
    try {
      this.device.flush();
    } catch {
      this.stats.txErrors++;
    }
  }

  /** Read the link state now; on a change, count it, act on it and emit 'link'. Returns the state. */
  pollLink(): LinkState {
    if (this.isClosed) return this.state;
    const state = this.readLinkState();
    if (state === this.state) return state;
    this.state = state;
    this.link.up = state === 'up';
    const stats = this.stats;
    if (state === 'absent') {
      stats.linkAbsent++;
      this.pause();
    } else {
      if (state === 'up') stats.linkUp++;
      else stats.linkDown++;
      if (this.paused) this.resume();
      if (state === 'up' && this.gratuitousArp) {
        this.neighbors.announce();
        this.flush();
      }
    }
    this.emit('link', state);
    return state;
  }

  private readLinkState(): LinkState {
    const device = this.device;
    if (device.linkState === undefined) return 'up';
    try {
      return device.linkState();
    } catch {
      return 'absent';
    }
  }

  private armLinkPoll(): void {
    if (this.isClosed || this.paused || this.linkTimer.armed || this.device.linkState === undefined) return;
    this.linkTimer.arm(this.linkPollMs);
  }

  /** The interface is gone: stop touching the device, and keep looking for it on a plain timer. */
  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.linkTimer.cancel();
    this.loop.stop();
    this.pausedPoll = setTimeout(this.onPausedPoll, this.linkPollMs);
  }

  private resume(): void {
    this.paused = false;
    if (this.pausedPoll !== null) clearTimeout(this.pausedPoll);
    this.pausedPoll = null;
    this.loop.start();
    this.armLinkPoll();
  }

  /** Something was sent outside a receive callback: make sure it is flushed soon. */
  private sent(): void {
    if (!this.receiving) this.loop.requestFlush();
  }

  private input(offset: number, length: number, token: number): void {
    const stats = this.stats;
    stats.framesReceived++;
    if (length < ETHERNET_HEADER_LEN) {
      stats.ethernetTooShort++;
      return;
    }
    const memory = this.link.memory;
    const link = this.link;
    let linkMulticast = false;
    const destinationHigh = memory.getUint16(offset + ethernetField.DESTINATION);
    if (destinationHigh !== link.macHigh16 || memory.getUint32(offset + ethernetField.DESTINATION + 2) !== link.macLow32) {
      if ((destinationHigh & 0x0100) === 0) {
        stats.ethernetNotForUs++;
        return;
      }
      linkMulticast = true;
    }
    let etherType = memory.getUint16(offset + ethernetField.ETHER_TYPE);
    let headerLength = ETHERNET_HEADER_LEN;
    // 802.1Q: the served VLAN's frames, or (serving none) untagged and priority-tagged ones (VLAN 0).
    if (etherType === ETHERTYPE_VLAN) {
      if (length < ETHERNET_VLAN_HEADER_LEN) {
        stats.ethernetTooShort++;
        return;
      }
      const vlan = memory.getUint16(offset + ethernetField.VLAN_TCI) & 0x0fff;
      if (vlan !== link.vlanId) {
        if (vlan === 0) stats.ethernetVlanUntagged++;
        else stats.ethernetVlanNotServed++;
        return;
      }
      etherType = memory.getUint16(offset + ethernetField.VLAN_ETHER_TYPE);
      headerLength = ETHERNET_VLAN_HEADER_LEN;
    } else if (link.vlanId !== 0) {
      stats.ethernetVlanUntagged++;
      return;
    }
    this.receiving = true;
    try {
      if (etherType === ETHERTYPE_IPV4) {
        this.ipv4.input(memory, link.bytes, offset + headerLength, length - headerLength, token, offset, linkMulticast);
      } else if (etherType === ETHERTYPE_ARP) {
        this.neighbors.input(memory, offset + headerLength, length - headerLength, token, offset, this.loop.nowMs());
      } else if (etherType === ETHERTYPE_IPV6) {
        stats.ethernetIpv6++;
      } else {
        stats.ethernetUnknownType++;
      }
    } finally {
      this.receiving = false;
    }
  }
}
