import { strict as assert } from 'node:assert';
import {
  checksumUpdate16,
  checksumUpdate32,
  foldChecksumSum,
  internetChecksum,
  internetChecksumSum,
  ipv4PseudoHeaderSum,
  ipv4PseudoHeaderSumAt,
  ipv4PseudoHeaderSumFromAddrs,
  ipv4HeaderSum,
  packetChecksumSum,
} from '../../../src/wire/checksum';
import { captured, fromHex } from '../../fixtures/wire/frames';
import { FRAME_AT, Prng, placed } from '../../fixtures/wire/util';

/** The textbook definition, byte pair by byte pair, to compare against. */
function referenceSum(bytes: Uint8Array, offset: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i += 2) {
    const high = bytes[offset + i];
    const low = i + 1 < length ? bytes[offset + i + 1] : 0;
    sum += (high << 8) | low;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

describe('wire/checksum', () => {
  it('sums the example of RFC 1071 section 3', () => {
    const { view } = placed(fromHex('0001f203f4f5f6f7'));
    assert.equal(internetChecksumSum(view, FRAME_AT, 8), 0xddf2);
    assert.equal(internetChecksum(view, FRAME_AT, 8), 0x220d);
  });

  it('computes the header checksum of a captured IPv4 packet', () => {
    const frame = fromHex(captured.echoRequest.hex);
    const { view } = placed(frame);
    assert.equal(view.getUint16(FRAME_AT + 14 + 10), 0xe63f);
    assert.equal(internetChecksumSum(view, FRAME_AT + 14, 20), 0xffff, 'a correct header sums to 0xffff');
    view.setUint16(FRAME_AT + 14 + 10, 0);
    assert.equal(internetChecksum(view, FRAME_AT + 14, 20), 0xe63f);
  });

  it('computes the UDP checksum of a captured datagram with its pseudo-header', () => {
    const frame = fromHex(captured.udpRequest.hex);
    const { view } = placed(frame);
    const udpAt = FRAME_AT + 14 + 20;
    const pseudo = ipv4PseudoHeaderSum(view, FRAME_AT + 14 + 12, FRAME_AT + 14 + 16, 17, 21);
    assert.equal(pseudo, ipv4PseudoHeaderSumFromAddrs(0xc6120102, 0xc6120202, 17, 21));
    assert.equal(view.getUint16(udpAt + 6), 0xcfbc);
    view.setUint16(udpAt + 6, 0);
    assert.equal(internetChecksum(view, udpAt, 21, pseudo), 0xcfbc);
  });

  it('equals the byte-pair definition for any length, offset and content', () => {
    const prng = new Prng(1071);
    const bytes = new Uint8Array(4096);
    const view = new DataView(bytes.buffer);
    for (let trial = 0; trial < 3000; trial++) {
      for (let i = 0; i < bytes.length; i++) bytes[i] = prng.chance(0.3) ? 0xff : prng.below(256);
      const offset = prng.below(64);
      const length = prng.below(trial < 200 ? 40 : 4000);
      assert.equal(internetChecksumSum(view, offset, length), referenceSum(bytes, offset, length), `offset ${offset} length ${length}`);
    }
  });

  it('counts an odd trailing byte as the high byte of a word', () => {
    const { view } = placed(fromHex('abcdef'));
    assert.equal(internetChecksumSum(view, FRAME_AT, 3), foldChecksumSum(0xabcd + 0xef00));
  });

  it('adds an initial partial sum', () => {
    const { view } = placed(fromHex('0001f203f4f5f6f7'));
    assert.equal(internetChecksumSum(view, FRAME_AT, 8, 0x1234), foldChecksumSum(0xddf2 + 0x1234));
    assert.equal(internetChecksumSum(view, FRAME_AT, 0, 0x1234), 0x1234);
  });

  it('sums regions larger than one pass without losing bits', () => {
    const bytes = new Uint8Array(5 << 20).fill(0xff);
    bytes[bytes.length - 1] = 0x01;
    const view = new DataView(bytes.buffer);
    assert.equal(internetChecksumSum(view, 0, bytes.length), referenceSum(bytes, 0, bytes.length));
  });

  it('folds large sums with end-around carry', () => {
    assert.equal(foldChecksumSum(0), 0);
    assert.equal(foldChecksumSum(0xffff), 0xffff);
    assert.equal(foldChecksumSum(0x10000), 1);
    assert.equal(foldChecksumSum(0x1fffe), 0xffff);
    assert.equal(foldChecksumSum(2 ** 52), foldChecksumSum(2 ** 52 % 0xffff));
  });

  it('updates incrementally (RFC 1624) exactly as a full recompute, over random rewrites', () => {
    const prng = new Prng(1624);
    const bytes = new Uint8Array(64);
    const view = new DataView(bytes.buffer);
    const checksumAt = 10;
    for (let trial = 0; trial < 20000; trial++) {
      const length = 20 + 4 * prng.below(12);
      for (let i = 0; i < length; i++) bytes[i] = prng.chance(0.2) ? [0x00, 0xff][prng.below(2)] : prng.below(256);
      bytes[0] = 0x45;
      view.setUint16(checksumAt, 0);
      view.setUint16(checksumAt, internetChecksum(view, 0, length));
      for (let rewrite = 0; rewrite < 4; rewrite++) {
        const wide = prng.chance(0.5);
        let at: number;
        do at = wide ? 4 * prng.below(length / 4) : 2 * prng.below(length / 2);
        while (at <= checksumAt && checksumAt < at + (wide ? 4 : 2));
        const special = [0, 0xffff, 0xffffffff, 0x0000ffff, 0xffff0000];
        const value = prng.chance(0.2) ? special[prng.below(special.length)] & (wide ? 0xffffffff : 0xffff) : wide ? prng.nextU32() : prng.below(0x10000);
        const checksum = view.getUint16(checksumAt);
        let updated: number;
        if (wide) {
          updated = checksumUpdate32(checksum, view.getUint32(at), value >>> 0);
          view.setUint32(at, value >>> 0);
        } else {
          updated = checksumUpdate16(checksum, view.getUint16(at), value);
          view.setUint16(at, value);
        }
        view.setUint16(checksumAt, 0);
        assert.equal(updated, internetChecksum(view, 0, length), `trial ${trial} rewrite at ${at}`);
        view.setUint16(checksumAt, updated);
        assert.equal(internetChecksumSum(view, 0, length), 0xffff);
      }
    }
  });
});

describe('per-packet checksum sums', () => {
  it('packetChecksumSum and ipv4PseudoHeaderSumAt agree with the general sums on random data', () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let round = 0; round < 500; round++) {
      const length = random() * 6 + (random() & 7);
      const view = new DataView(new ArrayBuffer(length + 8));
      for (let i = 0; i < length + 8; i++) view.setUint8(i, random());
      const initial = random() * 17;
      assert.equal(packetChecksumSum(view, 8, length, initial), internetChecksumSum(view, 8, length, initial));
      const pseudo = foldChecksumSum(ipv4PseudoHeaderSumAt(view, 0, 17, length));
      assert.equal(pseudo, ipv4PseudoHeaderSum(view, 0, 4, 17, length));
    }
  });

  it('ipv4HeaderSum agrees with the general sum over 20 bytes, all-ones and random, at odd and even offsets', () => {
    const view = new DataView(new ArrayBuffer(32));
    for (let i = 0; i < 32; i++) view.setUint8(i, 0xff);
    assert.equal(ipv4HeaderSum(view, 3), internetChecksumSum(view, 3, 20));
    let seed = 777;
    for (let round = 0; round < 100_000; round++) {
      for (let i = 0; i < 32; i += 4) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        view.setUint32(i, seed);
      }
      const at = round % 12;
      assert.equal(ipv4HeaderSum(view, at), internetChecksumSum(view, at, 20));
    }
  });
});
