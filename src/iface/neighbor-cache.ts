// The neighbor cache: ARP (RFC 826) for one Ethernet/IPv4 interface.
//
// - Requests for our address are answered in place, in the request's buffer.
// - Senders are learned from requests and replies addressed to us; any ARP
//   from a neighbor we know updates its MAC ("merge", RFC 826).
// - Resolving a next hop sends a broadcast request, then retries once a
//   second, giving up after `maxRequests`; frames for it wait meanwhile in a
//   bounded queue (their transmit buffers, so nothing is copied) and are
//   dropped, counted, when it is full or resolution fails.
// - An entry is reachable for `reachableMs` after its last confirmation. A
//   stale entry is still used, and its first use re-confirms it with unicast
//   requests (as Linux's PROBE state); if those go unanswered it is removed.
// - Entries unused (and unconfirmed) for `unusedMs` are removed.
// - start: one gratuitous request announces our address.
// - Several ports on one interface (one per queue, each with its own cache)
//   see different ARP traffic: an answer lands on one queue only. What a
//   cache learns from the wire goes to `onLearned`, and `adopt` takes what
//   another cache learned, as if the packet had come here.
//
// Time comes in as `nowMs`; timers run on the loop's timer queue.

import type { Loop, Timer } from '../loop';
import {
  ARP_HEADER_LEN,
  ARP_OPERATION_REPLY,
  ARP_OPERATION_REQUEST,
  ArpPacket,
  ArpRepr,
  arpField,
} from '../wire/arp';
import { ETHERTYPE_ARP, isMulticastMac, macFromHalves, macHigh16, macLow32, macToString, writeMac } from '../wire/ethernet';
import { isIpv4Multicast, type Ipv4Addressing } from './address';
import type { StackCounters } from './counters';
import type { Link } from './link';

/** Where the stack's layers get their timers: the loop. */
export type TimerHost = Pick<Loop, 'timer'>;

/**
 * Told of every neighbour an ARP packet taught the cache: its address, MAC
 * halves, and whether the packet confirmed it (addressed to us). Numbers
 * only, so that calling it allocates nothing.
 */
export type NeighborLearnedListener = (address: number, macHigh16: number, macLow32: number, confirmed: boolean) => void;

/** ARP settings; the defaults follow Linux's. */
export interface NeighborCacheOptions {
  /** How long a confirmation keeps an entry reachable (default 30000). */
  reachableMs?: number;
  /** Remove entries neither used nor confirmed for this long (default 60000). */
  unusedMs?: number;
  /** Time between requests for one target (default 1000). */
  retryMs?: number;
  /** Requests sent before giving up on a target (default 3). */
  maxRequests?: number;
  /** Frames held per unresolved target (default 64). */
  queueLength?: number;
  /** Frames held for all unresolved targets together (default 256). */
  maxQueuedFrames?: number;
  /** Entries the cache holds (default 1024). */
  maxEntries?: number;
}

/** What `lookup` says about one neighbor. */
export interface NeighborInfo {
  address: number;
  /** "aa:bb:cc:dd:ee:ff", or '' while incomplete. */
  mac: string;
  state: 'incomplete' | 'reachable' | 'stale';
  /** Requests sent in the current resolution or re-confirmation. */
  requestsSent: number;
  queuedFrames: number;
}

class NeighborEntry {
  readonly address: number;
  macHigh16 = 0;
  macLow32 = 0;
  resolved = false;
  confirmedMs = -Infinity;
  usedMs = -Infinity;
  /** Requests outstanding: resolving (unresolved) or re-confirming (resolved). */
  probing = false;
  requestsSent = 0;
  /** The retry of a resolution or re-confirmation; re-armed for each request. */
  readonly timer: Timer;
  readonly queueOffsets: Int32Array;
  readonly queueLengths: Int32Array;
  queueCount = 0;

  constructor(address: number, queueLength: number, timers: TimerHost, onTimer: (entry: NeighborEntry, nowMs: number) => void) {
    this.address = address;
    this.queueOffsets = new Int32Array(queueLength);
    this.queueLengths = new Int32Array(queueLength);
    this.timer = timers.timer((nowMs) => onTimer(this, nowMs));
  }
}

/** The ARP cache of one interface. */
export class NeighborCache {
  readonly reachableMs: number;
  readonly unusedMs: number;
  readonly retryMs: number;
  readonly maxRequests: number;
  readonly queueLength: number;
  readonly maxQueuedFrames: number;
  readonly maxEntries: number;
  private readonly link: Link;
  private readonly addressing: Ipv4Addressing;
  private readonly counters: StackCounters;
  private readonly timers: TimerHost;
  private readonly entries = new Map<number, NeighborEntry>();
  private queuedFrames = 0;
  private readonly sweepTimer: Timer;
  private lastEntry: NeighborEntry | null = null;
  private readonly packet = new ArpPacket();
  private readonly repr = new ArpRepr();
  /** Told of what ARP input learns (null: nobody listens). */
  onLearned: NeighborLearnedListener | null = null;
  private readonly onEntryTimer = (entry: NeighborEntry): void => this.entryTimer(entry);

