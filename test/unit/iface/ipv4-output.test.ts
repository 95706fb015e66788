import { strict as assert } from 'node:assert';
import type { Ipv4Addressing } from '../../../src/iface/address';
import { DEFAULT_TIME_TO_LIVE, Ipv4Identification, turnAroundIpv4Header } from '../../../src/iface/ipv4-output';
import { internetChecksumSum } from '../../../src/wire/checksum';
import { IPV4_HEADER_LEN, ipv4Field } from '../../../src/wire/ipv4';

/** A deterministic generator (xorshift32), so that a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe('iface/ipv4-output: turning a received header around', () => {
  it('gives the reply the checksum a full sum would, over 200,000 random headers', () => {
    const next = random(0x6e696372);
    const memory = new DataView(new ArrayBuffer(64));
    const at = 2;
    for (let round = 0; round < 200_000; round++) {
      // A received header with random fields and a valid checksum; addresses and lengths at random too.
      for (let i = 0; i < IPV4_HEADER_LEN; i += 4) memory.setUint32(at + i, next());
      memory.setUint8(at, 0x45);
      memory.setUint16(at + ipv4Field.CHECKSUM, 0);
      memory.setUint16(at + ipv4Field.CHECKSUM, ~internetChecksumSum(memory, at, IPV4_HEADER_LEN) & 0xffff);
      assert.equal(internetChecksumSum(memory, at, IPV4_HEADER_LEN), 0xffff);
      // The old checksum plays no part: now and then it is garbage.
      if (round % 8 === 1) memory.setUint16(at + ipv4Field.CHECKSUM, next() & 0xffff);
      const source = memory.getUint32(at + ipv4Field.SOURCE);
      const tos = memory.getUint8(at + 1);
      const protocol = memory.getUint8(at + ipv4Field.PROTOCOL);
      // Our address: most often the request's destination, as for a reply in place; any other now and then.
      const ours = round % 4 === 0 ? (next() | 1) >>> 0 : memory.getUint32(at + ipv4Field.DESTINATION);
      // Only the address and its halves are read; any 32-bit value will do here.
      const addressing = { address: ours, addressHigh16: ours >>> 16, addressLow16: ours & 0xffff } as Ipv4Addressing;
      const payloadLength = next() % (65_536 - IPV4_HEADER_LEN);
      turnAroundIpv4Header(memory, at, addressing, new Ipv4Identification(), payloadLength);
      assert.equal(internetChecksumSum(memory, at, IPV4_HEADER_LEN), 0xffff, `round ${round}: the reply's checksum verifies`);
      const written = memory.getUint16(at + ipv4Field.CHECKSUM);
      memory.setUint16(at + ipv4Field.CHECKSUM, 0);
      assert.equal(written, ~internetChecksumSum(memory, at, IPV4_HEADER_LEN) & 0xffff, `round ${round}: as a full sum gives it`);
      assert.equal(memory.getUint32(at + ipv4Field.DESTINATION), source);
      assert.equal(memory.getUint32(at + ipv4Field.SOURCE), ours);
      assert.equal(memory.getUint16(at + ipv4Field.TOTAL_LENGTH), IPV4_HEADER_LEN + payloadLength);
      assert.equal(memory.getUint16(at + ipv4Field.FLAGS_FRAGMENT_OFFSET), 0);
      assert.equal(memory.getUint8(at + ipv4Field.TIME_TO_LIVE), DEFAULT_TIME_TO_LIVE);
      assert.deepEqual([memory.getUint8(at), memory.getUint8(at + 1), memory.getUint8(at + ipv4Field.PROTOCOL)], [0x45, tos, protocol]);
    }
  });
});
