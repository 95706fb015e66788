import { strict as assert } from 'node:assert';
import { Ipv4Packet } from '../../../src/wire/ipv4';
import { UDP_HEADER_LEN, UdpPacket, UdpRepr, udpChecksumUpdate32, udpField } from '../../../src/wire/udp';
import { captured, fromHex, synthetic } from '../../fixtures/wire/frames';
import { FRAME_AT, Prng, bytesAt, placed, poisoned, toHex } from '../../fixtures/wire/util';

const HOST_A = 0xc6120102; // 198.18.1.2
const HOST_B = 0xc6120202; // 198.18.2.2

/** The UDP datagram of a captured frame (Ethernet and a 20-byte IPv4 header removed). */
function udpBytes(hex: string): Uint8Array {
  return fromHex(hex).subarray(14 + 20);
}

function datagramOf(bytes: Uint8Array, length = bytes.length): { packet: UdpPacket; ok: boolean; view: DataView; memory: Uint8Array } {
  const { view, memory } = placed(bytes);
  const packet = new UdpPacket();
  const ok = packet.reset(view, FRAME_AT, length);
  return { packet, ok, view, memory };
}

describe('wire/udp', () => {
  const request = udpBytes(captured.udpRequest.hex);
  const reply = udpBytes(captured.udpReply.hex);

  it('deconstructs a captured datagram', () => {
    const { packet, ok, memory } = datagramOf(request);
    assert.equal(ok, true);
    assert.equal(packet.sourcePort, 40000);
    assert.equal(packet.destinationPort, 7777);
    assert.equal(packet.datagramLength, 21);
    assert.equal(packet.checksum, 0xcfbc);
    assert.equal(packet.payloadOffset, FRAME_AT + 8);
    assert.equal(packet.payloadLength, 13);
    assert.equal(Buffer.from(memory.subarray(packet.payloadOffset, packet.payloadOffset + 13)).toString(), 'hello nicring');
    assert.equal(packet.verifyChecksum(HOST_A, HOST_B), true);
    assert.equal(packet.verifyChecksum(HOST_A, HOST_A), false, 'the pseudo-header counts');
  });

  it('constructs a datagram in a buffer of 0xa5', () => {
    const { view, memory } = poisoned(request.length);
    memory.set(request.subarray(UDP_HEADER_LEN), FRAME_AT + UDP_HEADER_LEN);
    const packet = new UdpPacket();
    packet.resetUnchecked(view, FRAME_AT, request.length);
    packet.sourcePort = 40000;
    packet.destinationPort = 7777;
    packet.datagramLength = 21;
    packet.fillChecksum(HOST_A, HOST_B);
    assert.equal(toHex(bytesAt(memory, 0, request.length)), toHex(request));
  });

  it('parses a captured datagram into a record', () => {
    const { packet } = datagramOf(reply);
    const repr = UdpRepr.parse(packet, HOST_B, HOST_A);
    assert.ok(repr);
    assert.deepEqual({ ...repr }, { sourcePort: 7777, destinationPort: 40000, payloadLength: 13 });
  });

  it('emits a record with its checksum over data already in place', () => {
    const { view, memory } = poisoned(reply.length);
    memory.set(reply.subarray(UDP_HEADER_LEN), FRAME_AT + UDP_HEADER_LEN);
    const repr = new UdpRepr();
    repr.sourcePort = 7777;
    repr.destinationPort = 40000;
    repr.payloadLength = 13;
    assert.equal(repr.emit(view, FRAME_AT, HOST_B, HOST_A), UDP_HEADER_LEN);
    assert.equal(toHex(bytesAt(memory, 0, reply.length)), toHex(reply));
  });

  it('accepts a zero checksum as "none" and can emit one', () => {
    const bytes = udpBytes(synthetic.udpRequestWithoutChecksum);
    const { packet } = datagramOf(bytes);
    assert.equal(packet.checksum, 0);
    assert.equal(packet.verifyChecksum(0x01020304, 0x05060708), true);
    assert.ok(UdpRepr.parse(packet, HOST_A, HOST_B));
    const { view, memory } = poisoned(bytes.length);
    memory.set(bytes.subarray(UDP_HEADER_LEN), FRAME_AT + UDP_HEADER_LEN);
    const repr = new UdpRepr();
    Object.assign(repr, { sourcePort: 40000, destinationPort: 7777, payloadLength: 13 });
    assert.equal(repr.emitWithoutChecksum(view, FRAME_AT), UDP_HEADER_LEN);
    assert.equal(toHex(bytesAt(memory, 0, bytes.length)), toHex(bytes));
  });

  it('sends a computed zero checksum as 0xffff', () => {
    const bytes = Uint8Array.from(request);
    const { packet, view } = datagramOf(bytes);
    // Adding the checksum into a data word makes the ones' complement sum 0xffff, so the computed checksum 0.
    const wordAt = packet.payloadOffset;
    const word = view.getUint16(wordAt) + packet.checksum;
    view.setUint16(wordAt, (word & 0xffff) + (word >>> 16));
    packet.fillChecksum(HOST_A, HOST_B);
    assert.equal(packet.checksum, 0xffff);
    assert.equal(packet.verifyChecksum(HOST_A, HOST_B), true);
    const repr = new UdpRepr();
    Object.assign(repr, { sourcePort: 40000, destinationPort: 7777, payloadLength: 13 });
    repr.emit(view, FRAME_AT, HOST_A, HOST_B);
    assert.equal(packet.checksum, 0xffff);
  });

  it('rejects truncated datagrams and lying Length fields', () => {
    assert.equal(datagramOf(request, 7).ok, false, 'shorter than a header');
    assert.equal(datagramOf(request, 20).ok, false, 'Length beyond the IPv4 payload');
    const short = Uint8Array.from(request);
    short[5] = 7;
    assert.equal(datagramOf(short).ok, false, 'Length < 8');
    short[5] = 8;
    assert.equal(datagramOf(short).ok, true, 'an empty datagram');
  });

  it('ignores bytes after Length', () => {
    const longer = new Uint8Array(request.length + 5);
    longer.set(request);
    const { packet, ok } = datagramOf(longer);
    assert.equal(ok, true);
    assert.equal(packet.payloadLength, 13);
    assert.equal(packet.verifyChecksum(HOST_A, HOST_B), true);
  });

  it('refuses a bad checksum unless told not to check', () => {
    const corrupted = Uint8Array.from(request);
    corrupted[10] ^= 0x20;
    const { packet } = datagramOf(corrupted);
    assert.equal(UdpRepr.parse(packet, HOST_A, HOST_B), null);
    assert.ok(UdpRepr.parse(packet, HOST_A, HOST_B, false));
  });

  it('turns a captured request into its reply in place, checksums still valid', () => {
    const frame = fromHex(captured.udpRequest.hex);
    const { view } = placed(frame);
    const ip = new Ipv4Packet();
    assert.equal(ip.reset(view, FRAME_AT + 14, frame.length - 14), true);
    const udp = new UdpPacket();
    assert.equal(udp.reset(view, ip.payloadOffset, ip.payloadLength), true);
    ip.swapAddresses();
    udp.swapPorts();
    assert.equal(ip.verifyChecksum(), true);
    assert.equal(udp.sourcePort, 7777);
    assert.equal(udp.destinationPort, 40000);
    assert.equal(udp.verifyChecksum(ip.source, ip.destination), true);
  });

  it('updates the checksum incrementally exactly as a full recompute, over random rewrites', () => {
    const prng = new Prng(768);
    const { packet } = datagramOf(Uint8Array.from(request));
    let source = HOST_A;
    let destination = HOST_B;
    const words = [udpField.SOURCE_PORT, udpField.DESTINATION_PORT, udpField.PAYLOAD, udpField.PAYLOAD + 2, udpField.PAYLOAD + 10];
    for (let trial = 0; trial < 20000; trial++) {
      const kind = prng.below(4);
      if (kind === 0) {
        packet.rewriteUint16(words[prng.below(words.length)], prng.chance(0.1) ? 0 : prng.below(0x10000));
      } else if (kind === 1) {
        packet.rewriteUint32(udpField.PAYLOAD + 4, prng.nextU32());
      } else {
        const address = prng.nextU32();
        packet.checksum = udpChecksumUpdate32(packet.checksum, kind === 2 ? source : destination, address);
        if (kind === 2) source = address;
        else destination = address;
      }
      const incremental = packet.checksum;
      assert.equal(packet.verifyChecksum(source, destination), true, `trial ${trial}`);
      packet.fillChecksum(source, destination);
      assert.equal(incremental, packet.checksum, `trial ${trial}`);
    }
  });

  it('keeps a zero ("none") checksum zero through incremental updates', () => {
    const { packet } = datagramOf(udpBytes(synthetic.udpRequestWithoutChecksum));
    packet.rewriteUint16(udpField.SOURCE_PORT, 1234);
    packet.rewriteUint32(udpField.PAYLOAD, 0xdeadbeef);
    assert.equal(packet.checksum, 0);
  });
});
