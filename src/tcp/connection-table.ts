// The connection table: connections by remote address, remote port and
// local port (the local address is the interface's own), in an open
// addressing hash table of typed arrays, so a lookup allocates nothing. The
// hash is keyed by a random seed, so a flood of chosen sources cannot aim
// at one chain.

import type { TcpConnection } from './connection';

const EMPTY = 0;
const FULL = 1;
const DELETED = 2;

function hash(seed: number, remoteAddress: number, ports: number): number {
  let h = Math.imul(remoteAddress ^ seed, 0x9e3779b1) ^ Math.imul(ports + seed, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 13;
  return h >>> 0;
}

/** The remote port and local port as one key half. */
export function portPair(remotePort: number, localPort: number): number {
  return ((remotePort << 16) | localPort) >>> 0;
}

/** Connections by (remote address, remote port, local port). */
export class ConnectionTable {
  private addresses = new Uint32Array(64);
  private ports = new Uint32Array(64);
  private slots = new Uint8Array(64);
  private values: (TcpConnection | null)[] = new Array<TcpConnection | null>(64).fill(null);
  private mask = 63;
  private used = 0;
  private live = 0;
  private readonly seed = (Math.random() * 0x100000000) >>> 0;

  /** Connections held. */
  get size(): number {
    return this.live;
  }

  get(remoteAddress: number, ports: number): TcpConnection | null {
    const mask = this.mask;
    for (let i = hash(this.seed, remoteAddress, ports) & mask, probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
      const slot = this.slots[i];
      if (slot === EMPTY) return null;
      if (slot === FULL && this.addresses[i] === remoteAddress && this.ports[i] === ports) return this.values[i];
    }
    return null;
  }

  /** Add a connection (its identity must not be in the table). */
  add(connection: TcpConnection): void {
    if ((this.used + 1) * 2 > this.mask + 1) this.resize(this.live * 4 > this.mask + 1 ? (this.mask + 1) * 2 : this.mask + 1);
    this.insert(connection.remoteAddress, portPair(connection.remotePort, connection.localPort), connection);
  }

  /** Take `connection` out (if it is the one held under its identity). */
  delete(connection: TcpConnection): void {
    const remoteAddress = connection.remoteAddress;
    const ports = portPair(connection.remotePort, connection.localPort);
    const mask = this.mask;
    for (let i = hash(this.seed, remoteAddress, ports) & mask, probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
      const slot = this.slots[i];
      if (slot === EMPTY) return;
      if (slot === FULL && this.addresses[i] === remoteAddress && this.ports[i] === ports) {
        if (this.values[i] !== connection) return;
        this.slots[i] = DELETED;
        this.values[i] = null;
        this.live--;
        return;
      }
    }
  }

  /** Every connection (a copy, safe to change the table while walking it). */
  all(): TcpConnection[] {
    const out: TcpConnection[] = [];
    for (let i = 0; i <= this.mask; i++) if (this.slots[i] === FULL) out.push(this.values[i] as TcpConnection);
    return out;
  }

  private insert(remoteAddress: number, ports: number, connection: TcpConnection): void {
    const mask = this.mask;
    let i = hash(this.seed, remoteAddress, ports) & mask;
    while (this.slots[i] === FULL) i = (i + 1) & mask;
    if (this.slots[i] === EMPTY) this.used++;
    this.slots[i] = FULL;
    this.addresses[i] = remoteAddress;
    this.ports[i] = ports;
    this.values[i] = connection;
    this.live++;
  }

  private resize(capacity: number): void {
    const old = this.all();
    this.addresses = new Uint32Array(capacity);
    this.ports = new Uint32Array(capacity);
    this.slots = new Uint8Array(capacity);
    this.values = new Array<TcpConnection | null>(capacity).fill(null);
    this.mask = capacity - 1;
    this.used = 0;
    this.live = 0;
    for (const connection of old) this.insert(connection.remoteAddress, portPair(connection.remotePort, connection.localPort), connection);
  }
}
