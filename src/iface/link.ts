// The link below the stack (lwIP's "link output"): the device, our MAC, the
// VLAN we serve, and the three ways a frame leaves — a fresh buffer sent, the
// received buffer sent back in place, or a buffer given back unsent — each
// counted, and refused while the link is down.
//
// On a served VLAN every frame we build carries its 802.1Q tag (priority 0),
// so its Ethernet header is 18 bytes, not 14. A reply in place keeps the
// request's header as it came, tag and priority included: to a priority-tagged
// request (VLAN 0) the reply goes back with the request's 802.1p priority.

import type { Device } from '../phy/device';
import { ETHERNET_HEADER_LEN, ETHERNET_VLAN_HEADER_LEN, ETHERTYPE_VLAN, ethernetField, macHigh16, macLow32 } from '../wire/ethernet';
import type { StackCounters } from './counters';

/** Our side of the Ethernet link. */
export class Link {
  readonly device: Device;
  readonly memory: DataView;
  readonly bytes: Uint8Array;
  /** Our MAC as a 48-bit number, and its halves. */
  readonly mac: number;
  readonly macHigh16: number;
  readonly macLow32: number;
  /** The VLAN ID we serve (1..4094), or 0: untagged. */
  readonly vlanId: number;
  /** Length of the Ethernet header of the frames we build: 14, or 18 on a VLAN. */
  readonly headerLength: number;
  /** False while the link is down: nothing is sent. */
  up = true;
  private readonly counters: StackCounters;

  constructor(device: Device, mac: number, counters: StackCounters, vlanId = 0) {
    this.device = device;
    this.vlanId = vlanId;
    this.headerLength = vlanId === 0 ? ETHERNET_HEADER_LEN : ETHERNET_VLAN_HEADER_LEN;
    this.memory = device.memory;
    this.bytes = device.bytes;
    this.mac = mac;
    this.macHigh16 = macHigh16(mac);
    this.macLow32 = macLow32(mac);
    this.counters = counters;
  }

  /** A free transmit buffer's offset, or -1 (link down, or none free). */
  allocFrame(): number {
    if (!this.up) {
      this.counters.txLinkDown++;
      return -1;
    }
    const offset = this.device.allocTx();
    if (offset < 0) this.counters.txNoBuffer++;
    return offset;
  }

  /** Give back a buffer from allocFrame unsent. */
  freeFrame(offset: number): void {
    this.device.freeTx(offset);
  }

  /** Send `length` bytes at `offset` (from allocFrame); the buffer is the device's again either way. */
  sendFrame(offset: number, length: number): boolean {
    if (!this.up) {
      this.device.freeTx(offset);
      this.counters.txLinkDown++;
      return false;
    }
    if (!this.device.transmit(offset, length)) {
      this.counters.txDeviceFull++;
      return false;
    }
    this.counters.framesSent++;
    return true;
  }

  /** Send the received frame `token` back, `length` bytes from its start. */
  replyInPlace(token: number, length: number): boolean {
    if (!this.up) {
      this.counters.txLinkDown++;
      return false;
    }
    if (!this.device.replyInPlace(token, length)) {
      this.counters.txDeviceFull++;
      return false;
    }
    this.counters.framesSent++;
    return true;
  }

  /** Write an Ethernet header from us to the MAC given by its halves (tagged on a VLAN); its length is headerLength. */
  writeHeader(frameOffset: number, destinationHigh16: number, destinationLow32: number, etherType: number): void {
    const memory = this.memory;
    memory.setUint16(frameOffset + ethernetField.DESTINATION, destinationHigh16);
    memory.setUint32(frameOffset + ethernetField.DESTINATION + 2, destinationLow32);
    memory.setUint16(frameOffset + ethernetField.SOURCE, this.macHigh16);
    memory.setUint32(frameOffset + ethernetField.SOURCE + 2, this.macLow32);
    if (this.vlanId === 0) {
      memory.setUint16(frameOffset + ethernetField.ETHER_TYPE, etherType);
      return;
    }
    memory.setUint16(frameOffset + ethernetField.ETHER_TYPE, ETHERTYPE_VLAN);
    memory.setUint16(frameOffset + ethernetField.VLAN_TCI, this.vlanId);
    memory.setUint16(frameOffset + ethernetField.VLAN_ETHER_TYPE, etherType);
  }

  /** Set a frame's destination MAC. */
  writeDestination(frameOffset: number, destinationHigh16: number, destinationLow32: number): void {
    this.memory.setUint16(frameOffset + ethernetField.DESTINATION, destinationHigh16);
    this.memory.setUint32(frameOffset + ethernetField.DESTINATION + 2, destinationLow32);
  }

  /** Turn a received frame's Ethernet header into a reply's: to its sender, from us (even when it was broadcast). */
  turnAround(frameOffset: number): void {
    const memory = this.memory;
    memory.setUint16(frameOffset + ethernetField.DESTINATION, memory.getUint16(frameOffset + ethernetField.SOURCE));
    memory.setUint32(frameOffset + ethernetField.DESTINATION + 2, memory.getUint32(frameOffset + ethernetField.SOURCE + 2));
    memory.setUint16(frameOffset + ethernetField.SOURCE, this.macHigh16);
    memory.setUint32(frameOffset + ethernetField.SOURCE + 2, this.macLow32);
  }
}
