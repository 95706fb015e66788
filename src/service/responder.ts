// The UDP responder: a full host (the Interface answers ARP, ping and port
// unreachable) that answers UDP requests on a set of ports. Each reply is
// written over the request in the received frame and sent with reply in
// place: no copy and no allocation per request.
//
// Every request is accounted for: requests = replies + dropped (one named
// reason each), give or take requests in flight at the moment of a snapshot.

import type { Interface } from '../iface/interface';
import type { UdpDatagram, UdpEndpoint } from '../iface/udp';
import * as tcp from '../socket/tcp';

/**
 * Writes the reply over the request's payload (at `request.payloadOffset` in
 * `request.view`/`request.bytes`, at most `request.replyCapacity` bytes) and
 * returns its length, or a negative number to send no reply. The request and
 * everything it points at are valid only during the call.
 */
export type ResponderHandler = (request: UdpDatagram) => number;

/** One option a handler module adds to the command line (the command line's own option format). */
export interface HandlerOptionSpec {
  kind: 'string' | 'integer' | 'number' | 'boolean';
  /** Shown in --help. */
  help: string;
  default?: string | number | boolean;
  /** Allowed values for string options. */
  choices?: readonly string[];
  /** Inclusive bounds for numeric options. */
  min?: number;
  max?: number;
  /** Placeholder shown in --help, e.g. "FILE". */
  meta?: string;
}

/** A handler module's options, by name (without the leading --). */
export type HandlerOptionSpecs = Record<string, HandlerOptionSpec>;

/** What a handler module's `setup` is given, once per worker (one port, one queue) before any traffic. */
export interface HandlerContext {
  /** The module's own options, parsed from the command line (defaults filled in). */
  options: Record<string, string | number | boolean | undefined>;
  /** The interface this worker answers on (its loop's clock: `iface.loop.nowMs()`). */
  iface: Interface;
  /** The NIC queue this worker serves. */
  queue: number;
  /** The UDP ports the responder answers on (a module may serve the same ports over TCP). */
  ports: readonly number[];
  /**
   * nicring's TCP sockets (the package's `tcp` namespace): `tcp.createServer(context.iface, ...)`
   * listens on this worker's host, without a require('nicring') of the module's own.
   */
  tcp: typeof tcp;
}

/** What a handler module's `setup` is given, before the responder's own fields are filled in. */
export type HandlerContextInput = Omit<HandlerContext, 'tcp' | 'ports'> & Partial<Pick<HandlerContext, 'ports'>>;

/**
 * A handler with counters of its own (a flat object of numbers the handler
 * increments, which the service reads only when it reports: JSON lines,
 * metrics; never per request), and what to stop when the worker stops
 * (`close`: servers and timers its setup started).
 */
export type CountingHandler = ResponderHandler & { counters?: Readonly<Record<string, number>>; close?: () => void };

/** What a `--handler` module exports. */
export interface ResponderHandlerModule {
  /** The handler (or `default`); optional when `setup` returns one. */
  handle?: ResponderHandler;
  default?: ResponderHandler;
  /** Opt in to replies larger than their requests (amplification). Off by default. */
  allowLargerReplies?: boolean;
  /** Extra command-line options, parsed together with the service's own. */
  options?: HandlerOptionSpecs;
  /** Per-worker set-up before traffic (load data, make tables); may return the handler to use. */
  setup?: (context: HandlerContext) => CountingHandler | undefined | Promise<CountingHandler | undefined>;
}

/** A loaded handler module, checked. */
export interface LoadedHandlerModule {
  file: string;
  handler: CountingHandler | undefined;
  allowLargerReplies: boolean;
  options: HandlerOptionSpecs;
  setup: ResponderHandlerModule['setup'] | undefined;
}

/** Echo: the reply is the request's payload, unchanged. */
export const echoHandler: ResponderHandler = (request) => request.payloadLength;

