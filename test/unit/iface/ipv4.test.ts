import { strict as assert } from 'node:assert';
import { createSocket } from '../../../src/socket/udp';
import { ICMPV4_DESTINATION_UNREACHABLE, ICMPV4_ECHO_REPLY, ICMPV4_TIME_EXCEEDED } from '../../../src/wire/icmpv4';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP, Ipv4Repr } from '../../../src/wire/ipv4';
import {
  PEER_ADDRESS, PEER_IP, STACK_ADDRESS, StackFixture, decodeTransport, echoRequest, fragment, ip, ipv4Packet, pattern,
  reassemble, udpDatagram, type SentFrame,
} from './peer';

/** A 4000-byte ping (as `ping -s 4000`) as an IPv4 packet. */
function bigPing(identification: number, sequence = 1, size = 4000): Uint8Array {
  return ipv4Packet({ protocol: IP_PROTOCOL_ICMP, identification, payload: echoRequest(0x4242, sequence, pattern(size, sequence)) });
}

/** Decode the datagram carried by a set of fragments. */
function wholeDatagram(frames: SentFrame[]): SentFrame {
  const first = frames.find((f) => f.ip?.repr.fragmentOffsetBytes === 0) as SentFrame;
  const out: SentFrame = { ...first };
  decodeTransport(out, first.ip?.repr as Ipv4Repr, reassemble(frames));
  return out;
}

