// Classic libpcap capture files (draft-ietf-opsawg-pcap).
//
// File header (24 bytes), then one record per frame:
//
// | magic (4) | major (2) | minor (2) | reserved (4) | reserved (4) | snap length (4) | link type (4) |
// | seconds (4) | sub-second (4) | captured length (4) | original length (4) | captured bytes ... |
//
// The magic says the byte order of every field and the unit of the
// sub-second field: 0xa1b2c3d4 for microseconds, 0xa1b23c4d for nanoseconds.
// The writer writes little-endian; the reader takes either order.

import * as fs from 'node:fs';
import type { Readable } from 'node:stream';

/** Byte offsets of the pcap file header fields. */
export const pcapFileField = {
  MAGIC: 0,
  VERSION_MAJOR: 4,
  VERSION_MINOR: 6,
  RESERVED1: 8,
  RESERVED2: 12,
  SNAP_LENGTH: 16,
  LINK_TYPE: 20,
  END: 24,
} as const;

/** Byte offsets of the pcap record header fields. */
export const pcapRecordField = {
  SECONDS: 0,
  SUBSECONDS: 4,
  CAPTURED_LENGTH: 8,
  ORIGINAL_LENGTH: 12,
  DATA: 16,
} as const;

/** Length of the pcap file header. */
export const PCAP_FILE_HEADER_LEN = pcapFileField.END;
/** Length of a pcap record header. */
export const PCAP_RECORD_HEADER_LEN = pcapRecordField.DATA;

/** Magic of files with microsecond timestamps. */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
/** Magic of files with nanosecond timestamps. */
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
/** Link type of Ethernet frames (LINKTYPE_ETHERNET). */
export const PCAP_LINKTYPE_ETHERNET = 1;
/** Snap length tcpdump uses by default. */
export const PCAP_DEFAULT_SNAP_LENGTH = 262144;

const PCAPNG_MAGIC = 0x0a0d0d0a;

// Buffer's copy is a memcpy that takes any Uint8Array and allocates no view.
const copyInto = Buffer.prototype.copy as (
  this: Uint8Array,
  target: Uint8Array,
  targetStart: number,
  sourceStart: number,
  sourceEnd: number,
) => number;

/** Options for PcapWriter. */
export interface PcapWriterOptions {
  /** Nanosecond timestamps (default: microseconds). */
  nanosecond?: boolean;
  /** Longest frame prefix kept per record (default 262144). */
  snapLength?: number;
  /** Link type in the file header (default Ethernet). */
  linkType?: number;
  /** Bytes buffered before a write to the file (default 1 MiB). */
  bufferSize?: number;
}

/**
 * Writes frames to a classic pcap file through one reused buffer: no
 * allocation per frame, one write(2) per buffer-full. Timestamps are passed
 * in (ns since the epoch), or read from the wall clock when omitted.
 */
export class PcapWriter {
  readonly nanosecond: boolean;
  readonly snapLength: number;
  /** Records written so far. */
  framesWritten = 0;
  private readonly fd: number;
  private readonly ownsFd: boolean;
  private readonly buffer: Uint8Array;
  private readonly bufferView: DataView;
  private used = 0;
  private closed = false;

  /** Open `target` (a path, created or truncated; or an open fd, left open on close) and write the file header. */
  constructor(target: string | number, options: PcapWriterOptions = {}) {
    this.nanosecond = options.nanosecond ?? false;
    this.snapLength = options.snapLength ?? PCAP_DEFAULT_SNAP_LENGTH;
    const bufferSize = Math.max(options.bufferSize ?? 1 << 20, PCAP_FILE_HEADER_LEN + PCAP_RECORD_HEADER_LEN);
    this.buffer = new Uint8Array(bufferSize);
    this.bufferView = new DataView(this.buffer.buffer);
    if (typeof target === 'number') {
      this.fd = target;
      this.ownsFd = false;
    } else {
      this.fd = fs.openSync(target, 'w');
      this.ownsFd = true;
    }
    const header = this.bufferView;
    header.setUint32(pcapFileField.MAGIC, this.nanosecond ? PCAP_MAGIC_NANOSECONDS : PCAP_MAGIC_MICROSECONDS, true);
    header.setUint16(pcapFileField.VERSION_MAJOR, 2, true);
    header.setUint16(pcapFileField.VERSION_MINOR, 4, true);
    header.setUint32(pcapFileField.RESERVED1, 0, true);
    header.setUint32(pcapFileField.RESERVED2, 0, true);
    header.setUint32(pcapFileField.SNAP_LENGTH, this.snapLength, true);
    header.setUint32(pcapFileField.LINK_TYPE, options.linkType ?? PCAP_LINKTYPE_ETHERNET, true);
    this.used = PCAP_FILE_HEADER_LEN;
  }

