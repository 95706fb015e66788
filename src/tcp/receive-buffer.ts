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
/** The first slab's size: slabs double from here, so a short exchange costs little memory. */
const FIRST_SLAB_BYTES = 4096;

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
  private readonly maxSlabBytes: number;
  private readonly maxRanges: number;
  private readonly slabs: Buffer[] = [];
  /** Stream offset of each slab's first byte. */
  private readonly slabStarts: number[] = [];
  /** Stream offset just past the last slab. */
  private slabsEnd = 0;
  private nextSlabBytes: number;
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
    this.maxSlabBytes = capacity < SLAB_BYTES ? capacity : SLAB_BYTES;
    this.nextSlabBytes = FIRST_SLAB_BYTES < this.maxSlabBytes ? FIRST_SLAB_BYTES : this.maxSlabBytes;
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
    // The slab holding `delivered` is the first one: earlier ones were dropped.
    const slab = this.slabs[0];
    const within = this.delivered - this.slabStarts[0];
    const inSlab = slab.length - within;
    if (count > inSlab) count = inSlab;
    if (count > maxBytes) count = maxBytes;
    const view = slab.subarray(within, within + count);
    this.delivered += count;
    // Slabs wholly handed out are the user's now.
    while (this.slabs.length > 0 && this.slabStarts[0] + this.slabs[0].length <= this.delivered) {
      this.slabs.shift();
      this.slabStarts.shift();
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
    this.slabStarts.length = 0;
    this.rangeCount = 0;
  }

  private copyIn(offset: number, source: Uint8Array, sourceOffset: number, length: number): void {
    // Slabs up to the end of the data, each twice the last until the largest size.
    while (this.slabsEnd < offset + length) {
      if (this.slabs.length === 0 && this.slabsEnd < this.delivered) this.slabsEnd = this.delivered;
      const size = this.nextSlabBytes;
      this.slabs.push(Buffer.allocUnsafe(size));
      this.slabStarts.push(this.slabsEnd);
      this.slabsEnd += size;
      if (size < this.maxSlabBytes) this.nextSlabBytes = size * 2 < this.maxSlabBytes ? size * 2 : this.maxSlabBytes;
    }
    let index = this.slabAt(offset);
    let position = offset;
    let from = sourceOffset;
    let left = length;
    while (left > 0) {
      const slab = this.slabs[index];
      const within = position - this.slabStarts[index];
      const count = left < slab.length - within ? left : slab.length - within;
      copyInto.call(source, slab, within, from, from + count);
      position += count;
      from += count;
      left -= count;
      index++;
    }
  }

  /** Index of the slab holding stream offset `offset` (a binary search). */
  private slabAt(offset: number): number {
    const starts = this.slabStarts;
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle] <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
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
