// The retransmission timer's estimator (RFC 6298): smoothed RTT and its
// variation from samples, RTO = SRTT + max(G, 4 * RTTVAR) within
// [minRto, maxRto], doubled on each timeout (backoff) until a new sample.

/** Clock granularity G: the loop's clock has millisecond resolution or better. */
const GRANULARITY_MS = 1;

/** RTT estimate and retransmission timeout of one connection. */
export class RttEstimator {
  /** Smoothed RTT (ms); 0 before the first sample. */
  srttMs = 0;
  rttVarMs = 0;
  /** The timeout before backoff. */
  baseRtoMs: number;
  /** Timeouts in a row since the last sample (each doubles the RTO). */
  backoff = 0;
  private readonly minRtoMs: number;
  private readonly maxRtoMs: number;

  constructor(initialRtoMs: number, minRtoMs: number, maxRtoMs: number) {
    this.baseRtoMs = initialRtoMs;
    this.minRtoMs = minRtoMs;
    this.maxRtoMs = maxRtoMs;
  }

  /** The timeout to arm now, backoff included. */
  get rtoMs(): number {
    const rto = this.baseRtoMs * 2 ** this.backoff;
    return rto < this.maxRtoMs ? rto : this.maxRtoMs;
  }

  /** True once a sample was taken. */
  get measured(): boolean {
    return this.srttMs > 0;
  }

  /** Take an RTT sample (ms): RFC 6298 2.2 and 2.3, then 2.4 and 2.5. */
  sample(rttMs: number): void {
    if (rttMs < GRANULARITY_MS) rttMs = GRANULARITY_MS;
    if (this.srttMs === 0) {
      this.srttMs = rttMs;
      this.rttVarMs = rttMs / 2;
    } else {
      this.rttVarMs = 0.75 * this.rttVarMs + 0.25 * Math.abs(this.srttMs - rttMs);
      this.srttMs = 0.875 * this.srttMs + 0.125 * rttMs;
    }
    let rto = this.srttMs + Math.max(GRANULARITY_MS, 4 * this.rttVarMs);
    if (rto < this.minRtoMs) rto = this.minRtoMs;
    if (rto > this.maxRtoMs) rto = this.maxRtoMs;
    this.baseRtoMs = rto;
    this.backoff = 0;
  }

  /** A timeout happened: back off (RFC 6298 5.5). */
  timedOut(): void {
    if (this.baseRtoMs * 2 ** this.backoff < this.maxRtoMs) this.backoff++;
  }
}
