// TCP's bounds (docs/limits.md) under 1,000,000 inserts, with a fake clock:
// segments from spoofed sources written straight into the peer side of an
// in-memory pair, a batch per loop turn. The stack routes its answers to
// spoofed, off-link sources through the peer (its gateway).

import { strict as assert } from 'node:assert';
import { checksumUpdate16, checksumUpdate32 } from '../../../src/wire/checksum';
import { ETHERTYPE_IPV4, ETHERNET_HEADER_LEN } from '../../../src/wire/ethernet';
import { IP_PROTOCOL_TCP } from '../../../src/wire/ipv4';
import { fixIpv4Checksum, flood } from '../../helpers/flood';
import { PEER_IP, StackFixture, ethernetFrame, ip, pattern } from '../iface/peer';
import type { TcpOptions } from '../../../src/tcp/config';
import { ACK, Established, FIN, SYN, tcpPacket } from './harness';

const INSERTS = 1_000_000;
const IP_AT = ETHERNET_HEADER_LEN;
const TCP_AT = IP_AT + 20;
/** The first spoofed source: 11.0.0.0 and up, off the stack's link. */
const SPOOFED_BASE = ip('11.0.0.0');

/** A stack at 198.18.0.1/24 routing off-link answers through the peer, with these TCP settings. */
function routedStack(tcp: TcpOptions): StackFixture {
  const fixture = new StackFixture({ gateway: PEER_IP, tcp }, { frameCount: 4096 });
  fixture.start();
  fixture.introduce();
  return fixture;
}

/** A segment frame from SPOOFED_BASE to `port`, to be patched by `spoof`. */
function segmentFrame(port: number, seq: number, ack: number, flags: number): Uint8Array {
  return ethernetFrame(tcpPacket({ seq, ack, flags, sourcePort: 40000, destinationPort: port, mss: flags & SYN ? 1460 : undefined }, SPOOFED_BASE));
}

/** Make the segment at `offset` come from spoofed source `i` (address SPOOFED_BASE + i), its checksums kept right. */
function spoof(view: DataView, offset: number, i: number): void {
  const source = (SPOOFED_BASE + i) >>> 0;
  view.setUint32(offset + IP_AT + 12, source);
  fixIpv4Checksum(view, offset + IP_AT);
  view.setUint16(offset + TCP_AT + 16, checksumUpdate32(view.getUint16(offset + TCP_AT + 16), SPOOFED_BASE, source));
}

/** Set a 32-bit TCP field (seq at 4, ack at 8) of the segment at `offset`, its checksum kept right. */
function setTcp32(view: DataView, offset: number, field: number, value: number): void {
  const old = view.getUint32(offset + TCP_AT + field);
  view.setUint32(offset + TCP_AT + field, value >>> 0);
  view.setUint16(offset + TCP_AT + 16, checksumUpdate32(view.getUint16(offset + TCP_AT + 16), old, value >>> 0));
}

/** The spoofed source index and ISN of a SYN-ACK the stack sent, or -1 for any other frame. */
function readSynAck(view: DataView, offset: number, isns: Uint32Array): number {
  if (view.getUint16(offset + 12) !== ETHERTYPE_IPV4 || view.getUint8(offset + IP_AT + 9) !== IP_PROTOCOL_TCP) return -1;
  const at = offset + IP_AT + (view.getUint8(offset + IP_AT) & 0x0f) * 4;
  if ((view.getUint8(at + 13) & (SYN | ACK)) !== (SYN | ACK)) return -1;
  const index = (view.getUint32(offset + IP_AT + 16) - SPOOFED_BASE) >>> 0;
  if (index >= isns.length) return -1;
  isns[index] = view.getUint32(at + 4);
  return index;
}

