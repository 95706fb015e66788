// CUBIC (RFC 9438), Linux's default. After a congestion event at window
// W_max the window follows W_cubic(t) = C * (t - K)^3 + W_max (4.2), with
// K = cbrt((W_max - cwnd_epoch) / C) (eq. 2): concave up to W_max, then
// convex beyond it. Each ACK moves cwnd towards W_cubic(t + RTT) (4.4), or
// follows the Reno-friendly estimate W_est (4.3) where that is larger.
// Windows are counted in segments inside, bytes outside.

import { type CongestionControl, slowStartIncrease } from './congestion';

/** RFC 9438's C (segments / s^3). */
export const CUBIC_C = 0.4;
/** RFC 9438's beta_cubic: the window after a congestion event is 0.7 of the one before. */
export const CUBIC_BETA = 0.7;
/** alpha_cubic for the Reno-friendly estimate: 3 * (1 - beta) / (1 + beta). */
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** The CUBIC congestion window. */
export class Cubic implements CongestionControl {
  readonly name = 'cubic';
  cwnd: number;
  ssthresh = Infinity;
  /** Window (segments) before the last reduction. */
  wMax = 0;
  /** Seconds from the epoch's start for W_cubic to come back to W_max. */
  k = 0;
  /** Start of the current congestion avoidance epoch (ms); -1 before it. */
  epochStartMs = -1;
  /** cwnd (segments) when the epoch started. */
  private cwndEpoch = 0;
  /** The Reno-friendly estimate W_est (segments). */
  private wEst = 0;

  constructor(initialWindow: number) {
    this.cwnd = initialWindow;
  }

  /** W_cubic(t) in segments, t in seconds from the epoch's start (RFC 9438 eq. 1). */
  windowAt(seconds: number): number {
    const d = seconds - this.k;
    return CUBIC_C * d * d * d + this.wMax;
  }

  onAck(acked: number, _flight: number, mss: number, nowMs: number, srttMs: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd = slowStartIncrease(this.cwnd, acked, mss);
      return;
    }
    const cwndSegments = this.cwnd / mss;
    if (this.epochStartMs < 0) {
      // RFC 9438 4.2: the epoch starts with the first ACK in congestion avoidance.
      this.epochStartMs = nowMs;
      this.cwndEpoch = cwndSegments;
      this.wEst = cwndSegments;
      if (this.wMax < cwndSegments) {
        // Congestion avoidance without a prior event (after slow start): start convex from here.
        this.wMax = cwndSegments;
        this.k = 0;
      } else {
        this.k = Math.cbrt((this.wMax - this.cwndEpoch) / CUBIC_C);
      }
    }
    const ackedSegments = acked / mss;
    const t = (nowMs - this.epochStartMs) / 1000;
    const rtt = srttMs > 0 ? srttMs / 1000 : 0;
    // 4.3: the Reno-friendly estimate grows by alpha per window of acknowledged segments.
    this.wEst += CUBIC_ALPHA * (ackedSegments / cwndSegments);
    const cubic = this.windowAt(t);
    let next: number;
    if (cubic < this.wEst) {
      next = this.wEst;
    } else {
      // 4.4: aim at W_cubic one RTT ahead, limited to [cwnd, 1.5 cwnd].
      let target = this.windowAt(t + rtt);
      if (target < cwndSegments) target = cwndSegments;
      if (target > 1.5 * cwndSegments) target = 1.5 * cwndSegments;
      next = cwndSegments + ((target - cwndSegments) / cwndSegments) * ackedSegments;
    }
    if (next > cwndSegments) this.cwnd = next * mss;
  }

  onLoss(_flight: number, mss: number, _nowMs: number): void {
    const cwndSegments = this.cwnd / mss;
    // 4.7 fast convergence: a flow whose W_max keeps falling gives bandwidth away.
    this.wMax = cwndSegments < this.wMax ? cwndSegments * (1 + CUBIC_BETA) / 2 : cwndSegments;
    const reduced = Math.max(cwndSegments * CUBIC_BETA, 2);
    this.ssthresh = reduced * mss;
    this.cwnd = this.ssthresh;
    this.epochStartMs = -1;
  }

  onTimeout(flight: number, mss: number, nowMs: number): void {
    this.onLoss(flight, mss, nowMs);
    this.cwnd = mss;
  }

  onIdle(restartWindow: number): void {
    if (this.cwnd > restartWindow) this.cwnd = restartWindow;
    this.epochStartMs = -1;
  }

  private saved = { cwnd: 0, ssthresh: Infinity, wMax: 0, k: 0, epochStartMs: -1, cwndEpoch: 0, wEst: 0 };

  saveForUndo(): void {
    const saved = this.saved;
    saved.cwnd = this.cwnd;
    saved.ssthresh = this.ssthresh;
    saved.wMax = this.wMax;
    saved.k = this.k;
    saved.epochStartMs = this.epochStartMs;
    saved.cwndEpoch = this.cwndEpoch;
    saved.wEst = this.wEst;
  }

  undo(): void {
    const saved = this.saved;
    if (this.cwnd < saved.cwnd) this.cwnd = saved.cwnd;
    if (this.ssthresh < saved.ssthresh) this.ssthresh = saved.ssthresh;
    this.wMax = saved.wMax;
    this.k = saved.k;
    this.epochStartMs = saved.epochStartMs;
    this.cwndEpoch = saved.cwndEpoch;
    this.wEst = saved.wEst;
  }
}