export interface ResponderOptions {
  /** UDP ports to answer on. */
  ports: number[];
  /** The handler (echo by default); its `counters`, when it has them, are the responder's `handlerCounters`. */
  handler?: CountingHandler;
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
  /** The stack could not send the reply (its TX ring was full, or the link down: the stack's counters say which). */
  replyNotSent: number;
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
    dropped: { handlerDeclined: 0, handlerError: 0, largerThanRequest: 0, replyTooLarge: 0, broadcastRequest: 0, replyNotSent: 0 },
  };
  /** The handler's own counters (see CountingHandler), or null. */
  readonly handlerCounters: Readonly<Record<string, number>> | null;
  /** performance.now() when the first request came, -1 before (where warm-up is counted from). */
  firstRequestMs = -1;
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
    const counters = (this.handler as CountingHandler).counters;
    this.handlerCounters = counters !== null && typeof counters === 'object' ? counters : null;
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
    if (this.firstRequestMs < 0) this.firstRequestMs = performance.now();
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
      dropped.replyNotSent++;
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
    return d.handlerDeclined + d.handlerError + d.largerThanRequest + d.replyTooLarge + d.broadcastRequest + d.replyNotSent;
  }

  /** A copy of the counters. */
  snapshot(): ResponderCounters {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }
}

const OPTION_KINDS = new Set(['string', 'integer', 'number', 'boolean']);
const OPTION_NAME = /^[a-z][a-z0-9-]*$/;

/** Check a module's `options` export; throws TypeError naming what is wrong. */
function checkOptionSpecs(file: string, specs: unknown): HandlerOptionSpecs {
  if (specs === undefined) return {};
  if (specs === null || typeof specs !== 'object' || Array.isArray(specs)) throw new TypeError(`${file}: exports.options must be an object of option specs`);
  for (const [name, spec] of Object.entries(specs as Record<string, unknown>)) {
    if (!OPTION_NAME.test(name)) throw new TypeError(`${file}: option name "${name}" must be lowercase letters, digits and dashes`);
    const kind = (spec as HandlerOptionSpec | null)?.kind;
    if (typeof kind !== 'string' || !OPTION_KINDS.has(kind)) throw new TypeError(`${file}: option --${name} needs a kind (string, integer, number or boolean)`);
    if (typeof (spec as HandlerOptionSpec).help !== 'string') throw new TypeError(`${file}: option --${name} needs a help text`);
  }
  return specs as HandlerOptionSpecs;
}

/**
 * Load a handler module by path: `module.exports = fn`, or exports `handle`
 * (or `default`), `allowLargerReplies`, `options` and `setup` (see
 * docs/handlers.md). Throws TypeError naming what the module got wrong.
 */
export function loadHandlerModule(file: string): LoadedHandlerModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require(file) as ResponderHandlerModule | ResponderHandler;
  const module: ResponderHandlerModule = typeof loaded === 'function' ? { handle: loaded } : loaded;
  const handler = typeof module.handle === 'function' ? module.handle : typeof module.default === 'function' ? module.default : undefined;
  const setup = module.setup;
  if (setup !== undefined && typeof setup !== 'function') throw new TypeError(`${file}: exports.setup must be a function`);
  if (handler === undefined && setup === undefined) {
    throw new TypeError(`${file} must export a handler function (module.exports = fn, or exports.handle) or a setup function that returns one`);
  }
  return { file, handler, allowLargerReplies: module.allowLargerReplies === true, options: checkOptionSpecs(file, module.options), setup };
}

/**
 * Run a loaded module's set-up for one worker and return the handler to use:
 * the one `setup` returned, else the module's `handle`. The context's `tcp`
 * is filled in here, and `ports` when not given (none).
 */
export async function setupHandler(module: LoadedHandlerModule, context: HandlerContextInput): Promise<CountingHandler> {
  const full: HandlerContext = { ...context, ports: context.ports ?? [], tcp };
  const returned = module.setup === undefined ? undefined : await module.setup(full);
  if (returned !== undefined && typeof returned !== 'function') throw new TypeError(`${module.file}: setup must return a handler function or nothing`);
  const handler = returned ?? module.handler;
  if (handler === undefined) throw new TypeError(`${module.file}: setup returned no handler and the module exports no handle`);
  if (handler.close !== undefined && typeof handler.close !== 'function') throw new TypeError(`${module.file}: the handler's close must be a function`);
  return handler;
}

/**
 * Every counter of a responder and what it runs on, by group (device, kernel,
 * stack, caches, responder, responderDropped, loop, handler): the one source that
 * respond's JSON lines and its metrics are both made from.
 */
export function responderCounterGroups(responder: Responder) {
  const { backend: _backend, mode: _mode, kernel, ...device } = responder.iface.device.stats();
  const { dropped, ...requests } = responder.counters;
  return {
    device, kernel, stack: responder.iface.counters(), caches: responder.iface.cacheSizes(), responder: requests, responderDropped: dropped,
    loop: responder.iface.loop.counters, handler: responder.handlerCounters,
  };
}
