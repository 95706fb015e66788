// The send buffer: the bytes from SND.UNA on, sent and not yet
// acknowledged, then not yet sent, in a ring of fixed capacity. The user's
// writes are copied in; segments copy their payload out straight into
// transmit buffers; an ACK frees its bytes from the front.

// Buffer's copy is a memmove over any Uint8Array that allocates nothing.
const copyInto = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

/** Bytes the ring starts with; it doubles as needed up to the capacity, so a short exchange costs little memory. */
const FIRST_RING_BYTES = 4096;

/** A byte ring holding the unacknowledged and unsent stream. */
export class SendBuffer {
  /** The most bytes it holds. */
  readonly capacity: number;
  /** The ring; allocated on first write, grown by doubling. */
  private ring: Uint8Array | null = null;
  private size = 0;
  /** Ring index of the byte at SND.UNA. */
  private head = 0;
  /** Bytes held. */
  private held = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Bytes held (unacknowledged plus unsent). */
  get length(): number {
    return this.held;
  }

  /** Room for more bytes. */
  get free(): number {
    return this.capacity - this.held;
  }

  /** Append as much of `length` bytes at `offset` in `source` as fits; returns how many were taken. */
  write(source: Uint8Array, offset: number, length: number): number {
    const count = length < this.capacity - this.held ? length : this.capacity - this.held;
    if (count <= 0) return 0;
    if (this.held + count > this.size) this.grow(this.held + count);
    const ring = this.ring as Uint8Array;
    const size = this.size;
    let tail = this.head + this.held;
    if (tail >= size) tail -= size;
    const first = count < size - tail ? count : size - tail;
    copyInto.call(source, ring, tail, offset, offset + first);
    if (first < count) copyInto.call(source, ring, 0, offset + first, offset + count);
    this.held += count;
    return count;
  }

  /** Copy `length` bytes starting `from` bytes after SND.UNA into `target` at `targetOffset`. */
  copyOut(from: number, length: number, target: Uint8Array, targetOffset: number): void {
    const ring = this.ring as Uint8Array;
    const size = this.size;
    let start = this.head + from;
    if (start >= size) start -= size;
    const first = length < size - start ? length : size - start;
    copyInto.call(ring, target, targetOffset, start, start + first);
    if (first < length) copyInto.call(ring, target, targetOffset + first, 0, length - first);
  }

  /** Drop `count` acknowledged bytes from the front. */
  consume(count: number): void {
    if (count > this.held) count = this.held;
    this.held -= count;
    this.head += count;
    if (this.head >= this.size) this.head -= this.size;
    if (this.held === 0) this.head = 0;
  }

  /** Forget everything and give the memory back. */
  release(): void {
    this.ring = null;
    this.size = 0;
    this.head = 0;
    this.held = 0;
  }

  /** A ring of at least `needed` bytes (doubling, at most the capacity), the held bytes moved to its front. */
  private grow(needed: number): void {
    let size = this.size === 0 ? FIRST_RING_BYTES : this.size;
    while (size < needed) size *= 2;
    if (size > this.capacity) size = this.capacity;
    const ring = new Uint8Array(size);
    if (this.ring !== null && this.held > 0) this.copyOut(0, this.held, ring, 0);
    this.ring = ring;
    this.size = size;
    this.head = 0;
  }
}
