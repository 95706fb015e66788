// UDP sockets with a dgram-like API over an Interface.
//
//   const socket = createSocket(iface);
//   socket.bind(7);
//   socket.on('message', (payload, rinfo) => socket.send(payload.copy(), rinfo.port, rinfo.address));
//
// Receiving allocates nothing per datagram: 'message' listeners get a reused
// UdpPayload that points into the received frame (or a reassembly buffer)
// and a reused UdpRemoteInfo. Both are valid only during the callback: to
// keep the bytes, copy them (`payload.copy()` or `payload.copyTo()`).
//
// As in dgram, connect() ties a socket to one peer: it then sends there
// without naming it, takes datagrams from that peer only, and hears of the
// hard ICMP errors about what it sent as 'error' events (ECONNREFUSED when
// the peer's port is closed); disconnect() undoes it.
//
//   const client = createSocket(iface);
//   client.connect(53, '198.18.0.2', () => client.send(query));
//   client.on('error', (error) => console.log(error.code));   // 'ECONNREFUSED'
//
// Servers that answer every request can skip 'message' altogether: with an
// `onRequest` handler the reply is written over the request's payload and
// the stack sends the request's own buffer back (addresses, ports, lengths
// and checksums fixed up) — no copy, no allocation.
//
//   socket.onRequest = (request) => {
//     request.view.setUint32(request.payloadOffset, 42);  // the reply payload
//     return 4;                                             // its length; -1: no reply
//   };

import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import type { Interface } from '../iface/interface';
import type { UdpDatagram, UdpEndpoint, UdpLayer } from '../iface/udp';
import { ipv4ToString, parseIpv4 } from '../wire/ipv4';

/** A received datagram as `onRequest` sees it (also the request of reply in place). */
export type { UdpDatagram } from '../iface/udp';
export { AddressInUseError, UDP_MAX_PAYLOAD_LEN } from '../iface/udp';

/**
 * The payload of a received datagram: `length` bytes at `offset` in
 * `bytes`/`view`. Reused for every datagram and valid only during the
 * 'message' callback.
 */
export class UdpPayload {
  view: DataView = new DataView(new ArrayBuffer(0));
  bytes: Uint8Array = new Uint8Array(0);
  offset = 0;
  length = 0;

  /** A Buffer holding a copy of the payload, to keep after the callback. */
  copy(): Buffer {
    return Buffer.from(this.bytes.subarray(this.offset, this.offset + this.length));
  }

  /** Copy the payload into `target` at `targetOffset` (as much as fits); returns the bytes copied. */
  copyTo(target: Uint8Array, targetOffset = 0): number {
    const length = Math.min(this.length, target.length - targetOffset);
    if (length <= 0) return 0;
    target.set(this.bytes.subarray(this.offset, this.offset + length), targetOffset);
    return length;
  }

  /** The payload decoded as text (allocates a string). */
  toString(encoding: BufferEncoding = 'utf8'): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.offset, this.length).toString(encoding);
  }
}

/** Where a datagram came from. Reused: valid only during the 'message' callback. */
export class UdpRemoteInfo {
  readonly family = 'IPv4' as const;
  /** The sender's address as a u32. */
  addressNumber = 0;
  port = 0;
  /** Payload length. */
  size = 0;
  private formattedNumber = -1;
  private formatted = '';

  /** The sender's address, dotted (formatted on first use per sender). */
  get address(): string {
    if (this.formattedNumber !== this.addressNumber) {
      this.formatted = ipv4ToString(this.addressNumber);
      this.formattedNumber = this.addressNumber;
    }
    return this.formatted;
  }
}

/**
 * An error reported to a connected socket, shaped like dgram's: `code` is the
 * errno name, `syscall` 'recvmsg' (where the kernel reports it), and
 * `address`/`port` name the peer.
 */
export class UdpSocketError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall = 'recvmsg';
  readonly address: string;
  readonly port: number;
  constructor(code: string, address: string, port: number) {
    super(`recvmsg ${code} ${address}:${port}`);
    this.name = 'UdpSocketError';
    this.code = code;
    this.errno = -((osConstants.errno as Record<string, number>)[code] ?? 0);
    this.address = address;
    this.port = port;
  }
}

/** dgram's errors for connect() misuse, with its codes. */
function connectionStateError(code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' | 'ERR_SOCKET_DGRAM_NOT_CONNECTED'): Error {
  const error = new Error(code === 'ERR_SOCKET_DGRAM_IS_CONNECTED' ? 'UdpSocket: already connected' : 'UdpSocket: not connected') as Error & { code: string };
  error.code = code;
  return error;
}

