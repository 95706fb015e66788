// Token buckets for ICMP error rate limiting, as Linux does it: an overall
// bucket (net.ipv4.icmp_msgs_per_sec 1000, icmp_msgs_burst 50) and one per
// destination (icmp_ratelimit 1000 ms, a burst of 6). Time is passed in.

/** A bucket refilled at `ratePerSecond` tokens a second, holding at most `burst`; starts full. */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  private tokens: number;
  private lastMs = -Infinity;

  constructor(ratePerSecond: number, burst: number) {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.tokens = burst;
  }

  /** Take one token at `nowMs`; false when the bucket is empty. */
  take(nowMs: number): boolean {
    if (nowMs > this.lastMs) {
      const refilled = this.tokens + ((nowMs - this.lastMs) * this.ratePerSecond) / 1000;
      this.tokens = refilled > this.burst ? this.burst : refilled;
      this.lastMs = nowMs;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * One token bucket per key (an IPv4 address) in a fixed table: a key takes
 * over its slot from whichever key held it, so memory never grows; a spoofed
 * flood of sources can only make the per-key limit more lenient, which the
 * overall bucket then bounds.
 */
export class KeyedTokenBuckets {
  readonly ratePerSecond: number;
  readonly burst: number;
  private readonly keys: Float64Array;
  private readonly tokens: Float64Array;
  private readonly lastMs: Float64Array;
  private readonly mask: number;

  /** `slots` is rounded up to a power of two. */
  constructor(ratePerSecond: number, burst: number, slots = 1024) {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    let size = 1;
    while (size < slots) size <<= 1;
    this.mask = size - 1;
    this.keys = new Float64Array(size).fill(-1);
    this.tokens = new Float64Array(size);
    this.lastMs = new Float64Array(size);
  }

  /** The table's fixed size: keys it tracks at once. */
  get slots(): number {
    return this.mask + 1;
  }

  /** Take one token from `key`'s bucket at `nowMs`; false when it is empty. */
  take(key: number, nowMs: number): boolean {
    const slot = Math.imul(key, 0x9e3779b1) >>> 16 & this.mask;
    if (this.keys[slot] !== key) {
      this.keys[slot] = key;
      this.tokens[slot] = this.burst;
      this.lastMs[slot] = nowMs;
    } else if (nowMs > this.lastMs[slot]) {
      const refilled = this.tokens[slot] + ((nowMs - this.lastMs[slot]) * this.ratePerSecond) / 1000;
      this.tokens[slot] = refilled > this.burst ? this.burst : refilled;
      this.lastMs[slot] = nowMs;
    }
    if (this.tokens[slot] < 1) return false;
    this.tokens[slot] -= 1;
    return true;
  }
}
