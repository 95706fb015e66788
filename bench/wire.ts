// Wire-layer micro-benchmarks: ns per packet to parse Ethernet+IPv4+UDP, to
// verify both checksums, and to turn a UDP request into its reply in place,
// at 64, 512 and 1500-byte frames. Each task walks a batch of frames laid out
// like a UMEM (one 2 KiB slot each), so tinybench's per-call overhead is
// spread over the batch. The baseline does the same work with plain
// Uint8Array indexing, in the same run. Every task checks its result, and
// the reply buffers are verified again after the run.
//
//   npx tsx bench/wire.ts [--time-ms 300]

import * as os from 'node:os';
import { Bench, type Task } from 'tinybench';
import * as ethernetModule from '../src/wire/ethernet';
import { EthernetFrame, EthernetRepr } from '../src/wire/ethernet';
import * as ipv4Module from '../src/wire/ipv4';
import { Ipv4Packet, Ipv4Repr } from '../src/wire/ipv4';
import * as udpModule from '../src/wire/udp';
import { UdpPacket, UdpRepr } from '../src/wire/udp';

// Constants copied into module locals: tsx compiles each imported binding to a
// getter call, which would eat V8's inlining budget in the hot loops.
const ETHERTYPE_IPV4 = ethernetModule.ETHERTYPE_IPV4;
const ETHERTYPE_VLAN = ethernetModule.ETHERTYPE_VLAN;
const IP_PROTOCOL_UDP = ipv4Module.IP_PROTOCOL_UDP;
const UDP_HEADER_LEN = udpModule.UDP_HEADER_LEN;

const FRAME_SIZES = [64, 512, 1500];
const BATCH = 256;
const SLOT = 2048;
const REPLY_TTL = 64;
const HEADERS_LEN = 14 + 20 + UDP_HEADER_LEN;

const timeArgument = process.argv.indexOf('--time-ms');
const TIME_MS = timeArgument > 0 ? Number(process.argv[timeArgument + 1]) : 300;

/** A deterministic generator so every run benchmarks the same frames. */
function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}

/** A batch of UDP requests, `frameSize` bytes each, built with nicring's records. */
function buildBatch(frameSize: number, seed: number): Uint8Array {
  const random = makeRandom(seed);
  const memory = new Uint8Array(BATCH * SLOT);
  const view = new DataView(memory.buffer);
  const ethernet = new EthernetRepr();
  const ipv4 = new Ipv4Repr();
  const udp = new UdpRepr();
  for (let slot = 0; slot < BATCH; slot++) {
    const at = slot * SLOT;
    const payloadLength = frameSize - HEADERS_LEN;
    for (let i = 0; i < payloadLength; i++) memory[at + HEADERS_LEN + i] = Math.floor(random() * 256);
    ethernet.destination = 0x020000000000 + Math.floor(random() * 0x1000000);
    ethernet.source = 0x020000000000 + Math.floor(random() * 0x1000000);
    ethernet.etherType = ETHERTYPE_IPV4;
    ipv4.source = 0xc6120000 + Math.floor(random() * 0x20000);
    ipv4.destination = 0xc6120000 + Math.floor(random() * 0x20000);
    ipv4.protocol = IP_PROTOCOL_UDP;
    ipv4.timeToLive = 1 + Math.floor(random() * 255);
    ipv4.identification = Math.floor(random() * 0x10000);
    ipv4.payloadLength = UDP_HEADER_LEN + payloadLength;
    udp.sourcePort = 1024 + Math.floor(random() * 60000);
    udp.destinationPort = 1024 + Math.floor(random() * 60000);
    udp.payloadLength = payloadLength;
    udp.emit(view, at + 34, ipv4.source, ipv4.destination);
    ipv4.emit(view, at + 14);
    ethernet.emit(view, at);
  }
  return memory;
}

// ---- nicring: the wire views -------------------------------------------------

const ethernet = new EthernetFrame();
const ipv4 = new Ipv4Packet();
const udp = new UdpPacket();

