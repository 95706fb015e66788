import { strict as assert } from 'node:assert';
import { createSocket, type UdpPayload, type UdpRemoteInfo } from '../../../src/socket/udp';
import { checksumUpdate32 } from '../../../src/wire/checksum';
import { ICMPV4_DESTINATION_UNREACHABLE } from '../../../src/wire/icmpv4';
import { IP_PROTOCOL_UDP } from '../../../src/wire/ipv4';
import { countGcEvents } from '../../helpers/gc';
import {
  PEER_ADDRESS, PEER_IP, STACK_ADDRESS, STACK_IP, StackFixture, ethernetFrame, fragment, ipv4Packet, pattern, reassemble, udpDatagram,
} from '../iface/peer';

function datagramTo(port: number, payload: Uint8Array, sourcePort = 40000): Uint8Array {
  return ipv4Packet({ protocol: IP_PROTOCOL_UDP, payload: udpDatagram(sourcePort, port, payload) });
}

describe('socket/udp', () => {
  let fixture: StackFixture;
  beforeEach(() => {
    fixture = new StackFixture({}, { poison: true });
    fixture.start();
    fixture.introduce();
  });
  afterEach(() => fixture.close());

  describe('receiving', () => {
    it("hands 'message' a payload view and remote info, valid during the callback, with a copy helper", () => {
      const socket = createSocket(fixture.iface).bind(7000);
      let copy: Buffer | null = null;
      let kept: UdpPayload | null = null;
      let seen: { address: string; port: number; size: number; family: string } | null = null;
      socket.on('message', (payload, rinfo) => {
        assert.deepEqual(payload.bytes.subarray(payload.offset, payload.offset + payload.length), pattern(300));
        assert.equal(payload.view.getUint8(payload.offset + 7), 7);
        copy = payload.copy();
        kept = payload;
        seen = { address: rinfo.address, port: rinfo.port, size: rinfo.size, family: rinfo.family };
        assert.equal(rinfo.addressNumber, PEER_ADDRESS);
      });
      fixture.exchangeIpv4(datagramTo(7000, pattern(300), 41000));
      assert.deepEqual(seen, { address: PEER_IP, port: 41000, size: 300, family: 'IPv4' });
      assert.deepEqual(new Uint8Array(copy as unknown as Buffer), pattern(300));
      // The frame went back to the device (poisoned): the view no longer shows the datagram.
      const view = kept as unknown as UdpPayload;
      assert.equal(view.bytes[view.offset], 0xa5);
      assert.equal(fixture.iface.counters().udpReceived, 1);
    });

    it('reuses the same payload and remote info objects for every datagram', () => {
      const socket = createSocket(fixture.iface).bind(7000);
      const payloads = new Set<UdpPayload>();
      const infos = new Set<UdpRemoteInfo>();
      socket.on('message', (payload, rinfo) => {
        payloads.add(payload);
        infos.add(rinfo);
      });
      fixture.exchangeIpv4(datagramTo(7000, pattern(10)), datagramTo(7000, pattern(20)), datagramTo(7000, pattern(30)));
      assert.equal(payloads.size, 1);
      assert.equal(infos.size, 1);
    });

    it('copies into a caller buffer and decodes text', () => {
      const socket = createSocket(fixture.iface).bind(7000);
      const target = new Uint8Array(8);
      let copied = -1;
      let text = '';
      socket.on('message', (payload) => {
        copied = payload.copyTo(target, 2);
        text = payload.toString();
      });
      fixture.exchangeIpv4(datagramTo(7000, new TextEncoder().encode('hello nicring')));
      assert.equal(copied, 6);
      assert.equal(new TextDecoder().decode(target.subarray(2)), 'hello ');
      assert.equal(text, 'hello nicring');
    });

    it('delivers a reassembled datagram whole', () => {
      const socket = createSocket(fixture.iface).bind(7000);
      let got: Buffer | null = null;
      socket.on('message', (payload) => { got = payload.copy(); });
      fixture.exchangeIpv4(...fragment(datagramTo(7000, pattern(9000)), 1480));
      assert.deepEqual(new Uint8Array(got as unknown as Buffer), pattern(9000));
    });

    it('supports once() and removing listeners', () => {
      const socket = createSocket(fixture.iface).bind(7000);
      let onceCalls = 0;
      let calls = 0;
      const listener = (): void => { calls++; };
      socket.once('message', () => { onceCalls++; });
      socket.on('message', listener);
      fixture.exchangeIpv4(datagramTo(7000, pattern(4)));
      socket.off('message', listener);
      fixture.exchangeIpv4(datagramTo(7000, pattern(4)));
      assert.equal(onceCalls, 1);
      assert.equal(calls, 1);
    });
  });

  describe('sending', () => {
    it('sends datagrams with correct headers and checksums', () => {
      const socket = createSocket(fixture.iface).bind(5555);
      assert.equal(socket.send(pattern(100), 6000, PEER_IP), true);
      assert.equal(socket.send('text', 6001, PEER_IP), true);
      assert.equal(socket.send(pattern(100), 6002, PEER_IP, 10, 20), true);
      const sent = fixture.run();
      assert.equal(sent.length, 3);
      assert.deepEqual(sent.map((f) => f.udp?.destinationPort), [6000, 6001, 6002]);
      for (const frame of sent) {
        assert.equal(frame.udp?.sourcePort, 5555);
        assert.ok(frame.udp?.checksumOk);
        assert.ok(frame.ip?.checksumOk);
        assert.equal(frame.ip?.repr.source, STACK_ADDRESS);
        assert.equal(frame.ip?.repr.destination, PEER_ADDRESS);
        assert.equal(frame.destination, fixture.peer.mac);
      }
      assert.deepEqual(sent[0].udp?.payload, pattern(100));
      assert.equal(new TextDecoder().decode(sent[1].udp?.payload), 'text');
      assert.deepEqual(sent[2].udp?.payload, pattern(100).subarray(10, 30));
    });

    it('exchanges datagrams both ways: an echo server answering the peer', () => {
      const socket = createSocket(fixture.iface).bind(7);
      socket.on('message', (payload, rinfo) => socket.send(payload.bytes, rinfo.port, rinfo.address, payload.offset, payload.length));
      const requests = Array.from({ length: 200 }, (_, i) => datagramTo(7, pattern(1 + i * 7, i), 30000 + i));
      const replies = fixture.exchangeIpv4(...requests);
      assert.equal(replies.length, 200);
      replies.forEach((reply, i) => {
        assert.equal(reply.udp?.destinationPort, 30000 + i);
        assert.equal(reply.udp?.sourcePort, 7);
        assert.ok(reply.udp?.checksumOk);
        assert.deepEqual(reply.udp?.payload, pattern(1 + i * 7, i));
      });
    });

    it('binds an ephemeral port for an unbound sender, in Linux\'s range', () => {
      const socket = createSocket(fixture.iface);
      socket.send(pattern(1), 6000, PEER_IP);
      const port = socket.address().port;
      assert.ok(port >= 32768 && port <= 60999, String(port));
      assert.equal(fixture.run()[0].udp?.sourcePort, port);
    });

    it('sends a datagram larger than the MTU in fragments', () => {
      createSocket(fixture.iface).bind(5555).send(pattern(20000), 6000, PEER_IP);
      const sent = fixture.run();
      assert.equal(sent.length, Math.ceil(20008 / 1480));
      const whole = reassemble(sent);
      assert.deepEqual(whole.subarray(8), pattern(20000));
    });

    it('returns false and counts when the datagram cannot go', () => {
      const socket = createSocket(fixture.iface).bind(5555);
      assert.equal(socket.send(pattern(1), 6000, '198.19.0.1'), false);
      assert.equal(fixture.iface.counters().ipv4NoRoute, 1);
      assert.throws(() => socket.send(pattern(1), 0, PEER_IP), RangeError);
      assert.throws(() => socket.send(pattern(1), 6000, 'not an address'), TypeError);
    });
  });

  describe('reply in place', () => {
    it('turns the request into the reply in its own buffer: addresses, ports, lengths and checksums fixed', () => {
      const socket = createSocket(fixture.iface).bind(7001);
      let capacity = 0;
      socket.onRequest = (request) => {
        assert.equal(request.remoteAddress, PEER_ADDRESS);
        assert.equal(request.remotePort, 40000);
        assert.equal(request.localPort, 7001);
        capacity = request.replyCapacity;
        const view = request.view;
        view.setUint32(request.payloadOffset, view.getUint32(request.payloadOffset) + 1);
        for (let i = 4; i < 600; i++) view.setUint8(request.payloadOffset + i, i & 0xff);
        return 600;
      };
      const freeBefore = fixture.stackDevice.freeBuffers;
      const [reply] = fixture.exchangeIpv4(datagramTo(7001, new Uint8Array([0, 0, 0, 41])));
      assert.equal(fixture.stackDevice.freeBuffers, freeBefore, 'no transmit buffer taken');
      assert.equal(capacity, 2048 - 14 - 28, "the rest of the request's buffer");
      assert.equal(reply.destination, fixture.peer.mac);
      assert.equal(reply.ip?.repr.source, STACK_ADDRESS);
      assert.equal(reply.ip?.repr.destination, PEER_ADDRESS);
      assert.ok(reply.ip?.checksumOk);
      assert.equal(reply.udp?.sourcePort, 7001);
      assert.equal(reply.udp?.destinationPort, 40000);
      assert.ok(reply.udp?.checksumOk);
      assert.equal(reply.udp?.payload.length, 600);
      assert.equal(new DataView(reply.udp?.payload.buffer as ArrayBuffer, reply.udp?.payload.byteOffset).getUint32(0), 42);
      const counters = fixture.iface.counters();
      assert.equal(counters.udpRepliesInPlace, 1);
      assert.equal(counters.udpSent, 1);
    });

    it('sends nothing when the handler returns a negative length', () => {
      const socket = createSocket(fixture.iface).bind(7001);
      socket.onRequest = () => -1;
      assert.deepEqual(fixture.exchangeIpv4(datagramTo(7001, pattern(10))), []);
    });

    it("refuses a reply longer than the request's buffer holds", () => {
      const socket = createSocket(fixture.iface).bind(7001);
      socket.onRequest = (request) => request.replyCapacity + 1;
      assert.throws(() => fixture.exchangeIpv4(datagramTo(7001, pattern(10))), RangeError);
    });

    it('answers a request larger than the MTU, in one frame the link allowed, with a new datagram in fragments, as Linux does', () => {
      const socket = createSocket(fixture.iface).bind(7001);
      let capacity = 0;
      socket.onRequest = (request) => {
        capacity = request.replyCapacity;
        return request.payloadLength;
      };
      const request = ethernetFrame(datagramTo(7001, pattern(1700)));
      assert.equal(request.length, 1742);
      const sent = fixture.exchange(request);
      assert.equal(capacity, 2048 - 14 - 28);
      assert.deepEqual(sent.map((f) => [f.ip?.repr.fragmentOffsetBytes, f.ip?.repr.moreFragments, f.bytes.length]), [[0, true, 1514], [1480, false, 262]]);
      assert.ok(sent.every((f) => f.ip?.checksumOk && f.ip.repr.identification === sent[0].ip?.repr.identification));
      const whole = reassemble(sent);
      assert.equal(new DataView(whole.buffer).getUint16(0), 7001);
      assert.deepEqual(whole.subarray(8), pattern(1700));
      const counters = fixture.iface.counters();
      assert.deepEqual([counters.udpSent, counters.udpRepliesInPlace, counters.ipv4Fragmented, counters.ipv4FragmentsSent], [1, 0, 1, 2]);
    });

    it('answers a reassembled request with a new, fragmented datagram', () => {
      const socket = createSocket(fixture.iface).bind(7001);
      socket.onRequest = (request) => request.payloadLength;
      const sent = fixture.exchangeIpv4(...fragment(datagramTo(7001, pattern(3000)), 1480));
      assert.equal(sent.length, 3);
      const whole = reassemble(sent);
      assert.deepEqual(whole.subarray(8), pattern(3000));
      assert.equal(fixture.iface.counters().udpRepliesInPlace, 0);
    });
  });

  describe('binding and closing', () => {
    it('refuses a port already bound', () => {
      createSocket(fixture.iface).bind(7000);
      assert.throws(() => createSocket(fixture.iface).bind(7000), { code: 'EADDRINUSE' });
      assert.throws(() => createSocket(fixture.iface).bind(70000), RangeError);
    });

    it("emits 'listening' after bind and 'close' on close, and a closed port answers port unreachable", async () => {
      const socket = createSocket(fixture.iface);
      const listening = new Promise<void>((resolve) => socket.bind(7000, resolve));
      assert.deepEqual(socket.address(), { address: STACK_IP, family: 'IPv4', port: 7000 });
      await listening;
      let closed = false;
      socket.on('close', () => { closed = true; });
      socket.close();
      assert.ok(closed);
      const [error] = fixture.exchangeIpv4(datagramTo(7000, pattern(4)));
      assert.equal(error.icmp?.type, ICMPV4_DESTINATION_UNREACHABLE);
      createSocket(fixture.iface).bind(7000);
    });

    it('closes every socket when the interface closes', () => {
      const sockets = [createSocket(fixture.iface).bind(1), createSocket(fixture.iface).bind(2)];
      let closes = 0;
      for (const socket of sockets) socket.on('close', () => closes++);
      fixture.close();
      assert.equal(closes, 2);
      assert.ok(sockets.every((s) => s.closed));
    });
  });
});

