// The responder's own work per request, with the kernel taken out: the
// AF_XDP device over rings in plain memory, a minimal kernel side written
// here (take a fill address, copy the request in, post it on RX; on a kick,
// move every TX descriptor to the completion ring), and the whole stack
// above it — Interface, UDP, the echo Responder — exactly as `nicring
// respond` runs them, batch by batch as the loop's drain does. The kernel
// side's own cost is measured alone in the same run (the same copies with a
// trivial consumer) and taken off. The figures are JS and V8 time per
// request: what a profile of a real run calls "user time".
//
//   npm run build && node dist/bench/responder-path.js [--size 64] [--ports 1] [--partial] [--requests 4000000]
//
// On a machine too busy for timings, count instructions instead: run under
// valgrind --tool=callgrind with --only serve (or --only kernel) at two
// request counts; the difference over the difference in requests is the
// cost per request, start-up and compilation cancelled out.
//
// It checks its own result: every request answered, in place, with a
// checksum that verifies.

import { Interface } from '../src/iface/interface';
import type { RingInfo, XdpPort, XdpStatistics } from '../src/native';
import type { ChecksumCapabilities } from '../src/phy/checksum-capabilities';
import { XdpDevice } from '../src/phy/xdp';
import { Responder } from '../src/service/responder';
import { internetChecksumSum, ipv4PseudoHeaderSumFromAddrs, packetChecksumSum } from '../src/wire/checksum';

const RING_SIZE = 4096;
const FRAME_SIZE = 2048;
const FRAME_COUNT = 2 * RING_SIZE;
const HEADROOM = 256;
const BATCH = 64;
const PRODUCER = 0;
const CONSUMER = 64;
const FLAGS = 128;
const DESC = 192;
const OUR_MAC = 0x02000000_0001;
const PEER_MAC = 0x02000000_0002;
const OUR_IP = 0xc6120001;
const PEER_IP = 0xc6120002;

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}

const SIZE = Number(argument('size', '64'));
const PORTS = Number(argument('ports', '1'));
const REQUESTS = Number(argument('requests', '4000000'));
const ROUNDS = Number(argument('rounds', '5'));
const PARTIAL = process.argv.includes('--partial');

class Ring {
  readonly info: RingInfo;
  readonly words: Uint32Array;
  constructor(entryBytes: number) {
    const buffer = new ArrayBuffer(DESC + RING_SIZE * entryBytes);
    this.info = { buffer, producer: PRODUCER, consumer: CONSUMER, flags: FLAGS, desc: DESC, size: RING_SIZE };
    this.words = new Uint32Array(buffer);
  }
}

/** The request, built once: Ethernet, IPv4 and UDP to our port 9000, a full checksum or (--partial) the pseudo-header sum. */
function buildRequest(view: DataView, at: number, payloadLength: number): number {
  const udpLength = 8 + payloadLength;
  view.setUint16(at, Math.floor(OUR_MAC / 2 ** 32));
  view.setUint32(at + 2, OUR_MAC % 2 ** 32);
  view.setUint16(at + 6, Math.floor(PEER_MAC / 2 ** 32));
  view.setUint32(at + 8, PEER_MAC % 2 ** 32);
  view.setUint16(at + 12, 0x0800);
  const ip = at + 14;
  view.setUint8(ip, 0x45);
  view.setUint16(ip + 2, 20 + udpLength);
  view.setUint16(ip + 6, 0x4000);
  view.setUint8(ip + 8, 64);
  view.setUint8(ip + 9, 17);
  view.setUint32(ip + 12, PEER_IP);
  view.setUint32(ip + 16, OUR_IP);
  view.setUint16(ip + 10, ~internetChecksumSum(view, ip, 20) & 0xffff);
  const udp = ip + 20;
  view.setUint16(udp, 40000);
  view.setUint16(udp + 2, 9000);
  view.setUint16(udp + 4, udpLength);
  for (let i = 0; i < payloadLength; i++) view.setUint8(udp + 8 + i, (i * 7 + 3) & 0xff);
  const pseudo = ipv4PseudoHeaderSumFromAddrs(PEER_IP, OUR_IP, 17, udpLength);
  if (PARTIAL) view.setUint16(udp + 6, pseudo);
  else view.setUint16(udp + 6, ~internetChecksumSum(view, udp, udpLength, pseudo) & 0xffff || 0xffff);
  return 14 + 20 + udpLength;
}

