// The UDP load generator: sends bounded load at a fixed rate or flat out,
// counts replies and samples their latency. Requests are built from one
// template frame kept in device memory: per request, a copyWithin, four
// field writes and incremental checksums (RFC 1624); nothing allocates.
//
// Request payload: magic "NRG1", sequence number (u32), send time (u32:
// microseconds on a 30-bit clock, see nowMicros), then filler. An echo returns it unchanged, so a reply carries what
// is needed to match it and time it.

import type { Device } from '../phy/device';
import { checksumUpdate16, checksumUpdate32 } from '../wire/checksum';
import { ETHERNET_HEADER_LEN, ETHERTYPE_IPV4, EthernetRepr } from '../wire/ethernet';
import { IPV4_HEADER_LEN, IP_PROTOCOL_UDP, Ipv4Repr, ipv4Field } from '../wire/ipv4';
import { UDP_HEADER_LEN, UdpRepr, udpField } from '../wire/udp';

/** First four payload bytes of every request ("NRG1"). */
export const GENERATOR_MAGIC = 0x4e524731;
/** Bytes of payload the generator needs: magic, sequence, timestamp. */
export const GENERATOR_MIN_PAYLOAD = 12;

const IP_AT = ETHERNET_HEADER_LEN;
const UDP_AT = IP_AT + IPV4_HEADER_LEN;
const PAYLOAD_AT = UDP_AT + UDP_HEADER_LEN;
const SEQUENCE_AT = PAYLOAD_AT + 4;
const TIMESTAMP_AT = PAYLOAD_AT + 8;

export interface GeneratorOptions {
  sourceMac: number;
  destinationMac: number;
  sourceAddress: number;
  destinationAddress: number;
  destinationPort: number;
  /** First source port; requests spread over `sourcePorts` ports from it. */
  sourcePortBase: number;
  sourcePorts: number;
  /** UDP payload bytes per request (at least 12). */
  payloadSize: number;
  /** Requests to send at most. */
  count: number;
  /** Stop sending after this long at the latest. */
  durationMs: number;
  /** Requests per second; 0 sends flat out. */
  rate: number;
  /** Requests per send batch (one flush each). */
  batchSize: number;
  /** How long to wait for replies after the last request. */
  lingerMs?: number;
  /** Called about once a second while running. */
  onProgress?: (snapshot: GeneratorSnapshot) => void;
}

export interface GeneratorSnapshot {
  sent: number;
  received: number;
  elapsedMs: number;
}

/** Latency percentiles in microseconds, from a sample of the replies. */
export interface LatencySummary {
  samples: number;
  minUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  /** Histogram: replies per bucket, bucket upper bounds in µs ("+inf" last). */
  histogram: { leUs: number | '+inf'; count: number }[];
}

/** No latency measured (the live-frames engine repeats one frame). */
export function emptyLatency(): LatencySummary {
  return { samples: 0, minUs: 0, p50Us: 0, p90Us: 0, p99Us: 0, maxUs: 0, histogram: [] };
}

export interface GeneratorReport {
  sent: number;
  received: number;
  lost: number;
  /** Replies that did not match a request sent (bad sequence) or arrived twice. */
  unexpected: number;
  txRingFull: number;
  sendSeconds: number;
  /** Requests per second actually offered. */
  offeredPps: number;
  /** Replies per second over the send period. */
  replyPps: number;
  latency: LatencySummary;
}

const HISTOGRAM_BOUNDS_US = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 1000000];
const SAMPLE_CAPACITY = 1 << 16;

/** Counts the replies to the AF_XDP engine's requests (each sequence number once) and samples their latency. */
export class ReplyMeter {
  received = 0;
  unexpected = 0;
  private readonly seen: Uint8Array;
  private readonly samples = new Float64Array(SAMPLE_CAPACITY);
  private sampleCount = 0;
  private sampleCursor = 0;
  private readonly sampleEvery: number;
  private readonly histogram = new Float64Array(HISTOGRAM_BOUNDS_US.length + 1);
  private observed = 0;

  constructor(private readonly destinationAddress: number, private readonly destinationPort: number, maxSequence: number) {
    this.seen = new Uint8Array(Math.max(1, Math.min(maxSequence, 1 << 28)));
    this.sampleEvery = Math.max(1, Math.floor(maxSequence / SAMPLE_CAPACITY));
  }