/** Point the three views at a request; false unless it is a well-formed IPv4/UDP frame. */
function resetViews(view: DataView, offset: number, length: number): boolean {
  if (!ethernet.reset(view, offset, length) || ethernet.payloadEtherType !== ETHERTYPE_IPV4) return false;
  if (!ipv4.reset(view, ethernet.payloadOffset, ethernet.payloadLength) || ipv4.protocol !== IP_PROTOCOL_UDP) return false;
  return udp.reset(view, ipv4.payloadOffset, ipv4.payloadLength);
}

function nicringParse(view: DataView, frameSize: number): number {
  let sum = 0;
  for (let slot = 0; slot < BATCH; slot++) {
    if (!resetViews(view, slot * SLOT, frameSize)) return -1;
    sum += ipv4.source + ipv4.destination + udp.sourcePort + udp.destinationPort + udp.payloadLength;
  }
  return sum;
}

function nicringVerify(view: DataView, frameSize: number): number {
  let valid = 0;
  for (let slot = 0; slot < BATCH; slot++) {
    if (resetViews(view, slot * SLOT, frameSize) && ipv4.verifyChecksum() && udp.verifyChecksum(ipv4.source, ipv4.destination)) valid++;
  }
  return valid;
}

function nicringReplyIncremental(view: DataView, frameSize: number, marker: number): number {
  let replies = 0;
  for (let slot = 0; slot < BATCH; slot++) {
    if (!resetViews(view, slot * SLOT, frameSize)) continue;
    ethernet.swapAddresses();
    ipv4.swapAddresses();
    ipv4.rewriteTimeToLive(REPLY_TTL);
    udp.swapPorts();
    udp.rewriteUint32(UDP_HEADER_LEN, marker);
    replies++;
  }
  return replies;
}

function nicringReplyFull(view: DataView, frameSize: number, marker: number): number {
  let replies = 0;
  for (let slot = 0; slot < BATCH; slot++) {
    if (!resetViews(view, slot * SLOT, frameSize)) continue;
    ethernet.swapAddresses();
    ipv4.swapAddresses();
    ipv4.timeToLive = REPLY_TTL;
    ipv4.fillChecksum();
    udp.swapPorts();
    view.setUint32(udp.payloadOffset, marker);
    udp.fillChecksum(ipv4.source, ipv4.destination);
    replies++;
  }
  return replies;
}

// ---- baseline: the same work with plain Uint8Array indexing -------------------

/** Offset of the UDP header of a well-formed IPv4/UDP frame at `at`, or -1. */
function baselineUdpOffset(bytes: Uint8Array, at: number, length: number): number {
  if (length < 14) return -1;
  let ip = at + 14;
  let etherType = (bytes[at + 12] << 8) | bytes[at + 13];
  if (etherType === ETHERTYPE_VLAN) {
    if (length < 18) return -1;
    etherType = (bytes[at + 16] << 8) | bytes[at + 17];
    ip = at + 18;
  }
  if (etherType !== ETHERTYPE_IPV4) return -1;
  const ipLength = at + length - ip;
  if (ipLength < 20 || bytes[ip] >> 4 !== 4) return -1;
  const headerLength = (bytes[ip] & 0x0f) * 4;
  const totalLength = (bytes[ip + 2] << 8) | bytes[ip + 3];
  if (headerLength < 20 || headerLength > totalLength || totalLength > ipLength || bytes[ip + 9] !== IP_PROTOCOL_UDP) return -1;
  const udpAt = ip + headerLength;
  const udpLength = (bytes[udpAt + 4] << 8) | bytes[udpAt + 5];
  if (totalLength - headerLength < 8 || udpLength < 8 || udpLength > totalLength - headerLength) return -1;
  return udpAt;
}