/** The kernel's side of the four rings. */
class Kernel {
  readonly fill = new Ring(8);
  readonly completion = new Ring(8);
  readonly rx = new Ring(16);
  readonly tx = new Ring(16);
  readonly umem = new ArrayBuffer(FRAME_SIZE * FRAME_COUNT);
  readonly bytes = new Uint8Array(this.umem);
  readonly view = new DataView(this.umem);
  /** The request template lives outside every chunk the device uses: the last chunk, which the device never owns. */
  readonly templateAt = (FRAME_COUNT - 1) * FRAME_SIZE;
  readonly frameLength: number;
  sent = 0;
  readonly port: XdpPort;

  constructor() {
    this.frameLength = buildRequest(this.view, this.templateAt, SIZE);
    const kernel = this;
    const statistics: XdpStatistics = { rxDropped: 0, rxInvalidDescs: 0, txInvalidDescs: 0, rxRingFull: 0, rxFillRingEmptyDescs: 0, txRingEmptyDescs: 0 };
    this.port = {
      fd: -1, ifindex: 1, queue: 0, mode: 'native', zeroCopy: false, needWakeup: true, txBudget: RING_SIZE, multiBuffer: false,
      umem: this.umem, rx: this.rx.info, tx: this.tx.info, fill: this.fill.info, completion: this.completion.info,
      kick: () => { kernel.transmit(); return 0; },
      wakeup: () => 0,
      statistics: () => statistics,
      watch: () => undefined, unwatch: () => undefined, defer: () => undefined, later: () => undefined, close: () => undefined,
    };
    this.tx.words[FLAGS / 4] = 1;
  }

  /** Deliver `count` requests: fill address → copy → RX descriptor. */
  deliver(count: number): void {
    const fill = this.fill.words;
    const rx = this.rx.words;
    let fillConsumer = fill[CONSUMER / 4];
    let rxProducer = rx[PRODUCER / 4];
    for (let i = 0; i < count; i++) {
      const w = DESC / 4 + ((fillConsumer & (RING_SIZE - 1)) << 1);
      const addr = fill[w] + HEADROOM;
      fillConsumer = (fillConsumer + 1) >>> 0;
      this.bytes.copyWithin(addr, this.templateAt, this.templateAt + this.frameLength);
      const d = DESC / 4 + ((rxProducer & (RING_SIZE - 1)) << 2);
      rx[d] = addr;
      rx[d + 1] = 0;
      rx[d + 2] = this.frameLength;
      rx[d + 3] = 0;
      rxProducer = (rxProducer + 1) >>> 0;
    }
    Atomics.store(fill, CONSUMER / 4, fillConsumer);
    Atomics.store(rx, PRODUCER / 4, rxProducer);
  }

  /** Every TX descriptor goes to the completion ring. */
  transmit(): void {
    const tx = this.tx.words;
    const completion = this.completion.words;
    let txConsumer = tx[CONSUMER / 4];
    const txProducer = Atomics.load(tx, PRODUCER / 4);
    let completionProducer = completion[PRODUCER / 4];
    while (txConsumer !== txProducer) {
      const d = DESC / 4 + ((txConsumer & (RING_SIZE - 1)) << 2);
      const c = DESC / 4 + ((completionProducer & (RING_SIZE - 1)) << 1);
      completion[c] = tx[d];
      completion[c + 1] = tx[d + 1];
      txConsumer = (txConsumer + 1) >>> 0;
      completionProducer = (completionProducer + 1) >>> 0;
      this.sent++;
    }
    Atomics.store(tx, CONSUMER / 4, txConsumer);
    Atomics.store(completion, PRODUCER / 4, completionProducer);
  }

  /** Put every chunk but the template's on the fill ring, as a device would (for the calibration rings). */
  prime(): void {
    const fill = this.fill.words;
    for (let i = 0; i < RING_SIZE; i++) fill[DESC / 4 + (i << 1)] = i * FRAME_SIZE;
    Atomics.store(fill, PRODUCER / 4, RING_SIZE);
  }

