// TCP test helpers. Two kinds of test:
//
// - literal segments: a hand-driven peer (StackFixture's other side) sends
//   segments written out field by field and reads back what the stack sent,
//   as smoltcp's socket tests do;
// - two nicring hosts on in-memory pairs joined by a relay that can lose,
//   delay, reorder, duplicate and corrupt frames, all on one fake clock.

import { FakeClock } from '../../../src/loop';
import { Interface } from '../../../src/iface/interface';
import { createPair, type PairDevice, type PairOptions } from '../../../src/phy/pair';
import type { TcpOptions } from '../../../src/tcp/config';
import { strict as assert } from 'node:assert';
import type { TcpConnection, TcpConnectionOwner } from '../../../src/tcp/connection';
import type { TcpListener } from '../../../src/tcp/listener';
import { IP_PROTOCOL_TCP } from '../../../src/wire/ipv4';
import { TcpFlag, TcpPacket, TcpRepr } from '../../../src/wire/tcp';
import { Prng } from '../../fixtures/wire/util';
import { PEER_ADDRESS, STACK_ADDRESS, StackFixture, ipv4Packet, type SentFrame } from '../iface/peer';

export const SYN = TcpFlag.SYN;
export const ACK = TcpFlag.ACK;
export const FIN = TcpFlag.FIN;
export const RST = TcpFlag.RST;
export const PSH = TcpFlag.PSH;

/** A segment as the peer writes it. */
export interface Segment {
  sourcePort?: number;
  destinationPort?: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  payload?: Uint8Array;
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  /** [TSval, TSecr]. */
  timestamps?: [number, number];
  sack?: Array<[number, number]>;
  /** A wrong checksum. */
  badChecksum?: boolean;
}

/** The port the peer uses unless told otherwise, and the stack's. */
export const PEER_PORT = 40000;
export const STACK_PORT = 80;

/** The TCP segment bytes (header, options, payload) with a checksum for `source` -> `destination`. */
export function tcpBytes(segment: Segment, source = PEER_ADDRESS, destination = STACK_ADDRESS): Uint8Array {
  const repr = new TcpRepr();
  repr.sourcePort = segment.sourcePort ?? PEER_PORT;
  repr.destinationPort = segment.destinationPort ?? STACK_PORT;
  repr.sequenceNumber = segment.seq >>> 0;
  repr.acknowledgmentNumber = (segment.ack ?? 0) >>> 0;
  repr.flags = segment.flags;
  repr.windowSize = segment.window ?? 65535;
  repr.maxSegmentSize = segment.mss ?? 0;
  repr.windowScale = segment.windowScale ?? -1;
  repr.sackPermitted = segment.sackPermitted ?? false;
  if (segment.timestamps) {
    repr.hasTimestamps = true;
    repr.timestampValue = segment.timestamps[0] >>> 0;
    repr.timestampEcho = segment.timestamps[1] >>> 0;
  }
  const sack = segment.sack ?? [];
  sack.forEach(([left, right], i) => {
    repr.sackBlocks[2 * i] = left >>> 0;
    repr.sackBlocks[2 * i + 1] = right >>> 0;
  });
  repr.sackBlockCount = sack.length;
  const payload = segment.payload ?? new Uint8Array(0);
  repr.payloadLength = payload.length;
  const bytes = new Uint8Array(repr.headerLength + payload.length);
  bytes.set(payload, repr.headerLength);
  const view = new DataView(bytes.buffer);
  repr.emit(view, 0, source, destination);
  if (segment.badChecksum) view.setUint16(16, view.getUint16(16) ^ 0x5555);
  return bytes;
}

/** The IPv4 packet carrying `segment`. */
export function tcpPacket(segment: Segment, source = PEER_ADDRESS, destination = STACK_ADDRESS): Uint8Array {
  return ipv4Packet({ protocol: IP_PROTOCOL_TCP, payload: tcpBytes(segment, source, destination), source, destination });
}

/** A segment the stack sent, decoded. */
export interface Sent {
  sourcePort: number;
  destinationPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  payload: Uint8Array;
  mss: number;
  windowScale: number;
  sackPermitted: boolean;
  timestamps: [number, number] | null;
  sack: Array<[number, number]>;
  checksumOk: boolean;
}

