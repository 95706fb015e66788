// @ts-check
// DNS over TCP (RFC 7766) on the worker's own host, on the same ports as UDP:
// a client told TC=1 over UDP asks again here and gets the whole answer.
//
// - Each message travels behind a two-byte length prefix (RFC 1035 4.2.2);
//   a client may send several queries on one connection without waiting
//   (pipelining, RFC 7766 6.2.1.1): they are answered in order, each reply
//   up to 65535 bytes, never truncated for an EDNS size and never rate
//   limited (the three-way handshake has proved the client's address).
// - A length prefix shorter than a DNS header cannot frame a message: the
//   connection is closed (tcpBadLength). A message that gets FORMERR is
//   answered, then the connection is closed (tcpClosedAfterFormErr): after
//   a malformed message the framing of what follows cannot be trusted.
// - A connection without a byte from the client for the idle timeout is
//   closed (RFC 7766 6.2.3; tcpIdleTimeouts), found by one sweep timer per
//   worker rather than a timer per connection. One that ends inside a
//   message is counted (tcpIncomplete).
// - At most `maxConnections` connections per worker; one more is reset
//   (tcpRefused).
// - Memory: one scratch buffer per worker holds each query and its reply
//   (answered in place, as over UDP); a connection keeps a buffer only for
//   a query that spans segments. When the client does not read its
//   replies, reading stops until they drain (backpressure), so a connection
//   holds at most its send buffer and one segment's queries.
'use strict';

const { HEADER_LEN, header: H, rcode: RCODE } = require('./constants');

/** A TCP message's length prefix. */
const LENGTH_PREFIX_LEN = 2;
/** The largest DNS message. */
const MAX_MESSAGE_LEN = 0xffff;
/** A connection's first buffer for a query that spans segments (queries are small); it grows to the query's length. */
const FIRST_PARTIAL_LEN = 512;
/** Sweeps per idle timeout: a connection closes between 1 and 1.25 timeouts after the client's last byte. */
const SWEEPS_PER_TIMEOUT = 4;

// Buffer's copy is a memmove over any Uint8Array that allocates nothing.
const copyInto = /** @type {(this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number} */ (Buffer.prototype.copy);

/** @typedef {import('./server').DnsServer} DnsServer */
/** @typedef {import('../../src/socket/tcp').TcpSocket} TcpSocket */
/** @typedef {import('../../src/socket/tcp').TcpServer} TcpServer */
/** @typedef {typeof import('../../src/socket/tcp')} TcpApi */
/** @typedef {import('../../src/iface/interface').Interface} Interface */

/** DNS over TCP for one worker: listeners on its ports, its connections, one sweep timer. */
class DnsTcpService {
  /**
   * @param {DnsServer} server answers the queries and holds the counters
   * @param {{ iface: Interface, tcp: TcpApi, idleTimeoutMs: number, maxConnections: number }} options
   */
  constructor(server, options) {
    this.server = server;
    this.counters = server.counters;
    this.iface = options.iface;
    this.tcp = options.tcp;
    this.idleTimeoutMs = options.idleTimeoutMs;
    this.maxConnections = options.maxConnections;
    /** Each query is copied here behind room for its length prefix, answered in place, and sent from here. */
    this.scratch = Buffer.alloc(LENGTH_PREFIX_LEN + MAX_MESSAGE_LEN);
    this.scratchView = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.length);
    /** @type {Set<DnsTcpConnection>} */
    this.connections = new Set();
    /** @type {TcpServer[]} */
    this.servers = [];
    this.sweepTimer = -1;
    this.closed = false;
    this.onSweep = (/** @type {number} */ nowMs) => this.sweep(nowMs);
  }

  /**
   * Listen on `ports`; resolves once every one listens, rejects on the first error (EADDRINUSE).
   * @param {readonly number[]} ports
   * @returns {Promise<void>}
   */
  listen(ports) {
    return Promise.all(ports.map((port) => new Promise((resolve, reject) => {
      const server = this.tcp.createServer(this.iface, { noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
      this.servers.push(server);
      server.once('error', reject);
      server.listen(port, () => {
        server.removeListener('error', reject);
        resolve(undefined);
      });
    }))).then(() => undefined);
  }

  /** @param {TcpSocket} socket */
  accept(socket) {
    if (this.closed || this.connections.size >= this.maxConnections) {
      this.counters.tcpRefused++;
      socket.on('error', () => undefined);
      socket.resetAndDestroy();
      return;
    }
    this.counters.tcpAccepted++;
    this.connections.add(new DnsTcpConnection(this, socket));
    if (this.sweepTimer < 0) this.sweepTimer = this.iface.loop.setTimer(this.idleTimeoutMs / SWEEPS_PER_TIMEOUT, this.onSweep);
  }

  /** @param {DnsTcpConnection} connection */
  forget(connection) {
    this.connections.delete(connection);
  }

  /** Close the connections idle for the timeout; sweep again while any is open. @param {number} nowMs */
  sweep(nowMs) {
    this.sweepTimer = -1;
    for (const connection of this.connections) {
      if (nowMs - connection.lastActiveMs >= this.idleTimeoutMs) {
        this.counters.tcpIdleTimeouts++;
        connection.destroy();
      }
    }
    if (this.connections.size > 0 && !this.closed) this.sweepTimer = this.iface.loop.setTimer(this.idleTimeoutMs / SWEEPS_PER_TIMEOUT, this.onSweep);
  }

  /** Stop listening and drop every connection (the worker is stopping). */
  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer >= 0) this.iface.loop.cancelTimer(this.sweepTimer);
    this.sweepTimer = -1;
    for (const server of this.servers) if (server.listening) server.close();
    for (const connection of [...this.connections]) connection.destroy();
  }
}