describe('tcp limits: each bound holds under 1,000,000 inserts', function () {
  this.timeout(300000);
  let fixture: StackFixture | undefined;
  afterEach(() => fixture?.close());

  it('SYN flood: 1,000,000 SYNs from spoofed sources keep each SYN queue at its backlog and the table at maxConnections, the rest answered with cookies, through one loop timer', () => {
    // Port 80 (three SYNs in four) fills its SYN queue at its backlog; port 81's backlog is larger than what the table has room for.
    fixture = routedStack({ maxConnections: 1000 });
    const tcp = fixture.iface.tcp;
    const small = tcp.listen(80, 511);
    const large = tcp.listen(81, 4096);
    const timers = fixture.iface.loop.timers;
    const timersBefore = timers.size;
    const template = segmentFrame(80, 1000, 0, SYN);
    const patch = (view: DataView, offset: number, i: number): void => {
      spoof(view, offset, i);
      if ((i & 3) === 3) {
        view.setUint16(offset + TCP_AT + 2, 81);
        view.setUint16(offset + TCP_AT + 16, checksumUpdate16(view.getUint16(offset + TCP_AT + 16), 80, 81));
      }
    };
    let largestSmall = 0;
    let largestTable = 0;
    let largestTimers = 0;
    let answered = 0;
    const isns = new Uint32Array(INSERTS);
    const seen = new Uint8Array(INSERTS);
    flood(fixture, template, INSERTS, patch, 1, () => {
      if (small.synQueueLength > largestSmall) largestSmall = small.synQueueLength;
      if (tcp.connectionCount > largestTable) largestTable = tcp.connectionCount;
      if (timers.size > largestTimers) largestTimers = timers.size;
    }, (view, offset) => {
      const index = readSynAck(view, offset, isns);
      if (index >= 0 && seen[index] === 0) {
        seen[index] = 1;
        answered++;
      }
    });
    const counters = fixture.iface.counters();
    assert.equal(largestSmall, 511, 'port 80: its backlog of half-open connections');
    assert.equal(largestTable, 1000, 'maxConnections');
    assert.equal(large.synQueueLength, 1000 - 511);
    assert.equal(counters.tcpSynCookiesSent, INSERTS - 1000);
    assert.equal(answered, INSERTS, 'every SYN answered');
    assert.ok(largestTimers <= timersBefore + 1, `${largestTimers} loop timers (${timersBefore} before): TCP holds one`);
    // Five SYN-ACK retries (1, 2, 4, 8, 16 s), then the half-open connections give up, 63 s after their SYN.
    for (let second = 0; second < 64; second++) fixture.advance(1000);
    assert.equal(tcp.connectionCount, 0);
    assert.equal(fixture.iface.counters().tcpHalfOpenTimeouts, 1000);
    assert.equal(tcp.timers.size, 0, 'no TCP deadline left');
    assert.ok(timers.size <= timersBefore, `${timers.size} loop timers`);
  });

  it('accept queue: 1,000,000 handshakes from spoofed sources, the user taking a few a turn, keep it at its backlog, the rest dropped as overflows', () => {
    fixture = routedStack({});
    const tcp = fixture.iface.tcp;
    const listener = tcp.listen(80, 64);
    const isns = new Uint32Array(INSERTS);
    const syn = segmentFrame(80, 1000, 0, SYN);
    const ack = segmentFrame(80, 1001, 0, ACK);
    let largestAccept = 0;
    let largestTable = 0;
    let accepted = 0;
    const BATCH = 64;
    for (let first = 0; first < INSERTS; first += BATCH) {
      const last = Math.min(INSERTS, first + BATCH);
      const batch: number[] = [];
      flood(fixture, syn, last - first, (view, offset, n) => spoof(view, offset, first + n), 1, () => undefined, (view, offset) => {
        const index = readSynAck(view, offset, isns);
        if (index >= 0) batch.push(index);
      });
      if (batch.length > 0) {
        flood(fixture, ack, batch.length, (view, offset, n) => {
          spoof(view, offset, batch[n]);
          setTcp32(view, offset, 8, isns[batch[n]] + 1);
        }, 0, () => undefined);
      }
      if (listener.acceptQueue.length > largestAccept) largestAccept = listener.acceptQueue.length;
      if (tcp.connectionCount > largestTable) largestTable = tcp.connectionCount;
      // The user takes up to 8 a turn and resets them.
      for (let n = 0; n < 8; n++) {
        const connection = listener.accept();
        if (connection === null) break;
        connection.abort(fixture.clock.nowMs());
        accepted++;
      }
    }
    fixture.run();
    const counters = fixture.iface.counters();
    assert.equal(largestAccept, 64, 'the backlog');
    assert.ok(largestTable <= 2 * 64, `${largestTable} connections: the accept queue and the SYN queue`);
    assert.equal(counters.tcpPassiveOpens, accepted + listener.acceptQueue.length);
    assert.ok(counters.tcpListenOverflows > INSERTS / 2, `${counters.tcpListenOverflows} overflows`);
    assert.ok(accepted > INSERTS / 10, `${accepted} accepted`);
  });

  it('TIME-WAIT: 1,000,000 connections closed by the stack first keep at most maxTimeWait in TIME-WAIT, the rest closed at once', () => {
    fixture = routedStack({ maxTimeWait: 1000 });
    const tcp = fixture.iface.tcp;
    const listener = tcp.listen(80, 4096);
    const isns = new Uint32Array(INSERTS);
    const syn = segmentFrame(80, 1000, 0, SYN);
    const ack = segmentFrame(80, 1001, 0, ACK);
    // The peer's answer to the stack's FIN: its own FIN, acknowledging the stack's (ISN + 2).
    const finAck = segmentFrame(80, 1001, 0, ACK | FIN);
    let largestTimeWait = 0;
    let largestTable = 0;
    const BATCH = 64;
    for (let first = 0; first < INSERTS; first += BATCH) {
      const count = Math.min(INSERTS, first + BATCH) - first;
      flood(fixture, syn, count, (view, offset, n) => spoof(view, offset, first + n), 1, () => undefined, (view, offset) => void readSynAck(view, offset, isns));
      flood(fixture, ack, count, (view, offset, n) => {
        spoof(view, offset, first + n);
        setTcp32(view, offset, 8, isns[first + n] + 1);
      }, 0, () => undefined);
      for (let connection = listener.accept(); connection !== null; connection = listener.accept()) connection.shutdown(fixture.clock.nowMs());
      fixture.run();
      flood(fixture, finAck, count, (view, offset, n) => {
        spoof(view, offset, first + n);
        setTcp32(view, offset, 8, isns[first + n] + 2);
      }, 0, () => undefined);
      if (tcp.timeWaitConnections > largestTimeWait) largestTimeWait = tcp.timeWaitConnections;
      if (tcp.connectionCount > largestTable) largestTable = tcp.connectionCount;
    }
    const counters = fixture.iface.counters();
    assert.equal(counters.tcpPassiveOpens, INSERTS);
    assert.equal(largestTimeWait, 1000, 'maxTimeWait');
    assert.ok(largestTable <= 1000 + 64, `${largestTable} connections`);
    assert.equal(counters.tcpTimeWaitOverflow, INSERTS - 1000);
    let timeWait = 0;
    for (const connection of tcp.connections()) if (connection.stateName === 'TIME-WAIT') timeWait++;
    assert.equal(timeWait, 1000, 'the count agrees with the states');
    fixture.advance(60_000);
    assert.equal(tcp.connectionCount, 0, 'TIME-WAIT ends after 2 MSL');
  });

  it('out-of-order data: 1,000,000 segments at scattered places in the window keep at most maxOutOfOrderRanges ranges, the rest dropped', () => {
    const e = new Established({ maxOutOfOrderRanges: 64 });
    fixture = e.peer.fixture;
    const receiveBuffer = e.connection.receiveBuffer;
    assert.ok(receiveBuffer !== null);
    const byte = pattern(1);
    // Single bytes at odd offsets past a hole at RCV.NXT, within the 64 KiB the peer's window allows.
    const template = ethernetFrame(tcpPacket({ seq: e.peerNext + 1, ack: e.stackNext, flags: ACK, payload: byte }));
    let largestRanges = 0;
    let state = 1;
    flood(fixture, template, INSERTS, (view, offset) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      setTcp32(view, offset, 4, e.peerNext + 1 + 2 * ((state >>> 8) % 30000));
    }, 0, () => {
      if (receiveBuffer.outOfOrderRanges > largestRanges) largestRanges = receiveBuffer.outOfOrderRanges;
    });
    const counters = fixture.iface.counters();
    assert.equal(largestRanges, 64);
    assert.ok(counters.tcpOutOfOrderDropped > INSERTS / 2, `${counters.tcpOutOfOrderDropped} dropped`);
    assert.equal(e.connection.stateName, 'ESTABLISHED');
  });
});
