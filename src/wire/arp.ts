// ARP (RFC 826) for Ethernet and IPv4.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |        Hardware type          |        Protocol type          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  HW addr len  | Proto addr len|          Operation            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |              Sender hardware address (6 bytes)                |
// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |  Sender protocol address      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |   (4 bytes)                   |                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
// |              Target hardware address (6 bytes)               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |              Target protocol address (4 bytes)                |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The address fields are at fixed offsets only for 6-byte hardware and
// 4-byte protocol addresses; the view checks the length the packet declares,
// the record accepts only Ethernet/IPv4.

import { EMPTY_VIEW } from './bytes';
import { ETHERTYPE_IPV4, readMac, writeMac } from './ethernet';

// A module-local copy: an imported binding costs a call in some module systems (esbuild's CJS).
const PROTOCOL_IPV4 = ETHERTYPE_IPV4;

// Byte offsets of the ARP fields (Ethernet/IPv4 layout), as module constants so that accessors stay small enough to inline.
const HARDWARE_TYPE = 0;
const PROTOCOL_TYPE = 2;
const HARDWARE_LENGTH = 4;
const PROTOCOL_LENGTH = 5;
const OPERATION = 6;
const SENDER_HARDWARE_ADDRESS = 8;
const SENDER_PROTOCOL_ADDRESS = 14;
const TARGET_HARDWARE_ADDRESS = 18;
const TARGET_PROTOCOL_ADDRESS = 24;
const END = 28;

/** Byte offsets of the ARP fields (Ethernet/IPv4 layout). */
const arpField = {
  HARDWARE_TYPE,
  PROTOCOL_TYPE,
  HARDWARE_LENGTH,
  PROTOCOL_LENGTH,
  OPERATION,
  SENDER_HARDWARE_ADDRESS,
  SENDER_PROTOCOL_ADDRESS,
  TARGET_HARDWARE_ADDRESS,
  TARGET_PROTOCOL_ADDRESS,
  END,
} as const;

/** Length of the fixed part before the addresses. */
const ARP_FIXED_HEADER_LEN = SENDER_HARDWARE_ADDRESS;
/** Length of an Ethernet/IPv4 ARP packet. */
const ARP_HEADER_LEN = END;

/** Hardware type: Ethernet. */
const ARP_HARDWARE_ETHERNET = 1;
/** Operation: request. */
const ARP_OPERATION_REQUEST = 1;
/** Operation: reply. */
const ARP_OPERATION_REPLY = 2;

// Exported by name here, not with `export const`, so that this file's own
// accessors use plain constants (TypeScript's CommonJS output would turn
// each use into an `exports.*` property load).
export {
  arpField,
  ARP_FIXED_HEADER_LEN,
  ARP_HEADER_LEN,
  ARP_HARDWARE_ETHERNET,
  ARP_OPERATION_REQUEST,
  ARP_OPERATION_REPLY,
};

/** A reusable view of an ARP packet; never allocates. */
export class ArpPacket {
  view: DataView = EMPTY_VIEW;
  offset = 0;
  length = 0;

  /** Point at a received packet. False when shorter than the addresses it declares. */
  reset(view: DataView, offset: number, length: number): boolean {
    this.view = view;
    this.offset = offset;
    this.length = length;
    if (length < ARP_FIXED_HEADER_LEN) return false;
    const addresses = view.getUint8(offset + HARDWARE_LENGTH) + view.getUint8(offset + PROTOCOL_LENGTH);
    return length >= ARP_FIXED_HEADER_LEN + 2 * addresses;
  }

  /** Point at a region to be written; no checks. */
  resetUnchecked(view: DataView, offset: number, length: number): void {
    this.view = view;
    this.offset = offset;
    this.length = length;
  }

  get hardwareType(): number {
    return this.view.getUint16(this.offset + HARDWARE_TYPE);
  }
  set hardwareType(value: number) {
    this.view.setUint16(this.offset + HARDWARE_TYPE, value);
  }
  get protocolType(): number {
    return this.view.getUint16(this.offset + PROTOCOL_TYPE);
  }
  set protocolType(value: number) {
    this.view.setUint16(this.offset + PROTOCOL_TYPE, value);
  }
  get hardwareLength(): number {
    return this.view.getUint8(this.offset + HARDWARE_LENGTH);
  }
  set hardwareLength(value: number) {
    this.view.setUint8(this.offset + HARDWARE_LENGTH, value);
  }
  get protocolLength(): number {
    return this.view.getUint8(this.offset + PROTOCOL_LENGTH);
  }
  set protocolLength(value: number) {
    this.view.setUint8(this.offset + PROTOCOL_LENGTH, value);
  }
  get operation(): number {
    return this.view.getUint16(this.offset + OPERATION);
  }
  set operation(value: number) {
    this.view.setUint16(this.offset + OPERATION, value);
  }