function u32At(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function u16At(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

function baselineParse(bytes: Uint8Array, frameSize: number): number {
  let sum = 0;
  for (let slot = 0; slot < BATCH; slot++) {
    const at = slot * SLOT;
    const udpAt = baselineUdpOffset(bytes, at, frameSize);
    if (udpAt < 0) return -1;
    const ip = udpAt - 20;
    sum += u32At(bytes, ip + 12) + u32At(bytes, ip + 16) + u16At(bytes, udpAt) + u16At(bytes, udpAt + 2) + u16At(bytes, udpAt + 4) - 8;
  }
  return sum;
}

/** The folded ones' complement sum, byte pair by byte pair. */
function baselineSum(bytes: Uint8Array, at: number, length: number, initial: number): number {
  let sum = initial;
  let i = 0;
  for (; i + 1 < length; i += 2) sum += (bytes[at + i] << 8) | bytes[at + i + 1];
  if (i < length) sum += bytes[at + i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function baselinePseudoSum(bytes: Uint8Array, ip: number, udpLength: number): number {
  return u16At(bytes, ip + 12) + u16At(bytes, ip + 14) + u16At(bytes, ip + 16) + u16At(bytes, ip + 18) + IP_PROTOCOL_UDP + udpLength;
}

function baselineVerify(bytes: Uint8Array, frameSize: number): number {
  let valid = 0;
  for (let slot = 0; slot < BATCH; slot++) {
    const udpAt = baselineUdpOffset(bytes, slot * SLOT, frameSize);
    if (udpAt < 0) continue;
    const ip = udpAt - 20;
    const udpLength = u16At(bytes, udpAt + 4);
    const udpChecksum = u16At(bytes, udpAt + 6);
    if (baselineSum(bytes, ip, 20, 0) !== 0xffff) continue;
    if (udpChecksum !== 0 && baselineSum(bytes, udpAt, udpLength, baselinePseudoSum(bytes, ip, udpLength)) !== 0xffff) continue;
    valid++;
  }
  return valid;
}

function swapBytes(bytes: Uint8Array, a: number, b: number, count: number): void {
  for (let i = 0; i < count; i++) {
    const t = bytes[a + i];
    bytes[a + i] = bytes[b + i];
    bytes[b + i] = t;
  }
}

/** RFC 1624 eqn. 3 over plain numbers. */
function baselineUpdate(checksum: number, oldWord: number, newWord: number): number {
  let sum = (~checksum & 0xffff) + (~oldWord & 0xffff) + newWord;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function setU16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 8;
  bytes[at + 1] = value & 0xff;
}

function baselineReplyIncremental(bytes: Uint8Array, frameSize: number, marker: number): number {
  let replies = 0;
  for (let slot = 0; slot < BATCH; slot++) {
    const at = slot * SLOT;
    const udpAt = baselineUdpOffset(bytes, at, frameSize);
    if (udpAt < 0) continue;
    const ip = udpAt - 20;
    swapBytes(bytes, at, at + 6, 6);
    swapBytes(bytes, ip + 12, ip + 16, 4);
    const oldTtlWord = u16At(bytes, ip + 8);
    bytes[ip + 8] = REPLY_TTL;
    setU16(bytes, ip + 10, baselineUpdate(u16At(bytes, ip + 10), oldTtlWord, u16At(bytes, ip + 8)));
    swapBytes(bytes, udpAt, udpAt + 2, 2);
    let checksum = u16At(bytes, udpAt + 6);
    const data = udpAt + 8;
    const oldHigh = u16At(bytes, data);
    const oldLow = u16At(bytes, data + 2);
    setU16(bytes, data, marker >>> 16);
    setU16(bytes, data + 2, marker & 0xffff);
    if (checksum !== 0) {
      checksum = baselineUpdate(baselineUpdate(checksum, oldHigh, marker >>> 16), oldLow, marker & 0xffff) || 0xffff;
      setU16(bytes, udpAt + 6, checksum);
    }
    replies++;
  }
  return replies;
}

function baselineReplyFull(bytes: Uint8Array, frameSize: number, marker: number): number {
  let replies = 0;
  for (let slot = 0; slot < BATCH; slot++) {
    const at = slot * SLOT;
    const udpAt = baselineUdpOffset(bytes, at, frameSize);
    if (udpAt < 0) continue;
    const ip = udpAt - 20;
    swapBytes(bytes, at, at + 6, 6);
    swapBytes(bytes, ip + 12, ip + 16, 4);
    bytes[ip + 8] = REPLY_TTL;
    setU16(bytes, ip + 10, 0);
    setU16(bytes, ip + 10, ~baselineSum(bytes, ip, 20, 0) & 0xffff);
    swapBytes(bytes, udpAt, udpAt + 2, 2);
    setU16(bytes, udpAt + 8, marker >>> 16);
    setU16(bytes, udpAt + 10, marker & 0xffff);
    const udpLength = u16At(bytes, udpAt + 4);
    setU16(bytes, udpAt + 6, 0);
    setU16(bytes, udpAt + 6, ~baselineSum(bytes, udpAt, udpLength, baselinePseudoSum(bytes, ip, udpLength)) & 0xffff || 0xffff);
    replies++;
  }
  return replies;
}

// ---- the run ----------------------------------------------------------------

interface ReplyState {
  memory: Uint8Array;
  original: Uint8Array;
  passes: number;
  marker: number;
}

/** True when `length` bytes at `at` in `a` equal those at `from` in `b`. */
function sameBytes(a: Uint8Array, at: number, b: Uint8Array, from: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[at + i] !== b[from + i]) return false;
  return true;
}

/**
 * Check every reply buffer after the run: both checksums valid (by the views
 * and by the byte-pair reference), MACs, addresses and ports swapped as many
 * times as the task ran, TTL and the last marker in place.
 */
function verifyReplies(state: ReplyState, frameSize: number, label: string): void {
  const { memory, original } = state;
  const view = new DataView(memory.buffer);
  const swapped = state.passes % 2 === 1;
  for (let slot = 0; slot < BATCH; slot++) {
    const fail = (what: string): Error => new Error(`${label}: slot ${slot}: ${what} (after ${state.passes} passes)`);
    const at = slot * SLOT;
    if (!resetViews(view, at, frameSize)) throw fail('no longer parses');
    const ip = ipv4.offset;
    const udpAt = udp.offset;
    const udpLength = udp.datagramLength;
    if (!ipv4.verifyChecksum() || baselineSum(memory, ip, 20, 0) !== 0xffff) throw fail('bad IPv4 checksum');
    if (!udp.verifyChecksum(ipv4.source, ipv4.destination)) throw fail('bad UDP checksum');
    if (baselineSum(memory, udpAt, udpLength, baselinePseudoSum(memory, ip, udpLength)) !== 0xffff) throw fail('bad UDP checksum (reference)');
    const [first, second] = swapped ? [1, 0] : [0, 1];
    const macsOk = sameBytes(memory, at, original, at + 6 * first, 6) && sameBytes(memory, at + 6, original, at + 6 * second, 6);
    const addressesOk = sameBytes(memory, ip + 12, original, ip + 12 + 4 * first, 4) && sameBytes(memory, ip + 16, original, ip + 12 + 4 * second, 4);
    const portsOk = sameBytes(memory, udpAt, original, udpAt + 2 * first, 2) && sameBytes(memory, udpAt + 2, original, udpAt + 2 * second, 2);
    if (!macsOk || !addressesOk || !portsOk) throw fail('addresses or ports not swapped as often as the task ran');
    if (ipv4.timeToLive !== REPLY_TTL || u32At(memory, udp.payloadOffset) !== state.marker) throw fail('TTL or marker not written');
  }
}

function nsPerPacket(task: Task | undefined): number {
  const result = task?.result;
  if (!result || result.state !== 'completed') throw new Error(`task ${task?.name} did not complete: ${result?.state}`);
  return (result.latency.p50 * 1e6) / BATCH;
}

async function main(): Promise<void> {
  const bench = new Bench({ time: TIME_MS, warmupTime: 100, throws: true });
  const replyChecks: Array<() => void> = [];
  const rows: Array<{ frameSize: number; operation: string; nicring: string; baseline: string }> = [];

  for (const frameSize of FRAME_SIZES) {
    const requests = buildBatch(frameSize, frameSize);
    const requestView = new DataView(requests.buffer);
    const expectedSum = baselineParse(requests, frameSize);
    if (expectedSum < 0 || nicringParse(requestView, frameSize) !== expectedSum) throw new Error('the two parsers disagree');
    if (nicringVerify(requestView, frameSize) !== BATCH || baselineVerify(requests, frameSize) !== BATCH) throw new Error('bad test frames');

    const parseName = (impl: string): string => `${impl} parse ${frameSize}`;
    bench.add(parseName('nicring'), () => {
      if (nicringParse(requestView, frameSize) !== expectedSum) throw new Error('nicring parse: wrong result');
    });
    bench.add(parseName('baseline'), () => {
      if (baselineParse(requests, frameSize) !== expectedSum) throw new Error('baseline parse: wrong result');
    });
    const verifyName = (impl: string): string => `${impl} verify ${frameSize}`;
    bench.add(verifyName('nicring'), () => {
      if (nicringVerify(requestView, frameSize) !== BATCH) throw new Error('nicring verify: wrong result');
    });
    bench.add(verifyName('baseline'), () => {
      if (baselineVerify(requests, frameSize) !== BATCH) throw new Error('baseline verify: wrong result');
    });
    rows.push({ frameSize, operation: 'parse Ethernet+IPv4+UDP', nicring: parseName('nicring'), baseline: parseName('baseline') });
    rows.push({ frameSize, operation: 'parse + verify IPv4 and UDP checksums', nicring: verifyName('nicring'), baseline: verifyName('baseline') });

    const replyKinds = [
      {
        operation: 'request -> reply in place, incremental checksums',
        key: 'reply-incremental',
        nicring: nicringReplyIncremental,
        baseline: baselineReplyIncremental,
      },
      {
        operation: 'request -> reply in place, full checksum recompute',
        key: 'reply-full',
        nicring: nicringReplyFull,
        baseline: baselineReplyFull,
      },
    ];
    for (const kind of replyKinds) {
      const names = { nicring: `nicring ${kind.key} ${frameSize}`, baseline: `baseline ${kind.key} ${frameSize}` };
      for (const impl of ['nicring', 'baseline'] as const) {
        const state: ReplyState = { memory: buildBatch(frameSize, frameSize), original: requests, passes: 0, marker: 0 };
        const view = new DataView(state.memory.buffer);
        const label = names[impl];
        if (impl === 'nicring') {
          bench.add(label, () => {
            state.marker = (state.marker + 0x9e3779b1) >>> 0;
            if (kind.nicring(view, frameSize, state.marker) !== BATCH) throw new Error(`${label}: wrong result`);
            state.passes++;
          });
        } else {
          bench.add(label, () => {
            state.marker = (state.marker + 0x9e3779b1) >>> 0;
            if (kind.baseline(state.memory, frameSize, state.marker) !== BATCH) throw new Error(`${label}: wrong result`);
            state.passes++;
          });
        }
        replyChecks.push(() => verifyReplies(state, frameSize, label));
      }
      rows.push({ frameSize, operation: kind.operation, ...names });
    }
  }

  await bench.run();
  for (const check of replyChecks) check();

  const header = ['frame bytes', 'operation', 'nicring ns/pkt', 'baseline ns/pkt', 'nicring/baseline'];
  const lines = rows.map((row) => {
    const nicring = nsPerPacket(bench.getTask(row.nicring));
    const baseline = nsPerPacket(bench.getTask(row.baseline));
    return [String(row.frameSize), row.operation, nicring.toFixed(1), baseline.toFixed(1), (nicring / baseline).toFixed(2)];
  });
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i].length)));
  const format = (cells: string[]): string =>
    '| ' + cells.map((cell, i) => (i === 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ') + ' |';
  console.log(`wire layer, ${BATCH} frames per task call, median of tinybench samples (${TIME_MS} ms per task)`);
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}`);
  console.log(format(header));
  console.log('|' + widths.map((width, i) => (i === 1 ? ':' + '-'.repeat(width + 1) : '-'.repeat(width + 1) + ':')).join('|') + '|');
  for (const line of lines) console.log(format(line));
  console.log(`results checked: parse sums, ${BATCH}/${BATCH} valid checksums per call, and every reply buffer re-verified after the run`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
