// TCP sockets with a node:net-like API over an Interface.
//
//   const server = tcp.createServer(iface, (socket) => socket.pipe(socket));
//   server.listen(7);
//   const socket = tcp.connect(iface, { host: '198.18.0.2', port: 80 }, () => socket.end('GET / HTTP/1.0\r\n\r\n'));
//
// Sockets are stream.Duplex: 'data' chunks are views of the connection's
// receive slabs (the payload was copied once, from the frame), writes go
// into the connection's send buffer, write() returns false and 'drain'
// follows when it is full, and errors carry Node's codes (ECONNRESET,
// ECONNREFUSED, ETIMEDOUT, EPIPE). Node's own http.Server serves over them
// (server.emit('connection', socket)), http.request uses them through
// createConnection, and tls.TLSSocket wraps them.

import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import type { Interface } from '../iface/interface';
import { TCP_ERRNO, type TcpConnection, type TcpConnectionOwner } from '../tcp/connection';
import type { TcpListener } from '../tcp/listener';
import { TcpState } from '../tcp/state';
import { ipv4ToString, parseIpv4 } from '../wire/ipv4';

export { TcpError } from '../tcp/layer';

/** An error as Node's net module makes them: "syscall CODE [address:port]", with errno, code and syscall. */
export function netError(code: string, syscall: string, address?: string, port?: number): NodeJS.ErrnoException & { address?: string; port?: number } {
  const where = address !== undefined ? ` ${address}:${port}` : '';
  const error = new Error(`${syscall} ${code}${where}`) as NodeJS.ErrnoException & { address?: string; port?: number };
  error.errno = TCP_ERRNO[code] ?? -22;
  error.code = code;
  error.syscall = syscall;
  if (address !== undefined) {
    error.address = address;
    error.port = port;
  }
  return error;
}

/** Options of a socket. */
export interface TcpSocketOptions {
  /** Keep the writable side open after the peer ends (default false, as net.Socket). */
  allowHalfOpen?: boolean;
  /** Disable Nagle's algorithm from the start. */
  noDelay?: boolean;
  /** Enable keepalive from the start, with this idle time (ms). */
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

/** Where to connect. */
export interface TcpConnectOptions extends TcpSocketOptions {
  /** Dotted IPv4 address (no name resolution). */
  host: string;
  port: number;
  /** Local port (default: an ephemeral one). */
  localPort?: number;
  /** Set an idle timeout (ms), as socket.setTimeout(). */
  timeout?: number;
}

interface PendingWrite {
  chunk: Buffer;
  offset: number;
  callback: (error?: Error | null) => void;
}

/** A TCP connection as a stream.Duplex, shaped like net.Socket. */
export class TcpSocket extends Duplex implements TcpConnectionOwner {
  readonly iface: Interface;
  /** The connection, until it is done. */
  connection: TcpConnection | null = null;
  /** True from connect() until the handshake completes. */
  connecting = false;
  readonly remoteFamily = 'IPv4' as const;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  bytesRead = 0;
  private written = 0;
  private pendingWrite: PendingWrite | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private idleMs = 0;
  private readonly socketOptions: TcpSocketOptions;

  constructor(iface: Interface, options: TcpSocketOptions = {}) {
    super({ allowHalfOpen: options.allowHalfOpen === true, emitClose: true, decodeStrings: true });
    this.iface = iface;
    this.socketOptions = options;
  }

  /** Bytes the user wrote (sent or still buffered), as net.Socket counts them. */
  get bytesWritten(): number {
    return this.written;
  }

  /** True until connected. */
  get pending(): boolean {
    return this.connection === null || this.connecting;
  }