  constructor(link: Link, addressing: Ipv4Addressing, counters: StackCounters, timers: TimerHost, options: NeighborCacheOptions = {}) {
    this.link = link;
    this.addressing = addressing;
    this.counters = counters;
    this.timers = timers;
    this.reachableMs = positive('arp.reachableMs', options.reachableMs ?? 30000);
    this.unusedMs = positive('arp.unusedMs', options.unusedMs ?? 60000);
    this.retryMs = positive('arp.retryMs', options.retryMs ?? 1000);
    this.maxRequests = positiveInteger('arp.maxRequests', options.maxRequests ?? 3);
    this.queueLength = positiveInteger('arp.queueLength', options.queueLength ?? 64);
    this.maxQueuedFrames = positiveInteger('arp.maxQueuedFrames', options.maxQueuedFrames ?? 256);
    this.maxEntries = positiveInteger('arp.maxEntries', options.maxEntries ?? 1024);
    this.sweepTimer = timers.timer((nowMs) => this.sweep(nowMs));
  }

  /** Entries in the cache, complete or not. */
  get size(): number {
    return this.entries.size;
  }

  /** Frames waiting for their next hop to be resolved, all targets together. */
  get pendingFrames(): number {
    return this.queuedFrames;
  }

  /** What the cache holds for `address` (a u32) at `nowMs`, or null. */
  lookup(address: number, nowMs: number): NeighborInfo | null {
    const entry = this.entries.get(address);
    if (entry === undefined) return null;
    let state: NeighborInfo['state'] = 'incomplete';
    if (entry.resolved) state = nowMs - entry.confirmedMs < this.reachableMs ? 'reachable' : 'stale';
    return {
      address,
      mac: entry.resolved ? macToString(macFromHalves(entry.macHigh16, entry.macLow32)) : '',
      state,
      requestsSent: entry.requestsSent,
      queuedFrames: entry.queueCount,
    };
  }

  /**
   * Send an Ethernet frame (source and EtherType written, destination not)
   * to the on-link neighbor `nextHop`: now when its MAC is known, else once
   * it is resolved. The buffer is the cache's from here on.
   */
  output(frameOffset: number, frameLength: number, nextHop: number, nowMs: number): boolean {
    // Traffic mostly goes to the neighbor it went to last: skip the map then.
    let entry = this.lastEntry !== null && this.lastEntry.address === nextHop ? this.lastEntry : this.entries.get(nextHop);
    if (entry !== undefined && entry.resolved) {
      this.lastEntry = entry;
      entry.usedMs = nowMs;
      if (!entry.probing && nowMs - entry.confirmedMs >= this.reachableMs) this.startRequests(entry);
      this.link.writeDestination(frameOffset, entry.macHigh16, entry.macLow32);
      return this.link.sendFrame(frameOffset, frameLength);
    }
    if (entry === undefined) {
      if (this.entries.size >= this.maxEntries && !this.evictOne()) {
        this.counters.arpTableFull++;
        this.link.freeFrame(frameOffset);
        return false;
      }
      entry = new NeighborEntry(nextHop, this.queueLength, this.timers, this.onEntryTimer);
      entry.usedMs = nowMs;
      this.entries.set(nextHop, entry);
      this.armSweep();
      this.startRequests(entry);
    }
    if (entry.queueCount === this.queueLength || this.queuedFrames === this.maxQueuedFrames) {
      this.counters.arpQueueFull++;
      this.link.freeFrame(frameOffset);
      return false;
    }
    entry.queueOffsets[entry.queueCount] = frameOffset;
    entry.queueLengths[entry.queueCount] = frameLength;
    entry.queueCount++;
    this.queuedFrames++;
    entry.usedMs = nowMs;
    return true;
  }

  /**
   * Start resolving the on-link neighbor `address` without a frame to send
   * (a no-op while it is resolved or being resolved). Returns true when its
   * MAC is already known.
   */
  resolve(address: number, nowMs: number): boolean {
    let entry = this.entries.get(address);
    if (entry !== undefined) return entry.resolved;
    if (this.entries.size >= this.maxEntries && !this.evictOne()) {
      this.counters.arpTableFull++;
      return false;
    }
    entry = new NeighborEntry(address, this.queueLength, this.timers, this.onEntryTimer);
    entry.usedMs = nowMs;
    this.entries.set(address, entry);
    this.armSweep();
    this.startRequests(entry);
    return false;
  }

