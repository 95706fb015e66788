// IPv4 reassembly (RFC 791 section 3.2, with RFC 815's idea of tracking
// what is still missing), in bounded memory.
//
// A datagram is keyed by (source, destination, protocol, identification).
// Each one being reassembled holds a slot: one buffer with room for the
// longest header before the largest payload, and one flag per 8-byte block
// received. The first fragment's header is kept right before the payload,
// so the finished datagram is one contiguous header + payload, as if it had
// arrived whole. At most `maxDatagrams` slots exist; a new datagram when all
// are busy evicts the oldest. A datagram not finished `timeoutMs` after its
// first fragment is dropped: one sweep timer, due when the oldest datagram
// expires, serves every slot, so a flood of fragments costs no timer memory.
//
// Fragments that overlap a received part are dropped with their whole
// datagram (as Linux does since the FragmentSmack fixes, and RFC 5722 asks
// for IPv6); a fragment adding nothing new is an ignored duplicate.

import type { Loop, Timer } from '../loop';
import { copyBytes } from '../wire/bytes';
import { internetChecksum } from '../wire/checksum';
import { IPV4_MAX_HEADER_LEN, type Ipv4Packet, ipv4Field } from '../wire/ipv4';
import type { StackCounters } from './counters';

/** Largest IPv4 payload: Total Length is 16 bits and includes a 20-byte header at least. */
export const IPV4_MAX_PAYLOAD_LEN = 0xffff - 20;

const BLOCK_SHIFT = 3;
const BLOCK_COUNT = (IPV4_MAX_PAYLOAD_LEN + 7) >>> BLOCK_SHIFT;

/** Reassembly settings. */
export interface ReassemblyOptions {
  /** Datagrams reassembled at once; the memory bound is this many 64 KiB buffers (default 16). */
  maxDatagrams?: number;
  /** Drop a datagram not complete this long after its first fragment (default 30000). */
  timeoutMs?: number;
}

/** One datagram being reassembled; when complete, its header and payload are contiguous in `view`. */
export class ReassemblySlot {
  inUse = false;
  /**
   * The addresses as signed 32-bit numbers: always small integers to V8, so
   * matching a fragment never boxes one (see `source` and `destination`).
   */
  sourceBits = 0;
  destinationBits = 0;
  protocol = 0;
  identification = 0;
  firstMs = 0;
  /** Payload bytes, once the last fragment said (-1 until then). */
  payloadLength = -1;
  /** Bytes the received fragments reach up to. */
  highestEnd = 0;
  receivedBlocks = 0;
  /** The first fragment's header, right before the payload (headerLength 0 until it arrives). */
  headerLength = 0;
  /** Payload bytes the first fragment carried. */
  firstFragmentLength = 0;
  view: DataView | null = null;
  bytes: Uint8Array | null = null;
  blocks: Uint8Array | null = null;

  /** The datagram's source address (u32). */
  get source(): number {
    return this.sourceBits >>> 0;
  }

  /** The datagram's destination address (u32). */
  get destination(): number {
    return this.destinationBits >>> 0;
  }

  /** Where the payload starts in `view`. */
  get payloadOffset(): number {
    return IPV4_MAX_HEADER_LEN;
  }

  /** Where the kept header starts in `view`. */
  get headerOffset(): number {
    return IPV4_MAX_HEADER_LEN - this.headerLength;
  }

  /** True once the fragment at offset 0 arrived (its header is kept). */
  get hasFirstFragment(): boolean {
    return this.headerLength > 0;
  }
}

/**
 * The loop as the reassembler uses it: one timer, and the time read in
 * place (`nowCell`, brought up to date by `refreshNow()`), so that a
 * fragment costs no boxed number.
 */
export type ReassemblyClock = Pick<Loop, 'timer' | 'nowCell' | 'refreshNow'>;

/** Called when a datagram times out, before its slot is freed (for ICMP time exceeded). */
export type ReassemblyTimeoutHandler = (slot: ReassemblySlot, nowMs: number) => void;

