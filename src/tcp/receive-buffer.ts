// The receive buffer: payload is copied once, from the received frame into
// slabs of memory at its place in the stream, and handed to the user as
// views of those slabs (no second copy). Out-of-order data is written where
// it belongs right away; a small assembler remembers which ranges beyond
// RCV.NXT are filled (RFC 9293 3.10.7.4: "segments with higher beginning
// sequence numbers may be held for later processing"), and gives the SACK
// blocks (RFC 2018). Positions are stream offsets: 0 is the first byte
// after the peer's SYN.

/** Bytes per slab at most. */
const SLAB_BYTES = 65536;

/** The result of accept(). */
export const ReceiveResult = {
  /** At RCV.NXT: the in-order data grew. */
  IN_ORDER: 0,
  /** Kept out of order. */
  OUT_OF_ORDER: 1,
  /** Out of order and not kept: too many ranges. */
  DROPPED: 2,
} as const;

// Buffer's copy is a memmove over any Uint8Array that allocates nothing.
const copyInto = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

/** Stream bytes received, in order and beyond. */
export class ReceiveBuffer {
  /** The most bytes held for the user, in order or not: the largest window. */
  readonly capacity: number;
  private readonly slabBytes: number;
  private readonly maxRanges: number;
  private readonly slabs: Buffer[] = [];
  /** Stream offset of slabs[0]. */
  private slabBase = 0;
  /** Bytes handed to the user. */
  delivered = 0;
  /** End of the in-order data (RCV.NXT as a stream offset). */
  contiguous = 0;
  /** Out-of-order ranges beyond `contiguous`, sorted and disjoint: [start0, end0, start1, end1, ...]. */
  private readonly ranges: Float64Array;
  private rangeCount = 0;
  /** Start of the data received out of order most recently (for the first SACK block). */
  private latestStart = -1;

  constructor(capacity: number, maxRanges: number) {
    this.capacity = capacity;
    this.slabBytes = capacity < SLAB_BYTES ? capacity : SLAB_BYTES;
    this.maxRanges = maxRanges;
    this.ranges = new Float64Array(2 * maxRanges);
  }

  /** In-order bytes not yet handed to the user. */
  get readable(): number {
    return this.contiguous - this.delivered;
  }

  /** Out-of-order ranges held. */
  get outOfOrderRanges(): number {
    return this.rangeCount;
  }

  /** Highest stream offset received so far (in order or not). */
  get highestReceived(): number {
    return this.rangeCount > 0 ? this.ranges[2 * this.rangeCount - 1] : this.contiguous;
  }

  /**
   * Take `length` bytes at stream offset `offset` (at or after `contiguous`,
   * within the window) from `source` at `sourceOffset`. Returns a ReceiveResult.
   */
  accept(offset: number, source: Uint8Array, sourceOffset: number, length: number): number {
    if (offset === this.contiguous) {
      this.copyIn(offset, source, sourceOffset, length);
      this.contiguous = offset + length;
      this.absorbRanges();
      return ReceiveResult.IN_ORDER;
    }
    if (!this.addRange(offset, offset + length)) return ReceiveResult.DROPPED;
    this.copyIn(offset, source, sourceOffset, length);
    this.latestStart = offset;
    return ReceiveResult.OUT_OF_ORDER;
  }

  /**
   * The next in-order bytes for the user, at most `maxBytes`, as a view of a
   * slab (one slab at a time: call again for more); null when none.
   */
  take(maxBytes: number): Buffer | null {
    let count = this.contiguous - this.delivered;
    if (count <= 0 || maxBytes <= 0) return null;
    const position = this.delivered - this.slabBase;
    const slabIndex = Math.floor(position / this.slabBytes);
    const within = position - slabIndex * this.slabBytes;
    const inSlab = this.slabBytes - within;
    if (count > inSlab) count = inSlab;
    if (count > maxBytes) count = maxBytes;
    const view = this.slabs[slabIndex].subarray(within, within + count);
    this.delivered += count;
    // Slabs wholly handed out are the user's now.
    while (this.slabs.length > 0 && this.slabBase + this.slabBytes <= this.delivered) {
      this.slabs.shift();
      this.slabBase += this.slabBytes;
    }
    return view;
  }