  /**
   * Append a record of `length` bytes of `bytes` at `offset` (cut to the
   * snap length). `timestampNs` is nanoseconds since the epoch; a number
   * loses sub-microsecond precision beyond 2^53 ns, a bigint does not.
   */
  write(bytes: Uint8Array, offset: number, length: number, timestampNs?: bigint | number): void {
    let seconds: number;
    let nanoseconds: number;
    if (timestampNs === undefined) {
      const nowMs = performance.timeOrigin + performance.now();
      seconds = Math.floor(nowMs / 1000);
      nanoseconds = Math.floor((nowMs - seconds * 1000) * 1e6);
    } else if (typeof timestampNs === 'bigint') {
      seconds = Number(timestampNs / 1_000_000_000n);
      nanoseconds = Number(timestampNs % 1_000_000_000n);
    } else {
      seconds = Math.floor(timestampNs / 1e9);
      nanoseconds = Math.floor(timestampNs - seconds * 1e9);
    }
    this.writeWithTime(bytes, offset, length, seconds, nanoseconds);
  }

  /** Append a record stamped `seconds` + `nanoseconds` since the epoch; allocates nothing. */
  writeWithTime(bytes: Uint8Array, offset: number, length: number, seconds: number, nanoseconds: number): void {
    if (this.closed) throw new Error('PcapWriter is closed');
    const captured = Math.min(length, this.snapLength);
    const recordLength = PCAP_RECORD_HEADER_LEN + captured;
    if (this.used + recordLength > this.buffer.length) this.flush();
    const view = this.bufferView;
    const at = this.used;
    const subseconds = Math.min(this.nanosecond ? nanoseconds : Math.floor(nanoseconds / 1000), this.nanosecond ? 999_999_999 : 999_999);
    view.setUint32(at + pcapRecordField.SECONDS, seconds, true);
    view.setUint32(at + pcapRecordField.SUBSECONDS, subseconds, true);
    view.setUint32(at + pcapRecordField.CAPTURED_LENGTH, captured, true);
    view.setUint32(at + pcapRecordField.ORIGINAL_LENGTH, length, true);
    this.used += PCAP_RECORD_HEADER_LEN;
    if (recordLength <= this.buffer.length) {
      copyInto.call(bytes, this.buffer, this.used, offset, offset + captured);
      this.used += captured;
    } else {
      // Larger than the whole buffer: write the record header, then the bytes directly.
      this.flush();
      writeFully(this.fd, bytes, offset, captured);
    }
    this.framesWritten++;
  }

  /** Write buffered records to the file. */
  flush(): void {
    if (this.used === 0) return;
    writeFully(this.fd, this.buffer, 0, this.used);
    this.used = 0;
  }

  /** Flush, and close the file if the writer opened it. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.ownsFd) fs.closeSync(this.fd);
  }
}

function writeFully(fd: number, bytes: Uint8Array, offset: number, length: number): void {
  while (length > 0) {
    const written = fs.writeSync(fd, bytes, offset, length);
    offset += written;
    length -= written;
  }
}

/** What the file header of a pcap file says. */
export interface PcapFileHeader {
  littleEndian: boolean;
  nanosecond: boolean;
  versionMajor: number;
  versionMinor: number;
  snapLength: number;
  linkType: number;
}

/** One record of a pcap file; `data` is a copy the caller may keep. */
export interface PcapRecord {
  timestampSeconds: number;
  /** Sub-second part in nanoseconds, whatever the file's unit. */
  timestampNanoseconds: number;
  capturedLength: number;
  originalLength: number;
  data: Uint8Array;
}

/** A whole pcap file read into memory. */
export interface PcapContents {
  header: PcapFileHeader;
  records: PcapRecord[];
  truncated: boolean;
}

/**
 * Reads a pcap file (either byte order, micro- or nanosecond) record by
 * record as an async iterator, from a path or any stream of byte chunks,
 * holding only the current chunk and a partial record in memory. A file
 * that ends inside a record ends the iteration and sets `truncated`.
 */
export class PcapReader implements AsyncIterable<PcapRecord> {
  /** The file header, once the first bytes were read. */
  header: PcapFileHeader | null = null;
  /** True when the input ended in the middle of a record. */
  truncated = false;
  private readonly source: string | AsyncIterable<Uint8Array> | Readable;

  /** Read from a file path, or from a stream / async iterable of chunks. */
  constructor(source: string | AsyncIterable<Uint8Array> | Readable) {
    this.source = source;
  }