  /** Count `frame` if it is a reply to one of our requests; returns whether it was. Never allocates. */
  observe(view: DataView, offset: number, length: number, nowUs: number): boolean {
    if (length < TIMESTAMP_AT + 4) return false;
    if (view.getUint16(offset + 12) !== ETHERTYPE_IPV4 || view.getUint8(offset + IP_AT) !== 0x45) return false;
    if (view.getUint8(offset + IP_AT + ipv4Field.PROTOCOL) !== IP_PROTOCOL_UDP) return false;
    if (view.getUint32(offset + IP_AT + ipv4Field.SOURCE) !== this.destinationAddress) return false;
    if (view.getUint16(offset + UDP_AT + udpField.SOURCE_PORT) !== this.destinationPort) return false;
    if (view.getUint32(offset + PAYLOAD_AT) !== GENERATOR_MAGIC) return false;
    const sequence = view.getUint32(offset + SEQUENCE_AT);
    if (sequence >= this.seen.length || this.seen[sequence] !== 0) {
      this.unexpected++;
      return true;
    }
    this.seen[sequence] = 1;
    this.received++;
    this.record((nowUs - view.getUint32(offset + TIMESTAMP_AT)) & MICROS_MASK);
    return true;
  }

  private record(latencyUs: number): void {
    let bucket = 0;
    while (bucket < HISTOGRAM_BOUNDS_US.length && latencyUs > HISTOGRAM_BOUNDS_US[bucket]) bucket++;
    this.histogram[bucket]++;
    // Every reply is in the histogram; the percentile sample keeps one in `sampleEvery`,
    // round-robin once full (Math.random would allocate a number per call).
    this.observed++;
    if (this.observed % this.sampleEvery !== 0) return;
    this.samples[this.sampleCursor] = latencyUs;
    this.sampleCursor = this.sampleCursor + 1 === SAMPLE_CAPACITY ? 0 : this.sampleCursor + 1;
    if (this.sampleCount < SAMPLE_CAPACITY) this.sampleCount++;
  }

  /** Percentiles and histogram of what was observed. */
  latency(): LatencySummary {
    return summarizeLatency(this.latencySamples(), this.histogramCounts());
  }

  /** A copy of the latency sample (µs), for merging meters. */
  latencySamples(): number[] {
    return Array.from(this.samples.subarray(0, this.sampleCount));
  }

  /** A copy of the histogram's counts, one per bucket of LATENCY_BOUNDS_US and a last one for larger values. */
  histogramCounts(): number[] {
    return Array.from(this.histogram);
  }
}

/** Upper bounds (µs) of the latency histogram's buckets; a last bucket takes the rest. */
export const LATENCY_BOUNDS_US: readonly number[] = HISTOGRAM_BOUNDS_US;

/** Percentiles from latency samples (µs) and the histogram from bucket counts (see histogramCounts); several meters' may be concatenated and summed. */
export function summarizeLatency(samples: number[], histogramCounts: number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  const histogram = HISTOGRAM_BOUNDS_US.map((le, i) => ({ leUs: le as number | '+inf', count: histogramCounts[i] ?? 0 }));
  histogram.push({ leUs: '+inf', count: histogramCounts[HISTOGRAM_BOUNDS_US.length] ?? 0 });
  return {
    samples: sorted.length,
    minUs: sorted.length ? sorted[0] : 0,
    p50Us: at(0.5), p90Us: at(0.9), p99Us: at(0.99),
    maxUs: sorted.length ? sorted[sorted.length - 1] : 0,
    histogram: histogram.filter((entry) => entry.count > 0),
  };
}

/** The request timestamp's clock wraps at 2^30 µs (about 17.9 minutes): it stays a small integer, which costs no allocation. */
const MICROS_MASK = 0x3fffffff;

/** Microseconds on the monotonic clock, modulo 2^30 (no BigInt). Reading the clock allocates: once per batch, not per packet. */
export function nowMicros(): number {
  return microsFromMs(performance.now());
}

/** A loop time in milliseconds as the requests' 30-bit microsecond timestamp. */
export function microsFromMs(ms: number): number {
  return (ms * 1000) & MICROS_MASK;
}