/** The TCP segment in a frame the stack sent, or null. */
export function decodeTcp(frame: SentFrame): Sent | null {
  if (frame.ip === undefined || frame.ip.repr.protocol !== IP_PROTOCOL_TCP) return null;
  const payload = frame.ip.payload;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const packet = new TcpPacket();
  if (!packet.reset(view, 0, payload.length)) return null;
  const checksumOk = packet.verifyChecksum(frame.ip.repr.source, frame.ip.repr.destination);
  const repr = TcpRepr.parse(packet, frame.ip.repr.source, frame.ip.repr.destination, false);
  if (repr === null) return null;
  const sack: Array<[number, number]> = [];
  for (let i = 0; i < repr.sackBlockCount; i++) sack.push([repr.sackBlocks[2 * i], repr.sackBlocks[2 * i + 1]]);
  return {
    sourcePort: repr.sourcePort,
    destinationPort: repr.destinationPort,
    seq: repr.sequenceNumber,
    ack: repr.acknowledgmentNumber,
    flags: repr.flags,
    window: repr.windowSize,
    payload: payload.slice(packet.headerLength),
    mss: repr.maxSegmentSize,
    windowScale: repr.windowScale,
    sackPermitted: repr.sackPermitted,
    timestamps: repr.hasTimestamps ? [repr.timestampValue, repr.timestampEcho] : null,
    sack,
    checksumOk,
  };
}

/** Flags as text: "SYN|ACK". */
export function flagNames(flags: number): string {
  const names: string[] = [];
  for (const [name, bit] of [['SYN', SYN], ['RST', RST], ['FIN', FIN], ['PSH', PSH], ['ACK', ACK]] as const) if (flags & bit) names.push(name);
  return names.join('|') || '-';
}

/** What an owner saw. */
export class Recorder implements TcpConnectionOwner {
  readonly chunks: Buffer[] = [];
  connectedCount = 0;
  endedCount = 0;
  writableCount = 0;
  closedCount = 0;
  errors: string[] = [];
  /** Returned from data(): false pauses delivery. */
  accepting = true;
  bufferedBytes = 0;
  onConnected(): void {
    this.connectedCount++;
  }
  onData(bytes: Buffer): boolean {
    this.chunks.push(Buffer.from(bytes));
    // A user that stops reading keeps what it was given unconsumed.
    if (!this.accepting) this.bufferedBytes += bytes.length;
    return this.accepting;
  }
  onEnded(): void {
    this.endedCount++;
  }
  onWritable(): void {
    this.writableCount++;
  }
  onFailed(code: string): void {
    this.errors.push(code);
  }
  onClosed(): void {
    this.closedCount++;
  }
  /** Everything received so far. */
  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** A stack on one side (a listener on STACK_PORT unless told otherwise) and a hand-driven peer on the other. */
export class TcpPeer {
  readonly fixture: StackFixture;

  constructor(tcp: TcpOptions = {}, pair: PairOptions = {}) {
    this.fixture = new StackFixture({ tcp }, { poison: true, ...pair });
    this.fixture.start();
    this.fixture.introduce();
  }

  get iface(): Interface {
    return this.fixture.iface;
  }

  get counters(): ReturnType<Interface['counters']> {
    return this.fixture.iface.counters();
  }

  /** Send segments from the peer; returns the TCP segments the stack sent in answer. */
  send(...segments: Segment[]): Sent[] {
    return this.tcpOnly(this.fixture.exchangeIpv4(...segments.map((segment) => tcpPacket(segment))));
  }

  /** Send IPv4 packets as they are. */
  sendPackets(...packets: Uint8Array[]): Sent[] {
    return this.tcpOnly(this.fixture.exchangeIpv4(...packets));
  }

  /** Let time pass; returns what the stack sent meanwhile. */
  advance(ms: number): Sent[] {
    return this.tcpOnly(this.fixture.advance(ms));
  }

  /** What the stack sent since the last look (after user calls). */
  collect(): Sent[] {
    this.fixture.iface.flush();
    return this.tcpOnly(this.fixture.peer.receive());
  }

  close(): void {
    this.fixture.close();
  }

