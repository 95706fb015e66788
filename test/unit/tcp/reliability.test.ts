// Reliability and flow control with literal segments: the retransmission
// timer (RFC 6298), fast retransmit (RFC 5681), NewReno's partial ACKs (RFC
// 6582), SACK-based recovery (RFC 6675), out-of-order data and the SACK
// blocks we send (RFC 2018), the persist timer, keepalive, Nagle, delayed
// ACKs and silly window avoidance (RFC 9293 3.8.6), timestamps and PAWS
// (RFC 7323).

import { strict as assert } from 'node:assert';
import { ACK, Established, FIN, PSH, type Sent, expectSegment, flagNames } from './harness';

const MSS = 1460;

/** `count` full segments' worth of bytes, segment i filled with i. */
function segmentsOf(count: number, size = MSS): Uint8Array {
  const bytes = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) bytes.fill(i & 0xff, i * size, (i + 1) * size);
  return bytes;
}

/** The sequence numbers of the data segments among `sent`, relative to `base`. */
function offsets(sent: Sent[], base: number): number[] {
  return sent.filter((s) => s.payload.length > 0).map((s) => (s.seq - base) >>> 0);
}

describe('tcp/reliability', () => {
  describe('retransmission timer (RFC 6298)', () => {
    it('resends after the RTO, doubling it each time, and fails with ETIMEDOUT after the retry limit', () => {
      const e = new Established({ retries: 3 });
      try {
        // The handshake measured an RTT of ~0: RTO = the 200 ms minimum.
        assert.equal(e.connection.rtt.rtoMs, 200);
        e.connection.write(Buffer.from('lost'), 0, 4, e.now);
        const [first] = e.collect();
        expectSegment(first, ACK | PSH, e.stackNext, e.peerNext);
        for (const wait of [200, 400, 800]) {
          assert.deepEqual(e.advance(wait - 1), []);
          const [again] = e.advance(1);
          expectSegment(again, ACK | PSH, e.stackNext, e.peerNext);
          assert.equal(Buffer.from(again.payload).toString(), 'lost');
        }
        assert.deepEqual(e.advance(1599), []);
        assert.deepEqual(e.user.errors, []);
        e.advance(1);
        assert.deepEqual(e.user.errors, ['ETIMEDOUT']);
        assert.equal(e.peer.counters.tcpRtoTimeouts, 3);
        assert.equal(e.peer.counters.tcpTimeouts, 1);
      } finally {
        e.close();
      }
    });

    it('caps the backed-off RTO at maxRtoMs', () => {
      const e = new Established({ retries: 20, maxRtoMs: 1000 });
      try {
        e.connection.write(Buffer.from('x'), 0, 1, e.now);
        e.collect();
        const times: number[] = [];
        let last = e.now;
        for (let i = 0; i < 6; i++) {
          for (let t = 0; t < 2000; t += 10) {
            if (e.advance(10).length > 0) break;
          }
          times.push(e.now - last);
          last = e.now;
        }
        assert.deepEqual(times, [200, 400, 800, 1000, 1000, 1000]);
      } finally {
        e.close();
      }
    });

    it("measures the RTT of one segment at a time and never of a retransmitted one (Karn's algorithm)", () => {
      const e = new Established();
      try {
        e.connection.write(Buffer.from('a'), 0, 1, e.now);
        e.collect();
        e.advance(50);
        e.stackNext += 1;
        e.segment({ flags: ACK });
        // One sample of 50 ms: SRTT 50, RTTVAR 25 (after the handshake's 1 ms sample: 7/8 and 3/4 weights).
        const srttAfterFirst = e.connection.rtt.srttMs;
        assert.ok(srttAfterFirst > 6 && srttAfterFirst < 50, `SRTT ${srttAfterFirst}`);
        e.connection.write(Buffer.from('b'), 0, 1, e.now);
        e.collect();
        const rto = e.connection.rtt.rtoMs;
        e.advance(rto);
        assert.equal(e.connection.rtt.backoff, 1);
        e.advance(100);
        e.stackNext += 1;
        e.segment({ flags: ACK });
        assert.equal(e.connection.rtt.srttMs, srttAfterFirst, 'no sample from the ACK of a retransmitted segment');
        assert.equal(e.connection.rtt.backoff, 1, 'the backoff stays until a new sample');
      } finally {
        e.close();
      }
    });

    it('takes RTT samples from echoed timestamps (RFC 7323 4), retransmissions included', () => {
      const e = new Established({}, { timestamps: true });
      try {
        assert.ok(e.connection.timestamps);
        e.connection.write(Buffer.from('a'), 0, 1, e.now);
        const [segment] = e.collect();
        assert.ok(segment.timestamps !== null);
        e.advance(80);
        e.stackNext += 1;
        e.segment({ flags: ACK, timestamps: [++e.peerClock, segment.timestamps[0]] });
        assert.ok(e.connection.rtt.srttMs > 10, `SRTT ${e.connection.rtt.srttMs}`);
      } finally {
        e.close();
      }
    });
  });

  describe('fast retransmit and recovery without SACK (RFC 5681 3.2, RFC 6582)', () => {
    it('resends the first unacknowledged segment on the third duplicate ACK, and the next hole on a partial ACK', () => {
      const e = new Established({ congestionControl: 'newreno' });
      try {
        const base = e.stackNext;
        e.connection.write(segmentsOf(10), 0, 10 * MSS, e.now);
        const sent = e.collect();
        assert.deepEqual(offsets(sent, base), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => i * MSS), 'the initial window: 10 segments');
        // Segments 1 and 4 are lost: the peer acknowledges segment 0, then each later segment duplicates that ACK.
        e.segment({ flags: ACK, ack: base + MSS });
        assert.deepEqual(e.segment({ flags: ACK, ack: base + MSS }), []);
        assert.deepEqual(e.segment({ flags: ACK, ack: base + MSS }), []);
        const [resent] = e.segment({ flags: ACK, ack: base + MSS });
        expectSegment(resent, ACK, base + MSS);
        assert.equal(resent.payload.length, MSS);
        assert.equal(resent.payload[0], 1);
        assert.equal(e.peer.counters.tcpFastRetransmits, 1);
        assert.equal(e.peer.counters.tcpRenoRecoveries, 1);
        // The retransmission fills the first hole: a partial ACK up to the second one.
        const afterPartial = e.segment({ flags: ACK, ack: base + 4 * MSS });
        const hole = afterPartial.find((s) => s.seq === ((base + 4 * MSS) >>> 0));
        assert.ok(hole !== undefined, `the next hole is resent, got ${afterPartial.map((s) => s.seq - base)}`);
        assert.equal(hole.payload[0], 4);
        e.segment({ flags: ACK, ack: base + 10 * MSS });
        assert.equal(e.connection.inRecovery, false);
        assert.equal(e.connection.bufferedToSend, 0);
      } finally {
        e.close();
      }
    });

    it('does not count an ACK that updates the window or carries data as a duplicate', () => {
      const e = new Established({ congestionControl: 'newreno' });
      try {
        const base = e.stackNext;
        e.connection.write(segmentsOf(10), 0, 10 * MSS, e.now);
        e.collect();
        e.segment({ flags: ACK, ack: base + MSS });
        e.segment({ flags: ACK, ack: base + MSS, window: 60000 });
        e.segment({ flags: ACK, ack: base + MSS, window: 50000 });
        e.data(Uint8Array.of(1, 2, 3));
        assert.equal(e.peer.counters.tcpFastRetransmits, 0);
        assert.equal(e.connection.dupAcks, 0);
      } finally {
        e.close();
      }
    });
  });

  describe('SACK loss recovery (RFC 6675)', () => {
    it('resends exactly the holes the SACK blocks show, never what the peer holds', () => {
      const e = new Established({}, { sackPermitted: true });
      try {
        assert.ok(e.connection.sack);
        const base = e.stackNext;
        const at = (segment: number): number => (base + segment * MSS) >>> 0;
        e.connection.write(segmentsOf(10), 0, 10 * MSS, e.now);
        e.collect();
        // Segments 1 and 4 lost; the peer reports what it holds after each arrival.
        e.segment({ flags: ACK, ack: at(1) });
        e.segment({ flags: ACK, ack: at(1), sack: [[at(2), at(3)]] });
        e.segment({ flags: ACK, ack: at(1), sack: [[at(2), at(4)]] });
        const first = e.segment({ flags: ACK, ack: at(1), sack: [[at(5), at(6)], [at(2), at(4)]] });
        assert.deepEqual(offsets(first, base).slice(0, 1), [MSS], 'the first hole first, once three segments above it are SACKed');
        const all = [...first];
        all.push(...e.segment({ flags: ACK, ack: at(1), sack: [[at(5), at(7)], [at(2), at(4)]] }));
        all.push(...e.segment({ flags: ACK, ack: at(1), sack: [[at(5), at(8)], [at(2), at(4)]] }));
        all.push(...e.segment({ flags: ACK, ack: at(1), sack: [[at(5), at(9)], [at(2), at(4)]] }));
        const resent = offsets(all, base).filter((offset) => offset < 10 * MSS);
        assert.deepEqual(resent, [MSS, 4 * MSS], 'both holes once each, nothing the peer SACKed');
        assert.equal(e.peer.counters.tcpSackRecoveries, 1);
        assert.equal(e.peer.counters.tcpFastRetransmits, 1);
        assert.equal(e.peer.counters.tcpRetransmits, 2);
        e.segment({ flags: ACK, ack: at(10) });
        assert.equal(e.connection.inRecovery, false);
        assert.equal(e.connection.scoreboard.rangeCount, 0);
      } finally {
        e.close();
      }
    });

    it('undoes a recovery the timestamps show was for a reordered segment, and waits for more duplicates next time (RFC 3522)', () => {
      const e = new Established({}, { sackPermitted: true, timestamps: true });
      try {
        const base = e.stackNext;
        const mss = e.connection.sendMss;
        assert.equal(mss, 1448, 'timestamps take 12 bytes of every segment');
        const at = (segment: number): number => (base + segment * mss) >>> 0;
        e.connection.write(segmentsOf(10, mss), 0, 10 * mss, e.now);
        const sent = e.collect();
        const originalTsval = (sent[1].timestamps as [number, number])[0];
        const cwndBefore = e.connection.cc.cwnd;
        e.advance(5);
        e.segment({ flags: ACK, ack: at(1) });
        e.segment({ flags: ACK, ack: at(1), sack: [[at(2), at(3)]] });
        e.segment({ flags: ACK, ack: at(1), sack: [[at(2), at(4)]] });
        const [resent] = e.segment({ flags: ACK, ack: at(1), sack: [[at(2), at(5)]] });
        expectSegment(resent, ACK, at(1));
        assert.ok(e.connection.inRecovery);
        assert.ok(e.connection.cc.cwnd < cwndBefore);
        // The original segment 1 arrives after all: the peer's ACK echoes its (older) timestamp.
        e.segment({ flags: ACK, ack: at(10), timestamps: [++e.peerClock, originalTsval] });
        assert.equal(e.connection.inRecovery, false);
        assert.equal(e.peer.counters.tcpSpuriousRecoveries, 1);
        assert.ok(e.connection.cc.cwnd >= cwndBefore, `cwnd ${e.connection.cc.cwnd} back to ${cwndBefore}`);
        assert.equal(e.connection.dupThresh, 5, 'SACKs reached four segments past the hole');
      } finally {
        e.close();
      }
    });

    it('keeps the reduction when the retransmission is what arrived', () => {
      const e = new Established({}, { sackPermitted: true, timestamps: true });
      try {
        const base = e.stackNext;
        const mss = e.connection.sendMss;
        const at = (segment: number): number => (base + segment * mss) >>> 0;
        e.connection.write(segmentsOf(10, mss), 0, 10 * mss, e.now);
        e.collect();
        e.advance(5);
        e.segment({ flags: ACK, ack: at(1) });
        e.segment({ flags: ACK, ack: at(1), sack: [[at(2), at(3)]] });
        e.segment({ flags: ACK, ack: at(1), sack: [[at(2), at(4)]] });
        const [resent] = e.segment({ flags: ACK, ack: at(1), sack: [[at(2), at(5)]] });
        const reduced = e.connection.cc.ssthresh;
        e.segment({ flags: ACK, ack: at(10), timestamps: [++e.peerClock, (resent.timestamps as [number, number])[0]] });
        assert.equal(e.peer.counters.tcpSpuriousRecoveries, 0);
        assert.equal(e.connection.cc.ssthresh, reduced);
        assert.equal(e.connection.dupThresh, 3);
      } finally {
        e.close();
      }
    });

    it('probes a lost tail after two RTTs instead of waiting for the RTO, and recovers from the answer (RFC 8985 7)', () => {
      const e = new Established({}, { sackPermitted: true });
      try {
        const base = e.stackNext;
        const at = (segment: number): number => (base + segment * MSS) >>> 0;
        e.connection.write(segmentsOf(5), 0, 5 * MSS, e.now);
        e.collect();
        // The last three segments are lost: only the first two are acknowledged.
        e.segment({ flags: ACK, ack: at(2) });
        const srtt = e.connection.rtt.srttMs;
        const pto = Math.max(10, 2 * srtt);
        assert.deepEqual(e.advance(Math.floor(pto) - 1), []);
        const [probe] = e.advance(1);
        assert.deepEqual(offsets([probe], base), [4 * MSS], 'the last segment again');
        assert.equal(e.peer.counters.tcpTailLossProbes, 1);
        // The peer SACKs the probe: segments 2 and 3 were sent before it and are missing, so they are lost.
        const recovery = e.segment({ flags: ACK, ack: at(2), sack: [[at(4), at(5)]] });
        assert.deepEqual(offsets(recovery, base), [2 * MSS, 3 * MSS]);
        assert.equal(e.peer.counters.tcpSackRecoveries, 1);
        e.segment({ flags: ACK, ack: at(5) });
        assert.equal(e.peer.counters.tcpRtoTimeouts, 0);
      } finally {
        e.close();
      }
    });

    it('sends the head again when its retransmission is lost too, seen from SACKs of later data', () => {
      const e = new Established({}, { sackPermitted: true, window: 65535 });
      try {
        const base = e.stackNext;
        const at = (segment: number): number => (base + segment * MSS) >>> 0;
        e.connection.write(segmentsOf(30), 0, 30 * MSS, e.now);
        e.collect();
        e.advance(5);
        e.segment({ flags: ACK, ack: at(0), sack: [[at(1), at(2)]] });
        e.segment({ flags: ACK, ack: at(0), sack: [[at(1), at(3)]] });
        const first = e.segment({ flags: ACK, ack: at(0), sack: [[at(1), at(4)]] });
        assert.equal(offsets(first, base)[0], 0, 'fast retransmit of the head');
        // An RTT later the retransmission has not arrived, but everything sent after it keeps being SACKed.
        e.advance(10);
        for (let upTo = 5; upTo <= 10; upTo++) e.segment({ flags: ACK, ack: at(0), sack: [[at(1), at(upTo)]] });
        assert.equal(e.peer.counters.tcpLostRetransmits, 1);
        assert.equal(e.peer.counters.tcpRtoTimeouts, 0);
      } finally {
        e.close();
      }
    });

    it('after a timeout resends from SND.UNA and skips what was SACKed', () => {
      const e = new Established({}, { sackPermitted: true });
      try {
        const base = e.stackNext;
        const at = (segment: number): number => (base + segment * MSS) >>> 0;
        e.connection.write(segmentsOf(6), 0, 6 * MSS, e.now);
        e.collect();
        e.segment({ flags: ACK, ack: at(0), sack: [[at(1), at(3)]] });
        const timeout = e.advance(e.connection.rtt.rtoMs);
        assert.deepEqual(offsets(timeout, base), [0]);
        const after = e.segment({ flags: ACK, ack: at(1), sack: [[at(1), at(3)]] });
        assert.deepEqual(offsets(after, base), [3 * MSS, 4 * MSS], 'segments 1 and 2 were SACKed: not sent again');
      } finally {
        e.close();
      }
    });
  });

  describe('receiving out of order (RFC 9293 3.10.7.4, RFC 2018)', () => {
    it('keeps out-of-order data, reports it in SACK blocks, and delivers everything once the hole is filled', () => {
      const e = new Established({}, { sackPermitted: true, timestamps: true });
      try {
        const start = e.peerNext;
        const piece = (i: number): Uint8Array => new Uint8Array(100).fill(i);
        e.segment({ flags: ACK, seq: start + 200, payload: piece(2) });
        const [ack] = e.segment({ flags: ACK, seq: start + 300, payload: piece(3) });
        expectSegment(ack, ACK, e.stackNext, start);
        assert.deepEqual(ack.sack, [[start + 200, start + 400]]);
        const [ack2] = e.segment({ flags: ACK, seq: start + 600, payload: piece(6) });
        assert.deepEqual(ack2.sack, [[start + 600, start + 700], [start + 200, start + 400]], 'the latest block first (RFC 2018 4)');
        assert.equal(e.user.received.length, 0);
        assert.equal(e.peer.counters.tcpOutOfOrderQueued, 3);
        const [filled] = e.segment({ flags: ACK, seq: start, payload: new Uint8Array(200).fill(0) });
        expectSegment(filled, ACK, e.stackNext, start + 400);
        assert.deepEqual(filled.sack, [[start + 600, start + 700]]);
        assert.equal(e.user.received.length, 400);
        assert.deepEqual([...e.user.received.subarray(200, 400)], [...piece(2), ...piece(3)]);
      } finally {
        e.close();
      }
    });

    it('drops out-of-order data beyond maxOutOfOrderRanges ranges, and counts it', () => {
      const e = new Established({ maxOutOfOrderRanges: 2 });
      try {
        const start = e.peerNext;
        e.segment({ flags: ACK, seq: start + 100, payload: new Uint8Array(10) });
        e.segment({ flags: ACK, seq: start + 200, payload: new Uint8Array(10) });
        e.segment({ flags: ACK, seq: start + 300, payload: new Uint8Array(10) });
        assert.equal(e.peer.counters.tcpOutOfOrderQueued, 2);
        assert.equal(e.peer.counters.tcpOutOfOrderDropped, 1);
        e.segment({ flags: ACK, seq: start + 105, payload: new Uint8Array(200) });
        assert.equal(e.connection.receiveBuffer?.outOfOrderRanges, 1, 'a segment bridging two ranges merges them');
      } finally {
        e.close();
      }
    });

    it('delivers a FIN that arrived ahead of missing data once the data is in', () => {
      const e = new Established();
      try {
        const start = e.peerNext;
        e.segment({ flags: ACK | FIN, seq: start + 5, payload: Buffer.from('world') });
        assert.equal(e.user.endedCount, 0);
        assert.equal(e.connection.stateName, 'ESTABLISHED');
        const [ack] = e.segment({ flags: ACK, seq: start, payload: Buffer.from('hello') });
        expectSegment(ack, ACK, e.stackNext, start + 11);
        assert.equal(e.user.received.toString(), 'helloworld');
        assert.equal(e.user.endedCount, 1);
        assert.equal(e.connection.stateName, 'CLOSE-WAIT');
      } finally {
        e.close();
      }
    });
  });

  describe('flow control (RFC 9293 3.8.6)', () => {
    it('closes the window while the user does not read, and opens it with an update once it does', () => {
      const e = new Established({ receiveBufferSize: 8192 });
      try {
        // The user takes one chunk and then stops (data() returns false), and does not consume it.
        e.user.accepting = false;
        for (let i = 0; i < 5; i++) e.data(new Uint8Array(1460).fill(i));
        assert.equal(e.user.received.length, 1460);
        assert.equal(e.user.bufferedBytes, 1460);
        // 7300 of 8192 bytes held: what is left is under a segment, and the edge never moves back.
        const [answer] = e.segment({ flags: ACK, seq: e.peerNext - 1 });
        expectSegment(answer, ACK, e.stackNext, e.peerNext);
        assert.equal(answer.window, 8192 - 7300);
        // The user reads everything: the window opens by more than half the buffer, worth an update.
        e.user.accepting = true;
        e.user.bufferedBytes = 0;
        e.connection.resumeReading(e.now);
        const [update] = e.collect();
        expectSegment(update, ACK, e.stackNext, e.peerNext);
        assert.equal(update.window, 8192);
        assert.equal(e.user.received.length, 7300);
        assert.equal(e.user.received[7299], 4);
      } finally {
        e.close();
      }
    });

    it('probes a zero window with the persist timer, backing off, and sends once the window opens', () => {
      const e = new Established({}, { window: 0 });
      try {
        e.connection.write(Buffer.from('waiting'), 0, 7, e.now);
        assert.deepEqual(e.collect(), [], 'nothing fits a zero window');
        const rto = e.connection.rtt.rtoMs;
        const [probe] = e.advance(rto);
        expectSegment(probe, ACK, e.stackNext - 1, e.peerNext);
        assert.equal(probe.payload.length, 0, 'a probe: an old sequence number, no data');
        assert.deepEqual(e.segment({ flags: ACK, window: 0 }), []);
        const [second] = e.advance(2 * rto);
        expectSegment(second, ACK, e.stackNext - 1, e.peerNext);
        assert.equal(e.peer.counters.tcpPersistProbes, 2);
        const [data] = e.segment({ flags: ACK, window: 1000 });
        expectSegment(data, ACK | PSH, e.stackNext, e.peerNext);
        assert.equal(Buffer.from(data.payload).toString(), 'waiting');
      } finally {
        e.close();
      }
    });

    it("holds back a small segment while one is unacknowledged (Nagle), and not with setNoDelay", () => {
      const e = new Established();
      try {
        e.connection.write(Buffer.from('a'), 0, 1, e.now);
        assert.equal(e.collect().length, 1);
        e.connection.write(Buffer.from('b'), 0, 1, e.now);
        e.connection.write(Buffer.from('c'), 0, 1, e.now);
        assert.deepEqual(e.collect(), [], 'held: "a" is in flight');
        e.stackNext += 1;
        const [together] = e.segment({ flags: ACK });
        assert.equal(Buffer.from(together.payload).toString(), 'bc');
        e.stackNext += 2;
        e.segment({ flags: ACK });
        e.connection.setNoDelay(true, e.now);
        e.connection.write(Buffer.from('d'), 0, 1, e.now);
        e.connection.write(Buffer.from('e'), 0, 1, e.now);
        assert.deepEqual(e.collect().map((s) => Buffer.from(s.payload).toString()), ['d', 'e']);
      } finally {
        e.close();
      }
    });

    it('sends full segments within the peer window and waits for the ACK when the window is used up', () => {
      const e = new Established({}, { window: 3000 });
      try {
        const base = e.stackNext;
        e.connection.write(segmentsOf(4), 0, 4 * MSS, e.now);
        assert.deepEqual(offsets(e.collect(), base), [0, MSS], 'two full segments fit 3000 bytes; 80 bytes would be silly');
        e.segment({ flags: ACK, ack: base + 2 * MSS, window: 3000 });
        assert.equal(e.connection.bufferedToSend, 2 * MSS);
      } finally {
        e.close();
      }
    });
  });

  describe('keepalive (RFC 1122 4.2.3.6)', () => {
    it('probes after the idle time, every interval, and fails with ETIMEDOUT after the probe count', () => {
      const e = new Established({ keepAliveIntervalMs: 500, keepAliveCount: 3 });
      try {
        e.connection.setKeepAlive(true, 1000, e.now);
        assert.deepEqual(e.advance(999), []);
        const [probe] = e.advance(1);
        expectSegment(probe, ACK, e.stackNext - 1, e.peerNext);
        // An answer resets the count and the idle time.
        e.segment({ flags: ACK });
        assert.deepEqual(e.advance(999), []);
        assert.equal(e.advance(1).length, 1);
        assert.equal(e.advance(500).length, 1);
        assert.equal(e.advance(500).length, 1);
        assert.deepEqual(e.user.errors, []);
        e.advance(500);
        assert.deepEqual(e.user.errors, ['ETIMEDOUT']);
        assert.equal(e.peer.counters.tcpKeepAliveProbes, 4);
      } finally {
        e.close();
      }
    });

    it('sends nothing while keepalive is off', () => {
      const e = new Established({ keepAliveIdleMs: 1000 });
      try {
        assert.deepEqual(e.advance(10000), []);
      } finally {
        e.close();
      }
    });
  });

  describe('timestamps and PAWS (RFC 7323)', () => {
    it('echoes the TSval of the segment it acknowledges, and drops a segment whose timestamp went back (PAWS)', () => {
      const e = new Established({}, { timestamps: true });
      try {
        const [ack] = e.segment({ flags: ACK | PSH, payload: Buffer.from('fresh'), timestamps: [5000, e.lastStackTsval] });
        e.peerNext += 5;
        assert.ok(ack === undefined || ack.timestamps !== null);
        e.connection.write(Buffer.from('x'), 0, 1, e.now);
        const [data] = e.collect();
        assert.ok(data.timestamps !== null);
        assert.equal(data.timestamps[1], 5000);
        const [dupAck] = e.segment({ flags: ACK | PSH, payload: Buffer.from('stale'), timestamps: [4000, e.lastStackTsval] });
        expectSegment(dupAck, ACK, e.stackNext + 1, e.peerNext);
        assert.equal(e.peer.counters.tcpPawsRejected, 1);
        assert.equal(e.user.received.toString(), 'fresh');
      } finally {
        e.close();
      }
    });

    it('accepts a RST whatever its timestamp (PAWS does not apply to RST)', () => {
      const e = new Established({}, { timestamps: true });
      try {
        e.segment({ flags: ACK, timestamps: [9000, 0] });
        e.segment({ flags: 4 /* RST */, timestamps: [1, 0] });
        assert.deepEqual(e.user.errors, ['ECONNRESET']);
      } finally {
        e.close();
      }
    });
  });

  it('names the flags it sends', () => {
    assert.equal(flagNames(ACK | PSH | FIN), 'FIN|PSH|ACK');
  });
});
