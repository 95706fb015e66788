// The TCP layer of one interface: the input side of IPv4 protocol 6. It
// parses each segment, finds its connection (or the listener on its port),
// answers segments for nobody with RST (RFC 9293 3.10.7.1), runs the
// listeners' queues with SYN cookies when a SYN queue is full, picks
// ephemeral ports, and holds the timers of every connection.

import type { StackCounters } from '../iface/counters';
import type { Ipv4Addressing } from '../iface/address';
import type { Ipv4Datagram, TransportInput } from '../iface/ipv4-input';
import type { Ipv4Output } from '../iface/ipv4-output';
import type { Link } from '../iface/link';
import { TokenBucket } from '../iface/rate-limit';
import { IPV4_HEADER_LEN } from '../wire/ipv4';
import { TCP_HEADER_LEN, TcpFlag } from '../wire/tcp';
import { resolveTcpOptions, type TcpConfig, type TcpOptions } from './config';
import { TcpConnection, windowScaleFor, type TcpHost } from './connection';
import { ConnectionTable, portPair } from './connection-table';
import { SequenceSecrets } from './isn';
import { TcpListener } from './listener';
import { SegmentWriter } from './output';
import { SegmentParser, type TcpSegment } from './segment';
import type { TransportChecksums } from '../iface/transport-checksum';
import { seqAdd, seqGt } from './seq';
import { TcpState } from './state';
import { SynCookies, type CookieOptions } from './syn-cookies';
import { TcpTimers, type TimerHost } from './timers';

const PORT_COUNT = 0x10000;
/** How long after a SYN queue overflow ACKs are checked for cookies (Linux's TCP_SYNCOOKIE_VALID). */
const COOKIE_WINDOW_MS = 2 * 60 * 1000;

/** An error with Node's errno fields. */
export class TcpError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  constructor(code: string, errno: number, syscall: string, message: string) {
    super(`${syscall} ${code}: ${message}`);
    this.name = 'TcpError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** TCP for one interface. */
export class TcpLayer implements TransportInput, TcpHost {
  readonly config: TcpConfig;
  readonly counters: StackCounters;
  readonly writer: SegmentWriter;
  readonly timers: TcpTimers<TcpConnection>;
  readonly secrets = new SequenceSecrets();
  readonly cookies = new SynCookies();
  readonly localAddress: number;
  readonly localMss: number;
  private readonly parser: SegmentParser;
  private readonly table = new ConnectionTable();
  private readonly listeners: (TcpListener | null)[] = new Array<TcpListener | null>(PORT_COUNT).fill(null);
  private readonly clock: TimerHost;
  private readonly onSend: () => void;
  private readonly challengeAcks: TokenBucket;
  private readonly cookieOptions: CookieOptions = { windowScale: -1, sackPermitted: false };
  private timeWaitCount = 0;
  private nextEphemeral = 0;

  constructor(
    link: Link, output: Ipv4Output, addressing: Ipv4Addressing, counters: StackCounters, checksums: TransportChecksums,
    clock: TimerHost, onSend: () => void, options: TcpOptions = {},
  ) {
    this.parser = new SegmentParser(checksums);
    this.config = resolveTcpOptions(options);
    this.counters = counters;
    this.localAddress = addressing.address;
    this.localMss = output.mtu - IPV4_HEADER_LEN - TCP_HEADER_LEN;
    this.writer = new SegmentWriter(output, link, counters, addressing.address);
    this.clock = clock;
    this.onSend = onSend;
    this.challengeAcks = new TokenBucket(this.config.challengeAcksPerSecond, this.config.challengeAcksPerSecond);
    this.timers = new TcpTimers<TcpConnection>(clock, (connection, nowMs) => {
      connection.onTimer(nowMs);
      // A deadline that did not move would come back at once: push it on.
      if (connection.heapIndex >= 0 && connection.dueMs <= nowMs) {
        connection.dueMs = nowMs + 1;
        this.timers.update(connection);
      }
    });
  }

  /** Connections in the table (every state but CLOSED). */
  get connectionCount(): number {
    return this.table.size;
  }

