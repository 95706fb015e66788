// The send buffer: the bytes from SND.UNA on, sent and not yet
// acknowledged, then not yet sent, in a ring of fixed capacity. The user's
// writes are copied in; segments copy their payload out straight into
// transmit buffers; an ACK frees its bytes from the front.

// Buffer's copy is a memmove over any Uint8Array that allocates nothing.
const copyInto = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

/** A byte ring holding the unacknowledged and unsent stream. */
export class SendBuffer {
  readonly capacity: number;
  /** The ring; allocated on first write. */
  private ring: Uint8Array | null = null;
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
    if (this.ring === null) this.ring = new Uint8Array(this.capacity);
    const ring = this.ring;
    let tail = this.head + this.held;
    if (tail >= this.capacity) tail -= this.capacity;
    const first = count < this.capacity - tail ? count : this.capacity - tail;
    copyInto.call(source, ring, tail, offset, offset + first);
    if (first < count) copyInto.call(source, ring, 0, offset + first, offset + count);
    this.held += count;
    return count;
  }

  /** Copy `length` bytes starting `from` bytes after SND.UNA into `target` at `targetOffset`. */
  copyOut(from: number, length: number, target: Uint8Array, targetOffset: number): void {
    const ring = this.ring as Uint8Array;
    let start = this.head + from;
    if (start >= this.capacity) start -= this.capacity;
    const first = length < this.capacity - start ? length : this.capacity - start;
    copyInto.call(ring, target, targetOffset, start, start + first);
    if (first < length) copyInto.call(ring, target, targetOffset + first, 0, length - first);
  }

  /** Drop `count` acknowledged bytes from the front. */
  consume(count: number): void {
    if (count > this.held) count = this.held;
    this.held -= count;
    this.head += count;
    if (this.head >= this.capacity) this.head -= this.capacity;
    if (this.held === 0) this.head = 0;
  }

  /** Forget everything and give the memory back. */
  release(): void {
    this.ring = null;
    this.head = 0;
    this.held = 0;
  }
}
