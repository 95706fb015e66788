import { strict as assert } from 'node:assert';
import {
  ETHERNET_HEADER_LEN,
  ETHERNET_VLAN_HEADER_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_VLAN,
  EthernetFrame,
  EthernetRepr,
  MAC_BROADCAST,
  isMulticastMac,
  macFromHalves,
  macHigh16,
  macLow32,
  macToString,
  parseMac,
} from '../../../src/wire/ethernet';
import { captured, fromHex, synthetic } from '../../fixtures/wire/frames';
import { FRAME_AT, bytesAt, placed, poisoned, toHex } from '../../fixtures/wire/util';

const HOST_A_MAC = 0x020000000102;
const ROUTER_MAC = 0x020000000101;

describe('wire/ethernet', () => {
  const arpRequest = fromHex(captured.arpRequest.hex);
  const udpRequest = fromHex(captured.udpRequest.hex);
  const vlanUdpRequest = fromHex(synthetic.vlanUdpRequest);

  it('deconstructs a captured frame', () => {
    const { view } = placed(arpRequest);
    const frame = new EthernetFrame();
    assert.equal(frame.reset(view, FRAME_AT, arpRequest.length), true);
    assert.equal(frame.destination, MAC_BROADCAST);
    assert.equal(frame.source, HOST_A_MAC);
    assert.equal(frame.destinationHigh16, 0xffff);
    assert.equal(frame.destinationLow32, 0xffffffff);
    assert.equal(frame.sourceHigh16, 0x0200);
    assert.equal(frame.sourceLow32, 0x00000102);
    assert.equal(frame.etherType, ETHERTYPE_ARP);
    assert.equal(frame.hasVlanTag, false);
    assert.equal(frame.payloadEtherType, ETHERTYPE_ARP);
    assert.equal(frame.headerLength, ETHERNET_HEADER_LEN);
    assert.equal(frame.payloadOffset, FRAME_AT + 14);
    assert.equal(frame.payloadLength, 28);
  });

  it('deconstructs an 802.1Q-tagged frame', () => {
    const { view } = placed(vlanUdpRequest);
    const frame = new EthernetFrame();
    assert.equal(frame.reset(view, FRAME_AT, vlanUdpRequest.length), true);
    assert.equal(frame.destination, ROUTER_MAC);
    assert.equal(frame.etherType, ETHERTYPE_VLAN);
    assert.equal(frame.hasVlanTag, true);
    assert.equal(frame.vlanPriority, 5);
    assert.equal(frame.vlanDropEligible, false);
    assert.equal(frame.vlanId, 10);
    assert.equal(frame.payloadEtherType, ETHERTYPE_IPV4);
    assert.equal(frame.headerLength, ETHERNET_VLAN_HEADER_LEN);
    assert.equal(frame.payloadOffset, FRAME_AT + 18);
    assert.equal(frame.payloadLength, vlanUdpRequest.length - 18);
  });

  it('constructs a frame in a buffer of 0xa5', () => {
    const { view, memory } = poisoned(ETHERNET_HEADER_LEN);
    const frame = new EthernetFrame();
    frame.resetUnchecked(view, FRAME_AT, ETHERNET_HEADER_LEN);
    frame.destination = ROUTER_MAC;
    frame.setSourceHalves(0x0200, 0x00000102);
    frame.etherType = ETHERTYPE_IPV4;
    assert.equal(toHex(bytesAt(memory, 0, 14)), toHex(udpRequest.subarray(0, 14)));
  });

  it('constructs an 802.1Q tag in a buffer of 0xa5', () => {
    const { view, memory } = poisoned(ETHERNET_VLAN_HEADER_LEN);
    const frame = new EthernetFrame();
    frame.resetUnchecked(view, FRAME_AT, ETHERNET_VLAN_HEADER_LEN);
    frame.setDestinationFrom(udpRequest, 0);
    frame.source = HOST_A_MAC;
    frame.etherType = ETHERTYPE_VLAN;
    frame.vlanTci = 0;
    frame.vlanPriority = 5;
    frame.vlanDropEligible = false;
    frame.vlanId = 10;
    frame.payloadEtherType = ETHERTYPE_IPV4;
    assert.equal(toHex(bytesAt(memory, 0, 18)), toHex(vlanUdpRequest.subarray(0, 18)));
  });

  it('parses a frame into a record', () => {
    const { view } = placed(arpRequest);
    const frame = new EthernetFrame();
    assert.equal(frame.reset(view, FRAME_AT, arpRequest.length), true);
    const repr = EthernetRepr.parse(frame);
    assert.ok(repr);
    assert.deepEqual({ ...repr }, {
      destination: MAC_BROADCAST,
      source: HOST_A_MAC,
      etherType: ETHERTYPE_ARP,
      hasVlanTag: false,
      vlanId: 0,
      vlanPriority: 0,
      vlanDropEligible: false,
    });
  });

  it('parses a tagged frame into a record with the inner EtherType', () => {
    const { view } = placed(vlanUdpRequest);
    const frame = new EthernetFrame();
    frame.reset(view, FRAME_AT, vlanUdpRequest.length);
    const repr = new EthernetRepr();
    assert.equal(EthernetRepr.parseInto(repr, frame), true);
    assert.equal(repr.etherType, ETHERTYPE_IPV4);
    assert.equal(repr.hasVlanTag, true);
    assert.equal(repr.vlanId, 10);
    assert.equal(repr.vlanPriority, 5);
  });

  it('emits a record', () => {
    const repr = new EthernetRepr();
    repr.destination = MAC_BROADCAST;
    repr.source = HOST_A_MAC;
    repr.etherType = ETHERTYPE_ARP;
    const { view, memory } = poisoned(ETHERNET_HEADER_LEN);
    assert.equal(repr.emit(view, FRAME_AT), ETHERNET_HEADER_LEN);
    assert.equal(toHex(bytesAt(memory, 0, 14)), toHex(arpRequest.subarray(0, 14)));
  });

  it('emits a tagged record', () => {
    const repr = new EthernetRepr();
    repr.destination = ROUTER_MAC;
    repr.source = HOST_A_MAC;
    repr.etherType = ETHERTYPE_IPV4;
    repr.hasVlanTag = true;
    repr.vlanId = 10;
    repr.vlanPriority = 5;
    const { view, memory } = poisoned(ETHERNET_VLAN_HEADER_LEN);
    assert.equal(repr.headerLength, 18);
    assert.equal(repr.emit(view, FRAME_AT), 18);
    assert.equal(toHex(bytesAt(memory, 0, 18)), toHex(vlanUdpRequest.subarray(0, 18)));
  });

  it('rejects a frame shorter than its header, or than the tag it announces', () => {
    const frame = new EthernetFrame();
    assert.equal(frame.reset(placed(arpRequest).view, FRAME_AT, 13), false);
    assert.equal(frame.reset(placed(vlanUdpRequest).view, FRAME_AT, 17), false);
    assert.equal(frame.reset(placed(vlanUdpRequest).view, FRAME_AT, 18), true);
  });

  it('passes unknown EtherTypes through', () => {
    const bytes = Uint8Array.from(arpRequest);
    bytes[12] = 0x88;
    bytes[13] = 0xb5;
    const frame = new EthernetFrame();
    assert.equal(frame.reset(placed(bytes).view, FRAME_AT, bytes.length), true);
    assert.equal(EthernetRepr.parse(frame)?.etherType, 0x88b5);
  });

  it('swaps source and destination in place', () => {
    const { view, memory } = placed(udpRequest);
    const frame = new EthernetFrame();
    frame.reset(view, FRAME_AT, udpRequest.length);
    frame.swapAddresses();
    assert.equal(frame.destination, HOST_A_MAC);
    assert.equal(frame.source, ROUTER_MAC);
    const copy = new Uint8Array(6);
    frame.copyDestinationTo(copy, 0);
    assert.equal(toHex(copy), '020000000102');
    frame.copySourceTo(copy, 0);
    assert.equal(toHex(copy), '020000000101');
    assert.equal(toHex(bytesAt(memory, 12, udpRequest.length - 12)), toHex(udpRequest.subarray(12)));
  });

  it('converts MAC addresses between text, 48-bit numbers and halves', () => {
    assert.equal(macToString(HOST_A_MAC), '02:00:00:00:01:02');
    assert.equal(macToString(MAC_BROADCAST), 'ff:ff:ff:ff:ff:ff');
    assert.equal(parseMac('02:00:00:00:01:02'), HOST_A_MAC);
    assert.equal(parseMac('FF-FF-FF-FF-FF-FF'), MAC_BROADCAST);
    assert.equal(parseMac('02:00:00:00:01'), null);
    assert.equal(parseMac('02:00:00:00:01:0g'), null);
    assert.equal(parseMac('02:00:00:00:01:102'), null);
    assert.equal(macHigh16(0xa1b2c3d4e5f6), 0xa1b2);
    assert.equal(macLow32(0xa1b2c3d4e5f6), 0xc3d4e5f6);
    assert.equal(macFromHalves(0xa1b2, 0xc3d4e5f6), 0xa1b2c3d4e5f6);
    assert.equal(isMulticastMac(MAC_BROADCAST), true);
    assert.equal(isMulticastMac(0x01005e000001), true);
    assert.equal(isMulticastMac(HOST_A_MAC), false);
  });
});