  /**
   * Write up to `max` SACK blocks (RFC 2018 4: the block holding the latest
   * out-of-order data first) as stream offsets [start, end, ...] into
   * `out`; returns how many.
   */
  sackBlocks(out: Float64Array, max: number): number {
    if (this.rangeCount === 0 || max <= 0) return 0;
    const ranges = this.ranges;
    let first = 0;
    for (let i = 0; i < this.rangeCount; i++) {
      if (ranges[2 * i] <= this.latestStart && this.latestStart < ranges[2 * i + 1]) {
        first = i;
        break;
      }
    }
    out[0] = ranges[2 * first];
    out[1] = ranges[2 * first + 1];
    let count = 1;
    // Then the others, highest first (they are the likeliest to be missing at the sender).
    for (let i = this.rangeCount - 1; i >= 0 && count < max; i--) {
      if (i === first) continue;
      out[2 * count] = ranges[2 * i];
      out[2 * count + 1] = ranges[2 * i + 1];
      count++;
    }
    return count;
  }

  /** Forget everything and give the memory back (views already taken stay valid). */
  release(): void {
    this.slabs.length = 0;
    this.rangeCount = 0;
  }

  private copyIn(offset: number, source: Uint8Array, sourceOffset: number, length: number): void {
    const slabBytes = this.slabBytes;
    let position = offset - this.slabBase;
    let from = sourceOffset;
    let left = length;
    while (left > 0) {
      const slabIndex = Math.floor(position / slabBytes);
      while (this.slabs.length <= slabIndex) this.slabs.push(Buffer.allocUnsafe(slabBytes));
      const within = position - slabIndex * slabBytes;
      const count = left < slabBytes - within ? left : slabBytes - within;
      copyInto.call(source, this.slabs[slabIndex], within, from, from + count);
      position += count;
      from += count;
      left -= count;
    }
  }

  /** Insert [start, end) into the ranges, merging neighbours; false when a new range would exceed the bound. */
  private addRange(start: number, end: number): boolean {
    const ranges = this.ranges;
    let count = this.rangeCount;
    // First range that ends at or after start (could merge), in order.
    let i = 0;
    while (i < count && ranges[2 * i + 1] < start) i++;
    if (i === count || ranges[2 * i] > end) {
      // No overlap or contact: a new range at i.
      if (count === this.maxRanges) return false;
      for (let j = count; j > i; j--) {
        ranges[2 * j] = ranges[2 * j - 2];
        ranges[2 * j + 1] = ranges[2 * j - 1];
      }
      ranges[2 * i] = start;
      ranges[2 * i + 1] = end;
      this.rangeCount = count + 1;
      return true;
    }
    // Merge with range i and every later range it reaches.
    if (start < ranges[2 * i]) ranges[2 * i] = start;
    let last = i;
    while (last + 1 < count && ranges[2 * (last + 1)] <= end) last++;
    const mergedEnd = Math.max(end, ranges[2 * last + 1]);
    ranges[2 * i + 1] = mergedEnd;
    const removed = last - i;
    if (removed > 0) {
      for (let j = i + 1; j + removed < count; j++) {
        ranges[2 * j] = ranges[2 * (j + removed)];
        ranges[2 * j + 1] = ranges[2 * (j + removed) + 1];
      }
      count -= removed;
      this.rangeCount = count;
    }
    return true;
  }

  /** Move `contiguous` over ranges it has reached. */
  private absorbRanges(): void {
    const ranges = this.ranges;
    let drop = 0;
    while (drop < this.rangeCount && ranges[2 * drop] <= this.contiguous) {
      if (ranges[2 * drop + 1] > this.contiguous) this.contiguous = ranges[2 * drop + 1];
      drop++;
    }
    if (drop === 0) return;
    for (let j = 0; j + drop < this.rangeCount; j++) {
      ranges[2 * j] = ranges[2 * (j + drop)];
      ranges[2 * j + 1] = ranges[2 * (j + drop) + 1];
    }
    this.rangeCount -= drop;
  }
}
