// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// The checksum is the 16-bit ones' complement of the ones' complement sum of
// the data taken as big-endian 16-bit words. Ones' complement addition is
// addition modulo 0xffff, so the sum can be taken over 32-bit words and
// folded afterwards (2^16 = 1 mod 0xffff): a 32-bit word adds the same as its
// two 16-bit halves. Sums here are JS doubles, exact up to 2^53.

/** Largest region summed in one pass; beyond it the double sum could lose bits. */
const MAX_PASS_LEN = 1 << 22;

/** Fold a non-negative sum (up to 2^53) to 16 bits with end-around carry. */
export function foldChecksumSum(sum: number): number {
  while (sum > 0xffffffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/**
 * The folded ones' complement sum of `length` bytes at `offset` (not
 * complemented), plus `initial`. An odd trailing byte counts as the high byte
 * of a word whose low byte is zero.
 */
export function internetChecksumSum(view: DataView, offset: number, length: number, initial = 0): number {
  while (length > MAX_PASS_LEN) {
    initial = sumRegion(view, offset, MAX_PASS_LEN, initial);
    offset += MAX_PASS_LEN;
    length -= MAX_PASS_LEN;
  }
  return sumRegion(view, offset, length, initial);
}

function sumRegion(view: DataView, offset: number, length: number, initial: number): number {
  // Two accumulators over 16-byte strides keep the adds independent.
  let sumA = initial;
  let sumB = 0;
  let at = offset;
  const unrolledEnd = offset + (length & ~15);
  while (at < unrolledEnd) {
    sumA += view.getUint32(at) + view.getUint32(at + 4);
    sumB += view.getUint32(at + 8) + view.getUint32(at + 12);
    at += 16;
  }
  const wordsEnd = offset + (length & ~3);
  while (at < wordsEnd) {
    sumA += view.getUint32(at);
    at += 4;
  }
  if (length & 2) {
    sumB += view.getUint16(at);
    at += 2;
  }
  if (length & 1) sumA += view.getUint8(at) << 8;
  return foldChecksumSum(sumA + sumB);
}

/** The Internet checksum of a region: the complement of its folded sum, ready to store. */
export function internetChecksum(view: DataView, offset: number, length: number, initial = 0): number {
  return ~internetChecksumSum(view, offset, length, initial) & 0xffff;
}

/** Sum of the IPv4 pseudo-header (RFC 768, RFC 793) with addresses read from `view`. */
export function ipv4PseudoHeaderSum(
  view: DataView,
  sourceAddressOffset: number,
  destinationAddressOffset: number,
  protocol: number,
  length: number,
): number {
  return ipv4PseudoHeaderSumFromAddrs(
    view.getUint32(sourceAddressOffset),
    view.getUint32(destinationAddressOffset),
    protocol,
    length,
  );
}

/** Sum of the IPv4 pseudo-header with addresses given as u32 numbers. */
export function ipv4PseudoHeaderSumFromAddrs(source: number, destination: number, protocol: number, length: number): number {
  const sum =
    (source >>> 16) + (source & 0xffff) + (destination >>> 16) + (destination & 0xffff) + (protocol & 0xff) + (length & 0xffff);
  return foldSmallSum(sum);
}

/**
 * The checksum after one 16-bit word of the covered data changes from
 * `oldWord` to `newWord`, by RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').
 */
export function checksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  const sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldSmallSum(sum) & 0xffff;
}

/** The checksum after an aligned 32-bit value (two words) changes, by RFC 1624 eqn. 3. */
export function checksumUpdate32(checksum: number, oldValue: number, newValue: number): number {
  const sum =
    (~checksum & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    (newValue >>> 16) +
    (newValue & 0xffff);
  return ~foldSmallSum(sum) & 0xffff;
}

/** Fold a sum of at most 65537 16-bit words: two end-around carries always suffice. */
function foldSmallSum(sum: number): number {
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

// Per-packet variants for hot paths: every intermediate value stays a small
// integer (under 2^30) — 16-bit halves of 32-bit reads, folded every 32 bytes — and the
// pseudo-header's addresses are read from the packet, not passed in. V8
// keeps larger numbers unboxed only inside optimized code and only while it
// can prove it; anywhere else (a call that was not inlined, baseline code)
// each one is a HeapNumber: an allocation per packet.

/** The folded ones' complement sum of `length` bytes (at most 64 KiB) at `offset`, plus `initial` (under 2^20). */
export function packetChecksumSum(view: DataView, offset: number, length: number, initial: number): number {
  // 32 bytes a block, read as eight 32-bit words whose halves are added: fewer
  // reads than 16-bit ones, and a block adds at most 16 × 0xffff, folded after each.
  let sum = initial;
  let at = offset;
  const blocksEnd = offset + (length & ~31);
  while (at < blocksEnd) {
    const a = view.getUint32(at);
    const b = view.getUint32(at + 4);
    const c = view.getUint32(at + 8);
    const d = view.getUint32(at + 12);
    const e = view.getUint32(at + 16);
    const f = view.getUint32(at + 20);
    const g = view.getUint32(at + 24);
    const h = view.getUint32(at + 28);
    sum +=
      (a >>> 16) + (a & 0xffff) + (b >>> 16) + (b & 0xffff) + (c >>> 16) + (c & 0xffff) + (d >>> 16) + (d & 0xffff) +
      (e >>> 16) + (e & 0xffff) + (f >>> 16) + (f & 0xffff) + (g >>> 16) + (g & 0xffff) + (h >>> 16) + (h & 0xffff);
    sum = (sum & 0xffff) + (sum >>> 16);
    at += 32;
  }
  const quadsEnd = offset + (length & ~3);
  while (at < quadsEnd) {
    const word = view.getUint32(at);
    sum += (word >>> 16) + (word & 0xffff);
    at += 4;
  }
  if (length & 2) {
    sum += view.getUint16(at);
    at += 2;
  }
  if (length & 1) sum += view.getUint8(at) << 8;
  // Under 2^22 here (a folded block sum, or `initial`, plus at most seven words, a half and a byte): two folds bring it under 2^16.
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/** packetChecksumSum of a 20-byte IPv4 header (no options) at `offset`: five 32-bit reads, no loop, small enough to inline. */
export function ipv4HeaderSum(view: DataView, offset: number): number {
  const a = view.getUint32(offset);
  const b = view.getUint32(offset + 4);
  const c = view.getUint32(offset + 8);
  const d = view.getUint32(offset + 12);
  const e = view.getUint32(offset + 16);
  // Ten halves, under 2^20: two folds bring it under 2^16.
  let sum = (a >>> 16) + (a & 0xffff) + (b >>> 16) + (b & 0xffff) + (c >>> 16) + (c & 0xffff) + (d >>> 16) + (d & 0xffff) + (e >>> 16) + (e & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/**
 * The (unfolded, small) sum of the IPv4 pseudo-header (RFC 768) whose source
 * and destination addresses are the 8 bytes at `addressesOffset` (an IPv4
 * header's source field).
 */
export function ipv4PseudoHeaderSumAt(view: DataView, addressesOffset: number, protocol: number, length: number): number {
  return (
    view.getUint16(addressesOffset) +
    view.getUint16(addressesOffset + 2) +
    view.getUint16(addressesOffset + 4) +
    view.getUint16(addressesOffset + 6) +
    protocol +
    length
  );
}
