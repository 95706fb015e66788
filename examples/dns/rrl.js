// @ts-check
// Response rate limiting, in the spirit of BIND's and Knot's RRL: each client
// prefix (the source address masked to `prefixLength` bits) has a token
// bucket of `ratePerSecond` responses that refills continuously. A response
// over the limit is "slipped" (sent as an empty truncated answer, TC=1, so a
// real client retries over TCP while a spoofed victim gets nothing larger
// than the query) every `slip`-th time, and dropped otherwise.
//
// The table has a fixed number of slots: a prefix probes a few of them and,
// when they are all held by others, takes the one idle the longest. Nothing
// is allocated per response.
'use strict';

/** What `check` decides. */
const RRL_SEND = 0;
const RRL_SLIP = 1;
const RRL_DROP = 2;

/** Slots a prefix may probe before it evicts. */
const PROBES = 8;

class ResponseRateLimiter {
  /**
   * @param {{ ratePerSecond: number, prefixLength?: number, slip?: number, tableSize?: number }} options
   *   tableSize: prefixes tracked at once (rounded up to a power of two)
   */
  constructor(options) {
    const rate = options.ratePerSecond;
    const prefixLength = options.prefixLength ?? 24;
    const slip = options.slip ?? 2;
    if (!(rate > 0)) throw new RangeError(`RRL rate must be positive, got ${rate}`);
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) throw new RangeError(`RRL prefix length must be 0 to 32, got ${prefixLength}`);
    if (!Number.isInteger(slip) || slip < 0) throw new RangeError(`RRL slip must be a whole number, got ${slip}`);
    let size = 16;
    while (size < (options.tableSize ?? 16384)) size *= 2;
    this.ratePerSecond = rate;
    this.prefixLength = prefixLength;
    this.slip = slip;
    this.mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) | 0;
    this.slotMask = size - 1;
    this.hashShift = 32 - Math.log2(size);
    /** Per slot: the prefix, whether held, tokens left, when last touched, responses limited so far. */
    this.prefix = new Int32Array(size);
    this.used = new Uint8Array(size);
    this.tokens = new Float64Array(size);
    this.touchedMs = new Float64Array(size);
    this.limited = new Uint32Array(size);
    /** Slots taken from another prefix because the table was full around it. */
    this.evictions = 0;
  }

  /**
   * Account one response to `address` at `nowMs`: RRL_SEND, RRL_SLIP or RRL_DROP.
   * @param {number} address IPv4 as a 32-bit integer (`address | 0`: it stays a small integer, never a boxed number)
   * @param {number} nowMs
   */
  check(address, nowMs) {
    const prefix = address & this.mask;
    const slotMask = this.slotMask;
    let slot = Math.imul(prefix, 0x9e3779b1) >>> this.hashShift;
    let oldest = slot;
    let found = -1;
    for (let probe = 0; probe < PROBES; probe++, slot = (slot + 1) & slotMask) {
      if (this.used[slot] === 0 || this.prefix[slot] === prefix) {
        found = slot;
        break;
      }
      if (this.touchedMs[slot] < this.touchedMs[oldest]) oldest = slot;
    }
    if (found < 0) {
      found = oldest;
      this.used[found] = 0;
      this.evictions++;
    }
    const rate = this.ratePerSecond;
    let tokens;
    if (this.used[found] === 0) {
      this.used[found] = 1;
      this.prefix[found] = prefix;
      this.limited[found] = 0;
      tokens = rate;
    } else {
      tokens = this.tokens[found] + ((nowMs - this.touchedMs[found]) * rate) / 1000;
      if (tokens > rate) tokens = rate;
    }
    this.touchedMs[found] = nowMs;
    if (tokens >= 1) {
      this.tokens[found] = tokens - 1;
      return RRL_SEND;
    }
    this.tokens[found] = tokens;
    const limited = ++this.limited[found];
    return this.slip > 0 && limited % this.slip === 0 ? RRL_SLIP : RRL_DROP;
  }
}

module.exports = { ResponseRateLimiter, RRL_SEND, RRL_SLIP, RRL_DROP };
