// A TCP connection endpoint (RFC 9293): its state machine, the sending and
// receiving sides, loss recovery and timers, all state kept here as in
// gVisor's endpoint. The pieces it drives live in their own files: the
// buffers (send-buffer, receive-buffer), the SACK scoreboard, the RTT
// estimator, the congestion controllers, and the segment writer.
//
// Segment arrival follows RFC 9293 3.10.7 step by step, with PAWS (RFC 7323
// 5.3) before the sequence check and RFC 5961's challenge ACKs for RSTs and
// SYNs that are not exactly right. Loss recovery is RFC 6675 with SACK and
// RFC 6582 (NewReno) without it; after a retransmission timeout everything
// from SND.UNA is sent again, skipping what the peer SACKed.
//
// Every segment handed to input() ends in exactly one counter: either
// tcpSegmentsAccepted or a named drop reason.

import type { StackCounters } from '../iface/counters';
import { TcpFlag, TCP_HEADER_LEN } from '../wire/tcp';
import type { TcpConfig } from './config';
import type { CongestionControl } from './congestion';
import { Cubic } from './cubic';
import type { SequenceSecrets } from './isn';
import type { TcpListener } from './listener';
import { NewReno } from './newreno';
import type { SegmentWriter } from './output';
import { ReceiveBuffer, ReceiveResult } from './receive-buffer';
import { RttEstimator } from './rtt';
import { DUP_THRESH, SackScoreboard } from './sack-scoreboard';
import type { TcpSegment } from './segment';
import { SendBuffer } from './send-buffer';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from './seq';
import { TcpState, canReceiveData, tcpStateName } from './state';
import type { TcpTimers, TimedEntry } from './timers';

/** What the user side of a connection (a socket) is told. */
export interface TcpConnectionOwner {
  /** An active open reached ESTABLISHED. */
  onConnected(): void;
  /** In-order bytes, as a view the owner keeps. Return false to pause until resumeReading(). */
  onData(bytes: Buffer): boolean;
  /** The peer closed its side: no more data will come. */
  onEnded(): void;
  /** Room freed in the send buffer after a write() took less than offered. */
  onWritable(): void;
  /** The connection failed: 'ECONNRESET', 'ECONNREFUSED' or 'ETIMEDOUT'. */
  onFailed(code: string): void;
  /** The connection is done and lets go of its owner: no more calls. */
  onClosed(): void;
  /** Bytes handed over by data() that the user has not consumed (they count against the window). */
  readonly bufferedBytes: number;
}

/** What a connection needs of its TCP layer. */
export interface TcpHost {
  readonly config: TcpConfig;
  readonly counters: StackCounters;
  readonly writer: SegmentWriter;
  readonly timers: TcpTimers<TcpConnection>;
  readonly secrets: SequenceSecrets;
  readonly localAddress: number;
  /** The MSS we announce: MTU minus the IPv4 and TCP headers. */
  readonly localMss: number;
  /** Something was queued for the device (flush it soon when outside a receive turn). */
  sent(): void;
  /** The connection reached CLOSED: take it out of the tables. */
  forget(connection: TcpConnection): void;
  /** May another connection enter TIME-WAIT (maxTimeWait)? Counts it when so. */
  admitTimeWait(): boolean;
  /** A connection left TIME-WAIT. */
  leaveTimeWait(): void;
  /** May a challenge ACK be sent now (RFC 5961 10)? */
  allowChallengeAck(nowMs: number): boolean;
}

/** PAWS: a TS.Recent older than this is no reference any more (RFC 7323 5.5: 24 days). */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** Most bytes handed to the owner in one data() call. */
const DELIVERY_CHUNK = 65536;
/** Full-sized segments acknowledged at once at the start (Linux's quick ACK mode). */
const QUICK_ACKS = 16;
/** Delay before trying again when no transmit buffer was free. */
const TRANSMIT_RETRY_MS = 1;
/** Largest window scale shift (RFC 7323 2.3). */
const MAX_WINDOW_SCALE = 14;
/** Highest DupThresh reordering may raise a connection's to (Linux's tcp_max_reordering). */
const MAX_DUP_THRESH = 300;
/** Default MSS when the peer sends none (RFC 9293 3.7.1). */
const DEFAULT_MSS = 536;
/** SACK blocks written per segment: three fit beside timestamps, four without. */
const sackScratch = new Float64Array(8);

/** Linux's errno numbers (negative, as Node reports them) for the codes TCP's errors carry. */
export const TCP_ERRNO: Record<string, number> = {
  ECONNRESET: -104, ECONNREFUSED: -111, ETIMEDOUT: -110, EPIPE: -32, ECONNABORTED: -103, EADDRINUSE: -98, EADDRNOTAVAIL: -99, EAGAIN: -11,
};

/** One connection. */
export class TcpConnection implements TimedEntry {
  heapIndex = -1;
  dueMs = Infinity;
  state: number = TcpState.CLOSED;
  owner: TcpConnectionOwner | null = null;
  /** The listener a passive open belongs to until it is established. */
  listener: TcpListener | null = null;
  /** The listener whose accept queue holds this connection, until it is accepted. */
  queuedIn: TcpListener | null = null;
  readonly host: TcpHost;
  readonly localPort: number;
  readonly remoteAddress: number;
  readonly remotePort: number;
  /** Opened by connect() (not accepted from a listener). */
  readonly active: boolean;
  /** The user let go: nothing reads any more. */
  orphaned = false;
  /** Why the connection failed, once it has. */
  error: string | null = null;

  // Send sequence space (RFC 9293 3.3.1). SND.MAX is the highest sequence sent
  // (SND.NXT goes back to SND.UNA after a retransmission timeout).
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  /** The peer's window, scaled, in bytes. */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer offered. */
  maxSndWnd = 0;
  /** Shift applied to the peer's window field; ours on the window we send. */
  sndWindowScale = 0;
  rcvWindowScale = 0;
  /** Data bytes acknowledged so far: the stream offset of SND.UNA (after the SYN). */
  sndUnaOffset = 0;
  /** The user closed the sending side; a FIN goes after the data. */
  finQueued = false;
  /** The FIN went out (it is at SND.MAX - 1 then). */
  finSent = false;
  readonly sendBuffer: SendBuffer;
  /** The peer's MSS option. */
  peerMss = DEFAULT_MSS;
  /** Payload bytes a full segment carries (peer MSS and our MTU, minus the options every segment has). */
  sendMss = DEFAULT_MSS;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  /** The right edge of the window we advertised last (never moves left). */
  rcvEdge = 0;
  receiveBuffer: ReceiveBuffer | null = null;
  finReceived = false;
  /** Stream offset of the peer's FIN when it came ahead of data still missing; -1 otherwise. */
  private peerFinOffset = -1;
  /** Size of the peer's full segments, for the ACK-every-second-segment rule. */
  private receiveMss = DEFAULT_MSS;

  // Options.
  windowScaling = false;
  timestamps = false;
  sack = false;
  tsRecent = 0;
  private tsRecentMs = 0;
  private tsOffset = 0;
  private lastAckSent = 0;

  // Round trips and congestion.
  readonly rtt: RttEstimator;
  cc: CongestionControl;
  /** Without timestamps one segment at a time is timed (Karn: never a retransmitted one). */
  private rttSequence = 0;
  private rttStartMs = -1;
  private synSentMs = 0;

  // Loss recovery.
  dupAcks = 0;
  inRecovery = false;
  /** Stream offset one past the highest byte sent when recovery began (RFC 6582 "recover"). */
  private recoveryPoint = 0;
  /** A new recovery starts only once SND.UNA reaches this (the last recovery's or timeout's high mark). */
  private recoverGuard = 0;
  /** RFC 6675 HighRxt as a stream offset. */
  private highRetransmitted = 0;
  /**
   * DupThresh of this connection: 3 at first, raised when a fast retransmit
   * proves spurious (the segment was only reordered), as Linux raises its
   * reordering metric.
   */
  dupThresh = DUP_THRESH;
  /** Our TSval on the first retransmission of this recovery; -1 when undo is off (RFC 3522 Eifel detection). */
  private undoTsval = -1;
  /** Stream offset just past the first retransmitted segment. */
  private undoEnd = 0;
  /** How far SACKs reached past SND.UNA (in segments) when recovery began: the reordering a spurious recovery proves. */
  private undoDistance = 0;
  /** The tail loss probe's deadline (RFC 8985 7), and the stream offset of the probe in flight (-1: none). */
  tlpDueMs = Infinity;
  private tlpProbeOffset = -1;
  /** SND.UNA's offset when the last probe went: one probe until it moves. */
  private tlpProbedAt = -1;
  /** Last time SND.UNA moved or new data went out: the probe timer counts from it. */
  private lastProgressMs = 0;
  /**
   * The head (SND.UNA) was sent again at this time; when SACKs of data sent
   * after it keep coming while it stays missing, that copy was lost too.
   */
  private headRetransmitMs = -1;
  private headRetransmitOffset = -1;
  private headSackedBase = -1;
  readonly scoreboard = new SackScoreboard();

  // Timers (loop milliseconds; Infinity: not armed).
  rtoDueMs = Infinity;
  ackDueMs = Infinity;
  persistDueMs = Infinity;
  keepAliveDueMs = Infinity;
  closeDueMs = Infinity;
  private retryDueMs = Infinity;
  /** Retransmission timeouts in a row (data) or SYN/SYN-ACK retransmissions. */
  retransmissions = 0;
  private persistProbes = 0;
  private keepAliveProbes = 0;
  lastReceiveMs = 0;
  private lastSendMs = -1;
  /** When the oldest unacknowledged data was sent (for the user timeout). */
  private oldestUnackedMs = 0;