  /** Connections in TIME-WAIT (at most maxTimeWait). */
  get timeWaitConnections(): number {
    return this.timeWaitCount;
  }

  /** Every connection (a copy). */
  connections(): TcpConnection[] {
    return this.table.all();
  }

  /** The connection with this identity, or null. */
  find(remoteAddress: number, remotePort: number, localPort: number): TcpConnection | null {
    return this.table.get(remoteAddress, portPair(remotePort, localPort));
  }

  /** The listener on `port`, or null. */
  listenerOn(port: number): TcpListener | null {
    return this.listeners[port] ?? null;
  }

  /** The ports listened on, in order (a walk over every port: for reports, not per segment). */
  listeningPorts(): number[] {
    const ports: number[] = [];
    for (let port = 0; port < PORT_COUNT; port++) if (this.listeners[port] !== null) ports.push(port);
    return ports;
  }

  // ---------------------------------------------------------------- user side

  /** Listen on `port` (0: an ephemeral port) with `backlog`; throws EADDRINUSE when a listener holds it. */
  listen(port: number, backlog = this.config.backlog): TcpListener {
    if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`TCP port must be an integer from 0 to 65535, got ${port}`);
    if (!Number.isInteger(backlog) || backlog < 1) throw new RangeError(`backlog must be a positive integer, got ${backlog}`);
    if (port === 0) port = this.freeListenPort();
    if (this.listeners[port] !== null) throw new TcpError('EADDRINUSE', -98, 'listen', `TCP port ${port} is already in use`);
    const listener = new TcpListener(port, backlog);
    this.listeners[port] = listener;
    return listener;
  }

  /** Stop listening: connections not yet accepted are reset; half-open ones follow when they complete. */
  unlisten(listener: TcpListener): void {
    if (listener.closed) return;
    listener.closed = true;
    if (this.listeners[listener.port] === listener) this.listeners[listener.port] = null;
    const nowMs = this.clock.nowMs();
    for (let connection = listener.accept(); connection !== null; connection = listener.accept()) connection.abort(nowMs);
  }

  /** Active open to `remoteAddress`:`remotePort` from `localPort` (0: ephemeral). Throws EADDRINUSE, EADDRNOTAVAIL, EAGAIN. */
  connect(remoteAddress: number, remotePort: number, localPort = 0): TcpConnection {
    if (this.table.size >= this.config.maxConnections) throw new TcpError('EAGAIN', -11, 'connect', `the TCP connection limit (${this.config.maxConnections}) is reached`);
    if (localPort === 0) localPort = this.ephemeralPort(remoteAddress, remotePort);
    else if (this.table.get(remoteAddress, portPair(remotePort, localPort)) !== null) {
      throw new TcpError('EADDRINUSE', -98, 'connect', `a connection from port ${localPort} to that address and port exists`);
    }
    const connection = this.newConnection(localPort, remoteAddress, remotePort, true);
    this.counters.tcpActiveOpens++;
    connection.connect(this.clock.nowMs());
    return connection;
  }

  /** The interface is closing: every connection is dropped where it stands (its user sees it close, as after destroy()), listeners close. */
  closeAll(): void {
    const nowMs = this.clock.nowMs();
    for (const connection of this.table.all()) connection.close(nowMs);
    for (let port = 0; port < PORT_COUNT; port++) {
      const listener = this.listeners[port];
      if (listener !== null) this.unlisten(listener);
    }
    this.timers.clear();
  }

  // ---------------------------------------------------------------- host services

  nowMs(): number {
    return this.clock.nowMs();
  }

  sent(): void {
    this.onSend();
  }

  forget(connection: TcpConnection): void {
    this.table.delete(connection);
    this.counters.tcpConnections = this.table.size;
  }

  admitTimeWait(): boolean {
    if (this.timeWaitCount >= this.config.maxTimeWait) return false;
    this.timeWaitCount++;
    return true;
  }

  leaveTimeWait(): void {
    this.timeWaitCount--;
  }