  /** True when the packet is Ethernet/IPv4, so the address accessors below apply. */
  get isEthernetIpv4(): boolean {
    return (
      this.hardwareType === ARP_HARDWARE_ETHERNET &&
      this.protocolType === PROTOCOL_IPV4 &&
      this.hardwareLength === 6 &&
      this.protocolLength === 4
    );
  }

  /** Sender MAC as a 48-bit number (Ethernet/IPv4 only). */
  get senderHardwareAddress(): number {
    return readMac(this.view, this.offset + SENDER_HARDWARE_ADDRESS);
  }
  set senderHardwareAddress(mac: number) {
    writeMac(this.view, this.offset + SENDER_HARDWARE_ADDRESS, mac);
  }
  /** Sender IPv4 address as a u32 (Ethernet/IPv4 only). */
  get senderProtocolAddress(): number {
    return this.view.getUint32(this.offset + SENDER_PROTOCOL_ADDRESS);
  }
  set senderProtocolAddress(address: number) {
    this.view.setUint32(this.offset + SENDER_PROTOCOL_ADDRESS, address);
  }
  /** Target MAC as a 48-bit number (Ethernet/IPv4 only). */
  get targetHardwareAddress(): number {
    return readMac(this.view, this.offset + TARGET_HARDWARE_ADDRESS);
  }
  set targetHardwareAddress(mac: number) {
    writeMac(this.view, this.offset + TARGET_HARDWARE_ADDRESS, mac);
  }
  /** Target IPv4 address as a u32 (Ethernet/IPv4 only). */
  get targetProtocolAddress(): number {
    return this.view.getUint32(this.offset + TARGET_PROTOCOL_ADDRESS);
  }
  set targetProtocolAddress(address: number) {
    this.view.setUint32(this.offset + TARGET_PROTOCOL_ADDRESS, address);
  }

  /** Length the packet declares (fixed part plus both address pairs). */
  get packetLength(): number {
    return ARP_FIXED_HEADER_LEN + 2 * (this.hardwareLength + this.protocolLength);
  }
}

/** A plain Ethernet/IPv4 ARP record. */
export class ArpRepr {
  /** ARP_OPERATION_REQUEST, ARP_OPERATION_REPLY, or any other value passed through. */
  operation = 0;
  senderHardwareAddress = 0;
  senderProtocolAddress = 0;
  targetHardwareAddress = 0;
  targetProtocolAddress = 0;

  /** The record of a packet (view already reset); null unless Ethernet/IPv4. */
  static parse(packet: ArpPacket): ArpRepr | null {
    const repr = new ArpRepr();
    return ArpRepr.parseInto(repr, packet) ? repr : null;
  }

  /** Fill `repr` from a reset packet; false unless Ethernet/IPv4. Never allocates. */
  static parseInto(repr: ArpRepr, packet: ArpPacket): boolean {
    if (packet.length < ARP_HEADER_LEN || !packet.isEthernetIpv4) return false;
    repr.operation = packet.operation;
    repr.senderHardwareAddress = packet.senderHardwareAddress;
    repr.senderProtocolAddress = packet.senderProtocolAddress;
    repr.targetHardwareAddress = packet.targetHardwareAddress;
    repr.targetProtocolAddress = packet.targetProtocolAddress;
    return true;
  }

  /** Length this record emits. */
  get packetLength(): number {
    return ARP_HEADER_LEN;
  }

  /** Write the packet at `offset`; returns its length. */
  emit(view: DataView, offset: number): number {
    view.setUint16(offset + HARDWARE_TYPE, ARP_HARDWARE_ETHERNET);
    view.setUint16(offset + PROTOCOL_TYPE, PROTOCOL_IPV4);
    view.setUint8(offset + HARDWARE_LENGTH, 6);
    view.setUint8(offset + PROTOCOL_LENGTH, 4);
    view.setUint16(offset + OPERATION, this.operation);
    writeMac(view, offset + SENDER_HARDWARE_ADDRESS, this.senderHardwareAddress);
    view.setUint32(offset + SENDER_PROTOCOL_ADDRESS, this.senderProtocolAddress);
    writeMac(view, offset + TARGET_HARDWARE_ADDRESS, this.targetHardwareAddress);
    view.setUint32(offset + TARGET_PROTOCOL_ADDRESS, this.targetProtocolAddress);
    return ARP_HEADER_LEN;
  }
}