  // Acknowledgments.
  private ackNow = false;
  private ackPending = false;
  private bytesSinceAck = 0;
  private quickAcks = QUICK_ACKS;

  noDelay = false;
  keepAlive = false;
  keepAliveIdleMs: number;
  userTimeoutMs: number;

  /** Delivery to the owner is paused until resumeReading(). */
  private readingPaused = false;
  private endDelivered = false;
  private writeBlocked = false;
  private ownerClosed = false;
  private inTimeWait = false;

  constructor(host: TcpHost, localPort: number, remoteAddress: number, remotePort: number, active: boolean) {
    this.host = host;
    this.localPort = localPort;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.active = active;
    const config = host.config;
    this.sendBuffer = new SendBuffer(config.sendBufferSize);
    this.rtt = new RttEstimator(config.initialRtoMs, config.minRtoMs, config.maxRtoMs);
    this.cc = this.makeCongestionControl(DEFAULT_MSS);
    this.keepAliveIdleMs = config.keepAliveIdleMs;
    this.userTimeoutMs = config.userTimeoutMs;
    this.tsOffset = host.secrets.timestampOffset(host.localAddress, localPort, remoteAddress, remotePort);
  }

  /** The state's name, for messages and tests. */
  get stateName(): string {
    return tcpStateName(this.state);
  }

  /** Bytes in flight outside recovery (RFC 5681 FlightSize). */
  get flightSize(): number {
    return seqDiff(this.sndNxt, this.sndUna);
  }

  /** Bytes written and not yet acknowledged or sent. */
  get bufferedToSend(): number {
    return this.sendBuffer.length;
  }

  // ---------------------------------------------------------------- opening

  /** Active open (RFC 9293 3.10.1): send a SYN and enter SYN-SENT. */
  connect(nowMs: number): void {
    const host = this.host;
    this.iss = host.secrets.initialSequence(host.localAddress, this.localPort, this.remoteAddress, this.remotePort, nowMs);
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.rcvWindowScale = host.config.windowScaling ? windowScaleFor(host.config.receiveBufferSize) : 0;
    this.setState(TcpState.SYN_SENT);
    this.sendSyn(nowMs);
    this.armRto(nowMs);
    this.reschedule();
  }

  /** Passive open: a listener's SYN (RFC 9293 3.10.7.2) makes this connection, which answers with a SYN-ACK. */
  acceptSyn(segment: TcpSegment, listener: TcpListener, nowMs: number): void {
    const host = this.host;
    this.listener = listener;
    listener.synQueueLength++;
    this.iss = host.secrets.initialSequence(host.localAddress, this.localPort, this.remoteAddress, this.remotePort, nowMs);
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.takeSynOptions(segment, nowMs);
    this.irs = segment.sequence;
    this.rcvNxt = seqAdd(segment.sequence, 1);
    this.rcvEdge = seqAdd(this.rcvNxt, this.synWindow());
    this.sndWnd = segment.window;
    this.setState(TcpState.SYN_RECEIVED);
    this.lastReceiveMs = nowMs;
    this.sendSyn(nowMs);
    this.armRto(nowMs);
    this.reschedule();
  }

  /**
   * A connection made from a valid SYN cookie: the handshake's ACK arrived
   * with our cookie ISN, so it starts in ESTABLISHED with the cookie's MSS
   * and the options its timestamp carried.
   */
  acceptCookie(segment: TcpSegment, mss: number, windowScale: number, sackPermitted: boolean, nowMs: number): void {
    const config = this.host.config;
    this.iss = seqAdd(segment.acknowledgment, -1);
    this.irs = seqAdd(segment.sequence, -1);
    this.sndUna = segment.acknowledgment;
    this.sndNxt = segment.acknowledgment;
    this.sndMax = segment.acknowledgment;
    this.rcvNxt = segment.sequence;
    this.peerMss = mss;
    this.timestamps = config.timestamps && segment.hasTimestamps;
    if (this.timestamps) {
      this.tsRecent = segment.timestampValue;
      this.tsRecentMs = nowMs;
      this.windowScaling = config.windowScaling && windowScale >= 0;
      this.sack = config.sack && sackPermitted;
    }
    if (this.windowScaling) {
      this.sndWindowScale = windowScale > MAX_WINDOW_SCALE ? MAX_WINDOW_SCALE : windowScale;
      this.rcvWindowScale = windowScaleFor(config.receiveBufferSize);
    }
    this.rcvEdge = seqAdd(this.rcvNxt, this.synWindow());
    this.lastAckSent = this.rcvNxt;
    this.updateSendMss();
    this.sndWnd = segment.window << this.sndWindowScale;
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = segment.sequence;
    this.sndWl2 = segment.acknowledgment;
    this.lastReceiveMs = nowMs;
    this.becomeEstablished(nowMs);
  }

  // ---------------------------------------------------------------- user calls

  /** Give the connection its owner (after accept); pending data and events follow. */
  attach(owner: TcpConnectionOwner, nowMs: number): void {
    this.owner = owner;
    this.deliver(nowMs);
    this.reschedule();
  }

  /** Queue `length` bytes for sending; returns how many the send buffer took (the rest: wait for writable()). */
  write(source: Uint8Array, offset: number, length: number, nowMs: number): number {
    if (this.finQueued || this.state === TcpState.CLOSED || this.state >= TcpState.FIN_WAIT_1 && this.state !== TcpState.CLOSE_WAIT) return 0;
    const taken = this.sendBuffer.write(source, offset, length);
    if (taken < length) this.writeBlocked = true;
    if (taken > 0) {
      this.transmit(nowMs);
      this.reschedule();
    }
    return taken;
  }

  /** Close the sending side (shutdown SHUT_WR): a FIN follows the data (RFC 9293 3.10.4). */
  shutdown(nowMs: number): void {
    if (this.finQueued) return;
    this.finQueued = true;
    if (this.state === TcpState.ESTABLISHED) this.setState(TcpState.FIN_WAIT_1);
    else if (this.state === TcpState.CLOSE_WAIT) this.setState(TcpState.LAST_ACK);
    // In SYN-SENT and SYN-RECEIVED the FIN waits for ESTABLISHED.
    this.transmit(nowMs);
    this.reschedule();
  }

  /** The owner consumed data: deliver more, and open the window if that is worth telling. */
  resumeReading(nowMs: number): void {
    this.readingPaused = false;
    this.deliver(nowMs);
    if (this.state === TcpState.CLOSED) return;
    this.maybeWindowUpdate(nowMs);
    this.reschedule();
  }

  /** Abort (RFC 9293 3.10.5): send a RST when synchronized, and close at once. */
  abort(nowMs: number): void {
    if (this.state === TcpState.CLOSED) return;
    if (this.state >= TcpState.SYN_RECEIVED && this.state !== TcpState.TIME_WAIT) {
      this.sendReset(this.sndNxt, this.rcvNxt, true);
    }
    this.close(nowMs);
  }

  /**
   * The user let go of the connection (close(2)): with unread data it is
   * reset, as Linux does; otherwise it finishes on its own (orphaned), the
   * FIN sent after the data, FIN-WAIT-2 bounded by finWait2TimeoutMs.
   */
  release(nowMs: number): void {
    if (this.state === TcpState.CLOSED) return;
    this.orphaned = true;
    this.owner = null;
    this.ownerClosed = true;
    const unread = this.receiveBuffer !== null && this.receiveBuffer.readable > 0;
    if (unread || this.state === TcpState.SYN_SENT || this.state === TcpState.SYN_RECEIVED && this.listener === null) {
      this.abort(nowMs);
      return;
    }
    if (this.state === TcpState.TIME_WAIT) return;
    this.shutdown(nowMs);
    if (this.state === TcpState.FIN_WAIT_2) this.closeDueMs = nowMs + this.host.config.finWait2TimeoutMs;
    this.reschedule();
  }

  /** Nagle's algorithm off (true) or on. */
  setNoDelay(noDelay: boolean, nowMs: number): void {
    this.noDelay = noDelay;
    if (noDelay) {
      this.transmit(nowMs);
      this.reschedule();
    }
  }

  /** Keepalive on or off; `idleMs` > 0 sets the idle time before the first probe. */
  setKeepAlive(enable: boolean, idleMs: number, nowMs: number): void {
    this.keepAlive = enable;
    if (idleMs > 0) this.keepAliveIdleMs = idleMs;
    this.keepAliveDueMs = enable && this.state >= TcpState.ESTABLISHED ? this.lastReceiveMs + this.keepAliveIdleMs : Infinity;
    if (enable && this.keepAliveDueMs < nowMs) this.keepAliveDueMs = nowMs;
    this.reschedule();
  }

  // ---------------------------------------------------------------- segment arrival

  /** Handle a segment for this connection (RFC 9293 3.10.7). */
  input(segment: TcpSegment, nowMs: number): void {
    this.lastReceiveMs = nowMs;
    this.keepAliveProbes = 0;
    if (this.state === TcpState.SYN_SENT) this.inputSynSent(segment, nowMs);
    else if (this.state === TcpState.CLOSED) this.host.counters.tcpNoSocket++;
    else this.inputSynchronized(segment, nowMs);
    this.afterEvent(nowMs);
  }