  allowChallengeAck(nowMs: number): boolean {
    return this.challengeAcks.take(nowMs);
  }

  // ---------------------------------------------------------------- input

  input(datagram: Ipv4Datagram): void {
    const counters = this.counters;
    counters.tcpSegmentsReceived++;
    const segment = this.parser.parse(datagram, counters);
    if (segment === null) return;
    if (segment.toBroadcast) {
      counters.tcpNotUnicast++;
      return;
    }
    const nowMs = this.clock.nowMs();
    const connection = this.table.get(segment.remoteAddress, portPair(segment.remotePort, segment.localPort));
    if (connection !== null) {
      if (connection.state === TcpState.TIME_WAIT && segment.syn && !segment.ack && !segment.rst && this.mayReuse(connection, segment)) {
        // RFC 6191 / Linux: a new SYN newer than anything of the old incarnation ends TIME-WAIT.
        connection.close(nowMs);
        counters.tcpTimeWaitReused++;
      } else {
        connection.input(segment, nowMs);
        return;
      }
    }
    const listener = this.listeners[segment.localPort];
    if (listener !== null) {
      this.listenerInput(listener, segment, nowMs);
      return;
    }
    counters.tcpNoSocket++;
    if (!segment.rst) this.resetFor(segment);
  }

  private mayReuse(connection: TcpConnection, segment: TcpSegment): boolean {
    if (this.listeners[segment.localPort] === null) return false;
    if (connection.timestamps && segment.hasTimestamps) return seqGt(segment.timestampValue, connection.tsRecent);
    return seqGt(segment.sequence, connection.rcvNxt);
  }

  /** RFC 9293 3.10.7.2, LISTEN, with Linux's queues and SYN cookies. */
  private listenerInput(listener: TcpListener, segment: TcpSegment, nowMs: number): void {
    const counters = this.counters;
    const config = this.config;
    if (segment.rst) {
      counters.tcpListenUnexpected++;
      return;
    }
    if (segment.ack) {
      if (!segment.syn && config.synCookies && nowMs - listener.lastOverflowMs < COOKIE_WINDOW_MS) {
        this.cookieAck(listener, segment, nowMs);
        return;
      }
      counters.tcpListenUnexpected++;
      this.resetFor(segment);
      return;
    }
    if (!segment.syn) {
      counters.tcpListenUnexpected++;
      return;
    }
    if (listener.acceptQueueFull) {
      counters.tcpListenOverflows++;
      return;
    }
    if (listener.synQueueFull || this.table.size >= config.maxConnections) {
      if (!config.synCookies) {
        counters.tcpListenDrops++;
        return;
      }
      listener.lastOverflowMs = nowMs;
      counters.tcpSegmentsAccepted++;
      counters.tcpSynCookiesSent++;
      this.sendCookieSynAck(segment, nowMs);
      return;
    }
    counters.tcpSegmentsAccepted++;
    const connection = this.newConnection(segment.localPort, segment.remoteAddress, segment.remotePort, false);
    connection.acceptSyn(segment, listener, nowMs);
  }

  /** The ACK completing a handshake whose SYN-ACK carried a cookie. */
  private cookieAck(listener: TcpListener, segment: TcpSegment, nowMs: number): void {
    const counters = this.counters;
    const mss = this.cookies.check(this.localAddress, segment.localPort, segment.remoteAddress, segment.remotePort,
      seqAdd(segment.sequence, -1), seqAdd(segment.acknowledgment, -1), nowMs);
    if (mss === 0) {
      counters.tcpSynCookiesFailed++;
      this.resetFor(segment);
      return;
    }
    if (listener.acceptQueueFull) {
      counters.tcpListenOverflows++;
      return;
    }
    if (this.table.size >= this.config.maxConnections) {
      counters.tcpListenDrops++;
      return;
    }
    const options = this.cookieOptions;
    options.windowScale = -1;
    options.sackPermitted = false;
    if (segment.hasTimestamps) SynCookies.decodeTimestamp(segment.timestampEcho, options);
    counters.tcpSynCookiesReceived++;
    const connection = this.newConnection(segment.localPort, segment.remoteAddress, segment.remotePort, false);
    connection.listener = listener;
    listener.synQueueLength++;
    connection.acceptCookie(segment, mss, options.windowScale, options.sackPermitted, nowMs);
    // The ACK itself may carry data or a FIN.
    connection.input(segment, nowMs);
  }

