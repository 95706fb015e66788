// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF"),
// the keyed hash Linux uses for ISNs, SYN cookies and port offsets. JS has
// no 64-bit integers that do not allocate, so each 64-bit lane is kept as
// two u32 halves in one reused array.

/** v0..v3 as [high, low] pairs. */
const lanes = new Uint32Array(8);
const V0H = 0, V0L = 1, V1H = 2, V1L = 3, V2H = 4, V2L = 5, V3H = 6, V3L = 7;

/** lanes[a] += lanes[b] (64-bit). */
function add(aHigh: number, bHigh: number): void {
  const low = lanes[aHigh + 1] + lanes[bHigh + 1];
  lanes[aHigh + 1] = low;
  lanes[aHigh] = lanes[aHigh] + lanes[bHigh] + (low > 0xffffffff ? 1 : 0);
}

/** lanes[a] = rotl(lanes[a], bits) for 0 < bits < 32. */
function rotate(aHigh: number, bits: number): void {
  const high = lanes[aHigh];
  const low = lanes[aHigh + 1];
  lanes[aHigh] = (high << bits) | (low >>> (32 - bits));
  lanes[aHigh + 1] = (low << bits) | (high >>> (32 - bits));
}

/** lanes[a] = rotl(lanes[a], 32). */
function swapHalves(aHigh: number): void {
  const high = lanes[aHigh];
  lanes[aHigh] = lanes[aHigh + 1];
  lanes[aHigh + 1] = high;
}

/** lanes[a] ^= lanes[b]. */
function xor(aHigh: number, bHigh: number): void {
  lanes[aHigh] ^= lanes[bHigh];
  lanes[aHigh + 1] ^= lanes[bHigh + 1];
}

function sipRound(): void {
  add(V0H, V1H); rotate(V1H, 13); xor(V1H, V0H); swapHalves(V0H);
  add(V2H, V3H); rotate(V3H, 16); xor(V3H, V2H);
  add(V0H, V3H); rotate(V3H, 21); xor(V3H, V0H);
  add(V2H, V1H); rotate(V1H, 17); xor(V1H, V2H); swapHalves(V2H);
}

function compress(high: number, low: number): void {
  lanes[V3H] ^= high;
  lanes[V3L] ^= low;
  sipRound();
  sipRound();
  lanes[V0H] ^= high;
  lanes[V0L] ^= low;
}

/** A 128-bit key as four u32s: k0 low, k0 high, k1 low, k1 high (the key's bytes read little-endian). */
export type SipHashKey = Uint32Array;

/** A fresh random key. */
export function randomSipHashKey(): SipHashKey {
  const key = new Uint32Array(4);
  crypto.getRandomValues(key);
  return key;
}

/** A key from 16 bytes (little-endian words, as the reference implementation reads them). */
export function sipHashKeyFromBytes(bytes: Uint8Array): SipHashKey {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return Uint32Array.of(view.getUint32(0, true), view.getUint32(4, true), view.getUint32(8, true), view.getUint32(12, true));
}

/**
 * SipHash-2-4 of `length` bytes at `offset` in `view` under `key`. Returns
 * the low 32 bits of the 64-bit result; `out`, when given, receives
 * [high, low]. Allocates nothing.
 */
export function sipHash24(key: SipHashKey, view: DataView, offset: number, length: number, out?: Uint32Array): number {
  const k0Low = key[0], k0High = key[1], k1Low = key[2], k1High = key[3];
  lanes[V0H] = k0High ^ 0x736f6d65; lanes[V0L] = k0Low ^ 0x70736575;
  lanes[V1H] = k1High ^ 0x646f7261; lanes[V1L] = k1Low ^ 0x6e646f6d;
  lanes[V2H] = k0High ^ 0x6c796765; lanes[V2L] = k0Low ^ 0x6e657261;
  lanes[V3H] = k1High ^ 0x74656462; lanes[V3L] = k1Low ^ 0x79746573;
  const whole = length & ~7;
  let at = offset;
  const end = offset + whole;
  while (at < end) {
    compress(view.getUint32(at + 4, true), view.getUint32(at, true));
    at += 8;
  }
  // The last block: the remaining bytes little-endian, the length's low byte on top.
  let low = 0;
  let high = (length & 0xff) << 24;
  const left = length & 7;
  for (let i = 0; i < left; i++) {
    const byte = view.getUint8(at + i);
    if (i < 4) low |= byte << (8 * i);
    else high |= byte << (8 * (i - 4));
  }
  compress(high >>> 0, low >>> 0);
  lanes[V2L] ^= 0xff;
  sipRound();
  sipRound();
  sipRound();
  sipRound();
  const resultHigh = (lanes[V0H] ^ lanes[V1H] ^ lanes[V2H] ^ lanes[V3H]) >>> 0;
  const resultLow = (lanes[V0L] ^ lanes[V1L] ^ lanes[V2L] ^ lanes[V3L]) >>> 0;
  if (out !== undefined) {
    out[0] = resultHigh;
    out[1] = resultLow;
  }
  return resultLow;
}

const scratch = new DataView(new ArrayBuffer(24));

/**
 * SipHash-2-4 of a connection's identity and one more word: local address,
 * remote address, local port, remote port, `extra` (all u32/u16 numbers,
 * big-endian in the hashed bytes, as they are on the wire). Low 32 bits.
 */
export function sipHashFourTuple(key: SipHashKey, localAddress: number, remoteAddress: number, localPort: number, remotePort: number, extra: number): number {
  scratch.setUint32(0, localAddress);
  scratch.setUint32(4, remoteAddress);
  scratch.setUint16(8, localPort);
  scratch.setUint16(10, remotePort);
  scratch.setUint32(12, extra);
  return sipHash24(key, scratch, 0, 16);
}