  /** RFC 9293 3.10.7.3, SYN-SENT. */
  private inputSynSent(segment: TcpSegment, nowMs: number): void {
    const counters = this.host.counters;
    if (segment.ack && (seqLe(segment.acknowledgment, this.iss) || seqGt(segment.acknowledgment, this.sndMax))) {
      if (!segment.rst) this.sendReset(segment.acknowledgment, 0, false);
      counters.tcpBadAck++;
      return;
    }
    if (segment.rst) {
      if (!segment.ack) {
        counters.tcpUnexpected++;
        return;
      }
      counters.tcpSegmentsAccepted++;
      counters.tcpResetsReceived++;
      counters.tcpAttemptFails++;
      this.fail('ECONNREFUSED', nowMs);
      return;
    }
    if (!segment.syn) {
      counters.tcpUnexpected++;
      return;
    }
    counters.tcpSegmentsAccepted++;
    this.irs = segment.sequence;
    this.rcvNxt = seqAdd(segment.sequence, 1);
    this.takeSynOptions(segment, nowMs);
    this.rcvEdge = seqAdd(this.rcvNxt, this.synWindow());
    if (segment.ack) {
      this.sndUna = segment.acknowledgment;
      // The window of a SYN is never scaled (RFC 7323 2.2).
      this.sndWnd = segment.window;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = segment.sequence;
      this.sndWl2 = segment.acknowledgment;
      this.sampleSynRtt(segment, nowMs);
      this.ackNow = true;
      this.becomeEstablished(nowMs);
      if (segment.payloadLength > 0) this.receiveData(segment, nowMs);
      if (segment.fin) this.receiveFin(segment, nowMs);
      return;
    }
    // Simultaneous open (RFC 9293 figure 7): answer with our SYN again, now acknowledging theirs.
    this.sndWnd = segment.window;
    this.setState(TcpState.SYN_RECEIVED);
    this.sndNxt = this.iss;
    this.sendSyn(nowMs);
    this.armRto(nowMs);
  }

  /** RFC 9293 3.10.7.4, every state from SYN-RECEIVED on. */
  private inputSynchronized(segment: TcpSegment, nowMs: number): void {
    const counters = this.host.counters;
    // Our SYN-ACK was lost and the peer sent its SYN again: send the SYN-ACK again.
    if (this.state === TcpState.SYN_RECEIVED && segment.syn && !segment.ack && !segment.rst && segment.sequence === this.irs) {
      counters.tcpSegmentsAccepted++;
      counters.tcpSynAckRetransmits++;
      counters.tcpRetransmits++;
      this.sendSyn(nowMs);
      return;
    }
    // RFC 7323 5.3 R1: PAWS (a duplicate ACK overtaken by a later one passes, as on Linux).
    if (this.timestamps && segment.hasTimestamps && !segment.rst && seqLt(segment.timestampValue, this.tsRecent) && !this.disorderedAck(segment)) {
      if (nowMs - this.tsRecentMs < PAWS_IDLE_MS) {
        counters.tcpPawsRejected++;
        this.ackNow = true;
        return;
      }
      this.tsRecent = segment.timestampValue;
      this.tsRecentMs = nowMs;
    }
    // First: the sequence number.
    if (!this.acceptable(segment)) {
      if (segment.rst) {
        counters.tcpRstOutOfWindow++;
        return;
      }
      // RFC 5961 4.2: a SYN is answered with a challenge ACK whatever its sequence number.
      if (segment.syn) {
        counters.tcpSynChallenged++;
        this.challengeAck(nowMs);
        return;
      }
      // TIME-WAIT: a retransmission of the peer's FIN is acknowledged and restarts the 2 MSL wait.
      if (this.state === TcpState.TIME_WAIT && segment.fin) this.closeDueMs = nowMs + this.host.config.timeWaitMs;
      if (segment.length > 0 && seqLe(seqAdd(segment.sequence, segment.length), this.rcvNxt)) counters.tcpDuplicateSegments++;
      else counters.tcpOutOfWindow++;
      this.ackNow = true;
      return;
    }
    // RFC 7323 4.3: TS.Recent follows the segment that the last ACK we sent asked for.
    if (this.timestamps && segment.hasTimestamps && seqLe(segment.sequence, this.lastAckSent) && seqGe(segment.timestampValue, this.tsRecent)) {
      this.tsRecent = segment.timestampValue;
      this.tsRecentMs = nowMs;
    }
    // Second: RST (RFC 5961 3.2).
    if (segment.rst) {
      if (segment.sequence !== this.rcvNxt) {
        counters.tcpRstChallenged++;
        this.challengeAck(nowMs);
        return;
      }
      counters.tcpSegmentsAccepted++;
      this.resetReceived(nowMs);
      return;
    }
    // Fourth: SYN (RFC 5961 4.2).
    if (segment.syn) {
      counters.tcpSynChallenged++;
      this.challengeAck(nowMs);
      return;
    }
    // Fifth: ACK.
    if (!segment.ack) {
      counters.tcpNoAck++;
      return;
    }
    if (this.state === TcpState.SYN_RECEIVED) {
      if (seqLe(segment.acknowledgment, this.sndUna) || seqGt(segment.acknowledgment, this.sndMax)) {
        counters.tcpBadAck++;
        this.sendReset(segment.acknowledgment, 0, false);
        return;
      }
      const listener = this.listener;
      if (listener !== null && listener.acceptQueueFull) {
        // Linux (tcp_abort_on_overflow off): drop the ACK, keep the half-open connection; the peer will retry.
        counters.tcpListenOverflows++;
        return;
      }
      this.sampleSynRtt(segment, nowMs);
      this.sndUna = seqAdd(this.iss, 1);
      this.sndWnd = segment.window << this.sndWindowScale;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = segment.sequence;
      this.sndWl2 = segment.acknowledgment;
      this.becomeEstablished(nowMs);
    }
    if (!this.receiveAck(segment, nowMs)) return;
    if (this.state === TcpState.CLOSED) {
      counters.tcpSegmentsAccepted++;
      return;
    }
    // Seventh: the segment text.
    if (segment.payloadLength > 0 && canReceiveData(this.state)) {
      if (this.orphaned) {
        counters.tcpDataAfterClose++;
        this.abort(nowMs);
        return;
      }
      this.receiveData(segment, nowMs);
    }
    // Eighth: FIN.
    if (segment.fin) this.receiveFin(segment, nowMs);
    counters.tcpSegmentsAccepted++;
  }

  /**
   * Linux's tcp_disordered_ack: a bare duplicate ACK at RCV.NXT that changes
   * no window, with a timestamp at most one RTO older than TS.Recent, was
   * only reordered; PAWS would throw away its SACK information.
   */
  private disorderedAck(segment: TcpSegment): boolean {
    return segment.ack && segment.length === 0 && segment.sequence === this.rcvNxt && segment.acknowledgment === this.sndUna
      && (segment.window << this.sndWindowScale) === this.sndWnd
      && ((this.tsRecent - segment.timestampValue) | 0) <= this.rtt.rtoMs;
  }

  /** RFC 9293 3.10.7.4's four cases of segment acceptability. */
  private acceptable(segment: TcpSegment): boolean {
    const length = segment.length;
    let window = seqDiff(this.rcvEdge, this.rcvNxt);
    if (window < 0) window = 0;
    const sequence = segment.sequence;
    const start = seqDiff(sequence, this.rcvNxt);
    if (length === 0) return window === 0 ? start === 0 : start >= 0 && start < window;
    if (window === 0) return false;
    const end = start + length - 1;
    return (start >= 0 && start < window) || (end >= 0 && end < window);
  }

  /** The ACK field (RFC 9293 fifth step, RFC 5961 5.2). False when the segment is dropped (counted). */
  private receiveAck(segment: TcpSegment, nowMs: number): boolean {
    const counters = this.host.counters;
    const ack = segment.acknowledgment;
    if (seqGt(ack, this.sndMax)) {
      counters.tcpAckTooNew++;
      this.ackNow = true;
      return false;
    }
    if (seqLt(ack, seqAdd(this.sndUna, -this.maxSndWnd))) {
      counters.tcpAckTooOld++;
      this.challengeAck(nowMs);
      return false;
    }
    if (seqLt(ack, this.sndUna)) return true;
    this.persistProbes = 0;
    let windowChanged = false;
    if (seqLt(this.sndWl1, segment.sequence) || (this.sndWl1 === segment.sequence && seqLe(this.sndWl2, ack))) {
      const window = segment.window << this.sndWindowScale;
      windowChanged = window !== this.sndWnd;
      this.sndWnd = window;
      if (window > this.maxSndWnd) this.maxSndWnd = window;
      this.sndWl1 = segment.sequence;
      this.sndWl2 = ack;
    }
    let newlySacked = 0;
    if (this.sack && segment.sackCount > 0) newlySacked = this.takeSackBlocks(segment);
    const acked = seqDiff(ack, this.sndUna);
    if (acked > 0) {
      this.newAck(segment, acked, nowMs);
    } else if (this.sndMax !== this.sndUna && segment.payloadLength === 0 && !segment.fin
      && (!windowChanged || newlySacked > 0)) {
      this.duplicateAck(newlySacked, nowMs);
    }
    if (this.sack && this.state !== TcpState.CLOSED) this.detectLoss(nowMs);
    return true;
  }

