// NewReno's window (RFC 5681 and RFC 6582): slow start below ssthresh, one
// segment per window's worth of bytes acknowledged above it (byte
// counting), ssthresh = max(FlightSize / 2, 2 * SMSS) on loss. The partial
// ACK handling of RFC 6582 lives with the connection's loss recovery.

import { type CongestionControl, slowStartIncrease } from './congestion';

/** The NewReno congestion window. */
export class NewReno implements CongestionControl {
  readonly name = 'newreno';
  cwnd: number;
  ssthresh = Infinity;
  /** Bytes acknowledged since cwnd last grew in congestion avoidance. */
  private ackedSinceIncrease = 0;

  constructor(initialWindow: number) {
    this.cwnd = initialWindow;
  }

  onAck(acked: number, _flight: number, mss: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd = slowStartIncrease(this.cwnd, acked, mss);
      if (this.cwnd > this.ssthresh && this.ssthresh !== Infinity) this.cwnd = this.ssthresh;
      return;
    }
    // RFC 5681 3.1, byte counting: one SMSS per cwnd bytes acknowledged.
    this.ackedSinceIncrease += acked;
    if (this.ackedSinceIncrease >= this.cwnd) {
      this.ackedSinceIncrease -= this.cwnd;
      this.cwnd += mss;
    }
  }

  onLoss(flight: number, mss: number): void {
    this.ssthresh = Math.max(flight / 2, 2 * mss);
    this.cwnd = this.ssthresh;
    this.ackedSinceIncrease = 0;
  }

  onTimeout(flight: number, mss: number): void {
    this.ssthresh = Math.max(flight / 2, 2 * mss);
    this.cwnd = mss;
    this.ackedSinceIncrease = 0;
  }

  onIdle(restartWindow: number): void {
    if (this.cwnd > restartWindow) this.cwnd = restartWindow;
  }

  private savedCwnd = 0;
  private savedSsthresh = Infinity;

  saveForUndo(): void {
    this.savedCwnd = this.cwnd;
    this.savedSsthresh = this.ssthresh;
  }

  undo(): void {
    if (this.cwnd < this.savedCwnd) this.cwnd = this.savedCwnd;
    if (this.ssthresh < this.savedSsthresh) this.ssthresh = this.savedSsthresh;
  }
}