  /** Handle an ARP packet (`offset`/`length` after the Ethernet header of the frame at `frameOffset`, lent as `token`). */
  input(view: DataView, offset: number, length: number, token: number, frameOffset: number, nowMs: number): void {
    const counters = this.counters;
    const repr = this.repr;
    if (!this.packet.reset(view, offset, length) || !ArpRepr.parseInto(repr, this.packet)) {
      counters.arpMalformed++;
      return;
    }
    const operation = repr.operation;
    if (operation === ARP_OPERATION_REQUEST) counters.arpRequestsReceived++;
    else if (operation === ARP_OPERATION_REPLY) counters.arpRepliesReceived++;
    else {
      counters.arpMalformed++;
      return;
    }
    const senderMac = repr.senderHardwareAddress;
    const senderAddress = repr.senderProtocolAddress;
    const ours = this.addressing.address;
    if (senderMac === 0 || isMulticastMac(senderMac) || this.addressing.isBroadcast(senderAddress) || isIpv4Multicast(senderAddress)) {
      counters.arpBadSender++;
      return;
    }
    if (senderAddress === ours) {
      // Our own announcement looped back is harmless; anyone else claims our address.
      if (senderMac !== this.link.mac) counters.arpAddressConflict++;
      return;
    }
    const forUs = repr.targetProtocolAddress === ours;
    const learned = senderAddress !== 0 && this.learnFrom(senderAddress, senderMac, forUs, nowMs);
    if (!learned && !forUs) {
      counters.arpNotForUs++;
      return;
    }
    if (learned && this.onLearned !== null) this.onLearned(senderAddress, macHigh16(senderMac), macLow32(senderMac), forUs);
    if (operation === ARP_OPERATION_REQUEST && forUs) this.replyInPlace(view, offset, token, frameOffset);
  }

  /**
   * Take a neighbour another cache learned from an ARP packet (another
   * queue's port on the same interface): the same as if that packet had come
   * here, without answering it and without telling `onLearned`.
   */
  adopt(address: number, high16: number, low32: number, confirmed: boolean, nowMs: number): void {
    const mac = macFromHalves(high16, low32);
    if (address === 0 || address === this.addressing.address || mac === 0 || isMulticastMac(mac)) return;
    this.learnFrom(address, mac, confirmed, nowMs);
  }

  /** Announce our address with a gratuitous request (sender and target both ours). */
  announce(): boolean {
    const ours = this.addressing.address;
    if (!this.sendRequest(ours, 0xffff, 0xffffffff, ours)) return false;
    this.counters.arpGratuitousSent++;
    return true;
  }

  /** Drop every entry, freeing queued frames and cancelling timers. */
  clear(): void {
    for (const entry of this.entries.values()) this.remove(entry);
    this.sweepTimer.cancel();
  }

  /**
   * Update the entry for `address`, or make one when the packet confirmed it
   * (addressed to us) and the sender is on our subnet, as Linux does.
   * Returns whether the cache holds the neighbour now.
   */
  private learnFrom(address: number, mac: number, confirmed: boolean, nowMs: number): boolean {
    const entry = this.entries.get(address);
    if (entry !== undefined) {
      this.learn(entry, mac, confirmed, nowMs);
      return true;
    }
    if (!confirmed || !this.addressing.isOnLink(address) || this.entries.size >= this.maxEntries) return false;
    const learned = new NeighborEntry(address, this.queueLength, this.timers, this.onEntryTimer);
    this.entries.set(address, learned);
    this.armSweep();
    this.learn(learned, mac, true, nowMs);
    return true;
  }

  private learn(entry: NeighborEntry, mac: number, confirmed: boolean, nowMs: number): void {
    entry.macHigh16 = macHigh16(mac);
    entry.macLow32 = macLow32(mac);
    const wasResolved = entry.resolved;
    entry.resolved = true;
    if (confirmed) {
      entry.confirmedMs = nowMs;
      if (entry.probing) {
        entry.probing = false;
        entry.requestsSent = 0;
        entry.timer.cancel();
      }
    }
    if (!wasResolved) this.releaseQueue(entry);
  }

  private releaseQueue(entry: NeighborEntry): void {
    const count = entry.queueCount;
    entry.queueCount = 0;
    this.queuedFrames -= count;
    for (let i = 0; i < count; i++) {
      const offset = entry.queueOffsets[i];
      this.link.writeDestination(offset, entry.macHigh16, entry.macLow32);
      this.link.sendFrame(offset, entry.queueLengths[i]);
    }
  }