  /**
   * Losses the duplicate-ACK rules cannot see, found from what is SACKed
   * after it was sent (the time-ordered reasoning of RFC 8985's RACK):
   * - a tail loss probe SACKed while data sent before it is still missing:
   *   that data is lost, recovery starts now instead of at the RTO;
   * - SND.UNA sent again, then DupThresh segments' worth more SACKed once an
   *   RTT has passed, while it is still missing: its retransmission was lost
   *   too, send it again.
   */
  private detectLoss(nowMs: number): void {
    if (this.sndUna === this.sndMax) {
      this.tlpProbeOffset = -1;
      this.headRetransmitOffset = -1;
      return;
    }
    const una = this.sndUnaOffset;
    const probe = this.tlpProbeOffset;
    if (probe >= 0 && (una > probe || this.scoreboard.sackedEnd(probe) >= 0)) {
      this.tlpProbeOffset = -1;
      if (!this.inRecovery && una < probe) this.enterRecovery(nowMs);
    }
    if (this.headRetransmitOffset !== una) {
      this.headRetransmitOffset = -1;
      return;
    }
    const settleMs = this.rtt.srttMs * 1.25 + 1;
    if (this.headSackedBase < 0) {
      if (nowMs - this.headRetransmitMs >= settleMs) this.headSackedBase = this.scoreboard.sackedBytes;
    } else if (this.scoreboard.sackedBytes - this.headSackedBase >= this.dupThresh * this.sendMss) {
      this.host.counters.tcpLostRetransmits++;
      this.retransmitAt(una, nowMs, 1);
    }
  }

  /** SACK blocks of the segment into the scoreboard (RFC 2018 5); returns bytes newly SACKed. */
  private takeSackBlocks(segment: TcpSegment): number {
    let added = 0;
    const blocks = segment.sackBlocks;
    const una = this.sndUna;
    const sentEnd = this.sndUnaOffset + seqDiff(this.sndMax, una);
    for (let i = 0; i < segment.sackCount; i++) {
      const left = seqDiff(blocks[2 * i], una);
      const right = seqDiff(blocks[2 * i + 1], una);
      // Blocks below SND.UNA (D-SACK) or beyond what was sent are ignored.
      if (left <= 0 || right <= left || right > sentEnd - this.sndUnaOffset) continue;
      added += this.scoreboard.add(this.sndUnaOffset + left, this.sndUnaOffset + right, this.sndUnaOffset, sentEnd);
    }
    return added;
  }

  /** New data acknowledged (RFC 9293 "SND.UNA < SEG.ACK =< SND.NXT", RFC 5681, 6582, 6675, 6298). */
  private newAck(segment: TcpSegment, acked: number, nowMs: number): void {
    const ack = segment.acknowledgment;
    const flightBefore = seqDiff(this.sndNxt, this.sndUna);
    const finAcked = this.finSent && ack === this.sndMax;
    const dataAcked = finAcked ? acked - 1 : acked;
    this.sendBuffer.consume(dataAcked);
    this.sndUnaOffset += dataAcked;
    this.sndUna = ack;
    this.lastProgressMs = nowMs;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    this.scoreboard.advance(this.sndUnaOffset);
    if (this.highRetransmitted < this.sndUnaOffset) this.highRetransmitted = this.sndUnaOffset;
    // RTT: from the echoed timestamp (RFC 7323 4.1), else from the timed segment unless it was sent again (Karn).
    if (this.timestamps && segment.hasTimestamps && segment.timestampEcho !== 0) {
      const rtt = (this.timestampClock(nowMs) - segment.timestampEcho) | 0;
      if (rtt >= 0) this.rtt.sample(rtt);
    } else if (this.rttStartMs >= 0 && seqGe(ack, this.rttSequence)) {
      this.rtt.sample(nowMs - this.rttStartMs);
      this.rttStartMs = -1;
    }
    this.retransmissions = 0;
    const mss = this.sendMss;
    // Eifel (RFC 3522): an ACK of the first retransmitted segment that echoes a
    // timestamp from before it was resent acknowledges the original: the
    // "loss" was reordering. Undo the reduction and wait longer next time.
    if (this.inRecovery && this.undoTsval >= 0 && this.sndUnaOffset >= this.undoEnd && segment.hasTimestamps
      && ((segment.timestampEcho - this.undoTsval) | 0) < 0) {
      this.cc.undo();
      this.inRecovery = false;
      this.dupAcks = 0;
      this.undoTsval = -1;
      this.recoverGuard = this.sndUnaOffset;
      const raised = this.undoDistance + 1;
      if (raised > this.dupThresh) this.dupThresh = raised < MAX_DUP_THRESH ? raised : MAX_DUP_THRESH;
      this.host.counters.tcpSpuriousRecoveries++;
    }
    if (this.inRecovery && this.sndUnaOffset >= this.undoEnd) this.undoTsval = -1;
    if (this.inRecovery) {
      if (this.sndUnaOffset >= this.recoveryPoint) {
        // Full ACK: recovery is over (RFC 6582 3.2 step 3; RFC 6675 5 step 4 analogue).
        this.inRecovery = false;
        this.dupAcks = 0;
        const flight = seqDiff(this.sndNxt, this.sndUna);
        this.cc.cwnd = this.sack ? this.cc.ssthresh : Math.min(this.cc.ssthresh, Math.max(flight, mss) + mss);
      } else if (!this.sack) {
        // RFC 6582 3.2 step 4: a partial ACK: send the next hole, deflate the window.
        this.retransmitAt(this.sndUnaOffset, nowMs, 1);
        let cwnd = this.cc.cwnd - dataAcked;
        if (dataAcked >= mss) cwnd += mss;
        this.cc.cwnd = cwnd > mss ? cwnd : mss;
      } else if (this.scoreboard.rangeCount === 0) {
        // Partial ACK with no SACK information left: the next byte is the hole.
        this.retransmitAt(this.sndUnaOffset, nowMs, 1);
      }
    } else {
      this.dupAcks = 0;
      // Grow only while the window is what limits sending (RFC 7661's spirit; Linux's tcp_is_cwnd_limited).
      if (flightBefore * 2 >= this.cc.cwnd || this.cc.cwnd < this.cc.ssthresh && flightBefore + 2 * mss >= this.cc.cwnd) {
        this.cc.onAck(dataAcked, flightBefore, mss, nowMs, this.rtt.srttMs);
      }
    }
    this.oldestUnackedMs = nowMs;
    // RFC 6298 5.2 and 5.3.
    if (this.sndUna === this.sndMax) this.rtoDueMs = Infinity;
    else this.rtoDueMs = nowMs + this.rtt.rtoMs;
    if (this.writeBlocked && this.sendBuffer.free > 0) this.ackedRoom = true;
    if (finAcked) {
      if (this.state === TcpState.FIN_WAIT_1) {
        this.setState(TcpState.FIN_WAIT_2);
        if (this.orphaned) this.closeDueMs = nowMs + this.host.config.finWait2TimeoutMs;
      } else if (this.state === TcpState.CLOSING) {
        this.enterTimeWait(nowMs);
      } else if (this.state === TcpState.LAST_ACK) {
        this.close(nowMs);
      }
    }
  }

  /** Room opened in the send buffer while a write was waiting for it. */
  private ackedRoom = false;

  /** A duplicate ACK (RFC 5681 2; with SACK, RFC 6675 2: one that SACKs new data). */
  private duplicateAck(newlySacked: number, nowMs: number): void {
    this.dupAcks++;
    if (this.inRecovery) {
      // RFC 6582 3.2 step 3: each further duplicate stands for a segment that left the network.
      if (!this.sack) this.cc.cwnd += this.sendMss;
      return;
    }
    if (this.sndUnaOffset < this.recoverGuard) return;
    const lost = this.dupAcks >= this.dupThresh
      || (this.sack && newlySacked > 0 && this.scoreboard.lossBoundary(this.sendMss, this.sndUnaOffset, this.dupThresh) > this.sndUnaOffset);
    if (lost) this.enterRecovery(nowMs);
  }

  /** Fast retransmit and the start of loss recovery (RFC 5681 3.2, RFC 6675 5, RFC 6582 3.2). */
  private enterRecovery(nowMs: number): void {
    const counters = this.host.counters;
    const mss = this.sendMss;
    this.inRecovery = true;
    this.cc.saveForUndo();
    this.undoTsval = this.timestamps ? this.timestampClock(nowMs) : -1;
    this.undoEnd = this.sndUnaOffset + mss;
    const highestSacked = this.scoreboard.highestSacked;
    this.undoDistance = highestSacked > this.sndUnaOffset ? Math.ceil((highestSacked - this.sndUnaOffset) / mss) : this.dupAcks;
    this.cc.onLoss(seqDiff(this.sndNxt, this.sndUna), mss, nowMs);
    this.recoveryPoint = this.sndUnaOffset + seqDiff(this.sndMax, this.sndUna);
    this.recoverGuard = this.recoveryPoint;
    this.highRetransmitted = this.sndUnaOffset;
    if (this.sack) counters.tcpSackRecoveries++;
    else counters.tcpRenoRecoveries++;
    this.rttStartMs = -1;
    this.retransmitAt(this.sndUnaOffset, nowMs, 0);
    if (!this.sack) this.cc.cwnd = this.cc.ssthresh + 3 * mss;
  }

  /** RST accepted (RFC 9293 3.10.7.4 second step). */
  private resetReceived(nowMs: number): void {
    const counters = this.host.counters;
    counters.tcpResetsReceived++;
    switch (this.state) {
      case TcpState.SYN_RECEIVED:
        counters.tcpAttemptFails++;
        if (this.listener !== null) this.close(nowMs);
        else this.fail('ECONNREFUSED', nowMs);
        return;
      case TcpState.ESTABLISHED:
      case TcpState.CLOSE_WAIT:
        counters.tcpEstablishedResets++;
        this.fail('ECONNRESET', nowMs);
        return;
      case TcpState.FIN_WAIT_1:
      case TcpState.FIN_WAIT_2:
        this.fail('ECONNRESET', nowMs);
        return;
      default:
        this.close(nowMs);
    }
  }

