import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  PCAP_FILE_HEADER_LEN,
  PCAP_LINKTYPE_ETHERNET,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_MAGIC_NANOSECONDS,
  PCAP_RECORD_HEADER_LEN,
  PcapReader,
  PcapWriter,
  pcapFileField,
  pcapRecordField,
} from '../../../src/wire/pcap';
import { captured, fromHex } from '../../fixtures/wire/frames';
import { toHex } from '../../fixtures/wire/util';

const CAPTURED_PCAP = path.join(__dirname, '../../fixtures/wire/captured.pcap');

/** Feed `bytes` to a reader in chunks of 1 to `maxChunk` bytes. */
async function* chunked(bytes: Uint8Array, maxChunk: number): AsyncGenerator<Uint8Array> {
  let at = 0;
  let size = 1;
  while (at < bytes.length) {
    yield bytes.subarray(at, Math.min(at + size, bytes.length));
    at += size;
    size = (size % maxChunk) + 1;
  }
}

/** The same file with every header field in big-endian order. */
function toBigEndian(file: Uint8Array): Uint8Array {
  const out = Uint8Array.from(file);
  const input = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const output = new DataView(out.buffer);
  const swap32 = (at: number): void => output.setUint32(at, input.getUint32(at, true), false);
  const swap16 = (at: number): void => output.setUint16(at, input.getUint16(at, true), false);
  swap32(pcapFileField.MAGIC);
  swap16(pcapFileField.VERSION_MAJOR);
  swap16(pcapFileField.VERSION_MINOR);
  swap32(pcapFileField.SNAP_LENGTH);
  swap32(pcapFileField.LINK_TYPE);
  let at = PCAP_FILE_HEADER_LEN;
  while (at < file.length) {
    const captured = input.getUint32(at + pcapRecordField.CAPTURED_LENGTH, true);
    for (const field of [pcapRecordField.SECONDS, pcapRecordField.SUBSECONDS, pcapRecordField.CAPTURED_LENGTH, pcapRecordField.ORIGINAL_LENGTH]) swap32(at + field);
    at += PCAP_RECORD_HEADER_LEN + captured;
  }
  return out;
}