  /** As net.Socket: 'opening', 'open', 'readOnly', 'writeOnly' or 'closed'. */
  get readyState(): string {
    if (this.connecting) return 'opening';
    if (this.connection === null || this.destroyed) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  /** The local address and port, as net.Socket's address(). */
  address(): { address: string; family: 'IPv4'; port: number } | Record<string, never> {
    if (this.localPort === undefined) return {};
    return { address: this.localAddress as string, family: 'IPv4', port: this.localPort };
  }

  /** Nagle's algorithm off (true, the default argument) or on. */
  setNoDelay(noDelay = true): this {
    this.connection?.setNoDelay(noDelay, this.now());
    return this;
  }

  /** Keepalive on or off; `initialDelay` (ms) > 0 sets the idle time before the first probe. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.connection?.setKeepAlive(enable, initialDelay, this.now());
    return this;
  }

  /** Emit 'timeout' after `timeout` ms without activity (0 turns it off); as net.Socket, the socket stays open. */
  setTimeout(timeout: number, callback?: () => void): this {
    this.idleMs = timeout;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (timeout > 0) {
      this.idleTimer = setTimeout(() => this.emit('timeout'), timeout);
      this.idleTimer.unref?.();
    }
    if (callback !== undefined) {
      if (timeout > 0) this.once('timeout', callback);
      else this.removeListener('timeout', callback);
    }
    return this;
  }

  /** Kept for net.Socket compatibility (the interface's loop decides the process's life). */
  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /**
   * Write `length` bytes of `source` from `offset`, which the caller may
   * overwrite as soon as this returns (a scratch buffer reused for every
   * message): what the send buffer takes is copied there at once, and only
   * what it cannot take now is copied into a Buffer of its own and queued
   * as write() queues. Returns what write() would.
   */
  writeCopy(source: Uint8Array, offset: number, length: number): boolean {
    const connection = this.connection;
    let taken = 0;
    // Straight into the send buffer only when nothing is queued before it (order) and the stream would take it.
    if (connection !== null && !this.destroyed && !this.writableEnded && this.writableCorked === 0 && this.writableLength === 0
      && this.pendingWrite === null && connection.error === null && connectionWritable(connection)) {
      taken = connection.write(source, offset, length, this.now());
      this.written += taken;
      if (taken > 0) this.touch();
      if (taken === length) return true;
    }
    return this.write(Buffer.from(source.subarray(offset + taken, offset + length)));
  }

  /** Close with a RST instead of a FIN (net.Socket.resetAndDestroy). */
  resetAndDestroy(): this {
    const connection = this.connection;
    if (connection !== null) {
      this.connection = null;
      connection.abort(this.now());
    }
    return this.destroy();
  }

  // ---------------------------------------------------------------- wiring

  /** Take over `connection` (accepted or being opened). */
  adopt(connection: TcpConnection, connecting: boolean): void {
    this.connection = connection;
    this.connecting = connecting;
    this.remoteAddress = ipv4ToString(connection.remoteAddress);
    this.remotePort = connection.remotePort;
    this.localAddress = this.iface.address;
    this.localPort = connection.localPort;
    const now = this.now();
    if (this.socketOptions.noDelay) connection.setNoDelay(true, now);
    if (this.socketOptions.keepAlive) connection.setKeepAlive(true, this.socketOptions.keepAliveInitialDelay ?? 0, now);
    connection.attach(this, now);
  }

  // ---------------------------------------------------------------- TcpConnectionOwner

  get bufferedBytes(): number {
    return this.readableLength;
  }

  onConnected(): void {
    this.connecting = false;
    this.touch();
    this.emit('connect');
    this.emit('ready');
  }

  onData(bytes: Buffer): boolean {
    this.bytesRead += bytes.length;
    this.touch();
    return this.push(bytes);
  }

  onEnded(): void {
    this.push(null);
  }

  onWritable(): void {
    this.continueWrite();
  }

  onFailed(code: string): void {
    const connecting = this.connecting;
    this.connecting = false;
    this.connection = null;
    const error = connecting || code === 'ECONNREFUSED'
      ? netError(code, 'connect', this.remoteAddress, this.remotePort)
      : netError(code, 'read');
    this.destroy(error);
  }

  onClosed(): void {
    this.connection = null;
    if (this.destroyed) return;
    // Both directions are done: the stream ends as net.Socket does, with 'close'.
    if (this.readableEnded || this.readableLength === 0) this.destroy();
    else this.once('end', () => this.destroy());
  }

  // ---------------------------------------------------------------- Duplex

  override _read(): void {
    this.connection?.resumeReading(this.now());
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const connection = this.connection;
    if (connection === null || connection.error !== null || !connectionWritable(connection)) {
      callback(netError('EPIPE', 'write'));
      return;
    }
    this.written += chunk.length;
    this.touch();
    const taken = connection.write(chunk, 0, chunk.length, this.now());
    if (taken === chunk.length) {
      callback();
      return;
    }
    this.pendingWrite = { chunk, offset: taken, callback };
  }

  override _final(callback: (error?: Error | null) => void): void {
    const connection = this.connection;
    if (connection !== null) connection.shutdown(this.now());
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const connection = this.connection;
    this.connection = null;
    if (connection !== null) connection.release(this.now());
    const pending = this.pendingWrite;
    this.pendingWrite = null;
    pending?.callback(error ?? netError('EPIPE', 'write'));
    callback(error);
  }

  private continueWrite(): void {
    const pending = this.pendingWrite;
    const connection = this.connection;
    if (pending === null || connection === null) return;
    const left = pending.chunk.length - pending.offset;
    const taken = connection.write(pending.chunk, pending.offset, left, this.now());
    pending.offset += taken;
    if (taken === left) {
      this.pendingWrite = null;
      pending.callback();
    }
  }

  private touch(): void {
    if (this.idleTimer !== null) this.idleTimer.refresh();
  }

  private now(): number {
    return this.iface.loop.nowMs();
  }
}

function connectionWritable(connection: TcpConnection): boolean {
  const state = connection.state;
  return state === TcpState.SYN_SENT || state === TcpState.SYN_RECEIVED || state === TcpState.ESTABLISHED || state === TcpState.CLOSE_WAIT;
}

/** Options of a server. */
export interface TcpServerOptions extends TcpSocketOptions {
  /** Accepted sockets start paused (net.Server's pauseOnConnect). */
  pauseOnConnect?: boolean;
}

/** A listening TCP server, shaped like net.Server. */
export class TcpServer extends EventEmitter {
  readonly iface: Interface;
  /** Refuse connections beyond this many open ones (as net.Server.maxConnections; default: no limit). */
  maxConnections = Infinity;
  private listener: TcpListener | null = null;
  private readonly options: TcpServerOptions;
  private readonly sockets = new Set<TcpSocket>();
  private closing = false;
  private acceptScheduled = false;