  private tcpOnly(frames: SentFrame[]): Sent[] {
    return frames.map(decodeTcp).filter((segment): segment is Sent => segment !== null);
  }
}

/** How the relay between two hosts spoils traffic. */
export interface Impairment {
  /** Probability a frame is lost. */
  loss?: number;
  /** Probability a frame is delivered twice. */
  duplicate?: number;
  /** Probability a frame is held back by `reorderMs` extra, so later frames overtake it. */
  reorder?: number;
  reorderMs?: number;
  /** Probability one byte of a frame is flipped. */
  corrupt?: number;
  /** One-way delay of every frame (ms). */
  delayMs?: number;
  /** Drop every frame for which this returns true (in addition). */
  drop?: (frame: Uint8Array, fromA: boolean) => boolean;
  seed?: number;
}

interface HeldFrame {
  dueMs: number;
  order: number;
  bytes: Uint8Array;
  toB: boolean;
}

/** Two nicring hosts, A (198.18.0.1) and B (198.18.0.2), through an impairing relay, on one fake clock. */
export class TwoHosts {
  readonly clock = new FakeClock(1_000_000);
  readonly a: Interface;
  readonly b: Interface;
  readonly aDevice: PairDevice;
  readonly bDevice: PairDevice;
  private readonly relayA: PairDevice;
  private readonly relayB: PairDevice;
  impairment: Impairment;
  private readonly prng: Prng;
  private held: HeldFrame[] = [];
  private order = 0;
  /** Frames the relay carried, and what it did to them. */
  readonly relayed = { frames: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0 };

  constructor(options: { tcp?: TcpOptions; tcpA?: TcpOptions; tcpB?: TcpOptions; impairment?: Impairment; frameCount?: number; mtu?: number } = {}) {
    const frameCount = options.frameCount ?? 4096;
    [this.aDevice, this.relayA] = createPair({ frameCount, macAddresses: ['02:00:00:00:00:01', '02:00:00:00:00:0a'], names: ['a', 'relay-a'] });
    [this.relayB, this.bDevice] = createPair({ frameCount, macAddresses: ['02:00:00:00:00:0b', '02:00:00:00:00:02'], names: ['relay-b', 'b'] });
    this.a = new Interface(this.aDevice, { address: '198.18.0.1/24', clock: this.clock, tcp: { ...options.tcp, ...options.tcpA }, mtu: options.mtu });
    this.b = new Interface(this.bDevice, { address: '198.18.0.2/24', clock: this.clock, tcp: { ...options.tcp, ...options.tcpB }, mtu: options.mtu });
    this.impairment = options.impairment ?? {};
    this.prng = new Prng(this.impairment.seed ?? 1);
    this.a.start();
    this.b.start();
  }

  /** One round: both hosts take a turn, the relay moves what they sent. Returns the frames moved. */
  step(): number {
    this.a.loop.turn();
    this.a.flush();
    this.b.loop.turn();
    this.b.flush();
    let moved = 0;
    moved += this.take(this.relayA, true);
    moved += this.take(this.relayB, false);
    moved += this.release();
    return moved;
  }

  /** Run until `done()` holds or `limitMs` of fake time passed; returns done(). */
  run(done: () => boolean, limitMs = 600_000): boolean {
    const deadline = this.clock.timeMs + limitMs;
    for (let steps = 0; steps < 50_000_000; steps++) {
      const moved = this.step();
      if (done()) return true;
      if (moved > 0 || this.aDevice.rxQueued > 0 || this.bDevice.rxQueued > 0) continue;
      const next = Math.min(this.a.loop.timers.nextDueMs(), this.b.loop.timers.nextDueMs(), this.nextHeldMs());
      if (next === Infinity || next > deadline) return done();
      if (next > this.clock.timeMs) this.clock.timeMs = next;
    }
    return done();
  }

  /**
   * The same for code that waits on Node's own events (streams, nextTick):
   * between steps the event loop runs, and fake time moves only while the
   * network is idle. Resolves with done().
   */
  async settle(done: () => boolean, limitMs = 600_000): Promise<boolean> {
    const deadline = this.clock.timeMs + limitMs;
    let idleRounds = 0;
    for (let steps = 0; steps < 10_000_000; steps++) {
      const moved = this.step();
      await new Promise((resolve) => setImmediate(resolve));
      if (done()) return true;
      if (moved > 0 || this.aDevice.rxQueued > 0 || this.bDevice.rxQueued > 0) {
        idleRounds = 0;
        continue;
      }
      // Idle: give Node's loop a few more turns (stream callbacks) before moving the clock.
      if (++idleRounds < 3) continue;
      idleRounds = 0;
      const next = Math.min(this.a.loop.timers.nextDueMs(), this.b.loop.timers.nextDueMs(), this.nextHeldMs());
      if (next === Infinity || next > deadline) return done();
      if (next > this.clock.timeMs) this.clock.timeMs = next;
    }
    return done();
  }