/** Send `count` numbered 64-byte datagrams from the peer to `port`, 64 at a time, each batch received by the stack; no allocation. */
function datagramPump(fixture: StackFixture, port: number): (count: number) => void {
  const { iface, stackDevice, peerDevice } = fixture;
  const template = ethernetFrame(datagramTo(port, new Uint8Array(64)));
  const udpChecksumAt = 14 + 20 + 6;
  const sequenceAt = 14 + 20 + 8;
  const handler = iface.frameHandler;
  const peerBytes = peerDevice.bytes;
  const peerMemory = peerDevice.memory;
  const drain = (): void => undefined;
  let sequence = 0;
  return (count) => {
    for (let sent = 0; sent < count; sent += 64) {
      for (let i = 0; i < 64; i++) {
        const offset = peerDevice.allocTx();
        peerBytes.set(template, offset);
        const checksum = peerMemory.getUint16(offset + udpChecksumAt);
        peerMemory.setUint32(offset + sequenceAt, sequence);
        peerMemory.setUint16(offset + udpChecksumAt, checksumUpdate32(checksum, 0, sequence) || 0xffff);
        peerDevice.transmit(offset, template.length);
        sequence = (sequence + 1) >>> 0;
      }
      peerDevice.flush();
      stackDevice.receive(64, handler);
      stackDevice.flush();
      peerDevice.receive(64, drain);
    }
  };
}

