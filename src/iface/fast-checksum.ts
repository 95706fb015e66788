// Internet checksum sums (RFC 1071) for the stack's per-packet paths.
//
// The arithmetic is wire/checksum's, done so that every intermediate value
// stays a small integer (under 2^30): 16-bit words, folded every 16 bytes.
// V8 keeps larger numbers unboxed only inside optimized code and only while
// the compiler can prove it; anywhere else — a call that was not inlined, a
// value the optimizer chose to keep tagged, baseline code — each one is a
// HeapNumber, an allocation per packet. For the same reason the
// pseudo-header's addresses are read from the packet here, not passed in.

/** The folded ones' complement sum of `length` bytes (at most 64 KiB) at `offset`, plus `initial` (under 2^20). */
export function packetSum(view: DataView, offset: number, length: number, initial: number): number {
  let sum = initial;
  let at = offset;
  const blocksEnd = offset + (length & ~15);
  while (at < blocksEnd) {
    sum +=
      view.getUint16(at) + view.getUint16(at + 2) + view.getUint16(at + 4) + view.getUint16(at + 6) +
      view.getUint16(at + 8) + view.getUint16(at + 10) + view.getUint16(at + 12) + view.getUint16(at + 14);
    sum = (sum & 0xffff) + (sum >>> 16);
    at += 16;
  }
  const wordsEnd = offset + (length & ~1);
  while (at < wordsEnd) {
    sum += view.getUint16(at);
    at += 2;
  }
  if (length & 1) sum += view.getUint8(at) << 8;
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/**
 * The (unfolded, small) sum of the IPv4 pseudo-header (RFC 768) whose source
 * and destination addresses are the 8 bytes at `addressesOffset` (an IPv4
 * header's source field).
 */
export function pseudoHeaderSum(view: DataView, addressesOffset: number, protocol: number, length: number): number {
  return (
    view.getUint16(addressesOffset) +
    view.getUint16(addressesOffset + 2) +
    view.getUint16(addressesOffset + 4) +
    view.getUint16(addressesOffset + 6) +
    protocol +
    length
  );
}
