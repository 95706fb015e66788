// 1,000,000 mutated segments at a host that listens and holds an
// established connection: nothing throws, every frame ends in a counter
// (every TCP segment in exactly one of accepted or a drop reason), memory
// stays bounded, and afterwards the connection still carries data both
// ways and the listener still accepts.
//
// Segments start from valid ones (SYNs to the listener, data, ACKs, FINs
// and RSTs on the connection, with and without options) and are mutated:
// flipped bits, random fields, sequence and acknowledgment numbers near the
// window edges, random options and data offsets, cut or stretched lengths.
// Most get a correct checksum so that they reach the state machine. Left
// out are the two segments that may rightly end the connection: a RST at
// exactly RCV.NXT and a FIN inside the window.

import { strict as assert } from 'node:assert';
import { IPV4_HEADER_LEN, IP_PROTOCOL_TCP } from '../../../src/wire/ipv4';
import { internetChecksum, internetChecksumSum, ipv4PseudoHeaderSumFromAddrs } from '../../../src/wire/checksum';
import { seqDiff } from '../../../src/tcp/seq';
import { Prng } from '../../fixtures/wire/util';
import { PEER_ADDRESS, STACK_ADDRESS, ethernetFrame, ipv4Packet } from '../iface/peer';
import { ACK, Established, FIN, PEER_PORT, PSH, RST, STACK_PORT, SYN, TCP_DROP_REASONS, tcpBytes, tcpFates } from './harness';

const SEGMENTS = 1_000_000;
const BATCH = 64;
const FLAG_CHOICES = [SYN, ACK, ACK | PSH, ACK | FIN, RST, RST | ACK, SYN | ACK, FIN, 0, PSH, 0x1ff];
const IPV4_DROPS = ['ipv4TooShort', 'ipv4BadVersion', 'ipv4BadHeaderLength', 'ipv4BadTotalLength', 'ipv4BadChecksum', 'ipv4BadSource', 'ipv4NotForUs', 'ipv4TtlZero'] as const;