  /** The segment's payload (RFC 9293 seventh step): into the receive buffer, in order or not. */
  private receiveData(segment: TcpSegment, nowMs: number): void {
    const buffer = this.receiveBuffer;
    if (buffer === null) return;
    const counters = this.host.counters;
    let start = segment.syn ? seqAdd(segment.sequence, 1) : segment.sequence;
    let from = segment.payloadOffset;
    let length = segment.payloadLength;
    const skip = seqDiff(this.rcvNxt, start);
    if (skip > 0) {
      if (skip >= length) return;
      start = this.rcvNxt;
      from += skip;
      length -= skip;
    }
    const room = seqDiff(this.rcvEdge, start);
    if (room < length) {
      counters.tcpDataBeyondWindow++;
      if (room <= 0) {
        this.ackNow = true;
        return;
      }
      length = room;
    }
    if (length > this.receiveMss && length <= this.host.localMss) this.receiveMss = length;
    const before = buffer.contiguous;
    const offset = before + seqDiff(start, this.rcvNxt);
    const result = buffer.accept(offset, segment.bytes, from, length);
    if (result === ReceiveResult.IN_ORDER) {
      const grown = buffer.contiguous - before;
      this.rcvNxt = seqAdd(this.rcvNxt, grown);
      this.bytesSinceAck += grown;
      this.ackPending = true;
      // A hole filled (RFC 5681 4.2: ACK at once), or the every-second-segment rule.
      if (grown > length || buffer.outOfOrderRanges > 0 || this.bytesSinceAck >= 2 * this.receiveMss) this.ackNow = true;
      else if (this.quickAcks > 0) {
        this.quickAcks--;
        this.ackNow = true;
      }
      if (this.peerFinOffset >= 0 && buffer.contiguous >= this.peerFinOffset) this.finArrived(nowMs);
    } else {
      if (result === ReceiveResult.OUT_OF_ORDER) counters.tcpOutOfOrderQueued++;
      else counters.tcpOutOfOrderDropped++;
      // RFC 5681 4.2: an out-of-order segment is acknowledged at once (a duplicate ACK, with SACK blocks).
      this.ackNow = true;
    }
  }

  /** The FIN flag (RFC 9293 eighth step): now if it is next in sequence, else once the data before it is in. */
  private receiveFin(segment: TcpSegment, nowMs: number): void {
    if (this.finReceived) {
      // A retransmitted FIN: acknowledge it again; in TIME-WAIT restart the 2 MSL wait.
      this.ackNow = true;
      if (this.state === TcpState.TIME_WAIT) this.closeDueMs = nowMs + this.host.config.timeWaitMs;
      return;
    }
    const buffer = this.receiveBuffer;
    if (buffer === null || !canReceiveData(this.state)) return;
    const finSequence = seqAdd(segment.sequence, segment.payloadLength + (segment.syn ? 1 : 0));
    const distance = seqDiff(finSequence, this.rcvNxt);
    if (distance < 0 || seqGe(finSequence, this.rcvEdge) && distance > 0) return;
    this.peerFinOffset = buffer.contiguous + distance;
    if (distance === 0) this.finArrived(nowMs);
    else this.ackNow = true;
  }

  /** The peer's FIN is next in sequence: the peer is done sending. */
  private finArrived(nowMs: number): void {
    this.finReceived = true;
    this.peerFinOffset = -1;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.ackNow = true;
    switch (this.state) {
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
        this.setState(TcpState.CLOSE_WAIT);
        break;
      case TcpState.FIN_WAIT_1:
        if (this.finSent && this.sndUna === this.sndMax) this.enterTimeWait(nowMs);
        else this.setState(TcpState.CLOSING);
        break;
      case TcpState.FIN_WAIT_2:
        this.enterTimeWait(nowMs);
        break;
    }
  }

  // ---------------------------------------------------------------- sending

  /** Send what the windows, Nagle and silly window avoidance allow (RFC 9293 3.8.6, RFC 5681, RFC 6675 5). */
  transmit(nowMs: number): void {
    const state = this.state;
    if (state !== TcpState.ESTABLISHED && state !== TcpState.CLOSE_WAIT && state !== TcpState.FIN_WAIT_1
      && state !== TcpState.CLOSING && state !== TcpState.LAST_ACK) return;
    // RFC 5681 4.1: after an idle period longer than the RTO, restart from the initial window.
    if (this.host.config.slowStartAfterIdle && this.sndNxt === this.sndUna && this.lastSendMs >= 0
      && nowMs - this.lastSendMs > this.rtt.rtoMs) {
      this.cc.onIdle(this.initialWindow(), nowMs);
    }
    if (this.inRecovery && this.sack) {
      this.sackRecoveryTransmit(nowMs);
    } else {
      for (let guard = 0; guard < 100000; guard++) {
        let flight = seqDiff(this.sndNxt, this.sndUna);
        // Bytes the peer SACKed are not in flight (after a timeout SND.NXT walks over them).
        if (this.scoreboard.rangeCount > 0) flight -= this.scoreboard.sackedIn(this.sndUnaOffset, this.sndUnaOffset + flight);
        if (!this.sendNext(this.cc.cwnd - flight, nowMs)) break;
      }
    }
    this.armPersist(nowMs);
  }

  /** RFC 6675 5 (C): while cwnd - pipe >= 1 SMSS, send per NextSeg. */
  private sackRecoveryTransmit(nowMs: number): void {
    const mss = this.sendMss;
    const scoreboard = this.scoreboard;
    for (let guard = 0; guard < 100000; guard++) {
      const una = this.sndUnaOffset;
      const sentEnd = una + seqDiff(this.sndMax, this.sndUna);
      const pipe = scoreboard.pipe(una, sentEnd, mss, this.highRetransmitted, this.dupThresh);
      const budget = this.cc.cwnd - pipe;
      if (budget < mss) return;
      // NextSeg (1): the first unSACKed byte above HighRxt that is deemed lost.
      let next = this.highRetransmitted > una ? this.highRetransmitted : una;
      for (let end = scoreboard.sackedEnd(next); end >= 0; end = scoreboard.sackedEnd(next)) next = end;
      if (next < scoreboard.lossBoundary(mss, una, this.dupThresh) && next < sentEnd) {
        if (this.retransmitAt(next, nowMs, 1) <= 0) return;
        continue;
      }
      // (2) new data.
      if (this.sndNxt === this.sndMax && this.sendNext(budget, nowMs)) continue;
      // (3) an unSACKed byte below the highest SACKed one.
      if (next < scoreboard.highestSacked) {
        if (this.retransmitAt(next, nowMs, 1) <= 0) return;
        continue;
      }
      return;
    }
  }

  /**
   * Send the next segment from SND.NXT within `budget` bytes of congestion
   * window: new data, or after a timeout the data again (skipping SACKed
   * ranges). False when nothing (more) may go now.
   */
  private sendNext(budget: number, nowMs: number): boolean {
    const buffer = this.sendBuffer;
    let index = seqDiff(this.sndNxt, this.sndUna);
    const dataEnd = buffer.length;
    if (index > dataEnd) return false;
    // After a timeout, SND.NXT walks over what the peer already holds.
    if (this.sack && seqLt(this.sndNxt, this.sndMax)) {
      const sackedEnd = this.scoreboard.sackedEnd(this.sndUnaOffset + index);
      if (sackedEnd >= 0) {
        const jump = Math.min(sackedEnd - this.sndUnaOffset, seqDiff(this.sndMax, this.sndUna)) - index;
        if (jump > 0) {
          this.sndNxt = seqAdd(this.sndNxt, jump);
          index += jump;
          if (index > dataEnd) return false;
        }
      }
    }
    const available = dataEnd - index;
    const wantFin = this.finQueued && (this.state === TcpState.FIN_WAIT_1 || this.state === TcpState.CLOSING || this.state === TcpState.LAST_ACK);
    const windowLeft = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
    let usable = windowLeft < budget ? windowLeft : budget;
    if (usable < 0) usable = 0;
    const limit = this.payloadLimit();
    let length = available < limit ? available : limit;
    if (length > usable) length = usable;
    // Retransmitting after a timeout: stop at the next SACKed range.
    const retransmission = seqLt(this.sndNxt, this.sndMax);
    if (retransmission && this.sack) {
      const hole = this.scoreboard.nextSackedStart(this.sndUnaOffset + index) - (this.sndUnaOffset + index);
      if (hole < length) length = hole;
    }
    const fin = wantFin && length === available && windowLeft >= length && (budget > 0 || retransmission);
    if (length <= 0 && !fin) return false;
    const flight = seqDiff(this.sndNxt, this.sndUna);
    if (length < limit && !fin && !retransmission) {
      if (length < available) {
        // A segment cut short by a window while data is in flight waits for the ACKs: by the
        // congestion window always, by the peer's window unless it is half the largest it
        // offered (sender silly window avoidance, RFC 9293 3.8.6.2.1).
        if (flight > 0 && (windowLeft >= budget || length < this.maxSndWnd / 2)) return false;
      } else if (!this.noDelay && flight > 0) {
        // Nagle (RFC 9293 3.7.4): one small segment in flight at a time.
        return false;
      }
    }
    let flags = TcpFlag.ACK;
    if (length > 0 && length === available) flags |= TcpFlag.PSH;
    if (fin) flags |= TcpFlag.FIN;
    if (!this.sendSegment(this.sndNxt, index, length, flags, nowMs)) return false;
    const counters = this.host.counters;
    if (retransmission) {
      counters.tcpRetransmits++;
      counters.tcpRtoRetransmits++;
    } else if (!this.timestamps && this.rttStartMs < 0 && length > 0) {
      this.rttSequence = seqAdd(this.sndNxt, length);
      this.rttStartMs = nowMs;
    }
    if (flight === 0) this.oldestUnackedMs = nowMs;
    if (!retransmission) this.lastProgressMs = nowMs;
    this.sndNxt = seqAdd(this.sndNxt, length + (fin ? 1 : 0));
    if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    if (fin) this.finSent = true;
    if (this.rtoDueMs === Infinity) this.rtoDueMs = nowMs + this.rtt.rtoMs;
    return true;
  }

