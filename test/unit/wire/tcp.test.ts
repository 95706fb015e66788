import { strict as assert } from 'node:assert';
import { checksumUpdate32 } from '../../../src/wire/checksum';
import {
  TCP_HEADER_LEN,
  TcpFlag,
  TcpOptionIterator,
  TcpOptionKind,
  TcpPacket,
  TcpRepr,
  tcpField,
} from '../../../src/wire/tcp';
import { captured, fromHex, synthetic } from '../../fixtures/wire/frames';
import { FRAME_AT, Prng, bytesAt, placed, poisoned, toHex } from '../../fixtures/wire/util';

const HOST_A = 0xc6120102; // 198.18.1.2
const HOST_B = 0xc6120202; // 198.18.2.2

/** The TCP segment of a captured frame (Ethernet and a 20-byte IPv4 header removed). */
function tcpBytes(hex: string): Uint8Array {
  return fromHex(hex).subarray(14 + 20);
}

function segmentOf(bytes: Uint8Array, length = bytes.length): { packet: TcpPacket; ok: boolean; view: DataView; memory: Uint8Array } {
  const { view, memory } = placed(bytes);
  const packet = new TcpPacket();
  const ok = packet.reset(view, FRAME_AT, length);
  return { packet, ok, view, memory };
}

/** Every option of a segment as [kind, length] pairs. */
function optionList(packet: TcpPacket): Array<[number, number]> {
  const options = new TcpOptionIterator();
  options.reset(packet);
  const list: Array<[number, number]> = [];
  while (options.next()) list.push([options.kind, options.optionLength]);
  assert.equal(options.malformed, false);
  return list;
}