  /** Let `ms` of fake time pass, running everything due meanwhile. */
  runFor(ms: number): void {
    const until = this.clock.timeMs + ms;
    this.run(() => false, ms);
    if (this.clock.timeMs < until) this.clock.timeMs = until;
    this.step();
  }

  close(): void {
    this.a.close();
    this.b.close();
  }

  private take(device: PairDevice, fromA: boolean): number {
    const impairment = this.impairment;
    const prng = this.prng;
    let count = 0;
    device.receive(1 << 20, (offset, length) => {
      count++;
      this.relayed.frames++;
      const bytes = device.bytes.slice(offset, offset + length);
      if (impairment.drop?.(bytes, fromA)) {
        this.relayed.lost++;
        return;
      }
      if (impairment.loss && prng.chance(impairment.loss)) {
        this.relayed.lost++;
        return;
      }
      if (impairment.corrupt && prng.chance(impairment.corrupt) && length > 14) {
        const at = 14 + prng.below(length - 14);
        bytes[at] ^= 1 << prng.below(8);
        this.relayed.corrupted++;
      }
      let dueMs = this.clock.timeMs + (impairment.delayMs ?? 0);
      if (impairment.reorder && prng.chance(impairment.reorder)) {
        dueMs += impairment.reorderMs ?? 1;
        this.relayed.reordered++;
      }
      this.held.push({ dueMs, order: this.order++, bytes, toB: fromA });
      if (impairment.duplicate && prng.chance(impairment.duplicate)) {
        this.relayed.duplicated++;
        this.held.push({ dueMs, order: this.order++, bytes: bytes.slice(), toB: fromA });
      }
    });
    return count;
  }

  private release(): number {
    if (this.held.length === 0) return 0;
    const now = this.clock.timeMs;
    const due = this.held.filter((frame) => frame.dueMs <= now).sort((x, y) => x.dueMs - y.dueMs || x.order - y.order);
    if (due.length === 0) return 0;
    this.held = this.held.filter((frame) => frame.dueMs > now);
    for (const frame of due) {
      const device = frame.toB ? this.relayB : this.relayA;
      const offset = device.allocTx();
      if (offset < 0) continue;
      device.bytes.set(frame.bytes, offset);
      device.transmit(offset, frame.bytes.length);
    }
    this.relayA.flush();
    this.relayB.flush();
    return due.length;
  }

  private nextHeldMs(): number {
    let next = Infinity;
    for (const frame of this.held) if (frame.dueMs < next) next = frame.dueMs;
    return next;
  }
}

/** A connection end driven by a test: writes a whole buffer as room allows, records what arrives. */
export class Endpoint extends Recorder {
  connection: TcpConnection | null = null;
  private pending: Uint8Array = new Uint8Array(0);
  private pendingAt = 0;
  private endAfter = false;
  private readonly nowMs: () => number;

  constructor(nowMs: () => number) {
    super();
    this.nowMs = nowMs;
  }

  /** Attach to a connection. */
  attach(connection: TcpConnection): this {
    this.connection = connection;
    connection.attach(this, this.nowMs());
    return this;
  }

  /** Queue `bytes` for sending (and a FIN after them with `end`). */
  send(bytes: Uint8Array, end = false): void {
    const rest = this.pending.subarray(this.pendingAt);
    const joined = new Uint8Array(rest.length + bytes.length);
    joined.set(rest, 0);
    joined.set(bytes, rest.length);
    this.pending = joined;
    this.pendingAt = 0;
    this.endAfter = this.endAfter || end;
    this.pump();
  }

  /** Bytes not yet taken by the send buffer. */
  get unsent(): number {
    return this.pending.length - this.pendingAt;
  }

  override onWritable(): void {
    super.onWritable();
    this.pump();
  }

  override onConnected(): void {
    super.onConnected();
    this.pump();
  }