describe('wire/pcap', () => {
  let directory: string;

  before(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-pcap-'));
  });

  after(() => {
    fs.rmSync(directory, { recursive: true, force: true });
  });

  it('reads the file tcpdump captured, whose frames are the captured fixtures', async () => {
    const { header, records, truncated } = await PcapReader.readAll(CAPTURED_PCAP);
    assert.deepEqual(header, {
      littleEndian: true,
      nanosecond: false,
      versionMajor: 2,
      versionMinor: 4,
      snapLength: 262144,
      linkType: PCAP_LINKTYPE_ETHERNET,
    });
    assert.equal(truncated, false);
    assert.equal(records.length, 26);
    for (const fixture of Object.values(captured)) {
      const record = records[fixture.frameNumber - 1];
      assert.equal(toHex(record.data), fixture.hex, `frame ${fixture.frameNumber}`);
      assert.equal(record.capturedLength, record.originalLength);
    }
    for (let i = 1; i < records.length; i++) {
      const previous = records[i - 1].timestampSeconds * 1e9 + records[i - 1].timestampNanoseconds;
      const current = records[i].timestampSeconds * 1e9 + records[i].timestampNanoseconds;
      assert.ok(current >= previous, `timestamps in order at record ${i}`);
      assert.equal(records[i].timestampNanoseconds % 1000, 0, 'microsecond file');
    }
  });

  for (const nanosecond of [false, true]) {
    it(`writes and reads back a ${nanosecond ? 'nano' : 'micro'}second file`, async () => {
      const file = path.join(directory, `round-trip-${nanosecond}.pcap`);
      const memory = new Uint8Array(4096);
      const frameA = fromHex(captured.udpRequest.hex);
      const frameB = fromHex(captured.tcpSyn.hex);
      memory.set(frameA, 100);
      memory.set(frameB, 1000);
      const writer = new PcapWriter(file, { nanosecond });
      writer.write(memory, 100, frameA.length, 1_700_000_000_123_456_789n);
      // A number near 1.7e18 is exact only to 256 ns; the writer uses the value as stored.
      const stampNumber = 1_700_000_001_000_001_000;
      const numberNs = Number(BigInt(stampNumber) % 1_000_000_000n);
      writer.write(memory, 1000, frameB.length, stampNumber);
      writer.writeWithTime(memory, 100, frameA.length, 1_700_000_002, 999_999_999);
      writer.close();
      assert.equal(writer.framesWritten, 3);

      const bytes = fs.readFileSync(file);
      assert.equal(bytes.readUInt32LE(0), nanosecond ? PCAP_MAGIC_NANOSECONDS : PCAP_MAGIC_MICROSECONDS);
      const { header, records } = await PcapReader.readAll(file);
      assert.equal(header.nanosecond, nanosecond);
      assert.equal(header.linkType, PCAP_LINKTYPE_ETHERNET);
      assert.deepEqual(records.map((r) => toHex(r.data)), [toHex(frameA), toHex(frameB), toHex(frameA)]);
      assert.deepEqual(
        records.map((r) => [r.timestampSeconds, r.timestampNanoseconds]),
        nanosecond
          ? [[1_700_000_000, 123_456_789], [1_700_000_001, numberNs], [1_700_000_002, 999_999_999]]
          : [[1_700_000_000, 123_456_000], [1_700_000_001, Math.floor(numberNs / 1000) * 1000], [1_700_000_002, 999_999_000]],
      );
    });
  }

  it('stamps frames with the wall clock when no time is given', async () => {
    const file = path.join(directory, 'clock.pcap');
    const writer = new PcapWriter(file);
    const before = Date.now();
    writer.write(fromHex(captured.arpRequest.hex), 0, 42);
    writer.close();
    const after = Date.now();
    const { records } = await PcapReader.readAll(file);
    const stampMs = records[0].timestampSeconds * 1000 + records[0].timestampNanoseconds / 1e6;
    assert.ok(stampMs >= before - 1 && stampMs <= after + 1, `${stampMs} within [${before}, ${after}]`);
  });

  it('cuts frames to the snap length and keeps their original length', async () => {
    const file = path.join(directory, 'snap.pcap');
    const frame = fromHex(captured.firstFragment.hex);
    const writer = new PcapWriter(file, { snapLength: 64 });
    writer.write(frame, 0, frame.length, 0);
    writer.close();
    const { header, records } = await PcapReader.readAll(file);
    assert.equal(header.snapLength, 64);
    assert.equal(records[0].capturedLength, 64);
    assert.equal(records[0].originalLength, 1514);
    assert.equal(toHex(records[0].data), toHex(frame.subarray(0, 64)));
  });

  it('writes frames larger than its buffer, and many frames through a small buffer', async () => {
    const file = path.join(directory, 'small-buffer.pcap');
    const big = fromHex(captured.firstFragment.hex);
    const small = fromHex(captured.arpReply.hex);
    const writer = new PcapWriter(file, { bufferSize: 256 });
    for (let i = 0; i < 50; i++) writer.write(i % 10 === 0 ? big : small, 0, i % 10 === 0 ? big.length : small.length, i);
    writer.close();
    const { records } = await PcapReader.readAll(file);
    assert.equal(records.length, 50);
    records.forEach((record, i) => assert.equal(record.capturedLength, i % 10 === 0 ? 1514 : 42));
  });

  it('writes to a descriptor it was given and leaves it open', async () => {
    const file = path.join(directory, 'fd.pcap');
    const fd = fs.openSync(file, 'w');
    const writer = new PcapWriter(fd, { nanosecond: true });
    writer.write(fromHex(captured.arpRequest.hex), 0, 42, 5n);
    writer.close();
    fs.fstatSync(fd);
    fs.closeSync(fd);
    const { records } = await PcapReader.readAll(file);
    assert.equal(records[0].timestampNanoseconds, 5);
  });

  it('reads big-endian files and files that arrive in small chunks', async () => {
    const little = fs.readFileSync(CAPTURED_PCAP);
    const expected = (await PcapReader.readAll(CAPTURED_PCAP)).records;
    const big = toBigEndian(little);
    for (const source of [chunked(big, 1), chunked(big, 7), chunked(little, 13)]) {
      const { header, records } = await PcapReader.readAll(source);
      assert.equal(header.linkType, PCAP_LINKTYPE_ETHERNET);
      assert.deepEqual(records, expected);
    }
    assert.equal((await PcapReader.readAll(chunked(big, 64))).header.littleEndian, false);
  });

  it('reads a file that ends inside a record and says it is truncated', async () => {
    const whole = fs.readFileSync(CAPTURED_PCAP);
    const reader = new PcapReader(chunked(whole.subarray(0, whole.length - 5), 100));
    let count = 0;
    for await (const record of reader) {
      assert.ok(record.data.length > 0);
      count++;
    }
    assert.equal(count, 25);
    assert.equal(reader.truncated, true);
  });

  it('refuses files that are not classic pcap', async () => {
    const pcapng = fromHex('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000');
    await assert.rejects(PcapReader.readAll(chunked(pcapng, 64)), /pcapng/);
    await assert.rejects(PcapReader.readAll(chunked(new Uint8Array(24), 64)), /unknown magic/);
    await assert.rejects(PcapReader.readAll(chunked(new Uint8Array(10), 64)), /shorter than its header/);
  });
});