  /**
   * Send again the segment at stream offset `offset` (a full segment at
   * most, up to the next SACKed range), regardless of the windows.
   * `kind`: 0 fast retransmit, 1 recovery, 2 timeout, 3 tail loss probe. Returns the
   * sequence space sent (0: nothing to send, -1: no buffer).
   */
  private retransmitAt(offset: number, nowMs: number, kind: number): number {
    const index = offset - this.sndUnaOffset;
    const dataEnd = this.sendBuffer.length;
    if (index < 0 || index > dataEnd) return 0;
    let length = dataEnd - index;
    const limit = this.payloadLimit();
    if (length > limit) length = limit;
    if (this.sack) {
      const hole = this.scoreboard.nextSackedStart(offset) - offset;
      if (hole < length) length = hole;
    }
    const fin = this.finSent && index + length === dataEnd;
    if (length <= 0 && !fin) return 0;
    const sequence = seqAdd(this.sndUna, index);
    let flags = TcpFlag.ACK;
    if (fin) flags |= TcpFlag.FIN;
    if (length > 0 && index + length === dataEnd) flags |= TcpFlag.PSH;
    if (!this.sendSegment(sequence, index, length, flags, nowMs)) return -1;
    const counters = this.host.counters;
    counters.tcpRetransmits++;
    if (kind === 0) counters.tcpFastRetransmits++;
    else if (kind === 1) counters.tcpRecoveryRetransmits++;
    else if (kind === 2) counters.tcpRtoRetransmits++;
    if (offset === this.sndUnaOffset) {
      this.headRetransmitOffset = offset;
      this.headRetransmitMs = nowMs;
      this.headSackedBase = -1;
    }
    const sent = length + (fin ? 1 : 0);
    if (offset + sent > this.highRetransmitted) this.highRetransmitted = offset + sent;
    if (this.rtoDueMs === Infinity) this.rtoDueMs = nowMs + this.rtt.rtoMs;
    return sent;
  }

  /** Payload bytes that fit the next data segment with its options (RFC 9293 3.7.1 Eff.snd.MSS). */
  private payloadLimit(): number {
    let header = TCP_HEADER_LEN + (this.timestamps ? 12 : 0);
    const buffer = this.receiveBuffer;
    if (this.sack && buffer !== null && buffer.outOfOrderRanges > 0) {
      const blocks = Math.min(buffer.outOfOrderRanges, this.timestamps ? 3 : 4);
      header += 4 + 8 * blocks;
    }
    const segmentBytes = Math.min(this.peerMss + TCP_HEADER_LEN, this.host.writer.maxSegmentBytes);
    return segmentBytes - header;
  }

  /** Build and send one segment; keeps the ACK bookkeeping. False when no transmit buffer was free (retried shortly). */
  private sendSegment(sequence: number, index: number, length: number, flags: number, nowMs: number): boolean {
    const writer = this.host.writer;
    const repr = writer.begin(this.localPort, this.remotePort, sequence, this.rcvNxt, flags, this.windowField());
    if (this.timestamps) {
      repr.hasTimestamps = true;
      repr.timestampValue = this.timestampClock(nowMs);
      repr.timestampEcho = this.tsRecent;
    }
    const buffer = this.receiveBuffer;
    if (this.sack && buffer !== null && buffer.outOfOrderRanges > 0) {
      const count = buffer.sackBlocks(sackScratch, this.timestamps ? 3 : 4);
      const base = buffer.contiguous;
      for (let i = 0; i < 2 * count; i++) repr.sackBlocks[i] = seqAdd(this.rcvNxt, sackScratch[i] - base);
      repr.sackBlockCount = count;
    }
    if (!writer.send(this.remoteAddress, length > 0 ? this.sendBuffer : null, index, length)) {
      if (this.retryDueMs === Infinity) this.retryDueMs = nowMs + TRANSMIT_RETRY_MS;
      return false;
    }
    this.ackNow = false;
    this.ackPending = false;
    this.ackDueMs = Infinity;
    this.bytesSinceAck = 0;
    this.lastAckSent = this.rcvNxt;
    this.lastSendMs = nowMs;
    this.host.sent();
    return true;
  }

  /** A bare ACK. */
  private sendAck(nowMs: number): void {
    this.sendSegment(this.sndNxt, 0, 0, TcpFlag.ACK, nowMs);
  }

  /** Our SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) with the options that go on it. */
  private sendSyn(nowMs: number): void {
    const config = this.host.config;
    const synAck = this.state === TcpState.SYN_RECEIVED;
    const writer = this.host.writer;
    const repr = writer.begin(this.localPort, this.remotePort, this.iss, this.rcvNxt, synAck ? TcpFlag.SYN | TcpFlag.ACK : TcpFlag.SYN, this.synWindow());
    repr.maxSegmentSize = this.host.localMss;
    const offer = !synAck && this.active;
    if (offer ? config.windowScaling : this.windowScaling) repr.windowScale = this.rcvWindowScale;
    if (offer ? config.sack : this.sack) repr.sackPermitted = true;
    if (offer ? config.timestamps : this.timestamps) {
      repr.hasTimestamps = true;
      repr.timestampValue = this.timestampClock(nowMs);
      repr.timestampEcho = synAck ? this.tsRecent : 0;
    }
    if (this.retransmissions === 0) this.synSentMs = nowMs;
    if (!writer.send(this.remoteAddress, null, 0, 0)) {
      if (this.retryDueMs === Infinity) this.retryDueMs = nowMs + TRANSMIT_RETRY_MS;
      return;
    }
    this.sndNxt = seqAdd(this.iss, 1);
    if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    this.lastAckSent = this.rcvNxt;
    this.lastSendMs = nowMs;
    this.host.sent();
  }

  /** A RST: <SEQ=sequence><CTL=RST>, or with `withAck` <SEQ=sequence><ACK=acknowledgment><CTL=RST,ACK>. */
  private sendReset(sequence: number, acknowledgment: number, withAck: boolean): void {
    this.host.writer.begin(this.localPort, this.remotePort, sequence, acknowledgment, withAck ? TcpFlag.RST | TcpFlag.ACK : TcpFlag.RST, 0);
    this.host.writer.send(this.remoteAddress, null, 0, 0);
    this.host.sent();
  }

  /** RFC 5961 7: an ACK telling the peer where we are, rate limited. */
  private challengeAck(nowMs: number): void {
    const counters = this.host.counters;
    if (!this.host.allowChallengeAck(nowMs)) {
      counters.tcpChallengeAcksLimited++;
      return;
    }
    counters.tcpChallengeAcks++;
    this.ackNow = true;
  }

  /** The window field for a segment other than a SYN: free receive space, scaled, never shrinking, without silly small increases. */
  private windowField(): number {
    const buffer = this.receiveBuffer;
    if (buffer === null) return 0;
    const held = buffer.readable + (this.owner !== null ? this.owner.bufferedBytes : 0);
    let free = buffer.capacity - held;
    if (free < 0) free = 0;
    let current = seqDiff(this.rcvEdge, this.rcvNxt);
    if (current < 0) current = 0;
    let window = current;
    // Receiver silly window avoidance (RFC 9293 3.8.6.2.2): move the edge by min(buffer / 2, MSS) or more.
    if (free > current && free - current >= Math.min(buffer.capacity >> 1, this.receiveMss)) window = free;
    const unit = 2 ** this.rcvWindowScale;
    let field = Math.ceil(window / unit);
    if (field > 0xffff) field = 0xffff;
    this.rcvEdge = seqAdd(this.rcvNxt, field * unit);
    return field;
  }

  /** The (unscaled) window of a SYN or SYN-ACK. */
  private synWindow(): number {
    const capacity = this.host.config.receiveBufferSize;
    return capacity < 0xffff ? capacity : 0xffff;
  }

  /** After the user read: tell the peer when the window opened enough to matter (a window update). */
  private maybeWindowUpdate(nowMs: number): void {
    const buffer = this.receiveBuffer;
    if (buffer === null || !canReceiveData(this.state)) return;
    const held = buffer.readable + (this.owner !== null ? this.owner.bufferedBytes : 0);
    const free = buffer.capacity - held;
    const current = seqDiff(this.rcvEdge, this.rcvNxt);
    const step = Math.min(buffer.capacity >> 1, this.receiveMss);
    // Worth an ACK of its own when the sender may be blocked (a window under a segment, or under half the buffer).
    if (free - current >= step && (current < this.receiveMss || current < buffer.capacity >> 1)) this.sendAck(nowMs);
  }

  // ---------------------------------------------------------------- timers

