// The sender's SACK scoreboard (RFC 6675 section 3): which bytes above
// SND.UNA the receiver reported holding, from which follow the bytes
// deemed lost (IsLost), the estimate of bytes in flight (pipe), and what to
// retransmit next (NextSeg). Positions are stream offsets of our data.

/** RFC 6675's DupThresh: where a connection starts (it may raise its own after seeing reordering). */
export const DUP_THRESH = 3;

/** SACKed ranges above SND.UNA, sorted and disjoint. */
export class SackScoreboard {
  private readonly ranges: Float64Array;
  private readonly maxRanges: number;
  private count = 0;
  /** Bytes SACKed in all. */
  sackedBytes = 0;

  constructor(maxRanges = 128) {
    this.maxRanges = maxRanges;
    this.ranges = new Float64Array(2 * maxRanges);
  }

  get rangeCount(): number {
    return this.count;
  }

  /** End of the highest SACKed range (RFC 6675 HighACK's counterpart "highest SACKed"), or -1. */
  get highestSacked(): number {
    return this.count === 0 ? -1 : this.ranges[2 * this.count - 1];
  }

  /** Record [start, end), clipped to (una, sentEnd]; returns the bytes newly SACKed. */
  add(start: number, end: number, una: number, sentEnd: number): number {
    if (start < una) start = una;
    if (end > sentEnd) end = sentEnd;
    if (end <= start) return 0;
    const ranges = this.ranges;
    let i = 0;
    while (i < this.count && ranges[2 * i + 1] < start) i++;
    if (i === this.count || ranges[2 * i] > end) {
      if (this.count === this.maxRanges) return 0;
      for (let j = this.count; j > i; j--) {
        ranges[2 * j] = ranges[2 * j - 2];
        ranges[2 * j + 1] = ranges[2 * j - 1];
      }
      ranges[2 * i] = start;
      ranges[2 * i + 1] = end;
      this.count++;
      this.sackedBytes += end - start;
      return end - start;
    }
    let last = i;
    while (last + 1 < this.count && ranges[2 * (last + 1)] <= end) last++;
    let before = 0;
    for (let j = i; j <= last; j++) before += ranges[2 * j + 1] - ranges[2 * j];
    const newStart = Math.min(start, ranges[2 * i]);
    const newEnd = Math.max(end, ranges[2 * last + 1]);
    ranges[2 * i] = newStart;
    ranges[2 * i + 1] = newEnd;
    const removed = last - i;
    if (removed > 0) {
      for (let j = i + 1; j + removed < this.count; j++) {
        ranges[2 * j] = ranges[2 * (j + removed)];
        ranges[2 * j + 1] = ranges[2 * (j + removed) + 1];
      }
      this.count -= removed;
    }
    const added = newEnd - newStart - before;
    this.sackedBytes += added;
    return added;
  }

  /** SND.UNA moved to `una`: forget what lies below it. */
  advance(una: number): void {
    const ranges = this.ranges;
    let drop = 0;
    while (drop < this.count && ranges[2 * drop + 1] <= una) {
      this.sackedBytes -= ranges[2 * drop + 1] - ranges[2 * drop];
      drop++;
    }
    if (drop > 0) {
      for (let j = 0; j + drop < this.count; j++) {
        ranges[2 * j] = ranges[2 * (j + drop)];
        ranges[2 * j + 1] = ranges[2 * (j + drop) + 1];
      }
      this.count -= drop;
    }
    if (this.count > 0 && ranges[0] < una) {
      this.sackedBytes -= una - ranges[0];
      ranges[0] = una;
    }
  }

  /** Forget everything. */
  clear(): void {
    this.count = 0;
    this.sackedBytes = 0;
  }

  /** If `offset` is SACKed, the end of its range; else -1. */
  sackedEnd(offset: number): number {
    const ranges = this.ranges;
    for (let i = 0; i < this.count; i++) {
      if (ranges[2 * i] > offset) return -1;
      if (offset < ranges[2 * i + 1]) return ranges[2 * i + 1];
    }
    return -1;
  }

  /** The first SACKed offset at or after `offset` (the end of the hole there), or Infinity. */
  nextSackedStart(offset: number): number {
    const ranges = this.ranges;
    for (let i = 0; i < this.count; i++) if (ranges[2 * i + 1] > offset) return Math.max(offset, ranges[2 * i]);
    return Infinity;
  }

  /** Bytes SACKed within [start, end). */
  sackedIn(start: number, end: number): number {
    const ranges = this.ranges;
    let total = 0;
    for (let i = 0; i < this.count; i++) {
      const s = ranges[2 * i] > start ? ranges[2 * i] : start;
      const e = ranges[2 * i + 1] < end ? ranges[2 * i + 1] : end;
      if (e > s) total += e - s;
    }
    return total;
  }

  /**
   * Every unSACKed byte below the returned offset is lost (RFC 6675 IsLost:
   * DupThresh SACKed ranges above it, or more than (DupThresh - 1) * SMSS
   * bytes SACKed above it); `una` when none is.
   */
  lossBoundary(mss: number, una: number, dupThresh = DUP_THRESH): number {
    const ranges = this.ranges;
    let above = 0;
    let boundary = una;
    for (let i = this.count - 1; i >= 0; i--) {
      above += ranges[2 * i + 1] - ranges[2 * i];
      const rangesAbove = this.count - i;
      if (above > (dupThresh - 1) * mss || rangesAbove >= dupThresh) {
        boundary = ranges[2 * i];
        break;
      }
    }
    return boundary > una ? boundary : una;
  }

  /**
   * RFC 6675 SetPipe: unSACKed bytes not deemed lost, plus unSACKed bytes
   * retransmitted (below `highRetransmitted`), between `una` and `sentEnd`.
   */
  pipe(una: number, sentEnd: number, mss: number, highRetransmitted: number, dupThresh = DUP_THRESH): number {
    const boundary = this.lossBoundary(mss, una, dupThresh);
    const notLost = sentEnd > boundary ? (sentEnd - boundary) - this.sackedIn(boundary, sentEnd) : 0;
    const retransmittedEnd = highRetransmitted < sentEnd ? highRetransmitted : sentEnd;
    const retransmitted = retransmittedEnd > una ? (retransmittedEnd - una) - this.sackedIn(una, retransmittedEnd) : 0;
    return notLost + retransmitted;
  }
}
