// The congestion controllers on their own, fed ACKs on a fake timeline:
// CUBIC against RFC 9438's formulas, NewReno against RFC 5681's rules.

import { strict as assert } from 'node:assert';
import { CUBIC_BETA, CUBIC_C, Cubic } from '../../../src/tcp/cubic';
import { NewReno } from '../../../src/tcp/newreno';

const MSS = 1000;

/** Acknowledge one full window per RTT, segment by segment, for `rounds` RTTs; returns cwnd (segments) at the end of each. */
function rounds(cc: Cubic | NewReno, startMs: number, rttMs: number, count: number): Array<{ tMs: number; cwnd: number }> {
  const out: Array<{ tMs: number; cwnd: number }> = [];
  let now = startMs;
  for (let round = 0; round < count; round++) {
    const segments = Math.floor(cc.cwnd / MSS);
    for (let i = 0; i < segments; i++) {
      now = startMs + round * rttMs + (rttMs * (i + 1)) / segments;
      cc.onAck(MSS, cc.cwnd, MSS, now, rttMs);
    }
    out.push({ tMs: now - startMs, cwnd: cc.cwnd / MSS });
  }
  return out;
}

describe('tcp/congestion', () => {
  describe('CUBIC (RFC 9438)', () => {
    it('cuts the window to beta = 0.7 on loss and sets K = cbrt(W_max (1 - beta) / C)', () => {
      const cubic = new Cubic(100 * MSS);
      cubic.ssthresh = 50 * MSS;
      cubic.onLoss(100 * MSS, MSS, 0);
      assert.equal(cubic.cwnd, 70 * MSS);
      assert.equal(cubic.ssthresh, 70 * MSS);
      assert.equal(cubic.wMax, 100);
      rounds(cubic, 0, 100, 1);
      assert.ok(Math.abs(cubic.k - Math.cbrt((100 * (1 - CUBIC_BETA)) / CUBIC_C)) < 1e-9);
    });

    it('follows W_cubic(t) = C (t - K)^3 + W_max: concave up to W_max at t = K, convex beyond', () => {
      const cubic = new Cubic(100 * MSS);
      cubic.ssthresh = 50 * MSS;
      cubic.onLoss(100 * MSS, MSS, 0);
      const rttMs = 100;
      const trace = rounds(cubic, 0, rttMs, 80);
      const k = Math.cbrt((100 * (1 - CUBIC_BETA)) / CUBIC_C);
      for (const { tMs, cwnd } of trace.slice(5)) {
        // Each RTT the window reaches the target W_cubic(t + RTT) (4.4), t from the epoch's start (its first ACK).
        const t = (tMs - cubic.epochStartMs) / 1000;
        const expected = CUBIC_C * (t + rttMs / 1000 - k) ** 3 + 100;
        assert.ok(Math.abs(cwnd - expected) <= Math.max(1, 0.02 * expected), `t=${t.toFixed(2)} s: cwnd ${cwnd.toFixed(2)}, W_cubic ${expected.toFixed(2)}`);
      }
      const growth = trace.slice(1).map((point, i) => point.cwnd - trace[i].cwnd);
      const atK = Math.round((k * 1000) / rttMs);
      assert.ok(growth[5] > growth[atK - 5] && growth[atK - 5] >= 0, 'slowing down towards W_max');
      assert.ok(growth[atK + 10] > growth[atK + 2], 'speeding up past W_max');
      assert.ok(Math.abs(trace[atK - 1].cwnd - 100) < 1.5, `cwnd at K: ${trace[atK - 1].cwnd}`);
    });

    it('grows at least like Reno where that is faster (the Reno-friendly region, 4.3)', () => {
      const cubic = new Cubic(10 * MSS);
      cubic.ssthresh = 5 * MSS;
      cubic.onLoss(10 * MSS, MSS, 0);
      // A long RTT makes W_cubic slow: W_est = 7 + alpha * t / RTT, alpha = 3 (1 - beta) / (1 + beta).
      const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
      const trace = rounds(cubic, 0, 2000, 5);
      for (let round = 0; round < trace.length; round++) {
        const renoFriendly = 7 + alpha * (round + 1);
        assert.ok(trace[round].cwnd >= renoFriendly - 0.6, `round ${round}: cwnd ${trace[round].cwnd}, W_est ${renoFriendly}`);
      }
    });

    it('remembers a lower W_max when losses come before reaching the last one (fast convergence, 4.7)', () => {
      const cubic = new Cubic(100 * MSS);
      cubic.ssthresh = 50 * MSS;
      cubic.onLoss(0, MSS, 0);
      rounds(cubic, 0, 100, 3);
      const before = cubic.cwnd / MSS;
      cubic.onLoss(0, MSS, 1000);
      assert.ok(Math.abs(cubic.wMax - (before * (1 + CUBIC_BETA)) / 2) < 1e-9);
    });

    it('falls to one segment on a timeout, then slow-starts to ssthresh', () => {
      const cubic = new Cubic(40 * MSS);
      cubic.ssthresh = 20 * MSS;
      cubic.onTimeout(40 * MSS, MSS, 0);
      assert.equal(cubic.cwnd, MSS);
      assert.equal(cubic.ssthresh, 28 * MSS);
      cubic.onAck(MSS, MSS, MSS, 10, 10);
      assert.equal(cubic.cwnd, 2 * MSS);
    });
  });

  describe('NewReno (RFC 5681)', () => {
    it('doubles per RTT in slow start and adds one segment per RTT above ssthresh', () => {
      const reno = new NewReno(10 * MSS);
      reno.ssthresh = 40 * MSS;
      const trace = rounds(reno, 0, 100, 5).map((point) => point.cwnd);
      assert.deepEqual(trace.slice(0, 2), [20, 40]);
      assert.deepEqual(trace.slice(2), [41, 42, 43]);
    });

    it('sets ssthresh = max(FlightSize / 2, 2 SMSS) on loss and on timeout', () => {
      const reno = new NewReno(10 * MSS);
      reno.onLoss(30 * MSS, MSS);
      assert.equal(reno.ssthresh, 15 * MSS);
      assert.equal(reno.cwnd, 15 * MSS);
      reno.onTimeout(MSS, MSS);
      assert.equal(reno.ssthresh, 2 * MSS);
      assert.equal(reno.cwnd, MSS);
    });

    it('restarts from the restart window after idle (RFC 5681 4.1)', () => {
      const reno = new NewReno(50 * MSS);
      reno.onIdle(10 * MSS);
      assert.equal(reno.cwnd, 10 * MSS);
    });
  });
});
