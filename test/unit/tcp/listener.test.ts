// Listen queues and SYN cookies (as Linux keeps them), TIME-WAIT reuse,
// ISNs (RFC 6528), ephemeral ports (RFC 6056) and SipHash itself.

import { strict as assert } from 'node:assert';
import { SequenceSecrets } from '../../../src/tcp/isn';
import { sipHash24, sipHashKeyFromBytes } from '../../../src/tcp/siphash';
import { COOKIE_MSS_TABLE, SynCookies } from '../../../src/tcp/syn-cookies';
import { PEER_ADDRESS, ip } from '../iface/peer';
import { ACK, Established, FIN, PEER_ISS, Recorder, STACK_PORT, SYN, TcpPeer, expectSegment } from './harness';

describe('tcp/listener', () => {
  describe('SYN queue and SYN cookies', () => {
    it('answers with a SYN cookie once the SYN queue holds backlog half-open connections, and keeps no state for it', () => {
      const peer = new TcpPeer();
      try {
        const listener = peer.iface.tcp.listen(STACK_PORT, 2);
        peer.send({ seq: 100, flags: SYN, sourcePort: 1001 });
        peer.send({ seq: 200, flags: SYN, sourcePort: 1002 });
        assert.equal(listener.synQueueLength, 2);
        const [cookie] = peer.send({ seq: 300, flags: SYN, sourcePort: 1003, mss: 1460, windowScale: 7, sackPermitted: true, timestamps: [77, 0] });
        expectSegment(cookie, SYN | ACK, cookie.seq, 301);
        assert.equal(peer.iface.tcp.connectionCount, 2, 'no connection for the cookie');
        assert.equal(peer.counters.tcpSynCookiesSent, 1);
        assert.equal(cookie.windowScale, 2);
        assert.equal(cookie.sackPermitted, true);
        // The handshake completes from the cookie alone.
        assert.ok(cookie.timestamps !== null);
        peer.send({ seq: 301, ack: cookie.seq + 1, flags: ACK, sourcePort: 1003, timestamps: [78, cookie.timestamps[0]] });
        assert.equal(peer.counters.tcpSynCookiesReceived, 1);
        const connection = listener.accept();
        assert.ok(connection !== null);
        assert.equal(connection.remotePort, 1003);
        assert.equal(connection.stateName, 'ESTABLISHED');
        assert.equal(connection.peerMss, 1460);
        assert.equal(connection.sndWindowScale, 7, 'window scale recovered from the echoed timestamp');
        assert.equal(connection.sack, true);
        assert.equal(connection.timestamps, true);
        // And it carries data.
        const user = new Recorder();
        connection.attach(user, peer.fixture.clock.timeMs);
        peer.send({ seq: 301, ack: cookie.seq + 1, flags: ACK, sourcePort: 1003, payload: Buffer.from('via cookie'), timestamps: [79, cookie.timestamps[0]] });
        assert.equal(user.received.toString(), 'via cookie');
      } finally {
        peer.close();
      }
    });

    it('loses window scaling and SACK through a cookie when the peer sends no timestamps, as Linux does', () => {
      const peer = new TcpPeer();
      try {
        const listener = peer.iface.tcp.listen(STACK_PORT, 1);
        peer.send({ seq: 100, flags: SYN, sourcePort: 1001 });
        const [cookie] = peer.send({ seq: 300, flags: SYN, sourcePort: 1003, mss: 1300, windowScale: 7, sackPermitted: true });
        assert.equal(cookie.windowScale, -1);
        assert.equal(cookie.sackPermitted, false);
        peer.send({ seq: 301, ack: cookie.seq + 1, flags: ACK, sourcePort: 1003 });
        const connection = listener.accept();
        assert.equal(connection?.peerMss, 1300);
        assert.equal(connection?.sndWindowScale, 0);
        assert.equal(connection?.sack, false);
      } finally {
        peer.close();
      }
    });

    it('rounds the MSS down to the cookie table and checks age and integrity', () => {
      const cookies = new SynCookies();
      const local = ip('198.18.0.1');
      const remote = ip('198.18.0.2');
      const isn = cookies.make(local, 80, remote, 5000, 12345, 1400, 0);
      assert.equal(cookies.check(local, 80, remote, 5000, 12345, isn, 0), 1300);
      assert.equal(cookies.check(local, 80, remote, 5000, 12345, isn, 2 * 60000 + 59999), 1300, 'two minutes old: still good');
      assert.equal(cookies.check(local, 80, remote, 5000, 12345, isn, 3 * 60000), 0, 'too old');
      assert.equal(cookies.check(local, 80, remote, 5001, 12345, isn, 0), 0, 'another identity');
      assert.equal(cookies.check(local, 80, remote, 5000, 13345, isn, 0), 0, 'another peer ISN');
      assert.equal(cookies.check(local, 80, remote, 5000, 12345, (isn + 4096) >>> 0, 0), 0, "another cookie");
      assert.deepEqual([...COOKIE_MSS_TABLE], [536, 1300, 1440, 1460]);
    });

    it('drops SYNs while the accept queue is full, and drops the handshake ACK too (keeping the half-open connection)', () => {
      const peer = new TcpPeer();
      try {
        const listener = peer.iface.tcp.listen(STACK_PORT, 2);
        const handshake = (port: number): void => {
          const [synAck] = peer.send({ seq: PEER_ISS, flags: SYN, sourcePort: port });
          peer.send({ seq: PEER_ISS + 1, ack: synAck.seq + 1, flags: ACK, sourcePort: port });
        };
        handshake(1001);
        handshake(1002);
        assert.equal(listener.acceptQueue.length, 2);
        assert.deepEqual(peer.send({ seq: 5, flags: SYN, sourcePort: 1003 }), []);
        assert.equal(peer.counters.tcpListenOverflows, 1);
        listener.accept();
        const [third] = peer.send({ seq: 5, flags: SYN, sourcePort: 1003 });
        const [fourth] = peer.send({ seq: 9, flags: SYN, sourcePort: 1004 });
        peer.send({ seq: 6, ack: third.seq + 1, flags: ACK, sourcePort: 1003 });
        assert.equal(listener.acceptQueue.length, 2);
        assert.deepEqual(peer.send({ seq: 10, ack: fourth.seq + 1, flags: ACK, sourcePort: 1004 }), []);
        assert.equal(peer.counters.tcpListenOverflows, 2);
        assert.equal(peer.iface.tcp.find(PEER_ADDRESS, 1004, STACK_PORT)?.stateName, 'SYN-RECEIVED');
        // Once there is room, the peer's retransmitted ACK completes it.
        listener.accept();
        peer.send({ seq: 10, ack: fourth.seq + 1, flags: ACK, sourcePort: 1004 });
        assert.equal(peer.iface.tcp.find(PEER_ADDRESS, 1004, STACK_PORT)?.stateName, 'ESTABLISHED');
      } finally {
        peer.close();
      }
    });

    it('resets connections waiting in the accept queue when the listener closes', () => {
      const peer = new TcpPeer();
      try {
        const listener = peer.iface.tcp.listen(STACK_PORT);
        const [synAck] = peer.send({ seq: PEER_ISS, flags: SYN });
        peer.send({ seq: PEER_ISS + 1, ack: synAck.seq + 1, flags: ACK });
        peer.iface.tcp.unlisten(listener);
        const [reset] = peer.collect();
        expectSegment(reset, 4 | ACK, synAck.seq + 1, PEER_ISS + 1);
        assert.equal(peer.iface.tcp.connectionCount, 0);
        assert.equal(peer.iface.tcp.listenerOn(STACK_PORT), null);
        peer.iface.tcp.listen(STACK_PORT);
      } finally {
        peer.close();
      }
    });
  });

  describe('TIME-WAIT', () => {
    it('lets a new SYN with a higher sequence number take over a TIME-WAIT connection (RFC 6191)', () => {
      const e = new Established({ timeWaitMs: 60000 });
      try {
        e.connection.shutdown(e.now);
        e.collect();
        e.peer.send({ seq: e.peerNext, ack: e.stackNext + 1, flags: ACK | FIN });
        assert.equal(e.connection.stateName, 'TIME-WAIT');
        const [synAck] = e.peer.send({ seq: e.peerNext + 100000, flags: SYN });
        expectSegment(synAck, SYN | ACK, synAck.seq, e.peerNext + 100001);
        assert.equal(e.peer.counters.tcpTimeWaitReused, 1);
        assert.equal(e.connection.stateName, 'CLOSED');
      } finally {
        e.close();
      }
    });

    it('keeps at most maxTimeWait connections in TIME-WAIT', () => {
      const e = new Established({ maxTimeWait: 0 });
      try {
        e.connection.shutdown(e.now);
        e.collect();
        e.peer.send({ seq: e.peerNext, ack: e.stackNext + 1, flags: ACK | FIN });
        assert.equal(e.connection.stateName, 'CLOSED');
        assert.equal(e.peer.counters.tcpTimeWaitOverflow, 1);
      } finally {
        e.close();
      }
    });
  });

  describe('initial sequence numbers (RFC 6528) and ports (RFC 6056)', () => {
    it('grows by one every 4 microseconds for one identity, and differs between identities', () => {
      const secrets = new SequenceSecrets();
      const a = secrets.initialSequence(1, 80, 2, 5000, 1000);
      const b = secrets.initialSequence(1, 80, 2, 5000, 1001);
      assert.equal((b - a) >>> 0, 250);
      const other = secrets.initialSequence(1, 80, 2, 5001, 1000);
      assert.notEqual(other, a);
      assert.notEqual(new SequenceSecrets().initialSequence(1, 80, 2, 5000, 1000), a, 'a new key each start');
    });

    it('gives connections to one destination different ephemeral ports in the range, and refuses a taken identity', () => {
      const peer = new TcpPeer({ ephemeralPorts: [50000, 50003] });
      try {
        const ports = new Set<number>();
        for (let i = 0; i < 4; i++) ports.add(peer.iface.tcp.connect(PEER_ADDRESS, 9000).localPort);
        assert.equal(ports.size, 4);
        for (const port of ports) assert.ok(port >= 50000 && port <= 50003);
        assert.throws(() => peer.iface.tcp.connect(PEER_ADDRESS, 9000), { code: 'EADDRNOTAVAIL' });
        assert.equal(peer.iface.tcp.connect(PEER_ADDRESS, 9001).localPort >= 50000, true, 'another destination port: the same range again');
        assert.throws(() => peer.iface.tcp.connect(PEER_ADDRESS, 9000, [...ports][0]), { code: 'EADDRINUSE' });
      } finally {
        peer.close();
      }
    });
  });

  describe('SipHash-2-4', () => {
    it('matches the reference test vectors', () => {
      const key = sipHashKeyFromBytes(Uint8Array.from({ length: 16 }, (_, i) => i));
      const out = new Uint32Array(2);
      const vector = (length: number): string => {
        const message = Uint8Array.from({ length }, (_, i) => i);
        sipHash24(key, new DataView(message.buffer), 0, length, out);
        return out[0].toString(16).padStart(8, '0') + out[1].toString(16).padStart(8, '0');
      };
      assert.equal(vector(0), '726fdb47dd0e0e31');
      assert.equal(vector(7), 'ab0200f58b01d137');
      assert.equal(vector(8), '93f5f5799a932462');
      assert.equal(vector(15), 'a129ca6149be45e5');
      assert.equal(vector(63), '958a324ceb064572');
    });
  });
});