/** Writes a reply over `request`'s payload and returns its length, or a negative number for no reply. */
export type UdpRequestHandler = (request: UdpDatagram) => number;

/** The 'message' listener's signature. */
export type UdpMessageListener = (payload: UdpPayload, rinfo: UdpRemoteInfo) => void;

/** The socket's events. */
export interface UdpSocket {
  /** A datagram arrived (not emitted while `onRequest` is set). */
  on(event: 'message', listener: UdpMessageListener): this;
  on(event: 'listening' | 'connect' | 'close', listener: () => void): this;
  /** A connected socket's datagram came back as a hard ICMP error (UdpSocketError). */
  on(event: 'error', listener: (error: Error) => void): this;
  once(event: 'message', listener: UdpMessageListener): this;
  once(event: 'listening' | 'connect' | 'close', listener: () => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** A UDP socket on one interface. */
export class UdpSocket extends EventEmitter implements UdpEndpoint {
  readonly iface: Interface;
  /** Answer each datagram in place; while set, 'message' is not emitted. */
  onRequest: UdpRequestHandler | null = null;
  private readonly udp: UdpLayer;
  private readonly payload = new UdpPayload();
  private readonly rinfo = new UdpRemoteInfo();
  /** The listeners' arguments, for Reflect.apply: `.call` and bound functions allocate per call when the call site is not inlined. */
  private readonly listenerArguments = [this.payload, this.rinfo];
  private localPort = 0;
  /** The connected peer; remotePort 0 while not connected. */
  private remoteAddressNumber = 0;
  private remotePortNumber = 0;
  private isClosed = false;
  /** The 'message' listeners (once-wrappers included), refreshed when they change. */
  private messageListeners: UdpMessageListener[] = [];
  private listenersChanged = true;
  private lastAddressText = '';
  private lastAddress = 0;

  constructor(iface: Interface) {
    super();
    this.iface = iface;
    this.udp = iface.udp;
    const changed = (event: string | symbol): void => {
      if (event === 'message') this.listenersChanged = true;
    };
    this.on('newListener', changed);
    this.on('removeListener', changed);
  }

  /** Bind to `port` (0 or none: a free ephemeral port). Throws AddressInUseError when taken. */
  bind(port = 0, callback?: () => void): this {
    if (this.isClosed) throw new Error('UdpSocket: bind() after close()');
    if (this.localPort !== 0) throw new Error(`UdpSocket: already bound to port ${this.localPort}`);
    this.localPort = this.udp.bind(port, this);
    if (callback !== undefined) this.once('listening', callback);
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  /** The bound address and port. */
  address(): { address: string; family: 'IPv4'; port: number } {
    if (this.localPort === 0) throw new Error('UdpSocket: not bound');
    return { address: this.iface.address, family: 'IPv4', port: this.localPort };
  }

  /**
   * Connect to `address`:`port` (binding an ephemeral port first when
   * unbound): send() then needs no destination, only datagrams from that
   * peer are received, and hard ICMP errors about what is sent to it come
   * as 'error' events. Emits 'connect'. Throws ERR_SOCKET_DGRAM_IS_CONNECTED
   * when connected already.
   */
  connect(port: number, address: string | number, callback?: () => void): this {
    if (this.isClosed) throw new Error('UdpSocket: connect() after close()');
    if (this.remotePortNumber !== 0) throw connectionStateError('ERR_SOCKET_DGRAM_IS_CONNECTED');
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new RangeError(`UdpSocket: port must be an integer from 1 to 65535, got ${port}`);
    const remote = this.resolve(address);
    if (this.localPort === 0) this.bind(0);
    this.remoteAddressNumber = remote;
    this.remotePortNumber = port;
    this.udp.connect(this.localPort, this, remote, port);
    if (callback !== undefined) this.once('connect', callback);
    process.nextTick(() => this.emit('connect'));
    return this;
  }

  /** Forget the connected peer. Throws ERR_SOCKET_DGRAM_NOT_CONNECTED when not connected. */
  disconnect(): void {
    if (this.remotePortNumber === 0) throw connectionStateError('ERR_SOCKET_DGRAM_NOT_CONNECTED');
    this.remotePortNumber = 0;
    this.remoteAddressNumber = 0;
    this.udp.disconnect(this.localPort, this);
  }

  /** The connected peer. Throws ERR_SOCKET_DGRAM_NOT_CONNECTED when not connected. */
  remoteAddress(): { address: string; family: 'IPv4'; port: number } {
    if (this.remotePortNumber === 0) throw connectionStateError('ERR_SOCKET_DGRAM_NOT_CONNECTED');
    return { address: ipv4ToString(this.remoteAddressNumber), family: 'IPv4', port: this.remotePortNumber };
  }

  /**
   * Send `data` (bytes or a string; `offset`/`length` select part of bytes)
   * to `address`:`port`, or on a connected socket to its peer:
   * `send(data[, offset, length])` (naming a destination there throws
   * ERR_SOCKET_DGRAM_IS_CONNECTED). Binds an ephemeral port first when
   * unbound. Returns false when the datagram was dropped (no route, link
   * down, no buffer, too large: see the interface's counters).
   */
  send(data: Uint8Array | string, port?: number, address?: string | number, offset?: number, length?: number): boolean {
    if (this.isClosed) throw new Error('UdpSocket: send() after close()');
    let remote: number;
    let remotePort: number;
    let from: number;
    let count: number | undefined;
    if (this.remotePortNumber !== 0) {
      if (address !== undefined && typeof address !== 'number') throw connectionStateError('ERR_SOCKET_DGRAM_IS_CONNECTED');
      // send(data[, offset, length]): the two numbers after data.
      from = port ?? 0;
      count = address;
      remote = this.remoteAddressNumber;
      remotePort = this.remotePortNumber;
    } else {
      if (port === undefined || address === undefined) throw connectionStateError('ERR_SOCKET_DGRAM_NOT_CONNECTED');
      if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new RangeError(`UdpSocket: port must be an integer from 1 to 65535, got ${port}`);
      remote = this.resolve(address);
      remotePort = port;
      from = offset ?? 0;
      count = length;
    }
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const size = count ?? bytes.length - from;
    if (!Number.isInteger(from) || !Number.isInteger(size) || from < 0 || size < 0 || from + size > bytes.length) {
      throw new RangeError(`UdpSocket: offset ${from} and length ${count} do not fit ${bytes.length} bytes`);
    }
    if (this.localPort === 0) this.bind(0);
    return this.udp.send(this.localPort, remote, remotePort, bytes, from, size);
  }

  /** Unbind and stop; emits 'close'. */
  close(callback?: () => void): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.localPort !== 0) this.udp.unbind(this.localPort, this);
    if (callback !== undefined) this.once('close', callback);
    this.emit('close');
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Called by the stack for each datagram to our port. */
  deliver(datagram: UdpDatagram): void {
    const handler = this.onRequest;
    if (handler !== null) {
      const length = handler(datagram);
      if (length >= 0) this.udp.reply(datagram, length);
      return;
    }
    if (this.listenersChanged) {
      this.messageListeners = this.rawListeners('message') as UdpMessageListener[];
      this.listenersChanged = false;
    }
    const listeners = this.messageListeners;
    if (listeners.length === 0) return;
    const payload = this.payload;
    payload.view = datagram.view;
    payload.bytes = datagram.bytes;
    payload.offset = datagram.payloadOffset;
    payload.length = datagram.payloadLength;
    const rinfo = this.rinfo;
    rinfo.addressNumber = datagram.remoteAddress;
    rinfo.port = datagram.remotePort;
    rinfo.size = datagram.payloadLength;
    for (let i = 0; i < listeners.length; i++) Reflect.apply(listeners[i], this, this.listenerArguments);
  }

  /** Called by the stack with a hard ICMP error about a datagram sent to the connected peer: emitted as 'error' on the next tick. */
  icmpError(code: string, remoteAddress: number, remotePort: number): void {
    const error = new UdpSocketError(code, ipv4ToString(remoteAddress), remotePort);
    process.nextTick(() => {
      if (!this.isClosed) this.emit('error', error);
    });
  }

  /** Called by the stack when the interface closes. */
  interfaceClosed(): void {
    this.localPort = 0;
    this.close();
  }

  private resolve(address: string | number): number {
    if (typeof address === 'number') {
      if (!Number.isInteger(address) || address < 0 || address > 0xffffffff) throw new TypeError(`UdpSocket: bad address ${address}`);
      return address;
    }
    if (address === this.lastAddressText) return this.lastAddress;
    const parsed = parseIpv4(address);
    if (parsed === null) throw new TypeError(`UdpSocket: address must be dotted IPv4, got ${JSON.stringify(address)}`);
    this.lastAddressText = address;
    this.lastAddress = parsed;
    return parsed;
  }
}

/** A UDP socket on `iface`. */
export function createSocket(iface: Interface): UdpSocket {
  return new UdpSocket(iface);
}
