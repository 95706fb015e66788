// What a congestion control algorithm does for a connection (RFC 5681
// terms): the congestion window and slow-start threshold in bytes, and how
// they move on ACKs, on loss found by duplicate ACKs or SACK, on a
// retransmission timeout, and after an idle period. Loss recovery itself
// (which segments to resend) is the connection's; the algorithm only sizes
// the window.

/** One connection's congestion controller. */
export interface CongestionControl {
  readonly name: string;
  /** Congestion window, bytes. */
  cwnd: number;
  /** Slow-start threshold, bytes. */
  ssthresh: number;
  /** `acked` bytes of new data were acknowledged outside loss recovery, with `flight` bytes in flight before; `srttMs` is the smoothed RTT. */
  onAck(acked: number, flight: number, mss: number, nowMs: number, srttMs: number): void;
  /** Loss detected by duplicate ACKs or SACK (a congestion event): lower ssthresh and cwnd. */
  onLoss(flight: number, mss: number, nowMs: number): void;
  /** A retransmission timeout: ssthresh as for a loss, cwnd to one segment (RFC 5681 3.1 "loss window"). */
  onTimeout(flight: number, mss: number, nowMs: number): void;
  /** Sending resumes after an idle period longer than the RTO: back to the restart window (RFC 5681 4.1). */
  onIdle(restartWindow: number, nowMs: number): void;
  /** Remember the state before a reduction, for undo(). */
  saveForUndo(): void;
  /** The reduction was for nothing (the "lost" segment was only late): go back to the state saved. */
  undo(): void;
}

/** Slow start (RFC 5681 3.1): grow by the bytes acknowledged, at most two segments an ACK (RFC 3465's L). */
export function slowStartIncrease(cwnd: number, acked: number, mss: number): number {
  return cwnd + (acked < 2 * mss ? acked : 2 * mss);
}
