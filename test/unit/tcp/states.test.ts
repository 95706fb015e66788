// RFC 9293's state machine, one transition at a time, with literal
// segments between a hand-driven peer (198.18.0.2:40000) and the stack
// (198.18.0.1:80).

import { strict as assert } from 'node:assert';
import type { TcpConnection } from '../../../src/tcp/connection';
import type { TcpListener } from '../../../src/tcp/listener';
import { PEER_ADDRESS } from '../iface/peer';
import { ACK, Established, FIN, PEER_ISS, PEER_PORT, PSH, RST, Recorder, STACK_PORT, SYN, TcpPeer, expectSegment, flagNames, type Sent } from './harness';

describe('tcp/states (RFC 9293 3.10)', () => {
  describe('CLOSED: segments to a port nobody listens on (3.10.7.1)', () => {
    let peer: TcpPeer;
    beforeEach(() => { peer = new TcpPeer(); });
    afterEach(() => peer.close());

    it('answers a SYN with <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>', () => {
      const [reset] = peer.send({ seq: 5000, flags: SYN });
      expectSegment(reset, RST | ACK, 0, 5001);
      assert.equal(reset.sourcePort, STACK_PORT);
      assert.equal(reset.destinationPort, PEER_PORT);
      assert.equal(peer.counters.tcpNoSocket, 1);
      assert.equal(peer.counters.tcpResetsSent, 1);
    });

    it('answers an ACK with <SEQ=SEG.ACK><CTL=RST>', () => {
      const [reset] = peer.send({ seq: 5000, ack: 777, flags: ACK, payload: new Uint8Array(10) });
      expectSegment(reset, RST, 777);
    });

    it('never answers a RST', () => {
      assert.deepEqual(peer.send({ seq: 5000, ack: 1, flags: RST | ACK }), []);
      assert.equal(peer.counters.tcpNoSocket, 1);
    });

    it('counts a data segment with a FIN as its data plus one in the RST', () => {
      const [reset] = peer.send({ seq: 5000, flags: FIN, payload: new Uint8Array(7) });
      expectSegment(reset, RST | ACK, 0, 5008);
    });
  });

  describe('LISTEN -> SYN-RECEIVED -> ESTABLISHED (passive open)', () => {
    let peer: TcpPeer;
    let listener: TcpListener;
    beforeEach(() => {
      peer = new TcpPeer();
      listener = peer.iface.tcp.listen(STACK_PORT);
    });
    afterEach(() => peer.close());

    it('answers a SYN with a SYN-ACK carrying our MSS (from the MTU) and the options the peer offered', () => {
      const [synAck, ...rest] = peer.send({ seq: PEER_ISS, flags: SYN, mss: 1460, windowScale: 7, sackPermitted: true, timestamps: [4242, 0] });
      assert.deepEqual(rest, []);
      expectSegment(synAck, SYN | ACK, synAck.seq, PEER_ISS + 1);
      assert.equal(synAck.mss, 1460);
      assert.equal(synAck.windowScale, 2, '128 KiB receive buffer: shift 2');
      assert.equal(synAck.sackPermitted, true);
      assert.ok(synAck.timestamps !== null);
      assert.equal(synAck.timestamps[1], 4242, 'TSecr echoes the SYN');
      assert.equal(synAck.window, 65535);
      const connection = peer.iface.tcp.find(PEER_ADDRESS, PEER_PORT, STACK_PORT);
      assert.equal(connection?.stateName, 'SYN-RECEIVED');
      assert.equal(listener.synQueueLength, 1);
    });

    it('offers no option the peer did not offer', () => {
      const [synAck] = peer.send({ seq: PEER_ISS, flags: SYN });
      assert.equal(synAck.windowScale, -1);
      assert.equal(synAck.sackPermitted, false);
      assert.equal(synAck.timestamps, null);
      assert.equal(synAck.mss, 1460);
    });

    it('completes on the ACK of its SYN and queues the connection for accept()', () => {
      const [synAck] = peer.send({ seq: PEER_ISS, flags: SYN });
      assert.deepEqual(peer.send({ seq: PEER_ISS + 1, ack: synAck.seq + 1, flags: ACK }), []);
      const connection = listener.accept();
      assert.equal(connection?.stateName, 'ESTABLISHED');
      assert.equal(listener.synQueueLength, 0);
      assert.equal(peer.counters.tcpPassiveOpens, 1);
      assert.equal(peer.counters.tcpCurrentEstablished, 1);
    });

    it('resets an ACK that acknowledges something else (<SEQ=SEG.ACK><CTL=RST>) and stays in SYN-RECEIVED', () => {
      const [synAck] = peer.send({ seq: PEER_ISS, flags: SYN });
      const [reset] = peer.send({ seq: PEER_ISS + 1, ack: synAck.seq + 5, flags: ACK });
      expectSegment(reset, RST, synAck.seq + 5);
      assert.equal(peer.counters.tcpBadAck, 1);
      assert.equal(peer.iface.tcp.find(PEER_ADDRESS, PEER_PORT, STACK_PORT)?.stateName, 'SYN-RECEIVED');
    });

    it('sends the SYN-ACK again when the peer sends its SYN again', () => {
      const [first] = peer.send({ seq: PEER_ISS, flags: SYN });
      const [again] = peer.send({ seq: PEER_ISS, flags: SYN });
      expectSegment(again, SYN | ACK, first.seq, PEER_ISS + 1);
    });

    it('retransmits the SYN-ACK after 1, 2, 4, 8 and 16 s, then forgets the half-open connection', () => {
      const [synAck] = peer.send({ seq: PEER_ISS, flags: SYN });
      for (const wait of [1000, 2000, 4000, 8000, 16000]) {
        assert.deepEqual(peer.advance(wait - 1), []);
        const [again] = peer.advance(1);
        expectSegment(again, SYN | ACK, synAck.seq, PEER_ISS + 1);
      }
      assert.deepEqual(peer.advance(32000), []);
      assert.equal(peer.iface.tcp.find(PEER_ADDRESS, PEER_PORT, STACK_PORT), null);
      assert.equal(peer.counters.tcpHalfOpenTimeouts, 1);
      assert.equal(peer.counters.tcpSynAckRetransmits, 5);
      assert.equal(listener.synQueueLength, 0);
    });

    it('goes back to LISTEN on a RST in SYN-RECEIVED', () => {
      const [synAck] = peer.send({ seq: PEER_ISS, flags: SYN });
      assert.deepEqual(peer.send({ seq: PEER_ISS + 1, ack: synAck.seq + 1, flags: RST | ACK }), []);
      assert.equal(peer.iface.tcp.find(PEER_ADDRESS, PEER_PORT, STACK_PORT), null);
      assert.equal(listener.synQueueLength, 0);
      assert.equal(listener.acceptQueue.length, 0);
    });

    it('ignores a RST and resets an ACK sent to the listener itself', () => {
      assert.deepEqual(peer.send({ seq: 9, flags: RST }), []);
      const [reset] = peer.send({ seq: 9, ack: 12345, flags: ACK });
      expectSegment(reset, RST, 12345);
      assert.equal(peer.counters.tcpListenUnexpected, 2);
    });

    it('refuses a second listener on the port with EADDRINUSE', () => {
      assert.throws(() => peer.iface.tcp.listen(STACK_PORT), { code: 'EADDRINUSE' });
    });
  });

  describe('SYN-SENT (active open, 3.10.7.3)', () => {
    let peer: TcpPeer;
    let connection: TcpConnection;
    let user: Recorder;
    let syn: Sent;
    beforeEach(() => {
      peer = new TcpPeer();
      user = new Recorder();
      connection = peer.iface.tcp.connect(PEER_ADDRESS, 7000);
      connection.attach(user, peer.fixture.clock.timeMs);
      [syn] = peer.collect();
    });
    afterEach(() => peer.close());

    it('sends a SYN with MSS, window scale, SACK-permitted and timestamps from an ephemeral port', () => {
      assert.equal(flagNames(syn.flags), 'SYN');
      assert.equal(syn.destinationPort, 7000);
      assert.ok(syn.sourcePort >= 32768 && syn.sourcePort <= 60999);
      assert.equal(syn.mss, 1460);
      assert.equal(syn.windowScale, 2);
      assert.equal(syn.sackPermitted, true);
      assert.ok(syn.timestamps !== null && syn.timestamps[1] === 0);
      assert.equal(connection.stateName, 'SYN-SENT');
      assert.equal(peer.counters.tcpActiveOpens, 1);
    });

    it('reaches ESTABLISHED on the SYN-ACK, acknowledges it and tells the user', () => {
      const [ack] = peer.send({ sourcePort: 7000, destinationPort: syn.sourcePort, seq: 300, ack: syn.seq + 1, flags: SYN | ACK, mss: 1400 });
      expectSegment(ack, ACK, syn.seq + 1, 301);
      assert.equal(connection.stateName, 'ESTABLISHED');
      assert.equal(user.connectedCount, 1);
      assert.equal(connection.sendMss, 1400);
      assert.equal(connection.timestamps, false, 'the peer did not echo timestamps');
    });

    it('fails with ECONNREFUSED on a RST that acknowledges the SYN', () => {
      assert.deepEqual(peer.send({ sourcePort: 7000, destinationPort: syn.sourcePort, seq: 0, ack: syn.seq + 1, flags: RST | ACK }), []);
      assert.deepEqual(user.errors, ['ECONNREFUSED']);
      assert.equal(user.closedCount, 1);
      assert.equal(connection.stateName, 'CLOSED');
      assert.equal(peer.counters.tcpAttemptFails, 1);
    });

    it('ignores a RST whose ACK does not acknowledge the SYN, and resets such an ACK', () => {
      assert.deepEqual(peer.send({ sourcePort: 7000, destinationPort: syn.sourcePort, seq: 0, flags: RST }), []);
      const [reset] = peer.send({ sourcePort: 7000, destinationPort: syn.sourcePort, seq: 0, ack: syn.seq + 9, flags: SYN | ACK });
      expectSegment(reset, RST, syn.seq + 9);
      assert.equal(connection.stateName, 'SYN-SENT');
      assert.deepEqual(user.errors, []);
    });

    it('retransmits the SYN after 1, 2, 4, 8, 16 and 32 s, and fails with ETIMEDOUT 64 s later (net.ipv4.tcp_syn_retries 6)', () => {
      for (const wait of [1000, 2000, 4000, 8000, 16000, 32000]) {
        assert.deepEqual(peer.advance(wait - 1), []);
        const [again] = peer.advance(1);
        expectSegment(again, SYN, syn.seq);
      }
      assert.deepEqual(peer.advance(63999), []);
      assert.deepEqual(user.errors, []);
      peer.advance(1);
      assert.deepEqual(user.errors, ['ETIMEDOUT']);
      assert.equal(peer.counters.tcpSynRetransmits, 6);
    });

    it('goes through SYN-RECEIVED on a simultaneous open (figure 7)', () => {
      const [synAck] = peer.send({ sourcePort: 7000, destinationPort: syn.sourcePort, seq: 300, flags: SYN });
      expectSegment(synAck, SYN | ACK, syn.seq, 301);
      assert.equal(connection.stateName, 'SYN-RECEIVED');
      assert.deepEqual(peer.send({ sourcePort: 7000, destinationPort: syn.sourcePort, seq: 301, ack: syn.seq + 1, flags: SYN | ACK }).map((s) => flagNames(s.flags)), ['ACK'],
        'its SYN-ACK, a challenge-acknowledged SYN in SYN-RECEIVED');
      assert.deepEqual(peer.send({ sourcePort: 7000, destinationPort: syn.sourcePort, seq: 301, ack: syn.seq + 1, flags: ACK }), []);
      assert.equal(connection.stateName, 'ESTABLISHED');
      assert.equal(user.connectedCount, 1);
    });
  });

  describe('ESTABLISHED', () => {
    let e: Established;
    beforeEach(() => { e = new Established(); });
    afterEach(() => e.close());

    it('acknowledges the first segments at once (quick ACK), then every second full segment', () => {
      const full = new Uint8Array(1460).fill(1);
      for (let i = 0; i < 16; i++) expectSegment(e.data(full)[0], ACK, e.stackNext, e.peerNext);
      assert.deepEqual(e.data(full), []);
      const [ack] = e.data(full);
      expectSegment(ack, ACK, e.stackNext, e.peerNext);
      assert.equal(e.user.received.length, 18 * 1460);
    });

    it('delays the ACK of a small segment by 40 ms', () => {
      // Past the quick-ACK start (Linux acknowledges the first segments at once).
      for (let i = 0; i < 20; i++) e.data(new Uint8Array(1460));
      e.peer.advance(100);
      assert.deepEqual(e.data(Uint8Array.of(1, 2, 3)), []);
      assert.deepEqual(e.peer.advance(39), []);
      const [ack] = e.peer.advance(1);
      expectSegment(ack, ACK, e.stackNext, e.peerNext);
      assert.ok(e.peer.counters.tcpDelayedAcks >= 1);
    });

    it('sends data written by the user with PSH, and stops resending once it is acknowledged', () => {
      e.connection.write(Buffer.from('hello'), 0, 5, e.now);
      const [segment] = e.peer.collect();
      expectSegment(segment, ACK | PSH, e.stackNext, e.peerNext);
      assert.equal(Buffer.from(segment.payload).toString(), 'hello');
      e.stackNext += 5;
      assert.deepEqual(e.peer.send({ seq: e.peerNext, ack: e.stackNext, flags: ACK }), []);
      assert.deepEqual(e.peer.advance(5000), []);
      assert.equal(e.connection.bufferedToSend, 0);
    });

    it('answers an unacceptable segment with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and drops it', () => {
      const [ack] = e.peer.send({ seq: e.peerNext + 200000, ack: e.stackNext, flags: ACK, payload: new Uint8Array(10) });
      expectSegment(ack, ACK, e.stackNext, e.peerNext);
      assert.equal(e.peer.counters.tcpOutOfWindow, 1);
      const [again] = e.peer.send({ seq: e.peerNext - 100, ack: e.stackNext, flags: ACK, payload: new Uint8Array(10) });
      expectSegment(again, ACK, e.stackNext, e.peerNext);
      assert.equal(e.peer.counters.tcpDuplicateSegments, 1);
      assert.equal(e.user.received.length, 0);
    });

    it('acknowledges an ACK of something not yet sent and drops it (3.10.7.4 fifth step)', () => {
      const [ack] = e.peer.send({ seq: e.peerNext, ack: e.stackNext + 100, flags: ACK, payload: Uint8Array.of(9) });
      expectSegment(ack, ACK, e.stackNext, e.peerNext);
      assert.equal(e.peer.counters.tcpAckTooNew, 1);
      assert.equal(e.user.received.length, 0);
    });

    it('resets on a RST at exactly RCV.NXT with ECONNRESET', () => {
      assert.deepEqual(e.peer.send({ seq: e.peerNext, flags: RST }), []);
      assert.deepEqual(e.user.errors, ['ECONNRESET']);
      assert.equal(e.user.closedCount, 1);
      assert.equal(e.connection.stateName, 'CLOSED');
      assert.equal(e.peer.counters.tcpEstablishedResets, 1);
      assert.equal(e.peer.counters.tcpCurrentEstablished, 0);
    });

    it('sends a challenge ACK for a RST inside the window but not at RCV.NXT (RFC 5961 3.2)', () => {
      const [challenge] = e.peer.send({ seq: e.peerNext + 10, flags: RST });
      expectSegment(challenge, ACK, e.stackNext, e.peerNext);
      assert.equal(e.connection.stateName, 'ESTABLISHED');
      assert.equal(e.peer.counters.tcpRstChallenged, 1);
      assert.equal(e.peer.counters.tcpChallengeAcks, 1);
    });

    it('drops a RST outside the window without a word', () => {
      assert.deepEqual(e.peer.send({ seq: e.peerNext + 10_000_000, flags: RST }), []);
      assert.equal(e.connection.stateName, 'ESTABLISHED');
      assert.equal(e.peer.counters.tcpRstOutOfWindow, 1);
    });

    it('sends a challenge ACK for a SYN, whatever its sequence number (RFC 5961 4.2)', () => {
      const [challenge] = e.peer.send({ seq: e.peerNext, flags: SYN });
      expectSegment(challenge, ACK, e.stackNext, e.peerNext);
      const [again] = e.peer.send({ seq: 77, flags: SYN });
      expectSegment(again, ACK, e.stackNext, e.peerNext);
      assert.equal(e.connection.stateName, 'ESTABLISHED');
      assert.equal(e.peer.counters.tcpSynChallenged, 2);
    });

    it('sends a challenge ACK for an ACK older than SND.UNA - MAX.SND.WND (RFC 5961 5.2)', () => {
      const [challenge] = e.peer.send({ seq: e.peerNext, ack: e.stackNext - 200000, flags: ACK, payload: Uint8Array.of(1) });
      expectSegment(challenge, ACK, e.stackNext, e.peerNext);
      assert.equal(e.peer.counters.tcpAckTooOld, 1);
      assert.equal(e.user.received.length, 0);
    });

    it('limits challenge ACKs to the configured rate', () => {
      const limited = new Established({ challengeAcksPerSecond: 2 });
      try {
        for (let i = 0; i < 5; i++) limited.peer.send({ seq: limited.peerNext, flags: SYN });
        assert.equal(limited.peer.counters.tcpChallengeAcks, 2);
        assert.equal(limited.peer.counters.tcpChallengeAcksLimited, 3);
      } finally {
        limited.close();
      }
    });

    it('drops a segment without ACK', () => {
      assert.deepEqual(e.peer.send({ seq: e.peerNext, flags: PSH, payload: Uint8Array.of(1) }), []);
      assert.equal(e.peer.counters.tcpNoAck, 1);
      assert.equal(e.user.received.length, 0);
    });
  });

  describe('closing', () => {
    let e: Established;
    beforeEach(() => { e = new Established({ timeWaitMs: 60000 }); });
    afterEach(() => e.close());

    it('ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED (passive close)', () => {
      const [ack] = e.data(new Uint8Array(0), ACK | FIN);
      expectSegment(ack, ACK, e.stackNext, e.peerNext);
      assert.equal(e.connection.stateName, 'CLOSE-WAIT');
      assert.equal(e.user.endedCount, 1);
      e.connection.shutdown(e.now);
      const [fin] = e.peer.collect();
      expectSegment(fin, ACK | FIN, e.stackNext, e.peerNext);
      assert.equal(e.connection.stateName, 'LAST-ACK');
      assert.deepEqual(e.peer.send({ seq: e.peerNext, ack: e.stackNext + 1, flags: ACK }), []);
      assert.equal(e.connection.stateName, 'CLOSED');
      assert.equal(e.user.closedCount, 1);
      assert.equal(e.peer.iface.tcp.connectionCount, 0);
    });

    it('ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED after 2 MSL, data still flowing in (half-close)', () => {
      e.connection.shutdown(e.now);
      const [fin] = e.peer.collect();
      expectSegment(fin, ACK | FIN, e.stackNext, e.peerNext);
      assert.equal(e.connection.stateName, 'FIN-WAIT-1');
      e.stackNext += 1;
      assert.deepEqual(e.peer.send({ seq: e.peerNext, ack: e.stackNext, flags: ACK }), []);
      assert.equal(e.connection.stateName, 'FIN-WAIT-2');
      // The peer keeps sending after our FIN.
      e.data(Buffer.from('still talking'));
      e.peer.advance(200);
      assert.equal(e.user.received.toString(), 'still talking');
      const [ack] = e.data(new Uint8Array(0), ACK | FIN);
      expectSegment(ack, ACK, e.stackNext, e.peerNext);
      assert.equal(e.connection.stateName, 'TIME-WAIT');
      assert.equal(e.user.endedCount, 1);
      assert.equal(e.user.closedCount, 1);
      // A retransmitted FIN is acknowledged again and restarts the wait.
      e.peer.advance(30000);
      const [again] = e.peer.send({ seq: e.peerNext - 1, ack: e.stackNext, flags: ACK | FIN });
      expectSegment(again, ACK, e.stackNext, e.peerNext);
      e.peer.advance(59999);
      assert.equal(e.connection.stateName, 'TIME-WAIT');
      e.peer.advance(1);
      assert.equal(e.connection.stateName, 'CLOSED');
      assert.equal(e.peer.iface.tcp.connectionCount, 0);
    });

    it('FIN-WAIT-1 -> CLOSING -> TIME-WAIT (simultaneous close)', () => {
      e.connection.shutdown(e.now);
      const [fin] = e.peer.collect();
      expectSegment(fin, ACK | FIN, e.stackNext, e.peerNext);
      // The peer's FIN crosses ours: it does not acknowledge our FIN yet.
      const [ack] = e.data(new Uint8Array(0), ACK | FIN);
      expectSegment(ack, ACK, e.stackNext + 1, e.peerNext);
      assert.equal(e.connection.stateName, 'CLOSING');
      assert.deepEqual(e.peer.send({ seq: e.peerNext, ack: e.stackNext + 1, flags: ACK }), []);
      assert.equal(e.connection.stateName, 'TIME-WAIT');
    });

    it('FIN-WAIT-1 -> TIME-WAIT on a FIN that acknowledges ours', () => {
      e.connection.shutdown(e.now);
      e.peer.collect();
      const [ack] = e.peer.send({ seq: e.peerNext, ack: e.stackNext + 1, flags: ACK | FIN });
      expectSegment(ack, ACK, e.stackNext + 1, e.peerNext + 1);
      assert.equal(e.connection.stateName, 'TIME-WAIT');
    });

    it('retransmits a lost FIN', () => {
      e.connection.shutdown(e.now);
      const [fin] = e.peer.collect();
      const [again] = e.peer.advance(1000);
      expectSegment(again, ACK | FIN, fin.seq, e.peerNext);
    });

    it('sends the FIN after the data the user wrote before closing', () => {
      e.connection.write(Buffer.from('last words'), 0, 10, e.now);
      e.connection.shutdown(e.now);
      const sent = e.peer.collect();
      const last = sent[sent.length - 1];
      assert.ok(last.flags & FIN);
      assert.equal(Buffer.concat(sent.map((s) => Buffer.from(s.payload))).toString(), 'last words');
      assert.equal(last.seq + last.payload.length, e.stackNext + 10);
    });

    it('an orphaned connection with unread data is reset, as Linux does on close()', () => {
      e.user.accepting = false;
      e.data(Buffer.from('one'));
      e.data(Buffer.from('two'));
      e.connection.release(e.now);
      const sent = e.peer.collect();
      assert.ok(sent.some((s) => (s.flags & RST) !== 0));
      assert.equal(e.connection.stateName, 'CLOSED');
    });

    it('an orphaned connection in FIN-WAIT-2 gives up after finWait2TimeoutMs', () => {
      const orphan = new Established({ finWait2TimeoutMs: 5000 });
      try {
        orphan.connection.release(orphan.now);
        orphan.peer.collect();
        orphan.peer.send({ seq: orphan.peerNext, ack: orphan.stackNext + 1, flags: ACK });
        assert.equal(orphan.connection.stateName, 'FIN-WAIT-2');
        orphan.peer.advance(4999);
        assert.equal(orphan.connection.stateName, 'FIN-WAIT-2');
        orphan.peer.advance(1);
        assert.equal(orphan.connection.stateName, 'CLOSED');
      } finally {
        orphan.close();
      }
    });

    it('resets data that arrives after the user let go', () => {
      e.connection.release(e.now);
      e.peer.collect();
      const sent = e.data(Buffer.from('too late'));
      assert.ok(sent.some((s) => (s.flags & RST) !== 0));
      assert.equal(e.peer.counters.tcpDataAfterClose, 1);
    });
  });
});