describe('wire/tcp', () => {
  const syn = tcpBytes(captured.tcpSyn.hex);
  const ack = tcpBytes(captured.tcpAck.hex);
  const data = tcpBytes(captured.tcpData.hex);
  const sack = tcpBytes(synthetic.tcpSack);

  it('deconstructs a captured SYN and walks its options', () => {
    const { packet, ok } = segmentOf(syn);
    assert.equal(ok, true);
    assert.equal(packet.sourcePort, 40001);
    assert.equal(packet.destinationPort, 8080);
    assert.equal(packet.sequenceNumber, 0x93200866);
    assert.equal(packet.acknowledgmentNumber, 0);
    assert.equal(packet.headerLength, 40);
    assert.equal(packet.flags, TcpFlag.SYN);
    assert.equal(packet.syn, true);
    assert.equal(packet.ack, false);
    assert.equal(packet.windowSize, 64240);
    assert.equal(packet.checksum, 0x5b5f);
    assert.equal(packet.urgentPointer, 0);
    assert.equal(packet.payloadLength, 0);
    assert.equal(packet.segmentLength, 1, 'SYN takes one sequence number');
    assert.equal(packet.verifyChecksum(HOST_A, HOST_B), true);
    assert.deepEqual(optionList(packet), [
      [TcpOptionKind.MAX_SEGMENT_SIZE, 4],
      [TcpOptionKind.SACK_PERMITTED, 2],
      [TcpOptionKind.TIMESTAMPS, 10],
      [TcpOptionKind.NOP, 1],
      [TcpOptionKind.WINDOW_SCALE, 3],
    ]);
    const options = new TcpOptionIterator();
    options.reset(packet);
    const values: Record<string, number> = {};
    while (options.next()) {
      if (options.kind === TcpOptionKind.MAX_SEGMENT_SIZE) values.mss = options.maxSegmentSize;
      if (options.kind === TcpOptionKind.WINDOW_SCALE) values.windowScale = options.windowScale;
      if (options.kind === TcpOptionKind.TIMESTAMPS) values.tsval = options.timestampValue;
    }
    assert.deepEqual(values, { mss: 1460, windowScale: 10, tsval: 0x3991d19a });
  });

  it('deconstructs a captured data segment', () => {
    const { packet, memory } = segmentOf(data);
    assert.equal(packet.flags, TcpFlag.PSH | TcpFlag.ACK);
    assert.equal(packet.psh && packet.ack && !packet.fin && !packet.rst && !packet.urg, true);
    assert.equal(packet.ece || packet.cwr || packet.ns, false);
    assert.equal(packet.sequenceNumber, 0x93200867);
    assert.equal(packet.acknowledgmentNumber, 0xe7e43af3);
    assert.equal(packet.headerLength, 32);
    assert.equal(packet.payloadOffset, FRAME_AT + 32);
    assert.equal(packet.payloadLength, 11);
    assert.equal(packet.segmentLength, 11);
    assert.equal(Buffer.from(memory.subarray(packet.payloadOffset, packet.payloadOffset + 11)).toString(), 'nicring tcp');
    assert.equal(packet.verifyChecksum(HOST_A, HOST_B), true);
  });

  it('constructs a segment in a buffer of 0xa5', () => {
    const { view, memory } = poisoned(ack.length);
    memory.set(ack.subarray(TCP_HEADER_LEN), FRAME_AT + TCP_HEADER_LEN);
    const packet = new TcpPacket();
    packet.resetUnchecked(view, FRAME_AT, ack.length);
    packet.sourcePort = 40001;
    packet.destinationPort = 8080;
    packet.sequenceNumber = 0x93200867;
    packet.acknowledgmentNumber = 0xe7e43af3;
    packet.headerLength = 32;
    packet.clearFlags();
    packet.flags = TcpFlag.ACK;
    packet.windowSize = 63;
    packet.urgentPointer = 0;
    packet.fillChecksum(HOST_A, HOST_B);
    assert.equal(toHex(bytesAt(memory, 0, ack.length)), toHex(ack));
  });

  it('parses a captured SYN-ACK into a record with its options', () => {
    const { packet } = segmentOf(tcpBytes(captured.tcpSynAck.hex));
    const repr = TcpRepr.parse(packet, HOST_B, HOST_A);
    assert.ok(repr);
    assert.equal(repr.sourcePort, 8080);
    assert.equal(repr.destinationPort, 40001);
    assert.equal(repr.sequenceNumber, 0xe7e43af2);
    assert.equal(repr.acknowledgmentNumber, 0x93200867);
    assert.equal(repr.flags, TcpFlag.SYN | TcpFlag.ACK);
    assert.equal(repr.windowSize, 65160);
    assert.equal(repr.maxSegmentSize, 1460);
    assert.equal(repr.windowScale, 10);
    assert.equal(repr.sackPermitted, true);
    assert.equal(repr.hasTimestamps, true);
    assert.equal(repr.timestampValue, 0x95e10319);
    assert.equal(repr.timestampEcho, 0x3991d19a);
    assert.equal(repr.sackBlockCount, 0);
    assert.equal(repr.payloadLength, 0);
  });

  it('parses SACK blocks', () => {
    const { packet } = segmentOf(sack);
    const repr = TcpRepr.parse(packet, HOST_A, HOST_B);
    assert.ok(repr);
    assert.equal(repr.sackBlockCount, 2);
    assert.deepEqual(Array.from(repr.sackBlocks.subarray(0, 4)), [0xe7e43b40, 0xe7e43b80, 0xe7e43c00, 0xe7e43c40]);
    assert.equal(repr.hasTimestamps, true);
    assert.equal(repr.maxSegmentSize, 0);
    assert.equal(repr.windowScale, -1);
  });

  it('emits records byte for byte as Linux sent them', () => {
    for (const [bytes, source, destination] of [
      [syn, HOST_A, HOST_B],
      [tcpBytes(captured.tcpSynAck.hex), HOST_B, HOST_A],
      [ack, HOST_A, HOST_B],
      [data, HOST_A, HOST_B],
      [tcpBytes(captured.tcpFinAck.hex), HOST_B, HOST_A],
      [sack, HOST_A, HOST_B],
    ] as const) {
      const { packet } = segmentOf(bytes);
      const repr = TcpRepr.parse(packet, source, destination);
      assert.ok(repr);
      const { view, memory } = poisoned(bytes.length);
      memory.set(bytes.subarray(packet.headerLength), FRAME_AT + packet.headerLength);
      assert.equal(repr.emit(view, FRAME_AT, source, destination), packet.headerLength);
      assert.equal(toHex(bytesAt(memory, 0, bytes.length)), toHex(bytes));
    }
  });

  it('emits only the SACK blocks that fit in 40 option bytes', () => {
    const repr = new TcpRepr();
    repr.flags = TcpFlag.ACK;
    repr.hasTimestamps = true;
    repr.sackBlockCount = 4;
    repr.sackBlocks.set([1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(repr.emittedSackBlockCount, 3);
    assert.equal(repr.headerLength, 60);
    const { view } = poisoned(60);
    assert.equal(repr.emit(view, FRAME_AT, HOST_A, HOST_B), 60);
    const packet = new TcpPacket();
    assert.equal(packet.reset(view, FRAME_AT, 60), true);
    const parsed = TcpRepr.parse(packet, HOST_A, HOST_B);
    assert.equal(parsed?.sackBlockCount, 3);
    repr.hasTimestamps = false;
    assert.equal(repr.emittedSackBlockCount, 4);
  });

  it('rejects truncated segments and lying data offsets', () => {
    assert.equal(segmentOf(syn, 19).ok, false, 'shorter than a header');
    assert.equal(segmentOf(syn, 39).ok, false, 'data offset beyond the segment');
    const lying = Uint8Array.from(ack);
    lying[12] = 0x40;
    assert.equal(segmentOf(lying).ok, false, 'data offset < 5');
    lying[12] = 0xf0;
    assert.equal(segmentOf(lying).ok, false, 'data offset 15 in a 32-byte segment');
  });

  it('rejects malformed options, and skips unknown ones', () => {
    const parse = (options: number[]): TcpRepr | null => {
      const bytes = new Uint8Array(TCP_HEADER_LEN + 12);
      bytes.set(ack.subarray(0, TCP_HEADER_LEN));
      bytes[12] = 0x80;
      bytes.set(options, TCP_HEADER_LEN);
      const { packet } = segmentOf(bytes);
      return TcpRepr.parse(packet, HOST_A, HOST_B, false);
    };
    assert.ok(parse([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 'all no-ops');
    assert.ok(parse([2, 4, 5, 0xb4, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'END ends the list');
    assert.equal(parse([30, 6, 1, 2, 3, 4, 2, 4, 5, 0x78, 0, 0])?.maxSegmentSize, 1400, 'unknown kind 30 skipped');
    assert.equal(parse([2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), null, 'length 0');
    assert.equal(parse([30, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), null, 'length 1');
    assert.equal(parse([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 30, 3]), null, 'option beyond the header');
    assert.equal(parse([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]), null, 'kind without length');
    assert.equal(parse([2, 3, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1]), null, 'MSS of length 3');
    assert.equal(parse([8, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]), null, 'timestamps of length 9');
    assert.equal(parse([5, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]), null, 'SACK of length 9');
  });

  it('refuses a bad checksum unless told not to check', () => {
    const corrupted = Uint8Array.from(data);
    corrupted[35] ^= 0x10;
    const { packet } = segmentOf(corrupted);
    assert.equal(TcpRepr.parse(packet, HOST_A, HOST_B), null);
    assert.ok(TcpRepr.parse(packet, HOST_A, HOST_B, false));
  });

  it('updates the checksum incrementally for sequence and acknowledgment rewrites exactly as a full recompute', () => {
    const prng = new Prng(9293);
    const { packet } = segmentOf(Uint8Array.from(data));
    for (let trial = 0; trial < 5000; trial++) {
      const field = prng.chance(0.5) ? tcpField.SEQUENCE_NUMBER : tcpField.ACKNOWLEDGMENT_NUMBER;
      const old = packet.view.getUint32(packet.offset + field);
      const value = prng.nextU32();
      packet.view.setUint32(packet.offset + field, value);
      const incremental = checksumUpdate32(packet.checksum, old, value);
      packet.fillChecksum(HOST_A, HOST_B);
      assert.equal(incremental, packet.checksum, `trial ${trial}`);
    }
  });
});