  constructor(iface: Interface, options: TcpServerOptions = {}, connectionListener?: (socket: TcpSocket) => void) {
    super();
    this.iface = iface;
    this.options = options;
    if (connectionListener !== undefined) this.on('connection', connectionListener);
  }

  get listening(): boolean {
    return this.listener !== null;
  }

  /**
   * Listen on `port` (0: an ephemeral port) with an optional backlog
   * (default: the interface's TCP backlog, 511). 'listening' follows; an
   * 'error' with EADDRINUSE when the port is taken.
   */
  listen(port?: number | { port?: number; backlog?: number }, backlog?: number | (() => void), callback?: () => void): this {
    let chosenPort = 0;
    let chosenBacklog: number | undefined;
    if (typeof port === 'object' && port !== null) {
      chosenPort = port.port ?? 0;
      chosenBacklog = port.backlog;
      if (typeof backlog === 'function') callback = backlog;
    } else {
      chosenPort = port ?? 0;
      if (typeof backlog === 'function') callback = backlog;
      else chosenBacklog = backlog;
    }
    if (this.listener !== null) throw Object.assign(new Error('Listen method has been called more than once without closing.'), { code: 'ERR_SERVER_ALREADY_LISTEN' });
    if (callback !== undefined) this.once('listening', callback);
    try {
      this.listener = this.iface.tcp.listen(chosenPort, chosenBacklog ?? this.iface.tcp.config.backlog);
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'EINVAL';
      const failure = netError(code, 'listen', this.iface.address, chosenPort);
      process.nextTick(() => this.emit('error', failure));
      return this;
    }
    this.closing = false;
    this.listener.onAcceptable = () => this.scheduleAccept();
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  /** The address and port listened on, or null. */
  address(): { address: string; family: 'IPv4'; port: number } | null {
    if (this.listener === null) return null;
    return { address: this.iface.address, family: 'IPv4', port: this.listener.port };
  }

  /** Stop accepting; 'close' once every accepted connection has closed. */
  close(callback?: (error?: Error) => void): this {
    if (callback !== undefined) {
      if (this.listener === null) process.nextTick(() => callback(Object.assign(new Error('Server is not running.'), { code: 'ERR_SERVER_NOT_RUNNING' })));
      else this.once('close', () => callback());
    }
    const listener = this.listener;
    if (listener === null) return this;
    this.listener = null;
    this.closing = true;
    this.iface.tcp.unlisten(listener);
    this.maybeClosed();
    return this;
  }

  /** The number of open connections (net.Server.getConnections). */
  getConnections(callback: (error: Error | null, count: number) => void): this {
    process.nextTick(() => callback(null, this.sockets.size));
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  private scheduleAccept(): void {
    if (this.acceptScheduled) return;
    this.acceptScheduled = true;
    // Accepting outside the segment's processing: the user's 'connection' handler runs on its own.
    process.nextTick(() => {
      this.acceptScheduled = false;
      this.acceptAll();
    });
  }

  private acceptAll(): void {
    const listener = this.listener;
    if (listener === null) return;
    for (let connection = listener.accept(); connection !== null; connection = listener.accept()) {
      if (this.sockets.size >= this.maxConnections) {
        connection.abort(this.iface.loop.nowMs());
        this.emit('drop', { localAddress: this.iface.address, localPort: connection.localPort, remoteAddress: ipv4ToString(connection.remoteAddress), remotePort: connection.remotePort, remoteFamily: 'IPv4' });
        continue;
      }
      const socket = new TcpSocket(this.iface, this.options);
      socket.adopt(connection, false);
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.maybeClosed();
      });
      if (this.options.pauseOnConnect) socket.pause();
      this.emit('connection', socket);
    }
  }

