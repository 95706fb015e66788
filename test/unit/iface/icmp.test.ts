import { strict as assert } from 'node:assert';
import { ICMPV4_DESTINATION_UNREACHABLE, ICMPV4_ECHO_REPLY } from '../../../src/wire/icmpv4';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP } from '../../../src/wire/ipv4';
import {
  BROADCAST_MAC, PEER_ADDRESS, STACK_ADDRESS, StackFixture, echoRequest, fragment, ip, ipv4Packet, pattern, udpDatagram,
} from './peer';

function ping(size: number, sequence = 1, extra: Partial<Parameters<typeof ipv4Packet>[0]> = {}): Uint8Array {
  return ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: echoRequest(0x1d, sequence, pattern(size, sequence)), ...extra });
}

function toClosedPort(sourcePort = 40000, source = PEER_ADDRESS, destination = STACK_ADDRESS): Uint8Array {
  return ipv4Packet({ protocol: IP_PROTOCOL_UDP, source, destination, payload: udpDatagram(sourcePort, 9, pattern(12), source, destination) });
}

describe('iface/icmp', () => {
  let fixture: StackFixture;
  beforeEach(() => {
    fixture = new StackFixture();
    fixture.start();
    fixture.introduce();
  });
  afterEach(() => fixture.close());

  describe('echo', () => {
    for (const size of [0, 56, 1400, 1472]) {
      it(`answers a ${size}-byte ping in the request's own buffer, with identical data`, () => {
        const freeBefore = fixture.stackDevice.freeBuffers;
        const request = ping(size, 5);
        const [reply] = fixture.exchangeIpv4(request);
        assert.equal(reply.destination, fixture.peer.mac);
        assert.equal(reply.source, fixture.peer.stackMac);
        assert.equal(reply.ip?.repr.source, STACK_ADDRESS);
        assert.equal(reply.ip?.repr.destination, PEER_ADDRESS);
        assert.equal(reply.ip?.repr.timeToLive, 64);
        assert.ok(reply.ip?.checksumOk);
        assert.equal(reply.icmp?.type, ICMPV4_ECHO_REPLY);
        assert.equal(reply.icmp?.code, 0);
        assert.equal(reply.icmp?.identifier, 0x1d);
        assert.equal(reply.icmp?.sequence, 5);
        assert.ok(reply.icmp?.checksumOk);
        assert.deepEqual(reply.icmp?.data, pattern(size, 5));
        assert.equal(fixture.stackDevice.freeBuffers, freeBefore, 'replied in place: no transmit buffer taken');
        assert.equal(fixture.iface.counters().icmpEchoRepliesSent, 1);
      });
    }

    it('answers a ping with IP options from a new buffer, without the options', () => {
      const [reply] = fixture.exchangeIpv4(ping(100, 2, { options: new Uint8Array([1, 1, 1, 0]) }));
      assert.equal(reply.ip?.headerLength, 20);
      assert.deepEqual(reply.icmp?.data, pattern(100, 2));
      assert.ok(reply.icmp?.checksumOk);
    });

    it('ignores echo requests to a broadcast address', () => {
      assert.deepEqual(fixture.exchangeIpv4(ping(10, 1, { destination: ip('198.18.0.255') })), []);
      assert.deepEqual(fixture.exchangeIpv4(ping(10, 1, { destination: ip('255.255.255.255') })), []);
      assert.equal(fixture.iface.counters().icmpEchoBroadcastIgnored, 2);
    });
  });

  describe('errors', () => {
    it('answers UDP to a closed port with port unreachable quoting the datagram', () => {
      const datagram = toClosedPort();
      const [error] = fixture.exchangeIpv4(datagram);
      assert.equal(error.destination, fixture.peer.mac);
      assert.equal(error.ip?.repr.destination, PEER_ADDRESS);
      assert.equal(error.ip?.repr.source, STACK_ADDRESS);
      assert.equal(error.icmp?.type, ICMPV4_DESTINATION_UNREACHABLE);
      assert.equal(error.icmp?.code, 3);
      assert.ok(error.icmp?.checksumOk);
      assert.deepEqual(error.icmp?.data, datagram);
      const counters = fixture.iface.counters();
      assert.equal(counters.udpNoSocket, 1);
      assert.equal(counters.icmpErrorsSent, 1);
    });

    it('quotes at most what fits in 576 bytes', () => {
      const datagram = ipv4Packet({ protocol: IP_PROTOCOL_UDP, payload: udpDatagram(40000, 9, pattern(1000)) });
      const [error] = fixture.exchangeIpv4(datagram);
      assert.equal(error.ip?.repr.payloadLength, 576 - 20);
      assert.deepEqual(error.icmp?.data, datagram.subarray(0, 576 - 28));
    });

    it('limits errors to one destination to a burst of 6, then one a second', () => {
      let errors = 0;
      for (let i = 0; i < 20; i++) errors += fixture.exchangeIpv4(toClosedPort(40000 + i)).length;
      assert.equal(errors, 6);
      assert.equal(fixture.iface.counters().icmpRateLimitedDestination, 14);
      fixture.clock.advance(999);
      assert.equal(fixture.exchangeIpv4(toClosedPort()).length, 0);
      fixture.clock.advance(1);
      assert.equal(fixture.exchangeIpv4(toClosedPort()).length, 1);
      assert.equal(fixture.exchangeIpv4(toClosedPort()).length, 0);
      fixture.clock.advance(60_000);
      errors = 0;
      for (let i = 0; i < 20; i++) errors += fixture.exchangeIpv4(toClosedPort()).filter((f) => f.icmp !== undefined).length;
      assert.equal(errors, 6, 'the burst refills to 6, no more');
    });

    it('limits errors overall to a burst of 50', () => {
      for (let i = 0; i < 60; i++) fixture.peer.sendIpv4(toClosedPort(40000, ip(`198.18.0.${10 + i}`)));
      fixture.run();
      const counters = fixture.iface.counters();
      assert.equal(counters.udpNoSocket, 60);
      assert.equal(counters.icmpErrorsSent, 50);
      assert.equal(counters.icmpRateLimitedGlobal, 10);
    });

    it('never answers datagrams to broadcast addresses, IP or link layer', () => {
      const toBroadcast = ip('198.18.0.255');
      fixture.exchangeIpv4(toClosedPort(40000, PEER_ADDRESS, toBroadcast));
      assert.equal(fixture.iface.counters().udpBroadcastNoSocket, 1);
      fixture.peer.sendIpv4(toClosedPort(), BROADCAST_MAC);
      assert.deepEqual(fixture.run(), []);
      assert.equal(fixture.iface.counters().udpBroadcastNoSocket, 2);
      fixture.peer.sendIpv4(ipv4Packet({ protocol: 253, payload: pattern(8) }), BROADCAST_MAC);
      assert.deepEqual(fixture.run(), []);
      assert.equal(fixture.iface.counters().icmpErrorsSuppressed, 1);
      assert.equal(fixture.iface.counters().icmpErrorsSent, 0);
    });

    it('never answers an ICMP error with an ICMP error', () => {
      // An unreachable message in two fragments that never completes: no time exceeded about it.
      const error = ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: echoRequest(0, 0, pattern(2000), ICMPV4_DESTINATION_UNREACHABLE) });
      fixture.exchangeIpv4(fragment(error, 1480)[0]);
      const sent = fixture.advance(30_000);
      assert.equal(sent.filter((f) => f.icmp !== undefined).length, 0);
      const counters = fixture.iface.counters();
      assert.equal(counters.reassemblyTimeout, 1);
      assert.equal(counters.icmpErrorsSuppressed, 1);
    });

    it('counts ICMP errors it receives', () => {
      const error = ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: echoRequest(0, 0, toClosedPort().subarray(0, 28), ICMPV4_DESTINATION_UNREACHABLE) });
      assert.deepEqual(fixture.exchangeIpv4(error), []);
      assert.equal(fixture.iface.counters().icmpErrorsReceived, 1);
    });
  });
});