  private startRequests(entry: NeighborEntry): void {
    entry.probing = true;
    entry.requestsSent = 0;
    this.sendNextRequest(entry);
  }

  private sendNextRequest(entry: NeighborEntry): void {
    entry.requestsSent++;
    // Resolution asks everyone; re-confirmation asks the MAC we have (RFC 1122 2.3.2.1).
    const sent = entry.resolved
      ? this.sendRequest(entry.address, entry.macHigh16, entry.macLow32, this.addressing.address)
      : this.sendRequest(entry.address, 0xffff, 0xffffffff, this.addressing.address);
    if (sent) this.counters.arpRequestsSent++;
    entry.timer.arm(this.retryMs);
  }

  private entryTimer(entry: NeighborEntry): void {
    if (!entry.probing || this.entries.get(entry.address) !== entry) return;
    if (entry.requestsSent < this.maxRequests) {
      this.sendNextRequest(entry);
      return;
    }
    this.counters.arpResolutionFailed++;
    this.remove(entry);
  }

  private remove(entry: NeighborEntry): void {
    entry.timer.cancel();
    entry.probing = false;
    if (entry.queueCount > 0) {
      this.counters.arpQueueDropped += entry.queueCount;
      for (let i = 0; i < entry.queueCount; i++) this.link.freeFrame(entry.queueOffsets[i]);
      this.queuedFrames -= entry.queueCount;
      entry.queueCount = 0;
    }
    this.entries.delete(entry.address);
    if (this.lastEntry === entry) this.lastEntry = null;
  }

  /** Make room: remove the entry unused longest, if one is resolved and idle. */
  private evictOne(): boolean {
    let oldest: NeighborEntry | null = null;
    for (const entry of this.entries.values()) {
      if (!entry.resolved || entry.probing) continue;
      if (oldest === null || entry.usedMs < oldest.usedMs) oldest = entry;
    }
    if (oldest === null) return false;
    this.remove(oldest);
    return true;
  }

  private armSweep(): void {
    if (!this.sweepTimer.armed) this.sweepTimer.arm(Math.min(1000, this.unusedMs));
  }

  private sweep(nowMs: number): void {
    for (const entry of this.entries.values()) {
      if (entry.probing) continue;
      const lastMs = entry.usedMs > entry.confirmedMs ? entry.usedMs : entry.confirmedMs;
      if (nowMs - lastMs >= this.unusedMs) {
        this.counters.arpEntriesExpired++;
        this.remove(entry);
      }
    }
    if (this.entries.size > 0) this.armSweep();
  }

  private sendRequest(targetAddress: number, destinationHigh16: number, destinationLow32: number, senderAddress: number): boolean {
    const link = this.link;
    const frame = link.allocFrame();
    if (frame < 0) return false;
    link.writeHeader(frame, destinationHigh16, destinationLow32, ETHERTYPE_ARP);
    const repr = this.repr;
    repr.operation = ARP_OPERATION_REQUEST;
    repr.senderHardwareAddress = link.mac;
    repr.senderProtocolAddress = senderAddress;
    repr.targetHardwareAddress = 0;
    repr.targetProtocolAddress = targetAddress;
    repr.emit(link.memory, frame + link.headerLength);
    return link.sendFrame(frame, link.headerLength + ARP_HEADER_LEN);
  }

  /** Turn the request into our reply in its own buffer. */
  private replyInPlace(view: DataView, offset: number, token: number, frameOffset: number): void {
    const link = this.link;
    link.turnAround(frameOffset);
    view.setUint16(offset + arpField.OPERATION, ARP_OPERATION_REPLY);
    // Target := the requester; sender := us.
    view.setUint16(offset + arpField.TARGET_HARDWARE_ADDRESS, view.getUint16(offset + arpField.SENDER_HARDWARE_ADDRESS));
    view.setUint32(offset + arpField.TARGET_HARDWARE_ADDRESS + 2, view.getUint32(offset + arpField.SENDER_HARDWARE_ADDRESS + 2));
    view.setUint32(offset + arpField.TARGET_PROTOCOL_ADDRESS, view.getUint32(offset + arpField.SENDER_PROTOCOL_ADDRESS));
    writeMac(view, offset + arpField.SENDER_HARDWARE_ADDRESS, link.mac);
    view.setUint32(offset + arpField.SENDER_PROTOCOL_ADDRESS, this.addressing.address);
    // The request's own Ethernet header, 14 or 18 bytes, stays in front.
    if (link.replyInPlace(token, offset - frameOffset + ARP_HEADER_LEN)) this.counters.arpRepliesSent++;
  }
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw new TypeError(`${name} must be a positive number, got ${JSON.stringify(value)}`);
  return value;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}