describe('iface/ipv4', () => {
  let fixture: StackFixture;
  beforeEach(() => {
    fixture = new StackFixture();
    fixture.start();
    fixture.introduce();
  });
  afterEach(() => fixture.close());

  describe('reassembly', () => {
    it('reassembles a fragmented 4,000-byte ping in any order and answers it with identical data, fragmented', () => {
      const [a, b, c] = fragment(bigPing(7), 1480);
      const sent = fixture.exchangeIpv4(c, a, b);
      assert.equal(sent.length, 3, 'the reply is cut to the MTU');
      for (const frame of sent) {
        assert.ok(frame.bytes.length <= 1514);
        assert.ok(frame.ip?.checksumOk);
        assert.equal(frame.ip?.repr.identification, sent[0].ip?.repr.identification);
      }
      const reply = wholeDatagram(sent);
      assert.equal(reply.icmp?.type, ICMPV4_ECHO_REPLY);
      assert.equal(reply.icmp?.identifier, 0x4242);
      assert.equal(reply.icmp?.sequence, 1);
      assert.ok(reply.icmp?.checksumOk);
      assert.deepEqual(reply.icmp?.data, pattern(4000, 1));
      const counters = fixture.iface.counters();
      assert.equal(counters.ipv4FragmentsReceived, 3);
      assert.equal(counters.ipv4Reassembled, 1);
      assert.equal(counters.ipv4Fragmented, 1);
      assert.equal(counters.ipv4FragmentsSent, 3);
      assert.equal(fixture.iface.reassembler.pending, 0);
    });

    it('answers a ping larger than the MTU, in one frame the link allowed, with identical data in fragments, as Linux does', () => {
      const sent = fixture.exchangeIpv4(bigPing(9, 3, 1700));
      assert.deepEqual(sent.map((f) => [f.ip?.repr.fragmentOffsetBytes, f.ip?.repr.moreFragments, f.bytes.length]), [[0, true, 1514], [1480, false, 262]]);
      const reply = wholeDatagram(sent);
      assert.equal(reply.icmp?.type, ICMPV4_ECHO_REPLY);
      assert.equal(reply.icmp?.sequence, 3);
      assert.ok(reply.icmp?.checksumOk);
      assert.deepEqual(reply.icmp?.data, pattern(1700, 3));
      const counters = fixture.iface.counters();
      assert.deepEqual([counters.ipv4FragmentsReceived, counters.icmpEchoRepliesSent, counters.ipv4Fragmented, counters.ipv4FragmentsSent], [0, 1, 1, 2]);
    });

    it('reassembles the largest datagram IPv4 allows', () => {
      const packet = bigPing(8, 2, 65515 - 8);
      const sent = fixture.exchangeIpv4(...fragment(packet, 1480));
      assert.equal(sent.length, Math.ceil(65515 / 1480));
      assert.deepEqual(wholeDatagram(sent).icmp?.data, pattern(65515 - 8, 2));
    });

    it('drops a datagram not complete 30 s after its first fragment, answering time exceeded', () => {
      const [first, second] = fragment(bigPing(9), 1480);
      assert.deepEqual(fixture.exchangeIpv4(first, second), []);
      assert.equal(fixture.iface.reassembler.pending, 1);
      assert.deepEqual(fixture.advance(29_999), []);
      // (The neighbor entry went stale meanwhile, so a re-confirming ARP request goes out too.)
      const sent = fixture.advance(1).filter((f) => f.ip !== undefined);
      assert.equal(sent.length, 1);
      assert.equal(sent[0].icmp?.type, ICMPV4_TIME_EXCEEDED);
      assert.equal(sent[0].icmp?.code, 1);
      assert.ok(sent[0].icmp?.checksumOk);
      // The quote starts with the first fragment's header.
      assert.deepEqual(sent[0].icmp?.data.subarray(0, 20), first.subarray(0, 20));
      assert.equal(fixture.iface.counters().reassemblyTimeout, 1);
      assert.equal(fixture.iface.reassembler.pending, 0);
    });

    it('times out silently when the first fragment never came', () => {
      const [, second, third] = fragment(bigPing(10), 1480);
      fixture.exchangeIpv4(second, third);
      assert.deepEqual(fixture.advance(30_000), []);
      assert.equal(fixture.iface.counters().reassemblyTimeout, 1);
    });

    it('holds at most maxDatagrams datagrams, evicting the oldest', () => {
      fixture.close();
      fixture = new StackFixture({ reassembly: { maxDatagrams: 4 } });
      fixture.start();
      fixture.introduce();
      const pings = Array.from({ length: 10 }, (_, i) => fragment(bigPing(100 + i, i), 1480));
      for (let i = 0; i < 10; i++) {
        fixture.advance(1);
        fixture.exchangeIpv4(pings[i][0]);
      }
      assert.equal(fixture.iface.reassembler.pending, 4);
      assert.equal(fixture.iface.counters().reassemblyEvicted, 6);
      assert.ok(fixture.iface.reassembler.memoryBytes <= 4 * (60 + 65515 + 8192));
      // The four newest still complete; the evicted ones cannot.
      const completed = fixture.exchangeIpv4(...[9, 8, 7, 6].flatMap((i) => pings[i].slice(1)));
      assert.equal(completed.length, 4 * 3);
      assert.equal(fixture.iface.counters().ipv4Reassembled, 4);
      assert.deepEqual(fixture.exchangeIpv4(...[0, 1, 2, 3, 4, 5].flatMap((i) => pings[i].slice(1))), []);
    });

    it('drops the whole datagram when fragments overlap, and ignores exact duplicates', () => {
      const [a, b, c] = fragment(bigPing(11), 1480);
      fixture.exchangeIpv4(a, a);
      assert.equal(fixture.iface.counters().reassemblyDuplicate, 1);
      const overlapping = ipv4Packet({ protocol: IP_PROTOCOL_ICMP, identification: 11, payload: new Uint8Array(16), fragmentOffsetBytes: 1472, moreFragments: true });
      fixture.exchangeIpv4(overlapping);
      assert.equal(fixture.iface.counters().reassemblyOverlap, 1);
      assert.equal(fixture.iface.reassembler.pending, 0);
      assert.deepEqual(fixture.exchangeIpv4(b, c), [], 'the rest does not complete a dropped datagram');
    });

    it('refuses fragments of bad length or reaching past 64 KiB', () => {
      fixture.exchangeIpv4(ipv4Packet({ protocol: IP_PROTOCOL_ICMP, identification: 12, payload: new Uint8Array(100), moreFragments: true }));
      fixture.exchangeIpv4(ipv4Packet({ protocol: IP_PROTOCOL_ICMP, identification: 13, payload: new Uint8Array(104), fragmentOffsetBytes: 65512 }));
      const counters = fixture.iface.counters();
      assert.equal(counters.reassemblyBadFragment, 1);
      assert.equal(counters.reassemblyTooLarge, 1);
      assert.equal(fixture.iface.reassembler.pending, 0);
    });
  });

  describe('output', () => {
    it('fragments a datagram larger than the MTU: offsets in 8-byte units, one identification, MF on all but the last', () => {
      const socket = createSocket(fixture.iface).bind(5000);
      const payload = pattern(4000, 3);
      socket.send(payload, 6000, PEER_IP);
      const sent = fixture.run();
      assert.deepEqual(sent.map((f) => f.ip?.repr.fragmentOffsetBytes), [0, 1480, 2960]);
      assert.deepEqual(sent.map((f) => f.ip?.repr.moreFragments), [true, true, false]);
      assert.deepEqual(sent.map((f) => f.ip?.payload.length), [1480, 1480, 1048]);
      for (const frame of sent) {
        assert.equal(frame.ip?.repr.identification, sent[0].ip?.repr.identification);
        assert.ok(frame.ip?.checksumOk);
        assert.equal(frame.ip?.repr.protocol, IP_PROTOCOL_UDP);
        assert.equal(frame.ip?.repr.timeToLive, 64);
      }
      const datagram = wholeDatagram(sent);
      assert.ok(datagram.udp?.checksumOk);
      assert.deepEqual(datagram.udp?.payload, payload);
    });

    it('honours a smaller MTU', () => {
      fixture.close();
      fixture = new StackFixture({ mtu: 576 });
      fixture.start();
      fixture.introduce();
      createSocket(fixture.iface).bind(5000).send(pattern(1000), 6000, PEER_IP);
      const sent = fixture.run();
      assert.deepEqual(sent.map((f) => f.ip?.payload.length), [552, 456]);
      assert.ok(sent.every((f) => f.bytes.length <= 576 + 14));
    });

    it('gives each datagram a new identification', () => {
      const socket = createSocket(fixture.iface).bind(5000);
      for (let i = 0; i < 3; i++) socket.send(pattern(10), 6000, PEER_IP);
      const ids = fixture.run().map((f) => f.ip?.repr.identification as number);
      assert.deepEqual(ids, [ids[0], (ids[0] + 1) & 0xffff, (ids[0] + 2) & 0xffff]);
    });

    it('sends to the gateway for off-link destinations, and counts a missing route', () => {
      const socket = createSocket(fixture.iface).bind(5000);
      assert.equal(socket.send(pattern(10), 6000, '198.19.1.1'), false);
      assert.equal(fixture.iface.counters().ipv4NoRoute, 1);
      fixture.close();
      fixture = new StackFixture({ gateway: PEER_IP });
      fixture.start();
      fixture.introduce();
      createSocket(fixture.iface).bind(5000).send(pattern(10), 6000, '198.19.1.1');
      const [frame] = fixture.run();
      assert.equal(frame.destination, fixture.peer.mac);
      assert.equal(frame.ip?.repr.destination, ip('198.19.1.1'));
    });

    it('sends broadcasts to the broadcast MAC without resolving', () => {
      createSocket(fixture.iface).bind(5000).send(pattern(10), 6000, '198.18.0.255');
      const [frame] = fixture.run();
      assert.equal(frame.destination, 0xffffffffffff);
      assert.equal(frame.ip?.repr.destination, ip('198.18.0.255'));
    });
  });

  describe('input checks', () => {
    it('accepts datagrams to our address and to broadcast, and drops the rest as not for us', () => {
      const socket = createSocket(fixture.iface).bind(7000);
      let received = 0;
      socket.on('message', () => received++);
      fixture.exchangeIpv4(ipv4Packet({ protocol: IP_PROTOCOL_UDP, payload: udpDatagram(1, 7000, pattern(4)) }));
      fixture.exchangeIpv4(ipv4Packet({ protocol: IP_PROTOCOL_UDP, destination: ip('198.18.0.255'), payload: udpDatagram(1, 7000, pattern(4), PEER_ADDRESS, ip('198.18.0.255')) }));
      fixture.exchangeIpv4(ipv4Packet({ protocol: IP_PROTOCOL_UDP, destination: ip('255.255.255.255'), payload: udpDatagram(1, 7000, pattern(4), PEER_ADDRESS, ip('255.255.255.255')) }));
      fixture.exchangeIpv4(ipv4Packet({ protocol: IP_PROTOCOL_UDP, destination: ip('198.18.0.3'), payload: udpDatagram(1, 7000, pattern(4), PEER_ADDRESS, ip('198.18.0.3')) }));
      assert.equal(received, 3);
      assert.equal(fixture.iface.counters().ipv4NotForUs, 1);
    });

    it('answers an unknown protocol with protocol unreachable', () => {
      const packet = ipv4Packet({ protocol: 253, payload: pattern(30) });
      const [frame] = fixture.exchangeIpv4(packet);
      assert.equal(frame.icmp?.type, ICMPV4_DESTINATION_UNREACHABLE);
      assert.equal(frame.icmp?.code, 2);
      assert.deepEqual(frame.icmp?.data, packet);
      assert.equal(fixture.iface.counters().ipv4UnknownProtocol, 1);
    });

    it('ignores Ethernet padding after Total Length', () => {
      const packet = ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: echoRequest(1, 1, new Uint8Array(0)) });
      const padded = new Uint8Array(46);
      padded.set(packet);
      const [reply] = fixture.exchangeIpv4(padded);
      assert.equal(reply.icmp?.type, ICMPV4_ECHO_REPLY);
      assert.equal(reply.bytes.length, 14 + 28);
      assert.equal(reply.ip?.repr.source, STACK_ADDRESS);
      assert.equal(reply.ip?.repr.destination, PEER_ADDRESS);
    });
  });
});