/** The reassembly buffers of one interface. */
export class Reassembler {
  readonly maxDatagrams: number;
  readonly timeoutMs: number;
  private readonly slots: ReassemblySlot[] = [];
  private readonly counters: StackCounters;
  private readonly onTimeout: ReassemblyTimeoutHandler;
  /** Due when the oldest datagram in progress expires; disarmed while none is. */
  private readonly sweepTimer: Timer;
  private readonly clock: ReassemblyClock;
  private slotsInUse = 0;

  constructor(counters: StackCounters, clock: ReassemblyClock, onTimeout: ReassemblyTimeoutHandler, options: ReassemblyOptions = {}) {
    this.counters = counters;
    this.clock = clock;
    this.onTimeout = onTimeout;
    this.sweepTimer = clock.timer((nowMs) => this.sweep(nowMs));
    this.maxDatagrams = options.maxDatagrams ?? 16;
    this.timeoutMs = options.timeoutMs ?? 30000;
    if (!Number.isInteger(this.maxDatagrams) || this.maxDatagrams < 1) throw new TypeError(`reassembly.maxDatagrams must be a positive integer, got ${options.maxDatagrams}`);
    if (!(this.timeoutMs > 0)) throw new TypeError(`reassembly.timeoutMs must be positive, got ${options.timeoutMs}`);
    for (let i = 0; i < this.maxDatagrams; i++) this.slots.push(new ReassemblySlot());
  }

  /** Datagrams being reassembled (slots in use). */
  get pending(): number {
    return this.slotsInUse;
  }