/** Write one request frame (Ethernet + IPv4 + UDP + payload) at `offset`; returns its length. */
export function emitRequestTemplate(view: DataView, offset: number, options: GeneratorOptions): number {
  const ethernet = new EthernetRepr();
  ethernet.destination = options.destinationMac;
  ethernet.source = options.sourceMac;
  ethernet.etherType = ETHERTYPE_IPV4;
  ethernet.emit(view, offset);
  for (let i = 0; i < options.payloadSize; i++) view.setUint8(offset + PAYLOAD_AT + i, (i * 7 + 3) & 0xff);
  view.setUint32(offset + PAYLOAD_AT, GENERATOR_MAGIC);
  view.setUint32(offset + SEQUENCE_AT, 0);
  view.setUint32(offset + TIMESTAMP_AT, 0);
  const udp = new UdpRepr();
  udp.sourcePort = options.sourcePortBase;
  udp.destinationPort = options.destinationPort;
  udp.payloadLength = options.payloadSize;
  udp.emit(view, offset + UDP_AT, options.sourceAddress, options.destinationAddress);
  const ip = new Ipv4Repr();
  ip.source = options.sourceAddress;
  ip.destination = options.destinationAddress;
  ip.protocol = IP_PROTOCOL_UDP;
  ip.payloadLength = UDP_HEADER_LEN + options.payloadSize;
  ip.dontFragment = true;
  ip.emit(view, offset + IP_AT);
  return PAYLOAD_AT + options.payloadSize;
}

/** One request frame in a buffer of its own (the live-frames engine sends copies of it). */
export function buildRequestFrame(options: GeneratorOptions): Uint8Array {
  const frame = new Uint8Array(PAYLOAD_AT + options.payloadSize);
  emitRequestTemplate(new DataView(frame.buffer), 0, options);
  return frame;
}

/** Check generator options; throws a one-line error naming the bad one. */
export function checkGeneratorOptions(options: GeneratorOptions, frameCapacity: number): void {
  const need = (ok: boolean, message: string): void => {
    if (!ok) throw new RangeError(message);
  };
  need(Number.isInteger(options.payloadSize) && options.payloadSize >= GENERATOR_MIN_PAYLOAD && PAYLOAD_AT + options.payloadSize <= frameCapacity && options.payloadSize <= 1472,
    `payload size must be ${GENERATOR_MIN_PAYLOAD} to ${Math.min(1472, frameCapacity - PAYLOAD_AT)} bytes, got ${options.payloadSize}`);
  need(Number.isInteger(options.count) && options.count >= 1, `count must be a positive integer, got ${options.count}`);
  need(options.durationMs > 0, `duration must be positive, got ${options.durationMs} ms`);
  need(options.rate >= 0, `rate must be 0 (flat out) or positive, got ${options.rate}`);
  need(Number.isInteger(options.batchSize) && options.batchSize >= 1 && options.batchSize <= 1024, `batch size must be 1 to 1024, got ${options.batchSize}`);
  need(Number.isInteger(options.sourcePorts) && options.sourcePorts >= 1 && options.sourcePortBase + options.sourcePorts - 1 <= 65535 && options.sourcePortBase >= 1,
    `source ports ${options.sourcePortBase}+${options.sourcePorts} do not fit in 1..65535`);
}

/**
 * The AF_XDP transmit engine. The device's receive side stays with its owner
 * (a stack that answers ARP): the owner passes every received frame to
 * `observe()` first.
 */
export class UdpGenerator {
  readonly meter: ReplyMeter;
  sent = 0;
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  private readonly templateOffset: number;
  private readonly frameLength: number;
  private readonly templateIpChecksum: number;
  private readonly templateUdpChecksum: number;
  private startMs = 0;
  private stopSendingAtMs = 0;
  private sendEndMs = 0;
  private txRingFull = 0;
  private running = false;

  constructor(readonly device: Device, readonly options: GeneratorOptions) {
    checkGeneratorOptions(options, device.frameCapacity);
    this.view = device.memory;
    this.bytes = device.bytes;
    const template = device.allocTx();
    if (template < 0) throw new Error('no free transmit buffer for the request template');
    this.templateOffset = template;
    this.frameLength = emitRequestTemplate(this.view, template, options);
    this.templateIpChecksum = this.view.getUint16(template + IP_AT + ipv4Field.CHECKSUM);
    this.templateUdpChecksum = this.view.getUint16(template + UDP_AT + udpField.CHECKSUM);
    this.meter = new ReplyMeter(options.destinationAddress, options.destinationPort, options.count);
  }

  /** Count a received frame if it is a reply, received at `nowUs` (see microsFromMs); returns whether it was. */
  observe(offset: number, length: number, nowUs: number): boolean {
    return this.meter.observe(this.view, offset, length, nowUs);
  }

