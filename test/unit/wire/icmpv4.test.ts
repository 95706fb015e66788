import { strict as assert } from 'node:assert';
import { checksumUpdate16 } from '../../../src/wire/checksum';
import {
  ICMPV4_DESTINATION_UNREACHABLE,
  ICMPV4_ECHO_REPLY,
  ICMPV4_ECHO_REQUEST,
  ICMPV4_HEADER_LEN,
  ICMPV4_TIME_EXCEEDED,
  Icmpv4Packet,
  Icmpv4Repr,
  Icmpv4TimeExceededCode,
  Icmpv4UnreachableCode,
  icmpv4Field,
} from '../../../src/wire/icmpv4';
import { IP_PROTOCOL_UDP, Ipv4Packet } from '../../../src/wire/ipv4';
import { captured, fromHex } from '../../fixtures/wire/frames';
import { FRAME_AT, Prng, bytesAt, placed, poisoned, toHex } from '../../fixtures/wire/util';

const HOST_A = 0xc6120102; // 198.18.1.2
const HOST_B = 0xc6120202; // 198.18.2.2

/** The ICMP message of a captured frame (Ethernet and a 20-byte IPv4 header removed). */
function icmpBytes(hex: string): Uint8Array {
  return fromHex(hex).subarray(14 + 20);
}

/** The IPv4 packet of a captured frame. */
function ipv4Bytes(hex: string): Uint8Array {
  return fromHex(hex).subarray(14);
}

function messageOf(bytes: Uint8Array): { packet: Icmpv4Packet; view: DataView; memory: Uint8Array } {
  const { view, memory } = placed(bytes);
  const packet = new Icmpv4Packet();
  assert.equal(packet.reset(view, FRAME_AT, bytes.length), true);
  return { packet, view, memory };
}