  /** A deadline came (the layer's timers call this). */
  onTimer(nowMs: number): void {
    if (nowMs >= this.closeDueMs) {
      this.closeDueMs = Infinity;
      this.close(nowMs);
      return;
    }
    if (nowMs >= this.ackDueMs) {
      this.ackDueMs = Infinity;
      if (this.ackPending) {
        this.host.counters.tcpDelayedAcks++;
        this.sendAck(nowMs);
      }
    }
    if (nowMs >= this.rtoDueMs) {
      this.rtoDueMs = Infinity;
      this.retransmitTimeout(nowMs);
      if (this.state === TcpState.CLOSED) return;
    }
    if (nowMs >= this.persistDueMs) {
      this.persistDueMs = Infinity;
      this.persistProbe(nowMs);
      if (this.state === TcpState.CLOSED) return;
    }
    if (nowMs >= this.keepAliveDueMs) {
      this.keepAliveDueMs = Infinity;
      this.keepAliveTimer(nowMs);
      if (this.state === TcpState.CLOSED) return;
    }
    if (nowMs >= this.tlpDueMs) {
      this.tlpDueMs = Infinity;
      this.tailLossProbe(nowMs);
    }
    if (nowMs >= this.retryDueMs) {
      this.retryDueMs = Infinity;
      if (this.state === TcpState.SYN_SENT || this.state === TcpState.SYN_RECEIVED) this.sendSyn(nowMs);
      else if (this.ackNow || this.ackPending) this.sendAck(nowMs);
      this.transmit(nowMs);
    }
    this.afterEvent(nowMs);
  }

  /**
   * The probe timer went off (RFC 8985 7.3): nothing came back for two RTTs
   * while data is out, perhaps because the last segments were lost and no
   * duplicate ACK can follow. Send one segment (new data if any may go, else
   * the last one again) so that the peer's answer shows what is missing.
   */
  private tailLossProbe(nowMs: number): void {
    if (!this.sack || this.inRecovery || this.sndUna === this.sndMax || this.tlpProbeOffset >= 0) return;
    this.host.counters.tcpTailLossProbes++;
    this.tlpProbedAt = this.sndUnaOffset;
    const sentBefore = seqDiff(this.sndNxt, this.sndUna);
    if (this.sndNxt === this.sndMax && this.sendNext(Math.max(this.cc.cwnd - sentBefore, this.sendMss), nowMs)) {
      this.tlpProbeOffset = this.sndUnaOffset + sentBefore;
    } else {
      const dataEnd = this.sndUnaOffset + seqDiff(this.sndMax, this.sndUna) - (this.finSent ? 1 : 0);
      const start = Math.max(this.sndUnaOffset, dataEnd - this.sendMss);
      if (this.retransmitAt(start, nowMs, 3) <= 0) return;
      this.tlpProbeOffset = start;
    }
    this.rtoDueMs = nowMs + this.rtt.rtoMs;
  }

  /** Arm the probe timer two RTTs after the last progress while data is out, outside any recovery (RFC 8985 7.2). */
  private armTailLossProbe(nowMs: number): void {
    const state = this.state;
    if (!this.sack || this.inRecovery || this.sndUna === this.sndMax || this.tlpProbeOffset >= 0 || !this.rtt.measured
      || this.tlpProbedAt === this.sndUnaOffset || this.sndUnaOffset < this.recoverGuard || this.rtt.backoff > 0
      || (state !== TcpState.ESTABLISHED && state !== TcpState.CLOSE_WAIT && state !== TcpState.FIN_WAIT_1 && state !== TcpState.CLOSING && state !== TcpState.LAST_ACK)) {
      this.tlpDueMs = Infinity;
      return;
    }
    let pto = 2 * this.rtt.srttMs;
    // One segment out: its ACK may be delayed (RFC 8985's WCDelAckT).
    if (seqDiff(this.sndMax, this.sndUna) <= this.sendMss) pto += 200;
    if (pto < 10) pto = 10;
    let due = this.lastProgressMs + pto;
    if (due < nowMs) due = nowMs;
    this.tlpDueMs = due < this.rtoDueMs ? due : Infinity;
  }

  /** The retransmission timer went off (RFC 6298 5.4-5.7, RFC 5681 3.1). */
  private retransmitTimeout(nowMs: number): void {
    const config = this.host.config;
    const counters = this.host.counters;
    if (this.state === TcpState.SYN_SENT || this.state === TcpState.SYN_RECEIVED) {
      const passive = this.listener !== null;
      const limit = passive ? config.synAckRetries : config.synRetries;
      if (this.retransmissions >= limit) {
        if (passive) {
          counters.tcpHalfOpenTimeouts++;
          this.close(nowMs);
        } else {
          counters.tcpAttemptFails++;
          counters.tcpTimeouts++;
          this.fail('ETIMEDOUT', nowMs);
        }
        return;
      }
      this.retransmissions++;
      counters.tcpRetransmits++;
      if (passive) counters.tcpSynAckRetransmits++;
      else counters.tcpSynRetransmits++;
      this.rtt.timedOut();
      this.sendSyn(nowMs);
      this.armRto(nowMs);
      return;
    }
    if (this.sndUna === this.sndMax) return;
    if (this.retransmissions >= config.retries || this.userTimeoutPassed(nowMs)) {
      counters.tcpTimeouts++;
      this.fail('ETIMEDOUT', nowMs);
      return;
    }
    this.retransmissions++;
    counters.tcpRtoTimeouts++;
    this.tlpProbeOffset = -1;
    this.tlpDueMs = Infinity;
    const mss = this.sendMss;
    this.cc.onTimeout(seqDiff(this.sndMax, this.sndUna), mss, nowMs);
    this.inRecovery = false;
    this.dupAcks = 0;
    this.recoverGuard = this.sndUnaOffset + seqDiff(this.sndMax, this.sndUna);
    // A second timeout in a row: the receiver may have reneged on what it SACKed (RFC 2018 8).
    if (this.rtt.backoff > 0) this.scoreboard.clear();
    this.rtt.timedOut();
    this.rttStartMs = -1;
    this.highRetransmitted = this.sndUnaOffset;
    this.sndNxt = this.sndUna;
    const sent = this.retransmitAt(this.sndUnaOffset, nowMs, 2);
    if (sent > 0) this.sndNxt = seqAdd(this.sndUna, sent);
    this.rtoDueMs = nowMs + this.rtt.rtoMs;
  }

  /** The persist timer (RFC 9293 3.8.6.1): probe a zero window so that its opening is not missed. */
  private persistProbe(nowMs: number): void {
    if (!this.needsPersist()) return;
    const counters = this.host.counters;
    if (this.persistProbes >= this.host.config.retries || this.userTimeoutPassed(nowMs)) {
      counters.tcpTimeouts++;
      this.fail('ETIMEDOUT', nowMs);
      return;
    }
    this.persistProbes++;
    counters.tcpPersistProbes++;
    this.sendProbe(nowMs);
    this.persistDueMs = nowMs + this.persistInterval();
  }

  /** Keepalive (RFC 1122 4.2.3.6, Linux's timing): probe an idle connection; fail after keepAliveCount unanswered probes. */
  private keepAliveTimer(nowMs: number): void {
    if (!this.keepAlive || this.state < TcpState.ESTABLISHED || this.state === TcpState.TIME_WAIT) return;
    const config = this.host.config;
    if (this.sndMax !== this.sndUna || this.persistDueMs !== Infinity) {
      this.keepAliveDueMs = nowMs + config.keepAliveIntervalMs;
      return;
    }
    const idleUntil = this.lastReceiveMs + this.keepAliveIdleMs;
    if (this.keepAliveProbes === 0 && nowMs < idleUntil) {
      this.keepAliveDueMs = idleUntil;
      return;
    }
    if (this.keepAliveProbes >= config.keepAliveCount || this.userTimeoutMs > 0 && this.keepAliveProbes > 0 && nowMs - this.lastReceiveMs >= this.userTimeoutMs) {
      this.host.counters.tcpTimeouts++;
      this.fail('ETIMEDOUT', nowMs);
      return;
    }
    this.keepAliveProbes++;
    this.host.counters.tcpKeepAliveProbes++;
    this.sendProbe(nowMs);
    this.keepAliveDueMs = nowMs + config.keepAliveIntervalMs;
  }

  /** A probe as Linux sends it: an old sequence number (SND.UNA - 1), no data, which the peer must acknowledge. */
  private sendProbe(nowMs: number): void {
    this.sendSegment(seqAdd(this.sndUna, -1), 0, 0, TcpFlag.ACK, nowMs);
  }

  /** Data (or a FIN) waits, the peer's window has no room for it, and nothing is in flight to bring an update. */
  private needsPersist(): boolean {
    if (this.state !== TcpState.ESTABLISHED && this.state !== TcpState.CLOSE_WAIT && this.state !== TcpState.FIN_WAIT_1
      && this.state !== TcpState.CLOSING && this.state !== TcpState.LAST_ACK) return false;
    if (this.sndNxt !== this.sndUna || this.sndMax !== this.sndUna) return false;
    const waiting = this.sendBuffer.length > 0 || (this.finQueued && !this.finSent);
    return waiting && this.sndWnd < Math.min(this.sendBuffer.length, this.sendMss);
  }

  private armPersist(nowMs: number): void {
    if (this.persistDueMs === Infinity && this.rtoDueMs === Infinity && this.needsPersist()) {
      this.persistDueMs = nowMs + this.persistInterval();
    } else if (this.persistDueMs !== Infinity && !this.needsPersist()) {
      this.persistDueMs = Infinity;
      this.persistProbes = 0;
    }
  }

  private persistInterval(): number {
    const interval = this.rtt.baseRtoMs * 2 ** this.persistProbes;
    const max = this.host.config.maxRtoMs;
    return interval < max ? interval : max;
  }

  private userTimeoutPassed(nowMs: number): boolean {
    return this.userTimeoutMs > 0 && nowMs - this.oldestUnackedMs >= this.userTimeoutMs;
  }