  private maybeClosed(): void {
    if (this.closing && this.sockets.size === 0) {
      this.closing = false;
      process.nextTick(() => this.emit('close'));
    }
  }
}

/** A server on `iface`; listen() starts it. */
export function createServer(iface: Interface, options?: TcpServerOptions | ((socket: TcpSocket) => void), connectionListener?: (socket: TcpSocket) => void): TcpServer {
  if (typeof options === 'function') return new TcpServer(iface, {}, options);
  return new TcpServer(iface, options ?? {}, connectionListener);
}

/**
 * Open a connection from `iface` to `options.host`:`options.port`; returns
 * the socket at once ('connect' follows, or an 'error' such as
 * ECONNREFUSED or ETIMEDOUT). Writes before 'connect' are queued.
 */
export function connect(iface: Interface, options: TcpConnectOptions, connectListener?: () => void): TcpSocket {
  if (options === null || typeof options !== 'object') throw new TypeError('tcp.connect: options with host and port are required');
  const remote = parseIpv4(String(options.host ?? ''));
  if (remote === null) throw new TypeError(`tcp.connect: host must be a dotted IPv4 address, got ${JSON.stringify(options.host)}`);
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new RangeError(`tcp.connect: port must be an integer from 1 to 65535, got ${JSON.stringify(options.port)}`);
  const localPort = options.localPort ?? 0;
  if (!Number.isInteger(localPort) || localPort < 0 || localPort > 0xffff) throw new RangeError(`tcp.connect: localPort must be an integer from 0 to 65535, got ${JSON.stringify(options.localPort)}`);
  const socket = new TcpSocket(iface, options);
  if (connectListener !== undefined) socket.once('connect', connectListener);
  if (options.timeout !== undefined) socket.setTimeout(options.timeout);
  socket.remoteAddress = options.host;
  socket.remotePort = port;
  let connection: TcpConnection;
  try {
    connection = iface.tcp.connect(remote, port, localPort);
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'EINVAL';
    process.nextTick(() => socket.destroy(netError(code, 'connect', options.host, port)));
    return socket;
  }
  socket.adopt(connection, true);
  return socket;
}

/** The same as connect() (net.createConnection). */
export const createConnection = connect;
