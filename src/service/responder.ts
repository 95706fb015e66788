// The UDP responder: a full host (the Interface answers ARP, ping and port
// unreachable) that answers UDP requests on a set of ports. Each reply is
// written over the request in the received frame and sent with reply in
// place: no copy and no allocation per request.
//
// Every request is accounted for: requests = replies + dropped (one named
// reason each), give or take requests in flight at the moment of a snapshot.

import type { Interface } from '../iface/interface';
import type { UdpDatagram, UdpEndpoint } from '../iface/udp';

/**
 * Writes the reply over the request's payload (at `request.payloadOffset` in
 * `request.view`/`request.bytes`, at most `request.replyCapacity` bytes) and
 * returns its length, or a negative number to send no reply. The request and
 * everything it points at are valid only during the call.
 */
export type ResponderHandler = (request: UdpDatagram) => number;

/** What a `--handler` module exports. */
export interface ResponderHandlerModule {
  /** The handler (or `default`). */
  handle?: ResponderHandler;
  default?: ResponderHandler;
  /** Opt in to replies larger than their requests (amplification). Off by default. */
  allowLargerReplies?: boolean;
}

/** Echo: the reply is the request's payload, unchanged. */
export const echoHandler: ResponderHandler = (request) => request.payloadLength;

export interface ResponderOptions {
  /** UDP ports to answer on. */
  ports: number[];
  handler?: ResponderHandler;
  /** Allow replies larger than their requests (default false: never amplify). */
  allowLargerReplies?: boolean;
}

/** Why a request got no reply. */
export interface ResponderDrops {
  /** The handler returned a negative length. */
  handlerDeclined: number;
  /** The handler threw. */
  handlerError: number;
  /** The reply would have been larger than the request (amplification). */
  largerThanRequest: number;
  /** The reply did not fit the frame or the MTU. */
  replyTooLarge: number;
  /** Sent to a broadcast address: never answered. */
  broadcastRequest: number;
  /** The TX ring was full. */
  txRingFull: number;
}

export interface ResponderCounters {
  requests: number;
  replies: number;
  requestBytes: number;
  replyBytes: number;
  dropped: ResponderDrops;
}

const BROADCAST = 0xffffffff;

/** Answers UDP requests on `options.ports` of `iface` with `options.handler` (echo by default). */
export class Responder implements UdpEndpoint {
  readonly iface: Interface;
  readonly ports: readonly number[];
  readonly counters: ResponderCounters = {
    requests: 0, replies: 0, requestBytes: 0, replyBytes: 0,
    dropped: { handlerDeclined: 0, handlerError: 0, largerThanRequest: 0, replyTooLarge: 0, broadcastRequest: 0, txRingFull: 0 },
  };
  private readonly handler: ResponderHandler;
  private readonly allowLarger: boolean;
  /** The built-in echo leaves the payload as it came: the reply keeps the request's checksum. */
  private readonly isEcho: boolean;
  private bound: number[] = [];

  constructor(iface: Interface, options: ResponderOptions) {
    if (!Array.isArray(options.ports) || options.ports.length === 0) throw new TypeError('Responder: at least one port is required');
    for (const port of options.ports) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`Responder: port must be an integer from 1 to 65535, got ${port}`);
    }
    if (new Set(options.ports).size !== options.ports.length) throw new RangeError(`Responder: ports repeat: ${options.ports.join(',')}`);
    this.iface = iface;
    this.ports = [...options.ports];
    this.handler = options.handler ?? echoHandler;
    this.allowLarger = options.allowLargerReplies === true;
    this.isEcho = this.handler === echoHandler;
    try {
      for (const port of this.ports) this.bound.push(iface.udp.bind(port, this));
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Called by the stack for each request to one of our ports. */
  deliver(request: UdpDatagram): void {
    const counters = this.counters;
    const dropped = counters.dropped;
    counters.requests++;
    counters.requestBytes += request.payloadLength;
    // The stack drops broadcast and multicast sources; requests sent to a broadcast address are ours to refuse.
    if (request.localAddress === BROADCAST || request.localAddress !== this.iface.addressing.address) {
      dropped.broadcastRequest++;
      return;
    }
    let length: number;
    try {
      length = this.handler(request);
    } catch {
      dropped.handlerError++;
      return;
    }
    if (!(length >= 0)) {
      dropped.handlerDeclined++;
      return;
    }
    if (length > request.payloadLength && !this.allowLarger) {
      dropped.largerThanRequest++;
      return;
    }
    if (length > request.replyCapacity || (length | 0) !== length) {
      dropped.replyTooLarge++;
      return;
    }
    if (this.iface.udp.reply(request, length, this.isEcho)) {
      counters.replies++;
      counters.replyBytes += length;
    } else {
      dropped.txRingFull++;
    }
  }

  /** The interface closed under us. */
  interfaceClosed(): void {
    this.bound = [];
  }

  /** Stop answering (the interface stays up). */
  close(): void {
    for (const port of this.bound) this.iface.udp.unbind(port, this);
    this.bound = [];
  }

  /** Requests dropped, all reasons together. */
  droppedTotal(): number {
    const d = this.counters.dropped;
    return d.handlerDeclined + d.handlerError + d.largerThanRequest + d.replyTooLarge + d.broadcastRequest + d.txRingFull;
  }

  /** A copy of the counters. */
  snapshot(): ResponderCounters {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }
}

/** Load a handler module (`module.exports = fn`, or exports `handle`/`default`) by path. */
export function loadHandlerModule(file: string): { handler: ResponderHandler; allowLargerReplies: boolean } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require(file) as ResponderHandlerModule | ResponderHandler;
  const module = typeof loaded === 'function' ? { handle: loaded } : loaded;
  const handler = module.handle ?? module.default ?? (typeof (module as { default?: unknown }).default === 'function' ? module.default : undefined);
  if (typeof handler !== 'function') throw new TypeError(`${file} must export a handler function (module.exports = fn, or exports.handle)`);
  return { handler, allowLargerReplies: module.allowLargerReplies === true };
}