describe('wire/icmpv4', () => {
  const echoRequest = icmpBytes(captured.echoRequest.hex);
  const echoReply = icmpBytes(captured.echoReply.hex);
  const timeExceeded = icmpBytes(captured.timeExceeded.hex);
  const portUnreachable = icmpBytes(captured.portUnreachable.hex);

  it('deconstructs a captured echo request', () => {
    const { packet } = messageOf(echoRequest);
    assert.equal(packet.type, ICMPV4_ECHO_REQUEST);
    assert.equal(packet.code, 0);
    assert.equal(packet.checksum, 0xc44f);
    assert.equal(packet.echoIdentifier, 0x3bc3);
    assert.equal(packet.echoSequence, 1);
    assert.equal(packet.payloadOffset, FRAME_AT + 8);
    assert.equal(packet.payloadLength, 24);
    assert.equal(packet.verifyChecksum(), true);
  });

  it('deconstructs a captured time exceeded message and the header it quotes', () => {
    const { packet, view } = messageOf(timeExceeded);
    assert.equal(packet.type, ICMPV4_TIME_EXCEEDED);
    assert.equal(packet.code, Icmpv4TimeExceededCode.TTL_EXCEEDED);
    assert.equal(packet.restOfHeader, 0);
    assert.equal(packet.verifyChecksum(), true);
    const quoted = new Ipv4Packet();
    assert.equal(quoted.resetHeader(view, packet.payloadOffset, packet.payloadLength), true);
    assert.equal(quoted.timeToLive, 1);
    assert.equal(quoted.destination, HOST_B);
  });

  it('constructs an echo reply in a buffer of 0xa5', () => {
    const { view, memory } = poisoned(echoReply.length);
    memory.set(echoRequest.subarray(ICMPV4_HEADER_LEN), FRAME_AT + ICMPV4_HEADER_LEN);
    const packet = new Icmpv4Packet();
    packet.resetUnchecked(view, FRAME_AT, echoReply.length);
    packet.type = ICMPV4_ECHO_REPLY;
    packet.code = 0;
    packet.echoIdentifier = 0x3bc3;
    packet.echoSequence = 1;
    packet.fillChecksum();
    assert.equal(toHex(bytesAt(memory, 0, echoReply.length)), toHex(echoReply));
  });

  it('parses a captured echo request into a record that points at its data', () => {
    const { packet, view } = messageOf(echoRequest);
    const repr = Icmpv4Repr.parse(packet);
    assert.ok(repr);
    assert.equal(repr.type, ICMPV4_ECHO_REQUEST);
    assert.equal(repr.code, 0);
    assert.equal(repr.identifier, 0x3bc3);
    assert.equal(repr.sequence, 1);
    assert.equal(repr.payloadView, view);
    assert.equal(repr.payloadOffset, FRAME_AT + 8);
    assert.equal(repr.payloadLength, 24);
    assert.equal(repr.quotedDataLength, 0);
  });

  it('parses a captured port unreachable message with the datagram it quotes', () => {
    const { packet, view } = messageOf(portUnreachable);
    const repr = Icmpv4Repr.parse(packet);
    assert.ok(repr);
    assert.equal(repr.type, ICMPV4_DESTINATION_UNREACHABLE);
    assert.equal(repr.code, Icmpv4UnreachableCode.PORT);
    assert.equal(repr.nextHopMtu, 0);
    assert.equal(repr.quotedHeader.source, HOST_A);
    assert.equal(repr.quotedHeader.destination, HOST_B);
    assert.equal(repr.quotedHeader.protocol, IP_PROTOCOL_UDP);
    assert.equal(repr.quotedHeader.payloadLength, 21);
    assert.equal(repr.quotedDataOffset, FRAME_AT + 8 + 20);
    assert.equal(repr.quotedDataLength, 21);
    assert.equal(view.getUint16(repr.quotedDataOffset), 40000, 'quoted source port');
    assert.equal(view.getUint16(repr.quotedDataOffset + 2), 9, 'quoted destination port');
  });

  it('emits an echo reply record, copying the data', () => {
    const request = placed(echoRequest);
    const repr = new Icmpv4Repr();
    repr.type = ICMPV4_ECHO_REPLY;
    repr.identifier = 0x3bc3;
    repr.sequence = 1;
    repr.payloadView = request.view;
    repr.payloadOffset = FRAME_AT + 8;
    repr.payloadLength = 24;
    const { view, memory } = poisoned(echoReply.length);
    assert.equal(repr.emit(view, FRAME_AT), echoReply.length);
    assert.equal(toHex(bytesAt(memory, 0, echoReply.length)), toHex(echoReply));
  });

  it('emits an echo reply in place over its request', () => {
    const { packet, view, memory } = messageOf(echoRequest);
    const repr = Icmpv4Repr.parse(packet);
    assert.ok(repr);
    repr.type = ICMPV4_ECHO_REPLY;
    assert.equal(repr.emit(view, FRAME_AT), echoReply.length);
    assert.equal(toHex(bytesAt(memory, 0, echoReply.length)), toHex(echoReply));
  });

  it('emits the port unreachable and time exceeded messages Linux sent, from the offending packets', () => {
    // Host B saw the datagram after the router: TTL 63, header checksum updated.
    const forwarded = placed(ipv4Bytes(captured.udpToClosedPort.hex));
    const forwardedHeader = new Ipv4Packet();
    assert.equal(forwardedHeader.reset(forwarded.view, FRAME_AT, 41), true);
    forwardedHeader.rewriteTimeToLive(63);
    const cases = [
      { offending: forwarded, length: 41, message: portUnreachable, type: ICMPV4_DESTINATION_UNREACHABLE, code: 3 },
      { offending: placed(ipv4Bytes(captured.echoRequestTtl1.hex)), length: 52, message: timeExceeded, type: ICMPV4_TIME_EXCEEDED, code: 0 },
    ];
    for (const { offending, length, message, type, code } of cases) {
      const repr = new Icmpv4Repr();
      repr.type = type;
      repr.code = code;
      repr.payloadView = offending.view;
      repr.payloadOffset = FRAME_AT;
      repr.payloadLength = length;
      const { view, memory } = poisoned(message.length);
      assert.equal(repr.emit(view, FRAME_AT), message.length);
      assert.equal(toHex(bytesAt(memory, 0, message.length)), toHex(message));
    }
  });

  it('emits "fragmentation needed" with the next-hop MTU', () => {
    const repr = new Icmpv4Repr();
    repr.type = ICMPV4_DESTINATION_UNREACHABLE;
    repr.code = Icmpv4UnreachableCode.FRAGMENTATION_NEEDED;
    repr.nextHopMtu = 1400;
    const { view } = poisoned(ICMPV4_HEADER_LEN);
    assert.equal(repr.emit(view, FRAME_AT), ICMPV4_HEADER_LEN);
    assert.equal(view.getUint32(FRAME_AT + icmpv4Field.REST_OF_HEADER), 1400);
  });

  it('rejects short messages, bad checksums and errors without a valid quoted header', () => {
    const packet = new Icmpv4Packet();
    assert.equal(packet.reset(placed(echoRequest).view, FRAME_AT, 7), false);
    const corrupted = Uint8Array.from(echoRequest);
    corrupted[20] ^= 1;
    assert.equal(Icmpv4Repr.parse(messageOf(corrupted).packet), null);
    assert.ok(Icmpv4Repr.parse(messageOf(corrupted).packet, false));
    const shortQuote = Uint8Array.from(portUnreachable.subarray(0, 8 + 19));
    const { packet: cut } = messageOf(shortQuote);
    cut.fillChecksum();
    assert.equal(Icmpv4Repr.parse(cut), null, 'quoted header cut short');
    const badVersion = Uint8Array.from(portUnreachable);
    badVersion[8] = 0x65;
    const { packet: v6 } = messageOf(badVersion);
    v6.fillChecksum();
    assert.equal(Icmpv4Repr.parse(v6), null, 'quoted header not IPv4');
  });

  it('passes unknown types through with their rest of header', () => {
    const bytes = Uint8Array.from(echoRequest);
    bytes[0] = 42;
    const { packet, view } = messageOf(bytes);
    packet.fillChecksum();
    const repr = Icmpv4Repr.parse(packet);
    assert.ok(repr);
    assert.equal(repr.type, 42);
    assert.equal(repr.restOfHeader, 0x3bc30001);
    assert.equal(repr.identifier, 0);
    const out = poisoned(bytes.length);
    repr.emit(out.view, FRAME_AT);
    assert.equal(toHex(bytesAt(out.memory, 0, bytes.length)), toHex(bytesAt(new Uint8Array(view.buffer), 0, bytes.length)));
  });

  it('turns a request into a reply with an incremental checksum equal to a full recompute', () => {
    const prng = new Prng(792);
    const { packet } = messageOf(echoRequest);
    for (let trial = 0; trial < 2000; trial++) {
      const oldWord = (packet.type << 8) | packet.code;
      const newType = prng.chance(0.5) ? ICMPV4_ECHO_REPLY : ICMPV4_ECHO_REQUEST;
      packet.type = newType;
      const incremental = checksumUpdate16(packet.checksum, oldWord, newType << 8);
      const sequence = packet.echoSequence;
      const newSequence = prng.below(0x10000);
      packet.echoSequence = newSequence;
      const both = checksumUpdate16(incremental, sequence, newSequence);
      packet.fillChecksum();
      assert.equal(both, packet.checksum);
    }
    assert.equal(packet.verifyChecksum(), true);
  });
});
