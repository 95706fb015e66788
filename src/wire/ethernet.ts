// Ethernet II frames (IEEE 802.3) with at most one 802.1Q VLAN tag.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                  Destination MAC (6 bytes)                    |
// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
// |                    Source MAC (6 bytes)                       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           EtherType           |  payload ...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// With an 802.1Q tag the EtherType is 0x8100 and is followed by the tag
// control information (priority:3, drop eligible:1, VLAN id:12) and the
// payload's own EtherType:
//
// | 0x8100 | PCP |D| VLAN id | EtherType |  payload ...
//
// A MAC address is handled as one number holding 48 bits (exact in a double),
// or as its high 16 and low 32 bits, so no per-frame array is needed.

import { EMPTY_VIEW } from './bytes';

// Field offsets as module constants, which keeps the accessors small enough for V8 to inline.
const DESTINATION = 0;
const SOURCE = 6;
const ETHER_TYPE = 12;
const PAYLOAD = 14;
/** Tag control information, when ETHER_TYPE is 0x8100. */
const VLAN_TCI = 14;
/** The payload's EtherType, when ETHER_TYPE is 0x8100. */
const VLAN_ETHER_TYPE = 16;
const VLAN_PAYLOAD = 18;

/** Byte offsets of the Ethernet header fields. */
const ethernetField = {
  DESTINATION,
  SOURCE,
  ETHER_TYPE,
  PAYLOAD,
  VLAN_TCI,
  VLAN_ETHER_TYPE,
  VLAN_PAYLOAD,
} as const;

/** Length of an untagged Ethernet header. */
const ETHERNET_HEADER_LEN = PAYLOAD;
/** Length of an Ethernet header with one 802.1Q tag. */
const ETHERNET_VLAN_HEADER_LEN = VLAN_PAYLOAD;
/** Length of a MAC address. */
const MAC_LEN = ETHER_TYPE - SOURCE;

/** EtherType: IPv4. */
const ETHERTYPE_IPV4 = 0x0800;
/** EtherType: ARP. */
const ETHERTYPE_ARP = 0x0806;
/** EtherType: 802.1Q VLAN tag. */
const ETHERTYPE_VLAN = 0x8100;
/** EtherType: IPv6. */
const ETHERTYPE_IPV6 = 0x86dd;

/** The broadcast MAC address ff:ff:ff:ff:ff:ff as a 48-bit number. */
const MAC_BROADCAST = 0xffffffffffff;

const TWO_POW_32 = 0x100000000;

// Exported by name here, not with `export const`, so that this file's own
// accessors use plain constants (TypeScript's CommonJS output would turn
// each use into an `exports.*` property load).
export {
  ethernetField,
  ETHERNET_HEADER_LEN,
  ETHERNET_VLAN_HEADER_LEN,
  MAC_LEN,
  ETHERTYPE_IPV4,
  ETHERTYPE_ARP,
  ETHERTYPE_VLAN,
  ETHERTYPE_IPV6,
  MAC_BROADCAST,
};

/** High 16 bits of a 48-bit MAC number. */
export function macHigh16(mac: number): number {
  return Math.floor(mac / TWO_POW_32) & 0xffff;
}

/** Low 32 bits of a 48-bit MAC number. */
export function macLow32(mac: number): number {
  return mac % TWO_POW_32 >>> 0;
}

/** The 48-bit MAC number from its high 16 and low 32 bits. */
export function macFromHalves(high16: number, low32: number): number {
  return (high16 & 0xffff) * TWO_POW_32 + (low32 >>> 0);
}

/** True when the MAC has the group (multicast/broadcast) bit set. */
export function isMulticastMac(mac: number): boolean {
  return (macHigh16(mac) & 0x0100) !== 0;
}

/** Read a MAC at `offset` as a 48-bit number. */
export function readMac(view: DataView, offset: number): number {
  return view.getUint16(offset) * TWO_POW_32 + view.getUint32(offset + 2);
}

/** Write a 48-bit MAC number at `offset`. */
export function writeMac(view: DataView, offset: number, mac: number): void {
  view.setUint16(offset, macHigh16(mac));
  view.setUint32(offset + 2, macLow32(mac));
}

/** Format a 48-bit MAC number as "aa:bb:cc:dd:ee:ff". */
export function macToString(mac: number): string {
  const high = macHigh16(mac);
  const low = macLow32(mac);
  const bytes = [high >>> 8, high & 0xff, low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Parse "aa:bb:cc:dd:ee:ff" (or with '-') into a 48-bit number; null when malformed. */
export function parseMac(text: string): number | null {
  const parts = text.split(/[:-]/);
  if (parts.length !== MAC_LEN) return null;
  let mac = 0;
  for (const part of parts) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(part)) return null;
    mac = mac * 256 + parseInt(part, 16);
  }
  return mac;
}