  /** The kernel side alone, for its cost: deliver, then hand RX straight back to fill as a consumer that does nothing would. */
  recycle(count: number): void {
    const rx = this.rx.words;
    const fill = this.fill.words;
    let rxConsumer = rx[CONSUMER / 4];
    let fillProducer = fill[PRODUCER / 4];
    for (let i = 0; i < count; i++) {
      const d = DESC / 4 + ((rxConsumer & (RING_SIZE - 1)) << 2);
      const f = DESC / 4 + ((fillProducer & (RING_SIZE - 1)) << 1);
      fill[f] = rx[d] - HEADROOM;
      fill[f + 1] = 0;
      rxConsumer = (rxConsumer + 1) >>> 0;
      fillProducer = (fillProducer + 1) >>> 0;
    }
    Atomics.store(rx, CONSUMER / 4, rxConsumer);
    Atomics.store(fill, PRODUCER / 4, fillProducer);
  }
}

function timeNsPerRequest(run: () => void): number {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / REQUESTS;
}

function main(): void {
  const kernel = new Kernel();
  const checksums: ChecksumCapabilities = PARTIAL ? { rx: 'partial', tx: 'full', reason: 'bench' } : { rx: 'full', tx: 'full', reason: 'bench' };
  // The device must not use the template's chunk: it is given one chunk fewer than the UMEM holds.
  const device = new XdpDevice(kernel.port, FRAME_SIZE, FRAME_COUNT - 1, 'bench0', { macAddress: '02:00:00:00:00:01', checksums });
  const iface = new Interface(device, { address: '198.18.0.1/24', arp: { gratuitous: false }, closeDevice: false });
  const responder = new Responder(iface, { ports: Array.from({ length: PORTS }, (_, i) => 9000 + i) });
  const input = iface.frameHandler;
  const serve = (): void => {
    for (let done = 0; done < REQUESTS; done += BATCH) {
      kernel.deliver(BATCH);
      device.receive(BATCH, input);
      device.flush();
    }
  };
  // The kernel side's cost alone, on rings of its own (the device caches its side of the first kernel's rings).
  const calibration = new Kernel();
  calibration.prime();
  const kernelOnly = (): void => {
    for (let done = 0; done < REQUESTS; done += BATCH) {
      calibration.deliver(BATCH);
      calibration.recycle(BATCH);
    }
  };
  // For instruction counts (valgrind --tool=callgrind): one pass of one kind only; the difference between two
  // request counts is the cost per request, start-up and compilation cancelled out.
  const only = argument('only', '');
  if (only !== '') {
    if (only === 'kernel') kernelOnly();
    else serve();
    iface.close();
    return;
  }
  // Warm-up, so that what is measured is optimized code.
  serve();
  const served: number[] = [];
  const kernelSide: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    kernelSide.push(timeNsPerRequest(kernelOnly));
    served.push(timeNsPerRequest(serve));
  }
  // Check: every request answered in place, the last reply's UDP checksum verifies, nothing dropped.
  const expected = REQUESTS * (ROUNDS + 1);
  const problems: string[] = [];
  if (responder.counters.replies !== expected) problems.push(`${responder.counters.replies} replies for ${expected} requests`);
  if (kernel.sent !== expected) problems.push(`the kernel side sent ${kernel.sent} frames for ${expected} requests`);
  const last = Atomics.load(kernel.completion.words, PRODUCER / 4) - 1;
  const lastAddr = kernel.completion.words[DESC / 4 + ((last & (RING_SIZE - 1)) << 1)];
  const udp = lastAddr + 14 + 20;
  const udpLength = kernel.view.getUint16(udp + 4);
  const sum = packetChecksumSum(kernel.view, udp, udpLength, ipv4PseudoHeaderSumFromAddrs(OUR_IP, PEER_IP, 17, udpLength));
  if (sum !== 0xffff) problems.push(`the last reply's UDP checksum does not verify (sum ${sum.toString(16)})`);
  if (kernel.view.getUint32(lastAddr + 14 + 16) !== PEER_IP) problems.push('the last reply is not addressed to the peer');
  const best = Math.min(...served);
  const kernelBest = Math.min(...kernelSide);
  console.log(JSON.stringify({
    size: SIZE, ports: PORTS, partial: PARTIAL, requests: REQUESTS, rounds: ROUNDS,
    nsPerRequest: +(best - kernelBest).toFixed(1), servedNs: served.map((v) => +v.toFixed(1)), kernelSideNs: kernelSide.map((v) => +v.toFixed(1)),
    nativeCalls: device.nativeCalls, checks: problems.length === 0 ? 'passed' : problems,
  }));
  iface.close();
  if (problems.length > 0) process.exitCode = 1;
}

main();
