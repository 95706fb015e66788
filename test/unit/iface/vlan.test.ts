// 802.1Q on the host: priority-tagged frames (VLAN 0) taken as untagged, as
// Linux does, and answered in place with their tag; one VLAN served, every
// frame sent on it tagged; frames for other VLANs (or untagged ones on a
// VLAN) dropped and counted.

import { strict as assert } from 'node:assert';
import { Interface } from '../../../src/iface/interface';
import { createPair } from '../../../src/phy/pair';
import { Responder } from '../../../src/service/responder';
import { createSocket } from '../../../src/socket/udp';
import { ARP_OPERATION_REPLY, ARP_OPERATION_REQUEST } from '../../../src/wire/arp';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4 } from '../../../src/wire/ethernet';
import { ICMPV4_DESTINATION_UNREACHABLE, ICMPV4_ECHO_REPLY } from '../../../src/wire/icmpv4';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP } from '../../../src/wire/ipv4';
import {
  BROADCAST_MAC, PEER_ADDRESS, PEER_IP, STACK_ADDRESS, StackFixture, arpPacket, echoRequest, ethernetFrame, fragment, ipv4Packet, pattern,
  reassemble, taggedFrame, udpDatagram, type SentFrame,
} from './peer';

const PRIORITY_5 = 5 << 13;
const ping = (sequence: number, size = 32): Uint8Array => ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: echoRequest(7, sequence, pattern(size)) });
const udpTo = (port: number, size = 40): Uint8Array => ipv4Packet({ protocol: IP_PROTOCOL_UDP, payload: udpDatagram(40000, port, pattern(size)) });

function arpRequest(tci: number | null): Uint8Array {
  const arp = arpPacket(ARP_OPERATION_REQUEST, 0x020000000002, PEER_ADDRESS, 0, STACK_ADDRESS);
  return tci === null ? ethernetFrame(arp, ETHERTYPE_ARP, BROADCAST_MAC) : taggedFrame(arp, tci, ETHERTYPE_ARP, BROADCAST_MAC);
}

function assertAllChecksumsGood(frames: SentFrame[]): void {
  for (const frame of frames) {
    if (frame.ip !== undefined) assert.ok(frame.ip.checksumOk, 'IPv4 checksum');
    if (frame.icmp !== undefined) assert.ok(frame.icmp.checksumOk, 'ICMP checksum');
    if (frame.udp !== undefined) assert.ok(frame.udp.checksumOk, 'UDP checksum');
  }
}