/** One client connection: the framing state between segments, and backpressure. */
class DnsTcpConnection {
  /** @param {DnsTcpService} service @param {TcpSocket} socket */
  constructor(service, socket) {
    this.service = service;
    this.socket = socket;
    this.lastActiveMs = service.iface.loop.nowMs();
    /** The length prefix's first byte when the second has not come yet, else -1. */
    this.prefixHigh = -1;
    /** The length of the message being gathered in `partial`, or -1 between messages. */
    this.need = -1;
    /** @type {Buffer | null} a query that spans segments, gathered */
    this.partial = null;
    this.filled = 0;
    /** @type {Buffer | null} the rest of a chunk not read yet, while replies wait to drain */
    this.rest = null;
    this.restAt = 0;
    /** Replies wait to drain: reading has stopped. */
    this.blocked = false;
    /** The client has sent its FIN. */
    this.peerEnded = false;
    /** This side is done (closing after bad framing or FORMERR): what comes in is ignored. */
    this.done = false;
    socket.on('data', (/** @type {Buffer} */ chunk) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('end', () => this.onEnd());
    // A reset or a write after it: the connection ends, the stack counts why.
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
  }

  /** @param {Buffer} chunk */
  onData(chunk) {
    if (this.done) return;
    this.lastActiveMs = this.service.iface.loop.nowMs();
    this.consume(chunk, 0);
  }

  onDrain() {
    if (!this.blocked || this.done) return;
    this.lastActiveMs = this.service.iface.loop.nowMs();
    this.blocked = false;
    const rest = this.rest;
    this.rest = null;
    if (rest !== null) this.consume(rest, this.restAt);
    if (this.blocked || this.done) return;
    if (this.peerEnded) this.socket.end();
    else this.socket.resume();
  }

  onEnd() {
    this.peerEnded = true;
    // Every query before the FIN is answered first (a client may half-close after its last query).
    if (!this.blocked && !this.done) this.socket.end();
  }

  onClose() {
    if (!this.done && (this.need >= 0 || this.prefixHigh >= 0)) this.service.counters.tcpIncomplete++;
    this.done = true;
    this.rest = null;
    this.partial = null;
    this.service.forget(this);
  }

  /**
   * Read messages from `chunk` at `at`: whole ones are answered from the chunk
   * itself, the start of one that spans segments is kept.
   * @param {Buffer} chunk @param {number} at
   */
  consume(chunk, at) {
    const end = chunk.length;
    while (at < end) {
      if (this.blocked) {
        this.rest = chunk;
        this.restAt = at;
        return;
      }
      if (this.need < 0) {
        let length;
        if (this.prefixHigh >= 0) {
          length = (this.prefixHigh << 8) | chunk[at];
          this.prefixHigh = -1;
          at += 1;
        } else if (end - at >= LENGTH_PREFIX_LEN) {
          length = (chunk[at] << 8) | chunk[at + 1];
          at += LENGTH_PREFIX_LEN;
        } else {
          this.prefixHigh = chunk[at];
          return;
        }
        if (length < HEADER_LEN) {
          this.service.counters.tcpBadLength++;
          this.finish();
          return;
        }
        if (end - at >= length) {
          const more = this.answer(chunk, at, length);
          at += length;
          if (!more) return;
          continue;
        }
        this.need = length;
        this.filled = 0;
        if (this.partial === null || this.partial.length < length) this.partial = Buffer.allocUnsafe(length > FIRST_PARTIAL_LEN ? length : FIRST_PARTIAL_LEN);
      }
      const partial = /** @type {Buffer} */ (this.partial);
      const wanted = this.need - this.filled;
      const count = end - at < wanted ? end - at : wanted;
      copyInto.call(chunk, partial, this.filled, at, at + count);
      this.filled += count;
      at += count;
      if (this.filled === this.need) {
        const length = this.need;
        this.need = -1;
        this.filled = 0;
        if (!this.answer(partial, 0, length)) return;
      }
    }
  }

  /**
   * Answer the query of `length` bytes at `at` in `source`; false when this
   * connection is to read no more (closing after FORMERR).
   * @param {Uint8Array} source @param {number} at @param {number} length
   */
  answer(source, at, length) {
    const service = this.service;
    const scratch = service.scratch;
    const view = service.scratchView;
    copyInto.call(source, scratch, LENGTH_PREFIX_LEN, at, at + length);
    const replyLength = service.server.answerTcp(scratch, view, LENGTH_PREFIX_LEN, length, MAX_MESSAGE_LEN);
    // A response sent to the server gets no reply; the connection goes on.
    if (replyLength < 0) return true;
    view.setUint16(0, replyLength);
    const writable = this.socket.writeCopy(scratch, 0, LENGTH_PREFIX_LEN + replyLength);
    if ((view.getUint16(LENGTH_PREFIX_LEN + H.FLAGS) & 0xf) === RCODE.FORMERR) {
      service.counters.tcpClosedAfterFormErr++;
      this.finish();
      return false;
    }
    if (!writable) {
      this.blocked = true;
      this.socket.pause();
    }
    return true;
  }

  /** Send what is written, then FIN; read no more. */
  finish() {
    this.done = true;
    this.rest = null;
    this.partial = null;
    this.need = -1;
    this.prefixHigh = -1;
    this.socket.end();
  }

  /** Drop the connection at once (idle, or the worker stops). */
  destroy() {
    this.socket.destroy();
  }
}

module.exports = { DnsTcpService, LENGTH_PREFIX_LEN, MAX_MESSAGE_LEN };