/** A reusable view of an Ethernet frame inside a DataView; never allocates. */
export class EthernetFrame {
  view: DataView = EMPTY_VIEW;
  offset = 0;
  length = 0;

  /**
   * Point at a received frame. False when it is too short for its header
   * (including the VLAN tag it announces).
   */
  reset(view: DataView, offset: number, length: number): boolean {
    this.view = view;
    this.offset = offset;
    this.length = length;
    if (length < ETHERNET_HEADER_LEN) return false;
    if (view.getUint16(offset + ETHER_TYPE) === ETHERTYPE_VLAN && length < ETHERNET_VLAN_HEADER_LEN) return false;
    return true;
  }

  /** Point at a region to be written; no checks. */
  resetUnchecked(view: DataView, offset: number, length: number): void {
    this.view = view;
    this.offset = offset;
    this.length = length;
  }

  /** Destination MAC as a 48-bit number. */
  get destination(): number {
    return readMac(this.view, this.offset + DESTINATION);
  }
  set destination(mac: number) {
    writeMac(this.view, this.offset + DESTINATION, mac);
  }
  /** Source MAC as a 48-bit number. */
  get source(): number {
    return readMac(this.view, this.offset + SOURCE);
  }
  set source(mac: number) {
    writeMac(this.view, this.offset + SOURCE, mac);
  }

  /** High 16 bits of the destination MAC. */
  get destinationHigh16(): number {
    return this.view.getUint16(this.offset + DESTINATION);
  }
  /** Low 32 bits of the destination MAC. */
  get destinationLow32(): number {
    return this.view.getUint32(this.offset + DESTINATION + 2);
  }
  /** High 16 bits of the source MAC. */
  get sourceHigh16(): number {
    return this.view.getUint16(this.offset + SOURCE);
  }
  /** Low 32 bits of the source MAC. */
  get sourceLow32(): number {
    return this.view.getUint32(this.offset + SOURCE + 2);
  }
  /** Set the destination MAC from its halves. */
  setDestinationHalves(high16: number, low32: number): void {
    this.view.setUint16(this.offset + DESTINATION, high16);
    this.view.setUint32(this.offset + DESTINATION + 2, low32);
  }
  /** Set the source MAC from its halves. */
  setSourceHalves(high16: number, low32: number): void {
    this.view.setUint16(this.offset + SOURCE, high16);
    this.view.setUint32(this.offset + SOURCE + 2, low32);
  }

  /** Copy the destination MAC into `bytes` at `at`. */
  copyDestinationTo(bytes: Uint8Array, at: number): void {
    copyMacOut(this.view, this.offset + DESTINATION, bytes, at);
  }
  /** Copy the source MAC into `bytes` at `at`. */
  copySourceTo(bytes: Uint8Array, at: number): void {
    copyMacOut(this.view, this.offset + SOURCE, bytes, at);
  }
  /** Set the destination MAC from 6 bytes of `bytes` at `at`. */
  setDestinationFrom(bytes: Uint8Array, at: number): void {
    copyMacIn(bytes, at, this.view, this.offset + DESTINATION);
  }
  /** Set the source MAC from 6 bytes of `bytes` at `at`. */
  setSourceFrom(bytes: Uint8Array, at: number): void {
    copyMacIn(bytes, at, this.view, this.offset + SOURCE);
  }

  /** Exchange source and destination MACs in place (turning a request into a reply). */
  swapAddresses(): void {
    const view = this.view;
    const at = this.offset;
    const destinationHigh = view.getUint16(at);
    const destinationLow = view.getUint32(at + 2);
    view.setUint16(at, view.getUint16(at + 6));
    view.setUint32(at + 2, view.getUint32(at + 8));
    view.setUint16(at + 6, destinationHigh);
    view.setUint32(at + 8, destinationLow);
  }

  /** The outer EtherType (0x8100 when tagged). */
  get etherType(): number {
    return this.view.getUint16(this.offset + ETHER_TYPE);
  }
  set etherType(value: number) {
    this.view.setUint16(this.offset + ETHER_TYPE, value);
  }

