// AF_XDP single-producer/single-consumer rings over their mapped areas.
//
// Indices are free-running u32 (slot = index & mask). The side we own is
// cached locally and published with Atomics.store (release); the kernel's
// side is read with Atomics.load (acquire) only when the cache runs out.
// Verbs come in pairs, as in libxdp: reserve/submit (producer rings: fill,
// TX) and peek/release (consumer rings: RX, completion). See af-xdp-abi.md.

import type { RingInfo } from '../native';

/** XDP_RING_NEED_WAKEUP in a ring's flags word. */
export const XDP_RING_NEED_WAKEUP = 1;

/** An RX descriptor's option bit: the frame goes on in the next descriptor (multi-buffer). */
export const XDP_PKT_CONTD = 1;

/** Bytes per RX/TX descriptor (struct xdp_desc) and per fill/completion entry (u64). */
export const XDP_DESC_LEN = 16;
export const XDP_ADDR_LEN = 8;

class XdpRing {
  /** Entries in the ring (a power of two). */
  readonly size: number;
  readonly mask: number;
  /** u32 words over the whole mapped area. */
  protected readonly words: Uint32Array;
  protected readonly producerWord: number;
  protected readonly consumerWord: number;
  protected readonly flagsWord: number;
  /** Word index of entry 0. */
  protected readonly descWord: number;

  constructor(info: RingInfo) {
    if (info.size <= 0 || (info.size & (info.size - 1)) !== 0) {
      throw new RangeError(`ring size ${info.size} is not a power of two`);
    }
    for (const [name, offset] of [['producer', info.producer], ['consumer', info.consumer], ['flags', info.flags], ['desc', info.desc]] as const) {
      if (offset % 4 !== 0) throw new RangeError(`ring ${name} offset ${offset} is not 4-byte aligned`);
    }
    this.size = info.size;
    this.mask = info.size - 1;
    this.words = new Uint32Array(info.buffer, 0, info.buffer.byteLength >>> 2);
    this.producerWord = info.producer >>> 2;
    this.consumerWord = info.consumer >>> 2;
    this.flagsWord = info.flags >>> 2;
    this.descWord = info.desc >>> 2;
  }

  /** True when the kernel asks for a wake-up (XDP_USE_NEED_WAKEUP). */
  needsWakeup(): boolean {
    return (Atomics.load(this.words, this.flagsWord) & XDP_RING_NEED_WAKEUP) !== 0;
  }
}

/** A ring user space produces into: fill (addresses) or TX (descriptors). */
export class XdpProducerRing extends XdpRing {
  /** Next index we will write (not yet published beyond `published`). */
  cachedProducer: number;
  /** Last consumer index seen from the kernel. */
  private cachedConsumer: number;

  constructor(info: RingInfo) {
    super(info);
    this.cachedProducer = Atomics.load(this.words, this.producerWord);
    this.cachedConsumer = Atomics.load(this.words, this.consumerWord);
  }

  /** Entries free for writing, refreshing the kernel's consumer only when fewer than `wanted` look free. */
  free(wanted: number): number {
    let free = this.size - ((this.cachedProducer - this.cachedConsumer) >>> 0);
    if (free >= wanted) return free;
    this.cachedConsumer = Atomics.load(this.words, this.consumerWord);
    free = this.size - ((this.cachedProducer - this.cachedConsumer) >>> 0);
    return free;
  }

  /** Reserve up to `count` entries from index `cachedProducer`; returns how many. Write them, then submit exactly that many. */
  reserve(count: number): number {
    const free = this.free(count);
    return free < count ? free : count;
  }

  /** Publish `count` written entries (release). */
  submit(count: number): void {
    this.cachedProducer = (this.cachedProducer + count) >>> 0;
    Atomics.store(this.words, this.producerWord, this.cachedProducer);
  }

  /** Entries published and not yet consumed by the kernel. */
  outstanding(): number {
    this.cachedConsumer = Atomics.load(this.words, this.consumerWord);
    return (this.cachedProducer - this.cachedConsumer) >>> 0;
  }

  /** Fill ring entry: write UMEM address `addr` (< 2^53) at ring index `index`. */
  writeAddr(index: number, addr: number): void {
    const word = this.descWord + ((index & this.mask) << 1);
    this.words[word] = addr >>> 0;
    this.words[word + 1] = (addr / 0x1_0000_0000) >>> 0;
  }

  /** TX ring entry: write descriptor {addr, len, options 0} at ring index `index`. */
  writeDesc(index: number, addr: number, length: number): void {
    const word = this.descWord + ((index & this.mask) << 2);
    this.words[word] = addr >>> 0;
    this.words[word + 1] = (addr / 0x1_0000_0000) >>> 0;
    this.words[word + 2] = length;
    this.words[word + 3] = 0;
  }

  /** TX ring entry address at ring index `index` (tests and debugging). */
  readDescAddr(index: number): number {
    const word = this.descWord + ((index & this.mask) << 2);
    return this.words[word + 1] * 0x1_0000_0000 + this.words[word];
  }
}

/** A ring user space consumes from: RX (descriptors) or completion (addresses). */
export class XdpConsumerRing extends XdpRing {
  /** Next index we will read. */
  cachedConsumer: number;
  /** Last producer index seen from the kernel. */
  private cachedProducer: number;

  constructor(info: RingInfo) {
    super(info);
    this.cachedConsumer = Atomics.load(this.words, this.consumerWord);
    this.cachedProducer = Atomics.load(this.words, this.producerWord);
  }

  /** Entries ready at index `cachedConsumer`, up to `count` (acquire-loads the producer when the cache is empty). */
  peek(count: number): number {
    let ready = (this.cachedProducer - this.cachedConsumer) >>> 0;
    if (ready === 0) {
      this.cachedProducer = Atomics.load(this.words, this.producerWord);
      ready = (this.cachedProducer - this.cachedConsumer) >>> 0;
    }
    return ready < count ? ready : count;
  }

  /** Give `count` read entries back to the kernel (release). */
  release(count: number): void {
    this.cachedConsumer = (this.cachedConsumer + count) >>> 0;
    Atomics.store(this.words, this.consumerWord, this.cachedConsumer);
  }

  /** Completion entry: the UMEM address at ring index `index`. */
  readAddr(index: number): number {
    const word = this.descWord + ((index & this.mask) << 1);
    return this.words[word + 1] * 0x1_0000_0000 + this.words[word];
  }

  /** RX entry: the descriptor's UMEM address at ring index `index`. */
  readDescAddr(index: number): number {
    const word = this.descWord + ((index & this.mask) << 2);
    return this.words[word + 1] * 0x1_0000_0000 + this.words[word];
  }

  /** RX entry: the descriptor's length at ring index `index`. */
  readDescLength(index: number): number {
    return this.words[this.descWord + ((index & this.mask) << 2) + 2];
  }

  /** RX entry: the descriptor's options at ring index `index` (XDP_PKT_CONTD: more of the frame follows). */
  readDescOptions(index: number): number {
    return this.words[this.descWord + ((index & this.mask) << 2) + 3];
  }
}