  private pump(): void {
    const connection = this.connection;
    if (connection === null) return;
    const left = this.pending.length - this.pendingAt;
    if (left > 0) this.pendingAt += connection.write(this.pending, this.pendingAt, left, this.nowMs());
    if (this.endAfter && this.pendingAt === this.pending.length) connection.shutdown(this.nowMs());
  }
}

/** Bytes whose every position is checkable: a PRNG stream. */
export function randomBytes(length: number, seed = 7): Uint8Array {
  const prng = new Prng(seed);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = prng.nextU32() & 0xff;
  return bytes;
}

/** Shorthand for checking a sent segment's flags, sequence and acknowledgment. */
export function expectSegment(sent: Sent | undefined, flags: number, seq: number, ack?: number): void {
  assert.ok(sent !== undefined, `expected ${flagNames(flags)}, nothing was sent`);
  assert.equal(flagNames(sent.flags), flagNames(flags));
  assert.equal(sent.seq, seq >>> 0, 'sequence number');
  if (ack !== undefined) assert.equal(sent.ack, ack >>> 0, 'acknowledgment number');
  assert.ok(sent.checksumOk, 'checksum');
}

/** The peer's ISN in literal-segment tests. */
export const PEER_ISS = 1000;

/** What the peer offers on its SYN. */
export interface PeerSynOptions {
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  /** Send timestamps on every segment (the peer's clock starts at 1). */
  timestamps?: boolean;
  window?: number;
}

/**
 * A stack listening on port 80 and a hand-driven peer that opened a
 * connection to it: ESTABLISHED, accepted, with a recorder as its user.
 */
export class Established {
  readonly peer: TcpPeer;
  readonly listener: TcpListener;
  readonly connection: TcpConnection;
  readonly user = new Recorder();
  /** The stack's ISN. */
  readonly iss: number;
  /** Next sequence numbers each side sends. */
  peerNext = PEER_ISS + 1;
  stackNext: number;
  /** The peer's timestamp clock and the last TSval seen from the stack. */
  peerClock = 1;
  lastStackTsval = 0;
  readonly synAck: Sent;
  private readonly options: PeerSynOptions;

  constructor(tcp: TcpOptions = {}, options: PeerSynOptions = {}) {
    this.options = options;
    this.peer = new TcpPeer(tcp);
    this.listener = this.peer.iface.tcp.listen(STACK_PORT);
    const [synAck] = this.peer.send({
      seq: PEER_ISS, flags: SYN, mss: options.mss ?? 1460, window: options.window ?? 65535,
      windowScale: options.windowScale, sackPermitted: options.sackPermitted, timestamps: options.timestamps ? [this.peerClock, 0] : undefined,
    });
    this.synAck = synAck;
    this.see([synAck]);
    this.iss = synAck.seq;
    this.stackNext = (this.iss + 1) >>> 0;
    this.segment({ flags: ACK });
    const connection = this.listener.accept();
    assert.ok(connection !== null);
    this.connection = connection;
    connection.attach(this.user, this.now);
  }

  get now(): number {
    return this.peer.fixture.clock.timeMs;
  }

  /** A segment from the peer with seq, ack, window and timestamps filled in unless given. */
  segment(segment: Partial<Segment> & { flags: number }): Sent[] {
    const filled: Segment = {
      seq: this.peerNext,
      ack: this.stackNext,
      window: this.options.window ?? 65535,
      ...segment,
    };
    if (this.options.timestamps && filled.timestamps === undefined) filled.timestamps = [++this.peerClock, this.lastStackTsval];
    return this.see(this.peer.send(filled));
  }

  /** The peer sends `data` in one segment at peerNext and moves peerNext on. */
  data(data: Uint8Array, flags = ACK | PSH): Sent[] {
    const sent = this.segment({ flags, payload: data });
    this.peerNext += data.length + (flags & FIN ? 1 : 0);
    return sent;
  }

  /** What the stack sent after user calls. */
  collect(): Sent[] {
    return this.see(this.peer.collect());
  }

  /** Let time pass. */
  advance(ms: number): Sent[] {
    return this.see(this.peer.advance(ms));
  }

  close(): void {
    this.peer.close();
  }

  private see(sent: Sent[]): Sent[] {
    for (const segment of sent) if (segment.timestamps !== null) this.lastStackTsval = segment.timestamps[0];
    return sent;
  }
}

export { TCP_DROP_REASONS, tcpSegmentFates as tcpFates } from '../../../src/tcp/drops';
