// Fuzzed DNS queries for the DNS example's tests: mutations of real queries
// (bytes changed or flipped, cut short, lengthened, section counts changed)
// and random bytes, from a seeded generator so a failure can be replayed.

/** A small seeded PRNG (mulberry32): numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One fuzzed query: a tenth random bytes, the rest 1 to 4 mutations of one of `seeds`. */
export function fuzzedQuery(next: () => number, seeds: readonly Uint8Array[]): Uint8Array {
  const int = (below: number): number => Math.floor(next() * below);
  if (next() < 0.1) {
    const message = new Uint8Array(int(80));
    for (let j = 0; j < message.length; j++) message[j] = int(256);
    return message;
  }
  let message = Uint8Array.from(seeds[int(seeds.length)]);
  const mutations = 1 + int(4);
  for (let m = 0; m < mutations; m++) {
    const what = next();
    const at = int(message.length);
    if (what < 0.5) message[at] = int(256);
    else if (what < 0.7) message[at] ^= 1 << int(8);
    else if (what < 0.8) message = message.subarray(0, at);
    else if (what < 0.9) message = Uint8Array.from([...message, ...Array.from({ length: 1 + int(8) }, () => int(256))]);
    else if (message.length >= 12) message[4 + 2 * int(4)] = 0, message[5 + 2 * int(4)] = int(4);
  }
  return message;
}
