import { strict as assert } from 'node:assert';
import {
  ARP_HARDWARE_ETHERNET,
  ARP_HEADER_LEN,
  ARP_OPERATION_REPLY,
  ARP_OPERATION_REQUEST,
  ArpPacket,
  ArpRepr,
} from '../../../src/wire/arp';
import { ETHERTYPE_IPV4 } from '../../../src/wire/ethernet';
import { captured, fromHex } from '../../fixtures/wire/frames';
import { FRAME_AT, bytesAt, placed, poisoned, toHex } from '../../fixtures/wire/util';

const HOST_A_MAC = 0x020000000102;
const ROUTER_MAC = 0x020000000101;
const HOST_A = 0xc6120102; // 198.18.1.2
const ROUTER = 0xc6120101; // 198.18.1.1

describe('wire/arp', () => {
  const request = fromHex(captured.arpRequest.hex).subarray(14);
  const reply = fromHex(captured.arpReply.hex).subarray(14);

  it('deconstructs a captured request', () => {
    const packet = new ArpPacket();
    assert.equal(packet.reset(placed(request).view, FRAME_AT, request.length), true);
    assert.equal(packet.hardwareType, ARP_HARDWARE_ETHERNET);
    assert.equal(packet.protocolType, ETHERTYPE_IPV4);
    assert.equal(packet.hardwareLength, 6);
    assert.equal(packet.protocolLength, 4);
    assert.equal(packet.isEthernetIpv4, true);
    assert.equal(packet.operation, ARP_OPERATION_REQUEST);
    assert.equal(packet.senderHardwareAddress, HOST_A_MAC);
    assert.equal(packet.senderProtocolAddress, HOST_A);
    assert.equal(packet.targetHardwareAddress, 0);
    assert.equal(packet.targetProtocolAddress, ROUTER);
    assert.equal(packet.packetLength, ARP_HEADER_LEN);
  });

  it('constructs a reply in a buffer of 0xa5', () => {
    const { view, memory } = poisoned(ARP_HEADER_LEN);
    const packet = new ArpPacket();
    packet.resetUnchecked(view, FRAME_AT, ARP_HEADER_LEN);
    packet.hardwareType = ARP_HARDWARE_ETHERNET;
    packet.protocolType = ETHERTYPE_IPV4;
    packet.hardwareLength = 6;
    packet.protocolLength = 4;
    packet.operation = ARP_OPERATION_REPLY;
    packet.senderHardwareAddress = ROUTER_MAC;
    packet.senderProtocolAddress = ROUTER;
    packet.targetHardwareAddress = HOST_A_MAC;
    packet.targetProtocolAddress = HOST_A;
    assert.equal(toHex(bytesAt(memory, 0, ARP_HEADER_LEN)), toHex(reply));
  });

  it('parses a captured reply into a record', () => {
    const packet = new ArpPacket();
    packet.reset(placed(reply).view, FRAME_AT, reply.length);
    const repr = ArpRepr.parse(packet);
    assert.ok(repr);
    assert.deepEqual({ ...repr }, {
      operation: ARP_OPERATION_REPLY,
      senderHardwareAddress: ROUTER_MAC,
      senderProtocolAddress: ROUTER,
      targetHardwareAddress: HOST_A_MAC,
      targetProtocolAddress: HOST_A,
    });
  });

  it('emits a request record', () => {
    const repr = new ArpRepr();
    repr.operation = ARP_OPERATION_REQUEST;
    repr.senderHardwareAddress = HOST_A_MAC;
    repr.senderProtocolAddress = HOST_A;
    repr.targetHardwareAddress = 0;
    repr.targetProtocolAddress = ROUTER;
    const { view, memory } = poisoned(ARP_HEADER_LEN);
    assert.equal(repr.emit(view, FRAME_AT), ARP_HEADER_LEN);
    assert.equal(toHex(bytesAt(memory, 0, ARP_HEADER_LEN)), toHex(request));
  });

  it('rejects a packet shorter than the addresses it declares', () => {
    const packet = new ArpPacket();
    const { view } = placed(request);
    assert.equal(packet.reset(view, FRAME_AT, 7), false);
    assert.equal(packet.reset(view, FRAME_AT, 27), false);
    const longAddresses = Uint8Array.from(request);
    longAddresses[4] = 16;
    assert.equal(packet.reset(placed(longAddresses).view, FRAME_AT, longAddresses.length), false);
  });

  it('keeps other hardware and protocol types out of the record', () => {
    const other = Uint8Array.from(request);
    other[1] = 6; // IEEE 802
    const packet = new ArpPacket();
    assert.equal(packet.reset(placed(other).view, FRAME_AT, other.length), true);
    assert.equal(packet.isEthernetIpv4, false);
    assert.equal(ArpRepr.parse(packet), null);
  });

  it('passes unknown operations through', () => {
    const rarp = Uint8Array.from(request);
    rarp[7] = 3;
    const packet = new ArpPacket();
    packet.reset(placed(rarp).view, FRAME_AT, rarp.length);
    assert.equal(ArpRepr.parse(packet)?.operation, 3);
  });
});