  /** Bytes of buffers allocated so far (never more than maxDatagrams of them). */
  get memoryBytes(): number {
    // Indexed, not for-of: read once a second for the stats, in code V8 leaves unoptimized, where an iterator is garbage.
    const slots = this.slots;
    let bytes = 0;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (slot.bytes !== null) bytes += slot.bytes.length + (slot.blocks as Uint8Array).length;
    }
    return bytes;
  }

  /**
   * Add one fragment (a packet already checked: header, lengths, checksum),
   * at the loop's current time. Returns the slot once its datagram is
   * complete — the caller hands it up and then calls release() — or null.
   */
  add(packet: Ipv4Packet): ReassemblySlot | null {
    const counters = this.counters;
    const offset = packet.fragmentOffsetBytes;
    const headerLength = packet.headerLength;
    const length = packet.totalLength - headerLength;
    const more = packet.moreFragments;
    if (length === 0 || (more && (length & 7) !== 0)) {
      counters.reassemblyBadFragment++;
      return null;
    }
    const end = offset + length;
    if (end > IPV4_MAX_PAYLOAD_LEN) {
      counters.reassemblyTooLarge++;
      return null;
    }
    const slot = this.find(packet);
    if ((slot.payloadLength >= 0 && end > slot.payloadLength) || (!more && (end < slot.highestEnd || (slot.payloadLength >= 0 && end !== slot.payloadLength)))) {
      counters.reassemblyTooLarge++;
      this.release(slot);
      return null;
    }
    const blocks = slot.blocks as Uint8Array;
    const firstBlock = offset >>> BLOCK_SHIFT;
    const endBlock = (end + 7) >>> BLOCK_SHIFT;
    let alreadyThere = 0;
    for (let block = firstBlock; block < endBlock; block++) alreadyThere += blocks[block];
    if (alreadyThere === endBlock - firstBlock) {
      counters.reassemblyDuplicate++;
      return null;
    }
    if (alreadyThere > 0) {
      counters.reassemblyOverlap++;
      this.release(slot);
      return null;
    }
    blocks.fill(1, firstBlock, endBlock);
    slot.receivedBlocks += endBlock - firstBlock;
    const view = slot.view as DataView;
    copyBytes(packet.view, packet.payloadOffset, view, IPV4_MAX_HEADER_LEN + offset, length);
    if (offset === 0) {
      slot.headerLength = headerLength;
      slot.firstFragmentLength = length;
      copyBytes(packet.view, packet.offset, view, IPV4_MAX_HEADER_LEN - headerLength, headerLength);
    }
    if (end > slot.highestEnd) slot.highestEnd = end;
    if (!more) slot.payloadLength = end;
    if (slot.payloadLength < 0 || slot.receivedBlocks !== (slot.payloadLength + 7) >>> BLOCK_SHIFT) return null;
    this.complete(slot);
    return slot;
  }

  /** Free a slot (after a complete datagram was handed up). */
  release(slot: ReassemblySlot): void {
    if (!slot.inUse) return;
    slot.inUse = false;
    if (--this.slotsInUse === 0) this.sweepTimer.cancel();
  }

  /** Drop every datagram in progress and cancel the sweep. */
  clear(): void {
    for (const slot of this.slots) this.release(slot);
    this.sweepTimer.cancel();
  }

  private find(packet: Ipv4Packet): ReassemblySlot {
    // Addresses read signed: an unsigned one above 2^31 is a heap number wherever the read is not inlined.
    const source = packet.view.getInt32(packet.offset + ipv4Field.SOURCE);
    const destination = packet.view.getInt32(packet.offset + ipv4Field.DESTINATION);
    const protocol = packet.protocol;
    const identification = packet.identification;
    let free: ReassemblySlot | null = null;
    let oldest: ReassemblySlot | null = null;
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (!slot.inUse) {
        if (free === null) free = slot;
        continue;
      }
      if (slot.identification === identification && slot.sourceBits === source && slot.destinationBits === destination && slot.protocol === protocol) return slot;
      if (oldest === null || slot.firstMs < oldest.firstMs) oldest = slot;
    }
    let slot = free;
    if (slot === null) {
      slot = oldest as ReassemblySlot;
      this.counters.reassemblyEvicted++;
      this.release(slot);
    }
    if (slot.bytes === null) {
      const buffer = new ArrayBuffer(IPV4_MAX_HEADER_LEN + IPV4_MAX_PAYLOAD_LEN);
      slot.bytes = new Uint8Array(buffer);
      slot.view = new DataView(buffer);
      slot.blocks = new Uint8Array(BLOCK_COUNT);
    } else {
      (slot.blocks as Uint8Array).fill(0, 0, (slot.highestEnd + 7) >>> BLOCK_SHIFT);
    }
    slot.inUse = true;
    slot.sourceBits = source;
    slot.destinationBits = destination;
    slot.protocol = protocol;
    slot.identification = identification;
    this.clock.refreshNow();
    const nowMs = this.clock.nowCell[0];
    slot.firstMs = nowMs;
    slot.payloadLength = -1;
    slot.highestEnd = 0;
    slot.receivedBlocks = 0;
    slot.headerLength = 0;
    this.slotsInUse++;
    // Slots are taken in time order: an armed sweep is due no later than this one's expiry.
    if (!this.sweepTimer.armed) this.sweepTimer.armAt(nowMs + this.timeoutMs);
    return slot;
  }

  /** Make the kept header describe the whole datagram: its length, no fragment fields, a fresh checksum. */
  private complete(slot: ReassemblySlot): void {
    const view = slot.view as DataView;
    const at = slot.headerOffset;
    view.setUint16(at + ipv4Field.TOTAL_LENGTH, slot.headerLength + slot.payloadLength);
    view.setUint16(at + ipv4Field.FLAGS_FRAGMENT_OFFSET, view.getUint16(at + ipv4Field.FLAGS_FRAGMENT_OFFSET) & 0x4000);
    view.setUint16(at + ipv4Field.CHECKSUM, 0);
    view.setUint16(at + ipv4Field.CHECKSUM, internetChecksum(view, at, slot.headerLength));
    this.counters.ipv4Reassembled++;
  }

  /** Drop every datagram whose time is up, then wait for the oldest left. */
  private sweep(nowMs: number): void {
    let oldestMs = Infinity;
    for (const slot of this.slots) {
      if (!slot.inUse) continue;
      if (nowMs - slot.firstMs >= this.timeoutMs) {
        this.counters.reassemblyTimeout++;
        this.onTimeout(slot, nowMs);
        this.release(slot);
      } else if (slot.firstMs < oldestMs) {
        oldestMs = slot.firstMs;
      }
    }
    if (oldestMs !== Infinity && !this.sweepTimer.armed) this.sweepTimer.armAt(oldestMs + this.timeoutMs);
  }
}