  private armRto(nowMs: number): void {
    this.rtoDueMs = nowMs + this.rtt.rtoMs;
  }

  /** Put the earliest of the timers in the layer's heap. */
  reschedule(): void {
    let due = this.rtoDueMs;
    if (this.ackDueMs < due) due = this.ackDueMs;
    if (this.persistDueMs < due) due = this.persistDueMs;
    if (this.keepAliveDueMs < due) due = this.keepAliveDueMs;
    if (this.closeDueMs < due) due = this.closeDueMs;
    if (this.retryDueMs < due) due = this.retryDueMs;
    if (this.tlpDueMs < due) due = this.tlpDueMs;
    if (this.state === TcpState.CLOSED) due = Infinity;
    if (due === this.dueMs && (due === Infinity) === (this.heapIndex < 0)) return;
    this.dueMs = due;
    this.host.timers.update(this);
  }

  // ---------------------------------------------------------------- after each event

  /** Send what is due, ACK as the rules say, hand data to the owner, re-arm the timers. */
  private afterEvent(nowMs: number): void {
    if (this.state === TcpState.CLOSED) return;
    this.transmit(nowMs);
    if (this.ackNow) this.sendAck(nowMs);
    else if (this.ackPending && this.ackDueMs === Infinity) this.ackDueMs = nowMs + this.host.config.delayedAckMs;
    if (this.keepAlive && this.keepAliveDueMs === Infinity && this.state >= TcpState.ESTABLISHED && this.state !== TcpState.TIME_WAIT) {
      this.keepAliveDueMs = this.lastReceiveMs + this.keepAliveIdleMs;
    }
    this.armTailLossProbe(nowMs);
    this.reschedule();
    this.deliver(nowMs);
    if (this.ackedRoom && this.state !== TcpState.CLOSED) {
      this.ackedRoom = false;
      this.writeBlocked = false;
      this.owner?.onWritable();
    }
  }

  /** Hand in-order data, then the end, then the close, to the owner while it takes them. */
  private deliver(nowMs: number): void {
    const buffer = this.receiveBuffer;
    const owner = this.owner;
    if (owner === null) return;
    if (buffer !== null) {
      while (!this.readingPaused) {
        const bytes = buffer.take(DELIVERY_CHUNK);
        if (bytes === null) break;
        if (!owner.onData(bytes)) this.readingPaused = true;
        if (this.owner !== owner) return;
      }
      if (buffer.readable > 0) return;
    }
    if (this.finReceived && !this.endDelivered) {
      this.endDelivered = true;
      owner.onEnded();
      if (this.owner !== owner) return;
    }
    if (this.inTimeWait && !this.ownerClosed) {
      this.ownerClosed = true;
      this.owner = null;
      owner.onClosed();
    }
    void nowMs;
  }

  // ---------------------------------------------------------------- state changes

  private setState(state: number): void {
    const counters = this.host.counters;
    const wasEstablished = this.state === TcpState.ESTABLISHED || this.state === TcpState.CLOSE_WAIT;
    const isEstablished = state === TcpState.ESTABLISHED || state === TcpState.CLOSE_WAIT;
    if (wasEstablished && !isEstablished) counters.tcpCurrentEstablished--;
    else if (!wasEstablished && isEstablished) counters.tcpCurrentEstablished++;
    this.state = state;
  }

  /** The handshake is done: buffers, windows, and the FIN the user may have asked for already. */
  private becomeEstablished(nowMs: number): void {
    const config = this.host.config;
    this.receiveBuffer = new ReceiveBuffer(config.receiveBufferSize, config.maxOutOfOrderRanges);
    this.updateSendMss();
    this.cc = this.makeCongestionControl(this.sendMss);
    this.retransmissions = 0;
    this.rtoDueMs = Infinity;
    this.oldestUnackedMs = nowMs;
    this.setState(this.finQueued ? TcpState.FIN_WAIT_1 : TcpState.ESTABLISHED);
    const listener = this.listener;
    if (listener !== null) {
      this.host.counters.tcpPassiveOpens++;
      listener.synQueueLength--;
      this.listener = null;
      if (!listener.closed) {
        this.queuedIn = listener;
        listener.enqueue(this);
      } else {
        this.abort(nowMs);
      }
    } else if (this.owner !== null) {
      this.owner.onConnected();
    }
  }

  private enterTimeWait(nowMs: number): void {
    if (!this.host.admitTimeWait()) {
      this.host.counters.tcpTimeWaitOverflow++;
      this.sendAck(nowMs);
      this.close(nowMs);
      return;
    }
    this.setState(TcpState.TIME_WAIT);
    this.inTimeWait = true;
    this.rtoDueMs = Infinity;
    this.persistDueMs = Infinity;
    this.keepAliveDueMs = Infinity;
    this.closeDueMs = nowMs + this.host.config.timeWaitMs;
    this.sendBuffer.release();
  }

  /** Fail with `code`: tell the owner, then close. */
  private fail(code: string, nowMs: number): void {
    this.error = code;
    this.close(nowMs, code);
  }

  /** CLOSED: out of the tables and timers, buffers released; the owner gets what is left, then closed(). */
  close(nowMs: number, errorCode: string | null = null): void {
    if (this.state === TcpState.CLOSED) return;
    if (this.inTimeWait) this.host.leaveTimeWait();
    this.inTimeWait = false;
    if (this.listener !== null) {
      this.listener.synQueueLength--;
      this.listener = null;
    }
    if (this.queuedIn !== null) {
      this.queuedIn.unqueue(this);
      this.queuedIn = null;
    }
    this.setState(TcpState.CLOSED);
    this.rtoDueMs = this.ackDueMs = this.persistDueMs = this.keepAliveDueMs = this.closeDueMs = this.retryDueMs = this.tlpDueMs = Infinity;
    this.host.timers.remove(this);
    this.dueMs = Infinity;
    this.host.forget(this);
    this.sendBuffer.release();
    const owner = this.owner;
    if (owner !== null && !this.ownerClosed) {
      if (errorCode === null) {
        // A clean end: whatever data is left goes to the owner before it hears of the close.
        const buffer = this.receiveBuffer;
        if (buffer !== null) for (let bytes = buffer.take(DELIVERY_CHUNK); bytes !== null; bytes = buffer.take(DELIVERY_CHUNK)) owner.onData(bytes);
        if (this.finReceived && !this.endDelivered) {
          this.endDelivered = true;
          owner.onEnded();
        }
      } else {
        owner.onFailed(errorCode);
      }
      this.ownerClosed = true;
      this.owner = null;
      owner.onClosed();
    }
    this.receiveBuffer?.release();
    void nowMs;
  }

  // ---------------------------------------------------------------- helpers

  /** Options of the peer's SYN (RFC 7323, RFC 2018, RFC 9293 3.7.1) and what they switch on. */
  private takeSynOptions(segment: TcpSegment, nowMs: number): void {
    const config = this.host.config;
    this.peerMss = segment.mss > 0 ? segment.mss : DEFAULT_MSS;
    this.windowScaling = config.windowScaling && segment.windowScale >= 0;
    if (this.windowScaling) {
      this.sndWindowScale = segment.windowScale > MAX_WINDOW_SCALE ? MAX_WINDOW_SCALE : segment.windowScale;
      this.rcvWindowScale = windowScaleFor(config.receiveBufferSize);
    } else {
      this.sndWindowScale = 0;
      this.rcvWindowScale = 0;
    }
    this.sack = config.sack && segment.sackPermitted;
    this.timestamps = config.timestamps && segment.hasTimestamps;
    if (this.timestamps) {
      this.tsRecent = segment.timestampValue;
      this.tsRecentMs = nowMs;
    }
    this.updateSendMss();
  }

  private updateSendMss(): void {
    const segmentBytes = Math.min(this.peerMss + TCP_HEADER_LEN, this.host.writer.maxSegmentBytes);
    this.sendMss = segmentBytes - TCP_HEADER_LEN - (this.timestamps ? 12 : 0);
    const localMss = this.host.localMss - (this.timestamps ? 12 : 0);
    this.receiveMss = localMss < DEFAULT_MSS ? localMss : DEFAULT_MSS;
  }

  private sampleSynRtt(segment: TcpSegment, nowMs: number): void {
    if (this.timestamps && segment.hasTimestamps && segment.timestampEcho !== 0) {
      const rtt = (this.timestampClock(nowMs) - segment.timestampEcho) | 0;
      if (rtt >= 0) this.rtt.sample(rtt);
    } else if (this.retransmissions === 0) {
      this.rtt.sample(nowMs - this.synSentMs);
    }
  }

  private makeCongestionControl(mss: number): CongestionControl {
    const initial = this.initialWindowFor(mss);
    return this.host.config.congestionControl === 'newreno' ? new NewReno(initial) : new Cubic(initial);
  }

  private initialWindow(): number {
    return this.initialWindowFor(this.sendMss);
  }

  private initialWindowFor(mss: number): number {
    return this.host.config.initialWindowSegments * mss;
  }

  /** Our timestamp clock (RFC 7323 5.4): milliseconds, offset per connection. */
  timestampClock(nowMs: number): number {
    return (Math.floor(nowMs) + this.tsOffset) >>> 0;
  }
}

/** The smallest window scale shift that lets `bufferBytes` be advertised (RFC 7323 2.3). */
export function windowScaleFor(bufferBytes: number): number {
  let shift = 0;
  while (shift < MAX_WINDOW_SCALE && bufferBytes / 2 ** shift > 0xffff) shift++;
  return shift;
}
