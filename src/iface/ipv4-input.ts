// IPv4 input (RFC 791, RFC 1122 3.2.1): check a received packet, accept it
// when it is for us, check its options as Linux does (ipv4-options.ts),
// reassemble fragments, and hand the datagram to ICMP, UDP, TCP, or the
// unknown-protocol answer. Every refusal has its own counter.

import { EMPTY_VIEW } from '../wire/bytes';
import { IPV4_HEADER_LEN, IP_PROTOCOL_ICMP, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP, Ipv4Packet, ipv4Field } from '../wire/ipv4';
import { isIpv4Multicast, type Ipv4Addressing } from './address';
import type { StackCounters } from './counters';
import { ipv4HeaderSum, packetChecksumSum } from '../wire/checksum';
import { Ipv4OptionsVerdict, checkIpv4Options, optionsPointer, optionsReason } from './ipv4-options';
import type { Reassembler, ReassemblySlot } from './reassembly';

/**
 * A received datagram handed to a transport. One reused record: valid only
 * during the call, like the frame it points into.
 */
export class Ipv4Datagram {
  /** The memory holding the datagram: the device's, or a reassembly buffer. */
  view: DataView = EMPTY_VIEW;
  bytes: Uint8Array = new Uint8Array(0);
  headerOffset = 0;
  headerLength = 0;
  payloadOffset = 0;
  payloadLength = 0;
  source = 0;
  destination = 0;
  protocol = 0;
  /** Sent to a broadcast or multicast address (IP or link): never answered with an error. */
  toBroadcast = false;
  /** The received frame's token for reply in place; -1 when the datagram is not in a lent frame (reassembled). */
  token = -1;
  /** Offset of the received frame's Ethernet header. */
  frameOffset = 0;
  /** Bytes the buffer holds from payloadOffset: how long a reply written over the payload can be. */
  capacity = 0;
}

/** A transport's input. */
export interface TransportInput {
  input(datagram: Ipv4Datagram): void;
}

/** What IPv4 input needs of ICMP beyond its input. */
export interface UnreachableSender {
  /** Answer a datagram whose protocol nobody handles (protocol unreachable). */
  protocolUnreachable(datagram: Ipv4Datagram): void;
  /** Answer a datagram (or first fragment) whose header is wrong at byte `pointer` (parameter problem). */
  parameterProblem(datagram: Ipv4Datagram, pointer: number): void;
}

/** Checks and dispatches received IPv4 packets. */
export class Ipv4Input {
  private readonly addressing: Ipv4Addressing;
  private readonly counters: StackCounters;
  private readonly reassembler: Reassembler;
  private readonly frameCapacity: number;
  private readonly packet = new Ipv4Packet();
  private readonly direct = new Ipv4Datagram();
  private readonly reassembled = new Ipv4Datagram();
  icmp: TransportInput & UnreachableSender | null = null;
  udp: TransportInput | null = null;
  tcp: TransportInput | null = null;

  constructor(addressing: Ipv4Addressing, counters: StackCounters, reassembler: Reassembler, frameCapacity: number) {
    this.addressing = addressing;
    this.counters = counters;
    this.reassembler = reassembler;
    this.frameCapacity = frameCapacity;
  }

  /**
   * Handle the IPv4 packet at `offset` (`length` bytes to the frame's end)
   * of the frame at `frameOffset`, lent as `token`. `linkMulticast` says the
   * frame was sent to a broadcast or multicast MAC.
   */
  input(view: DataView, bytes: Uint8Array, offset: number, length: number, token: number, frameOffset: number, linkMulticast: boolean): void {
    const counters = this.counters;
    if (length < IPV4_HEADER_LEN) {
      counters.ipv4TooShort++;
      return;
    }
    const versionIhl = view.getUint8(offset + ipv4Field.VERSION_IHL);
    if (versionIhl >>> 4 !== 4) {
      counters.ipv4BadVersion++;
      return;
    }
    const headerLength = (versionIhl & 0x0f) << 2;
    if (headerLength < IPV4_HEADER_LEN || headerLength > length) {
      counters.ipv4BadHeaderLength++;
      return;
    }
    const totalLength = view.getUint16(offset + ipv4Field.TOTAL_LENGTH);
    if (totalLength < headerLength || totalLength > length) {
      counters.ipv4BadTotalLength++;
      return;
    }
    const packet = this.packet;
    packet.resetUnchecked(view, offset, totalLength);
    const headerSum = headerLength === IPV4_HEADER_LEN ? ipv4HeaderSum(view, offset) : packetChecksumSum(view, offset, headerLength, 0);
    if (headerSum !== 0xffff) {
      counters.ipv4BadChecksum++;
      return;
    }
    const addressing = this.addressing;
    // Read here, not through the view's getters: a getter that is not inlined returns addresses boxed.
    const source = view.getUint32(offset + ipv4Field.SOURCE);
    if (source === 0 || source === addressing.address || addressing.isBroadcast(source) || isIpv4Multicast(source)) {
      counters.ipv4BadSource++;
      return;
    }
    const destination = view.getUint32(offset + ipv4Field.DESTINATION);
    let toBroadcast = linkMulticast;
    if (destination !== addressing.address) {
      if (!addressing.isBroadcast(destination)) {
        counters.ipv4NotForUs++;
        return;
      }
      toBroadcast = true;
    }
    if (packet.timeToLive === 0) {
      counters.ipv4TtlZero++;
      return;
    }
    // Every fragment carries its own header: each one's options are checked, as Linux does before reassembly.
    if (headerLength > IPV4_HEADER_LEN) {
      const verdict = checkIpv4Options(view, offset, headerLength);
      if (verdict !== Ipv4OptionsVerdict.OK) {
        this.refuseOptions(verdict, view, bytes, offset, headerLength, totalLength, source, destination, toBroadcast);
        return;
      }
    }
    if (packet.isFragment) {
      counters.ipv4FragmentsReceived++;
      const slot = this.reassembler.add(packet);
      if (slot !== null) this.deliverReassembled(slot, toBroadcast);
      return;
    }
    const datagram = this.direct;
    datagram.view = view;
    datagram.bytes = bytes;
    datagram.headerOffset = offset;
    datagram.headerLength = headerLength;
    datagram.payloadOffset = offset + headerLength;
    datagram.payloadLength = totalLength - headerLength;
    datagram.source = source;
    datagram.destination = destination;
    datagram.protocol = packet.protocol;
    datagram.toBroadcast = toBroadcast;
    datagram.token = token;
    datagram.frameOffset = frameOffset;
    // A frame put together from several buffers is longer than one buffer: its room is its length.
    const frameRoom = offset - frameOffset + length;
    datagram.capacity = (frameRoom > this.frameCapacity ? frameRoom : this.frameCapacity) - (offset + headerLength - frameOffset);
    this.dispatch(datagram);
  }