describe('tcp/fuzz', function () {
  this.timeout(600_000);

  it(`survives ${SEGMENTS.toLocaleString('en')} mutated segments, counts every frame, and still works`, () => {
    const e = new Established({ maxConnections: 4096 }, { sackPermitted: true, timestamps: true, windowScale: 7 });
    try {
      const { peer, connection } = e;
      const fixture = peer.fixture;
      const prng = new Prng(2024);
      const iface = fixture.iface;
      const frame = new Uint8Array(2048);
      let thrown = 0;
      let framesSent = 0;
      const payload = new Uint8Array(1200);
      for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;

      /** One mutated segment, as an Ethernet frame, into `frame`; returns its length. */
      const mutate = (): number => {
        const toConnection = prng.chance(0.6);
        const flags = FLAG_CHOICES[prng.below(FLAG_CHOICES.length)];
        const rcvNxt = connection.rcvNxt;
        const sndUna = connection.sndUna;
        let seq: number;
        switch (prng.below(5)) {
          case 0: seq = prng.nextU32(); break;
          case 1: seq = rcvNxt + prng.below(2000) - 1000; break;
          case 2: seq = rcvNxt + prng.below(1 << 20); break;
          case 3: seq = rcvNxt - prng.below(1 << 20); break;
          default: seq = rcvNxt; break;
        }
        let ack: number;
        switch (prng.below(4)) {
          case 0: ack = prng.nextU32(); break;
          case 1: ack = sndUna + prng.below(200) - 100; break;
          case 2: ack = sndUna - prng.below(1 << 24); break;
          default: ack = sndUna; break;
        }
        const bytes = tcpBytes({
          sourcePort: toConnection ? PEER_PORT : prng.chance(0.5) ? 1 + prng.below(65535) : 50000 + prng.below(64),
          destinationPort: toConnection ? STACK_PORT : prng.chance(0.8) ? STACK_PORT : prng.below(65536),
          seq, ack, flags,
          window: prng.below(65536),
          payload: payload.subarray(0, prng.chance(0.5) ? prng.below(payload.length) : 0),
          mss: prng.chance(0.3) ? prng.below(65536) : undefined,
          windowScale: prng.chance(0.3) ? prng.below(20) : undefined,
          sackPermitted: prng.chance(0.3),
          timestamps: prng.chance(0.7) ? [prng.chance(0.8) ? e.peerClock + prng.below(100) : prng.nextU32(), prng.nextU32()] : undefined,
          sack: prng.chance(0.2) ? [[sndUna + prng.below(100000), sndUna + prng.below(100000)]] : undefined,
        });
        // Bit flips and random bytes in the header and options.
        const flips = prng.below(4);
        for (let f = 0; f < flips; f++) {
          const at = prng.below(Math.min(bytes.length, 60));
          bytes[at] ^= 1 << prng.below(8);
        }
        if (prng.chance(0.05)) bytes[12] = prng.below(256);
        if (prng.chance(0.05) && bytes.length > 20) for (let at = 20; at < Math.min(bytes.length, 60); at++) bytes[at] = prng.below(256);
        // Keep the connection alive: no RST at RCV.NXT, no FIN in the window (see the header).
        const tcpView = new DataView(bytes.buffer);
        const flagsNow = tcpView.getUint16(12) & 0x1ff;
        const samePorts = tcpView.getUint16(0) === PEER_PORT && tcpView.getUint16(2) === STACK_PORT;
        // (In-window data earlier in the same batch moves RCV.NXT on by up to 64 segments.)
        const ahead = seqDiff(tcpView.getUint32(4), rcvNxt);
        if (samePorts && (flagsNow & RST) && ahead >= 0 && ahead < BATCH * payload.length) tcpView.setUint32(4, (rcvNxt + BATCH * payload.length + prng.below(1000)) >>> 0);
        if (samePorts && (flagsNow & FIN) && Math.abs(seqDiff(tcpView.getUint32(4), rcvNxt)) < (1 << 24)) tcpView.setUint16(12, tcpView.getUint16(12) & ~FIN);
        // Lengths: cut or stretch the segment.
        let length = bytes.length;
        if (prng.chance(0.05)) length = prng.below(length + 1);
        const packet = ipv4Packet({ protocol: IP_PROTOCOL_TCP, payload: bytes.subarray(0, length) });
        const tcpAt = IPV4_HEADER_LEN;
        const packetView = new DataView(packet.buffer);
        // Checksum: right (most), wrong, or partial (only the pseudo-header sum).
        const pseudo = ipv4PseudoHeaderSumFromAddrs(PEER_ADDRESS, STACK_ADDRESS, IP_PROTOCOL_TCP, length);
        if (length >= 18) {
          const choice = prng.below(20);
          packetView.setUint16(tcpAt + 16, 0);
          if (choice < 17) packetView.setUint16(tcpAt + 16, ~internetChecksumSum(packetView, tcpAt, length, pseudo) & 0xffff);
          else if (choice < 19) packetView.setUint16(tcpAt + 16, prng.below(65536));
          else packetView.setUint16(tcpAt + 16, pseudo);
        }
        if (prng.chance(0.01)) {
          packetView.setUint16(2, packetView.getUint16(2) + 1 + prng.below(10));
          packetView.setUint16(10, 0);
          packetView.setUint16(10, internetChecksum(packetView, 0, IPV4_HEADER_LEN));
        }
        const ethernet = ethernetFrame(packet);
        frame.set(ethernet);
        return ethernet.length;
      };

      const sumIpv4Drops = (c: ReturnType<typeof iface.counters>): number => IPV4_DROPS.reduce((total, name) => total + c[name], 0);
      let before = iface.counters();
      for (let sent = 0; sent < SEGMENTS; sent += BATCH) {
        for (let i = 0; i < BATCH; i++) {
          const length = mutate();
          const offset = fixture.peerDevice.allocTx();
          fixture.peerDevice.bytes.set(frame.subarray(0, length), offset);
          fixture.peerDevice.transmit(offset, length);
          framesSent++;
        }
        fixture.peerDevice.flush();
        try {
          fixture.clock.advance(1);
          iface.loop.turn();
          iface.flush();
        } catch {
          thrown++;
        }
        // What the stack answered is thrown away unread.
        fixture.peerDevice.receive(1 << 20, () => undefined);
        const after = iface.counters();
        assert.equal(after.framesReceived - before.framesReceived, BATCH, 'every frame reached the stack');
        const tcp = after.tcpSegmentsReceived - before.tcpSegmentsReceived;
        assert.equal(tcp + sumIpv4Drops(after) - sumIpv4Drops(before), BATCH, 'every frame ended in TCP or in an IPv4 drop counter');
        assert.equal(tcpFates(after) - tcpFates(before), tcp, 'every TCP segment ended in exactly one counter');
        before = after;
      }
      assert.equal(thrown, 0);
      const counters = iface.counters();
      assert.equal(counters.framesReceived >= framesSent, true);
      // Bounded: connections never beyond the limit, the SYN queue by its backlog.
      assert.ok(iface.tcp.connectionCount <= 4096, `connections ${iface.tcp.connectionCount}`);
      assert.ok(e.listener.synQueueLength <= e.listener.backlog);
      const reasons = TCP_DROP_REASONS.filter((name) => counters[name] > 0);
      assert.ok(reasons.length >= 12, `drop reasons seen: ${reasons.join(', ')}`);
      assert.ok(counters.tcpSegmentsAccepted > 10000, `accepted ${counters.tcpSegmentsAccepted}`);

      // The connection survived and works both ways.
      assert.equal(connection.stateName, 'ESTABLISHED', `the connection ended: ${connection.error}`);
      e.peerNext = connection.rcvNxt;
      e.stackNext = connection.sndNxt;
      // The fuzz moved TS.Recent to whatever timestamps it sent in sequence; the peer carries on from there.
      e.peerClock = (connection.tsRecent + 1000) >>> 0;
      const received = e.user.received.length;
      e.data(Buffer.from('after the storm'));
      assert.equal(e.user.received.subarray(received).toString(), 'after the storm');
      connection.write(Buffer.from('still here'), 0, 10, e.now);
      const sent = e.collect().filter((s) => s.payload.length > 0);
      assert.ok(sent.some((s) => Buffer.from(s.payload).toString().endsWith('still here')), 'the stack sends on the connection');
      // And the listener still takes new connections.
      const [synAck] = peer.send({ seq: 1, flags: SYN, sourcePort: 999 });
      assert.ok(synAck !== undefined && (synAck.flags & (SYN | ACK)) === (SYN | ACK));
    } finally {
      e.close();
    }
  });
});