  /** True when the frame carries an 802.1Q tag. */
  get hasVlanTag(): boolean {
    return this.etherType === ETHERTYPE_VLAN;
  }
  /** The raw tag control information (tagged frames only). */
  get vlanTci(): number {
    return this.view.getUint16(this.offset + VLAN_TCI);
  }
  set vlanTci(value: number) {
    this.view.setUint16(this.offset + VLAN_TCI, value);
  }
  /** Priority code point, 0..7 (tagged frames only). */
  get vlanPriority(): number {
    return this.vlanTci >>> 13;
  }
  set vlanPriority(value: number) {
    this.vlanTci = (this.vlanTci & 0x1fff) | ((value & 7) << 13);
  }
  /** Drop eligible indicator (tagged frames only). */
  get vlanDropEligible(): boolean {
    return (this.vlanTci & 0x1000) !== 0;
  }
  set vlanDropEligible(value: boolean) {
    this.vlanTci = (this.vlanTci & ~0x1000) | (value ? 0x1000 : 0);
  }
  /** VLAN identifier, 0..4095 (tagged frames only). */
  get vlanId(): number {
    return this.vlanTci & 0x0fff;
  }
  set vlanId(value: number) {
    this.vlanTci = (this.vlanTci & 0xf000) | (value & 0x0fff);
  }

  /** EtherType of the payload: after the tag when tagged, else the outer one. */
  get payloadEtherType(): number {
    const outer = this.etherType;
    return outer === ETHERTYPE_VLAN ? this.view.getUint16(this.offset + VLAN_ETHER_TYPE) : outer;
  }
  set payloadEtherType(value: number) {
    const at = this.hasVlanTag ? VLAN_ETHER_TYPE : ETHER_TYPE;
    this.view.setUint16(this.offset + at, value);
  }

  /** Header length: 14, or 18 with a VLAN tag. */
  get headerLength(): number {
    return this.hasVlanTag ? ETHERNET_VLAN_HEADER_LEN : ETHERNET_HEADER_LEN;
  }
  /** Offset of the payload in the view. */
  get payloadOffset(): number {
    return this.offset + this.headerLength;
  }
  /** Bytes after the header (any link padding included). */
  get payloadLength(): number {
    return this.length - this.headerLength;
  }
}

/** A plain Ethernet header record. */
export class EthernetRepr {
  destination = 0;
  source = 0;
  /** EtherType of the payload (the one after the VLAN tag when tagged). */
  etherType = 0;
  hasVlanTag = false;
  vlanId = 0;
  vlanPriority = 0;
  vlanDropEligible = false;

  /** The record of a frame (view already reset); null when it cannot be read. */
  static parse(frame: EthernetFrame): EthernetRepr | null {
    const repr = new EthernetRepr();
    return EthernetRepr.parseInto(repr, frame) ? repr : null;
  }

  /** Fill `repr` from a frame whose view was reset successfully; never allocates. */
  static parseInto(repr: EthernetRepr, frame: EthernetFrame): boolean {
    if (frame.length < frame.headerLength) return false;
    repr.destination = frame.destination;
    repr.source = frame.source;
    repr.etherType = frame.payloadEtherType;
    repr.hasVlanTag = frame.hasVlanTag;
    if (repr.hasVlanTag) {
      repr.vlanId = frame.vlanId;
      repr.vlanPriority = frame.vlanPriority;
      repr.vlanDropEligible = frame.vlanDropEligible;
    } else {
      repr.vlanId = 0;
      repr.vlanPriority = 0;
      repr.vlanDropEligible = false;
    }
    return true;
  }

  /** Header length this record emits. */
  get headerLength(): number {
    return this.hasVlanTag ? ETHERNET_VLAN_HEADER_LEN : ETHERNET_HEADER_LEN;
  }

  /** Write the header at `offset`; returns its length. */
  emit(view: DataView, offset: number): number {
    writeMac(view, offset + DESTINATION, this.destination);
    writeMac(view, offset + SOURCE, this.source);
    if (!this.hasVlanTag) {
      view.setUint16(offset + ETHER_TYPE, this.etherType);
      return ETHERNET_HEADER_LEN;
    }
    view.setUint16(offset + ETHER_TYPE, ETHERTYPE_VLAN);
    const tci = ((this.vlanPriority & 7) << 13) | (this.vlanDropEligible ? 0x1000 : 0) | (this.vlanId & 0x0fff);
    view.setUint16(offset + VLAN_TCI, tci);
    view.setUint16(offset + VLAN_ETHER_TYPE, this.etherType);
    return ETHERNET_VLAN_HEADER_LEN;
  }
}

function copyMacOut(view: DataView, from: number, bytes: Uint8Array, at: number): void {
  for (let i = 0; i < MAC_LEN; i++) bytes[at + i] = view.getUint8(from + i);
}

function copyMacIn(bytes: Uint8Array, at: number, view: DataView, to: number): void {
  for (let i = 0; i < MAC_LEN; i++) view.setUint8(to + i, bytes[at + i]);
}
