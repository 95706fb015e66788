// Small byte helpers shared by the protocol views.

/** A zero-length view that views start with, so their shape never changes. */
export const EMPTY_VIEW = new DataView(new ArrayBuffer(0));

/**
 * Copy `length` bytes between two views, correct when both regions overlap in
 * the same buffer (like memmove). Word-sized moves where possible; allocates nothing.
 */
export function copyBytes(source: DataView, sourceOffset: number, target: DataView, targetOffset: number, length: number): void {
  const sameBuffer = source.buffer === target.buffer;
  const sourceStart = source.byteOffset + sourceOffset;
  const targetStart = target.byteOffset + targetOffset;
  if (sameBuffer && sourceStart === targetStart) return;
  if (sameBuffer && targetStart > sourceStart && targetStart < sourceStart + length) {
    let remaining = length;
    while (remaining >= 4) {
      remaining -= 4;
      target.setUint32(targetOffset + remaining, source.getUint32(sourceOffset + remaining));
    }
    while (remaining > 0) {
      remaining--;
      target.setUint8(targetOffset + remaining, source.getUint8(sourceOffset + remaining));
    }
    return;
  }
  let at = 0;
  const wordsEnd = length & ~3;
  while (at < wordsEnd) {
    target.setUint32(targetOffset + at, source.getUint32(sourceOffset + at));
    at += 4;
  }
  while (at < length) {
    target.setUint8(targetOffset + at, source.getUint8(sourceOffset + at));
    at++;
  }
}