  /** Build request `sequence` in a free buffer and queue it; false when no buffer or ring space. */
  private sendOne(sequence: number, nowUs: number): boolean {
    const device = this.device;
    const offset = device.allocTx();
    if (offset < 0) return false;
    const view = this.view;
    this.bytes.copyWithin(offset, this.templateOffset, this.templateOffset + this.frameLength);
    const identification = sequence & 0xffff;
    view.setUint16(offset + IP_AT + ipv4Field.IDENTIFICATION, identification);
    view.setUint16(offset + IP_AT + ipv4Field.CHECKSUM, checksumUpdate16(this.templateIpChecksum, 0, identification));
    const port = this.options.sourcePortBase + (sequence % this.options.sourcePorts);
    const timestamp = nowUs & MICROS_MASK;
    view.setUint16(offset + UDP_AT + udpField.SOURCE_PORT, port);
    view.setUint32(offset + SEQUENCE_AT, sequence);
    view.setUint32(offset + TIMESTAMP_AT, timestamp);
    let checksum = checksumUpdate16(this.templateUdpChecksum, this.options.sourcePortBase, port);
    checksum = checksumUpdate32(checksum, 0, sequence);
    checksum = checksumUpdate32(checksum, 0, timestamp);
    view.setUint16(offset + UDP_AT + udpField.CHECKSUM, checksum === 0 ? 0xffff : checksum);
    if (!device.transmit(offset, this.frameLength)) {
      this.txRingFull++;
      return false;
    }
    return true;
  }

  /** Send until count or duration is reached, then linger for replies; resolves with the report. */
  run(): Promise<GeneratorReport> {
    const options = this.options;
    this.running = true;
    this.startMs = performance.now();
    this.stopSendingAtMs = this.startMs + options.durationMs;
    let lastProgressMs = this.startMs;
    return new Promise((resolve) => {
      const finish = (): void => {
        this.running = false;
        this.device.freeTx(this.templateOffset);
        resolve(this.report());
      };
      const linger = (): void => {
        const lingerEnd = this.sendEndMs + (options.lingerMs ?? 500);
        const wait = (): void => {
          this.device.flush();
          if (this.meter.received >= this.sent || performance.now() >= lingerEnd) finish();
          else setTimeout(wait, 5);
        };
        wait();
      };
      const pump = (): void => {
        const now = performance.now();
        if (now - lastProgressMs >= 1000) {
          lastProgressMs = now;
          options.onProgress?.({ sent: this.sent, received: this.meter.received, elapsedMs: now - this.startMs });
        }
        if (this.sent >= options.count || now >= this.stopSendingAtMs || !this.running) {
          this.sendEndMs = now;
          this.device.flush();
          linger();
          return;
        }
        let allowance = options.batchSize;
        if (options.rate > 0) {
          const due = Math.min(options.count, Math.floor(((now - this.startMs) * options.rate) / 1000) + 1);
          allowance = Math.min(due - this.sent, options.batchSize * 4);
        } else {
          allowance = Math.min(options.count - this.sent, options.batchSize * 4);
        }
        const nowUs = (now * 1000) & MICROS_MASK;
        while (allowance > 0) {
          const batch = Math.min(allowance, options.batchSize);
          let queued = 0;
          while (queued < batch && this.sendOne(this.sent, nowUs)) {
            this.sent++;
            queued++;
          }
          this.device.flush();
          allowance -= batch;
          if (queued < batch) break;
        }
        if (options.rate > 0 && this.sent < options.count) {
          const nextDueMs = this.startMs + ((this.sent + 1) * 1000) / options.rate;
          if (nextDueMs - performance.now() > 2) {
            setTimeout(pump, Math.max(1, Math.floor(nextDueMs - performance.now())));
            return;
          }
        }
        setImmediate(pump);
      };
      pump();
    });
  }

  /** Stop sending early (replies are still awaited for the linger time). */
  stop(): void {
    this.running = false;
  }

  private report(): GeneratorReport {
    const sendSeconds = Math.max(1e-6, (this.sendEndMs - this.startMs) / 1000);
    const received = this.meter.received;
    return {
      sent: this.sent,
      received,
      lost: Math.max(0, this.sent - received),
      unexpected: this.meter.unexpected,
      txRingFull: this.txRingFull,
      sendSeconds: +sendSeconds.toFixed(3),
      offeredPps: Math.round(this.sent / sendSeconds),
      replyPps: Math.round(received / sendSeconds),
      latency: this.meter.latency(),
    };
  }
}