  /** Count a datagram refused for its options and, unless it was source routed, answer parameter problem. */
  private refuseOptions(verdict: number, view: DataView, bytes: Uint8Array, offset: number, headerLength: number, totalLength: number, source: number, destination: number, toBroadcast: boolean): void {
    const counters = this.counters;
    const reason = optionsReason(verdict);
    if (reason === Ipv4OptionsVerdict.SOURCE_ROUTED) {
      counters.ipv4SourceRouted++;
      return;
    }
    if (reason === Ipv4OptionsVerdict.BAD_LENGTH) counters.ipv4OptionBadLength++;
    else if (reason === Ipv4OptionsVerdict.BAD_POINTER) counters.ipv4OptionBadPointer++;
    else if (reason === Ipv4OptionsVerdict.REPEATED) counters.ipv4OptionRepeated++;
    else if (reason === Ipv4OptionsVerdict.TIMESTAMP_OVERFLOW) counters.ipv4OptionTimestampOverflow++;
    else counters.ipv4OptionCipso++;
    if (this.icmp === null) return;
    // No error about a fragment other than the first (RFC 1122 3.2.2).
    if (this.packet.fragmentOffsetBytes !== 0) {
      counters.icmpErrorsSuppressed++;
      return;
    }
    const datagram = this.direct;
    datagram.view = view;
    datagram.bytes = bytes;
    datagram.headerOffset = offset;
    datagram.headerLength = headerLength;
    datagram.payloadOffset = offset + headerLength;
    datagram.payloadLength = totalLength - headerLength;
    datagram.source = source;
    datagram.destination = destination;
    datagram.protocol = this.packet.protocol;
    datagram.toBroadcast = toBroadcast;
    datagram.token = -1;
    datagram.frameOffset = -1;
    datagram.capacity = 0;
    this.icmp.parameterProblem(datagram, optionsPointer(verdict));
  }

  private deliverReassembled(slot: ReassemblySlot, toBroadcast: boolean): void {
    const datagram = this.reassembled;
    const view = slot.view as DataView;
    datagram.view = view;
    datagram.bytes = slot.bytes as Uint8Array;
    datagram.headerOffset = slot.headerOffset;
    datagram.headerLength = slot.headerLength;
    datagram.payloadOffset = slot.payloadOffset;
    datagram.payloadLength = slot.payloadLength;
    datagram.source = slot.source;
    datagram.destination = slot.destination;
    datagram.protocol = slot.protocol;
    datagram.toBroadcast = toBroadcast;
    datagram.token = -1;
    datagram.frameOffset = -1;
    datagram.capacity = view.byteLength - slot.payloadOffset;
    this.dispatch(datagram);
    this.reassembler.release(slot);
  }

  private dispatch(datagram: Ipv4Datagram): void {
    this.counters.ipv4Received++;
    const protocol = datagram.protocol;
    if (protocol === IP_PROTOCOL_UDP && this.udp !== null) this.udp.input(datagram);
    else if (protocol === IP_PROTOCOL_TCP && this.tcp !== null) this.tcp.input(datagram);
    else if (protocol === IP_PROTOCOL_ICMP && this.icmp !== null) this.icmp.input(datagram);
    else {
      this.counters.ipv4UnknownProtocol++;
      if (this.icmp !== null) this.icmp.protocolUnreachable(datagram);
    }
  }
}
