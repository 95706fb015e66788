// Sequence number arithmetic (RFC 9293 3.4): numbers are u32 and compare
// modulo 2^32, so "a before b" means the signed 32-bit difference is negative.

/** a < b in sequence space. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** a <= b in sequence space. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** a > b in sequence space. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** a >= b in sequence space. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** The signed distance from b to a (a - b), for numbers less than 2^31 apart. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** a + n as a u32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The later of a and b. */
export function seqMax(a: number, b: number): number {
  return seqLt(a, b) ? b : a;
}

/** The earlier of a and b. */
export function seqMin(a: number, b: number): number {
  return seqLt(a, b) ? a : b;
}