  /** A stateless SYN-ACK whose ISN is a cookie (and whose timestamp carries the SYN's options). */
  private sendCookieSynAck(segment: TcpSegment, nowMs: number): void {
    const config = this.config;
    const peerMss = segment.mss > 0 ? segment.mss : 536;
    const isn = this.cookies.make(this.localAddress, segment.localPort, segment.remoteAddress, segment.remotePort, segment.sequence,
      peerMss < this.localMss ? peerMss : this.localMss, nowMs);
    const window = config.receiveBufferSize < 0xffff ? config.receiveBufferSize : 0xffff;
    const repr = this.writer.begin(segment.localPort, segment.remotePort, isn, seqAdd(segment.sequence, 1), TcpFlag.SYN | TcpFlag.ACK, window);
    repr.maxSegmentSize = this.localMss;
    if (config.timestamps && segment.hasTimestamps) {
      const windowScale = config.windowScaling && segment.windowScale >= 0 ? segment.windowScale : -1;
      const sack = config.sack && segment.sackPermitted;
      const offset = this.secrets.timestampOffset(this.localAddress, segment.localPort, segment.remoteAddress, segment.remotePort);
      repr.hasTimestamps = true;
      repr.timestampValue = SynCookies.encodeTimestamp((Math.floor(nowMs) + offset) >>> 0, windowScale, sack);
      repr.timestampEcho = segment.timestampValue;
      if (windowScale >= 0) repr.windowScale = windowScaleFor(config.receiveBufferSize);
      repr.sackPermitted = sack;
    }
    this.writer.send(segment.remoteAddress, null, 0, 0);
    this.onSend();
  }

  /** The RST answering a segment nobody takes (RFC 9293 3.10.7.1). */
  private resetFor(segment: TcpSegment): void {
    if (segment.ack) {
      this.writer.begin(segment.localPort, segment.remotePort, segment.acknowledgment, 0, TcpFlag.RST, 0);
    } else {
      this.writer.begin(segment.localPort, segment.remotePort, 0, seqAdd(segment.sequence, segment.length), TcpFlag.RST | TcpFlag.ACK, 0);
    }
    this.writer.send(segment.remoteAddress, null, 0, 0);
    this.onSend();
  }

  // ---------------------------------------------------------------- ports and connections

  private newConnection(localPort: number, remoteAddress: number, remotePort: number, active: boolean): TcpConnection {
    const connection = new TcpConnection(this, localPort, remoteAddress, remotePort, active);
    this.table.add(connection);
    this.counters.tcpConnections = this.table.size;
    return connection;
  }

  /** RFC 6056 algorithm 3: a hashed starting point per destination, then the next free port. */
  private ephemeralPort(remoteAddress: number, remotePort: number): number {
    const [first, last] = this.config.ephemeralPorts;
    const count = last - first + 1;
    const offset = this.secrets.portOffset(this.localAddress, remoteAddress, remotePort);
    for (let i = 0; i < count; i++) {
      const port = first + ((offset + this.nextEphemeral + i) % count);
      if (this.listeners[port] !== null || this.table.get(remoteAddress, portPair(remotePort, port)) !== null) continue;
      this.nextEphemeral = (this.nextEphemeral + i + 1) % count;
      return port;
    }
    throw new TcpError('EADDRNOTAVAIL', -99, 'connect', `no free local port in ${first}-${last} towards that address and port`);
  }

  private freeListenPort(): number {
    const [first, last] = this.config.ephemeralPorts;
    for (let port = first; port <= last; port++) if (this.listeners[port] === null) return port;
    throw new TcpError('EADDRINUSE', -98, 'listen', `no free port in ${first}-${last}`);
  }
}
