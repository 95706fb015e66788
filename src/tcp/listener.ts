// A listening endpoint (RFC 9293 LISTEN) and its two queues, as Linux
// keeps them: the SYN queue of half-open connections (counted here, the
// connections themselves are in the connection table in SYN-RECEIVED) and
// the accept queue of established connections waiting for the user. Both
// are bounded by the backlog; a full SYN queue turns to SYN cookies.

import type { TcpConnection } from './connection';

/** A port in LISTEN. */
export class TcpListener {
  readonly port: number;
  /** Most connections in either queue. */
  readonly backlog: number;
  /** Half-open connections (SYN-RECEIVED) belonging to this listener. */
  synQueueLength = 0;
  /** Established connections not yet accepted, oldest first. */
  readonly acceptQueue: TcpConnection[] = [];
  /** When the SYN queue last overflowed (SYN cookies are accepted for a while after). */
  lastOverflowMs = -Infinity;
  closed = false;
  /** Called when a connection enters the accept queue. */
  onAcceptable: (() => void) | null = null;

  constructor(port: number, backlog: number) {
    this.port = port;
    this.backlog = backlog;
  }

  get synQueueFull(): boolean {
    return this.synQueueLength >= this.backlog;
  }

  get acceptQueueFull(): boolean {
    return this.acceptQueue.length >= this.backlog;
  }

  /** Queue an established connection for accept(). */
  enqueue(connection: TcpConnection): void {
    this.acceptQueue.push(connection);
    this.onAcceptable?.();
  }

  /** The oldest established connection, or null. */
  accept(): TcpConnection | null {
    const connection = this.acceptQueue.shift() ?? null;
    if (connection !== null) connection.queuedIn = null;
    return connection;
  }

  /** Take `connection` out of the accept queue (it closed before being accepted). */
  unqueue(connection: TcpConnection): void {
    const index = this.acceptQueue.indexOf(connection);
    if (index >= 0) this.acceptQueue.splice(index, 1);
  }
}