describe('iface/vlan (802.1Q)', () => {
  let fixture: StackFixture;
  afterEach(() => fixture.close());

  describe('an untagged interface', () => {
    beforeEach(() => {
      fixture = new StackFixture({}, { poison: true });
      fixture.start();
    });

    it('answers a priority-tagged ARP request, ping and UDP request in place, each reply keeping the tag and its priority', () => {
      const arp = fixture.exchange(arpRequest(PRIORITY_5));
      assert.equal(arp.length, 1);
      assert.equal(arp[0].vlanTci, PRIORITY_5);
      assert.equal(arp[0].arp?.operation, ARP_OPERATION_REPLY);
      new Responder(fixture.iface, { ports: [9000] });
      const sent = fixture.exchange(taggedFrame(ping(1), PRIORITY_5), taggedFrame(udpTo(9000), PRIORITY_5 | 0x1000));
      assert.equal(sent.length, 2);
      assert.deepEqual(sent.map((frame) => frame.vlanTci), [PRIORITY_5, PRIORITY_5 | 0x1000]);
      assert.equal(sent[0].icmp?.type, ICMPV4_ECHO_REPLY);
      assert.deepEqual(sent[0].icmp?.data, pattern(32));
      assert.deepEqual(sent[1].udp?.payload, pattern(40));
      assertAllChecksumsGood(sent);
      const counters = fixture.iface.counters();
      assert.equal(counters.icmpEchoRepliesSent, 1);
      assert.equal(counters.udpRepliesInPlace, 1);
      assert.equal(counters.ethernetVlanNotServed + counters.ethernetVlanUntagged, 0);
    });

    it('sends what it builds untagged, also in answer to a priority-tagged request', () => {
      fixture.introduce();
      const socket = createSocket(fixture.iface).bind(7);
      socket.on('message', (payload, rinfo) => socket.send(payload.copy(), rinfo.port, rinfo.address));
      const sent = fixture.exchange(taggedFrame(udpTo(7), PRIORITY_5), taggedFrame(udpTo(4444), PRIORITY_5));
      assert.equal(sent.length, 2);
      for (const frame of sent) {
        assert.equal(frame.vlanTci, undefined);
        assert.equal(frame.bytes.length, 14 + 20 + frame.ip!.payload.length);
      }
      assert.deepEqual(sent[0].udp?.payload, pattern(40));
      assert.equal(sent[1].icmp?.type, ICMPV4_DESTINATION_UNREACHABLE);
      assertAllChecksumsGood(sent);
    });

    it('drops a frame tagged for a VLAN it does not serve, counted as ethernetVlanNotServed', () => {
      fixture.introduce();
      new Responder(fixture.iface, { ports: [9000] });
      assert.deepEqual(fixture.exchange(taggedFrame(ping(1), 10), taggedFrame(udpTo(9000), PRIORITY_5 | 4094), taggedFrame(arpRequest(null).subarray(14), 10, ETHERTYPE_ARP)), []);
      const counters = fixture.iface.counters();
      assert.equal(counters.ethernetVlanNotServed, 3);
      assert.equal(counters.icmpEchoRequests + counters.udpReceived, 0);
    });

    it('counts a tagged frame too short for its tag as ethernetTooShort', () => {
      fixture.exchange(taggedFrame(new Uint8Array(0), 0).subarray(0, 16));
      assert.equal(fixture.iface.counters().ethernetTooShort, 1);
    });
  });

  describe('an interface serving VLAN 10', () => {
    const VLAN = 10;
    beforeEach(() => {
      fixture = new StackFixture({ vlan: VLAN }, { poison: true });
    });

    it('announces itself tagged', () => {
      const announced = fixture.start();
      assert.equal(announced.length, 1);
      assert.equal(announced[0].vlanTci, VLAN);
      assert.equal(announced[0].arp?.operation, ARP_OPERATION_REQUEST);
      assert.equal(fixture.iface.vlan, VLAN);
    });

    it('answers ARP, ping and UDP tagged with VLAN 10, in place keeping the request priority', () => {
      fixture.start();
      const arp = fixture.exchange(arpRequest(VLAN));
      assert.equal(arp.length, 1);
      assert.equal(arp[0].vlanTci, VLAN);
      new Responder(fixture.iface, { ports: [9000] });
      const sent = fixture.exchange(taggedFrame(ping(1), VLAN), taggedFrame(udpTo(9000), PRIORITY_5 | VLAN));
      assert.deepEqual(sent.map((frame) => frame.vlanTci), [VLAN, PRIORITY_5 | VLAN]);
      assert.equal(sent[0].icmp?.type, ICMPV4_ECHO_REPLY);
      assert.deepEqual(sent[1].udp?.payload, pattern(40));
      assertAllChecksumsGood(sent);
    });

    it('tags every frame it builds: ARP requests, datagrams, ICMP errors, fragments of a large reply', () => {
      fixture.start();
      const socket = createSocket(fixture.iface).bind(7);
      socket.send(pattern(100), 9, PEER_IP);
      const asking = fixture.run();
      assert.equal(asking.length, 1);
      assert.equal(asking[0].vlanTci, VLAN);
      assert.equal(asking[0].arp?.operation, ARP_OPERATION_REQUEST);
      // The peer answers, tagged: the queued datagram goes out.
      const reply = arpPacket(ARP_OPERATION_REPLY, 0x020000000002, PEER_ADDRESS, 0x020000000001, STACK_ADDRESS);
      const datagram = fixture.exchange(taggedFrame(reply, VLAN, ETHERTYPE_ARP));
      assert.equal(datagram.length, 1);
      assert.equal(datagram[0].vlanTci, VLAN);
      assert.deepEqual(datagram[0].udp?.payload, pattern(100));
      assert.equal(datagram[0].bytes.length, 18 + 20 + 8 + 100);
      const unreachable = fixture.exchange(taggedFrame(udpTo(4444), VLAN));
      assert.equal(unreachable[0].vlanTci, VLAN);
      assert.equal(unreachable[0].icmp?.type, ICMPV4_DESTINATION_UNREACHABLE);
      // A 4000-byte ping comes in fragments and goes back in fragments, every one tagged, none over MTU + 18.
      const fragments = fragment(ping(2, 4000), 1480).map((part) => taggedFrame(part, VLAN));
      const echoed = fixture.exchange(...fragments);
      assert.equal(echoed.length, 3);
      for (const frame of echoed) {
        assert.equal(frame.vlanTci, VLAN);
        assert.equal(frame.etherType, ETHERTYPE_IPV4);
        assert.ok(frame.bytes.length <= 1500 + 18, `${frame.bytes.length} bytes`);
      }
      assert.deepEqual(reassemble(echoed).subarray(8), pattern(4000));
      assertAllChecksumsGood([...datagram, ...unreachable, ...echoed]);
    });

    it('drops untagged and priority-tagged frames (ethernetVlanUntagged) and other VLANs (ethernetVlanNotServed)', () => {
      fixture.start();
      new Responder(fixture.iface, { ports: [9000] });
      assert.deepEqual(fixture.exchange(ethernetFrame(ping(1)), taggedFrame(ping(2), PRIORITY_5), arpRequest(null), taggedFrame(udpTo(9000), 11)), []);
      const counters = fixture.iface.counters();
      assert.equal(counters.ethernetVlanUntagged, 3);
      assert.equal(counters.ethernetVlanNotServed, 1);
      assert.equal(counters.arpRequestsReceived + counters.icmpEchoRequests + counters.udpReceived, 0);
    });

    it('keeps the IP MTU within the buffer once the tag is counted', () => {
      const [device] = createPair({ frameSize: 1514 });
      const tagged = new Interface(device, { address: '198.18.0.1/24', vlan: VLAN });
      assert.equal(tagged.mtu, 1496);
      tagged.close();
      const [other] = createPair({ frameSize: 1514 });
      const untagged = new Interface(other, { address: '198.18.0.1/24' });
      assert.equal(untagged.mtu, 1500);
      untagged.close();
      fixture.start();
    });
  });

  it('refuses a VLAN ID outside 1..4094 with a clear message', () => {
    const [device] = createPair();
    for (const vlan of [4095, -1, 1.5, 5000]) {
      assert.throws(() => new Interface(device, { address: '198.18.0.1/24', vlan }), /vlan must be an integer from 1 to 4094/);
    }
    fixture = new StackFixture();
  });
});