describe('socket/udp allocation', function () {
  this.timeout(120000);

  it('makes zero GC events receiving 1,000,000 datagrams', async () => {
    const fixture = new StackFixture();
    const socket = createSocket(fixture.iface).bind(7000);
    let expected = 0;
    let good = 0;
    socket.on('message', (payload, rinfo) => {
      if (payload.length === 64 && rinfo.port === 40000 && payload.view.getUint32(payload.offset) === expected) good++;
      expected++;
    });
    const pump = datagramPump(fixture, 7000);
    pump(200_000);
    assert.equal(good, 200_000, 'warm-up datagrams all delivered intact');
    const events = await countGcEvents(() => pump(1_000_000));
    assert.equal(good, 1_200_000);
    assert.equal(fixture.iface.counters().udpBadChecksum, 0);
    assert.equal(events, 0, `${events} GC events`);
    fixture.close();
  });

  it('makes zero GC events answering 1,000,000 requests in place', async () => {
    const fixture = new StackFixture();
    const socket = createSocket(fixture.iface).bind(7001);
    socket.onRequest = (request) => {
      const view = request.view;
      view.setUint32(request.payloadOffset + 4, view.getUint32(request.payloadOffset) + 1);
      return 8;
    };
    const pump = datagramPump(fixture, 7001);
    pump(200_000);
    const events = await countGcEvents(() => pump(1_000_000));
    const counters = fixture.iface.counters();
    assert.equal(counters.udpRepliesInPlace, 1_200_000);
    assert.equal(counters.framesSent, 1_200_000);
    assert.equal(events, 0, `${events} GC events`);
    fixture.close();
  });
});