  /** Read every record of a file into an array. */
  static async readAll(source: string | AsyncIterable<Uint8Array>): Promise<PcapContents> {
    const reader = new PcapReader(source);
    const records: PcapRecord[] = [];
    for await (const record of reader) records.push(record);
    if (reader.header === null) throw new Error('pcap: empty input');
    return { header: reader.header, records, truncated: reader.truncated };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PcapRecord> {
    const chunks: AsyncIterable<Uint8Array> =
      typeof this.source === 'string' ? fs.createReadStream(this.source, { highWaterMark: 1 << 20 }) : this.source;
    let pending: Uint8Array = new Uint8Array(0);
    let start = 0;
    let header: PcapFileHeader | null = null;
    let recordHeader: { seconds: number; subseconds: number; captured: number; original: number } | null = null;

    for await (const chunk of chunks) {
      if (start === pending.length) {
        pending = chunk;
      } else {
        const joined = new Uint8Array(pending.length - start + chunk.length);
        joined.set(pending.subarray(start), 0);
        joined.set(chunk, pending.length - start);
        pending = joined;
      }
      start = 0;
      const view = new DataView(pending.buffer, pending.byteOffset, pending.byteLength);
      for (;;) {
        const available = pending.length - start;
        if (header === null) {
          if (available < PCAP_FILE_HEADER_LEN) break;
          header = parseFileHeader(view, start);
          this.header = header;
          start += PCAP_FILE_HEADER_LEN;
          continue;
        }
        if (recordHeader === null) {
          if (available < PCAP_RECORD_HEADER_LEN) break;
          const little = header.littleEndian;
          recordHeader = {
            seconds: view.getUint32(start + pcapRecordField.SECONDS, little),
            subseconds: view.getUint32(start + pcapRecordField.SUBSECONDS, little),
            captured: view.getUint32(start + pcapRecordField.CAPTURED_LENGTH, little),
            original: view.getUint32(start + pcapRecordField.ORIGINAL_LENGTH, little),
          };
          if (recordHeader.captured > Math.max(header.snapLength, PCAP_DEFAULT_SNAP_LENGTH)) {
            throw new Error(`pcap: record of ${recordHeader.captured} bytes exceeds the snap length ${header.snapLength}`);
          }
          start += PCAP_RECORD_HEADER_LEN;
          continue;
        }
        if (available < recordHeader.captured) break;
        const data = new Uint8Array(recordHeader.captured);
        data.set(pending.subarray(start, start + recordHeader.captured));
        start += recordHeader.captured;
        const record: PcapRecord = {
          timestampSeconds: recordHeader.seconds,
          timestampNanoseconds: header.nanosecond ? recordHeader.subseconds : recordHeader.subseconds * 1000,
          capturedLength: recordHeader.captured,
          originalLength: recordHeader.original,
          data,
        };
        recordHeader = null;
        yield record;
      }
    }
    if (header === null) {
      if (pending.length - start > 0) throw new Error('pcap: file shorter than its header');
      return;
    }
    this.truncated = recordHeader !== null || pending.length - start > 0;
  }
}

function parseFileHeader(view: DataView, at: number): PcapFileHeader {
  const magicLittle = view.getUint32(at + pcapFileField.MAGIC, true);
  const magicBig = view.getUint32(at + pcapFileField.MAGIC, false);
  let littleEndian: boolean;
  let magic: number;
  if (magicLittle === PCAP_MAGIC_MICROSECONDS || magicLittle === PCAP_MAGIC_NANOSECONDS) {
    littleEndian = true;
    magic = magicLittle;
  } else if (magicBig === PCAP_MAGIC_MICROSECONDS || magicBig === PCAP_MAGIC_NANOSECONDS) {
    littleEndian = false;
    magic = magicBig;
  } else if (magicLittle === PCAPNG_MAGIC) {
    throw new Error('pcap: this is a pcapng file; only classic pcap is read');
  } else {
    throw new Error(`pcap: unknown magic 0x${magicBig.toString(16).padStart(8, '0')}`);
  }
  return {
    littleEndian,
    nanosecond: magic === PCAP_MAGIC_NANOSECONDS,
    versionMajor: view.getUint16(at + pcapFileField.VERSION_MAJOR, littleEndian),
    versionMinor: view.getUint16(at + pcapFileField.VERSION_MINOR, littleEndian),
    snapLength: view.getUint32(at + pcapFileField.SNAP_LENGTH, littleEndian),
    linkType: view.getUint32(at + pcapFileField.LINK_TYPE, littleEndian),
  };
}
