// nicring respond: the UDP responder service, one worker thread per queue
// (every queue the interface has by default), with live figures summed over
// the queues.

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { unaccounted } from '../src/iface/accounting';
import { Ipv4Addressing } from '../src/iface/address';
import { STACK_TRAFFIC_COUNTERS } from '../src/iface/counters';
import type { DeviceStats } from '../src/phy/device';
import { MetricsServer, type CounterGroups } from '../src/service/metrics';
import type { RespondWorkerOptions } from '../src/service/respond-worker';
import { loadHandlerModule, type LoadedHandlerModule } from '../src/service/responder';
import { builtinWorkerModule, resolveQueues, serve, type QueueStats, type ServiceStats, type WorkerError } from '../src/service/serve';
import { TCP_DROP_REASONS } from '../src/tcp/drops';
import { UsageError, formatOptions, parseArgs, type OptionSpecs, type ParsedOptions } from './args';
import { OPEN_OPTIONS, QUEUES_OPTIONS, openOptions, parseCpuList, parseTarget, queueSelection, requireRoot, untilStopped, warnOnFallback } from './common';
import { LiveLine, formatRate, helpText } from './output';

export const RESPOND_OPTIONS: OptionSpecs = {
  ...OPEN_OPTIONS,
  queue: { ...OPEN_OPTIONS.queue, help: 'serve this one NIC queue (default: every queue, see --queues)' },
  queues: { ...QUEUES_OPTIONS.queues, help: 'queues to serve, one worker thread each: all (default), N (queues 0 to N-1) or a list (0,2)' },
  cpus: QUEUES_OPTIONS.cpus,
  // Deep rings absorb the bursts a high-rate service sees (32 MiB of UMEM at 8192).
  'ring-size': { ...OPEN_OPTIONS['ring-size'], default: 8192 },
  address: { kind: 'string', help: 'the address nicring answers for, with its prefix', meta: 'IP/PREFIX' },
  gateway: { kind: 'string', help: 'default gateway (on the subnet)', meta: 'IP' },
  vlan: { kind: 'integer', help: 'serve one 802.1Q VLAN: take only frames tagged with it, tag every frame sent', min: 1, max: 4094, meta: 'ID' },
  port: { kind: 'string', help: 'UDP port(s) to answer on', meta: 'N[,N...]' },
  tcp: { kind: 'string', help: 'TCP port(s) to run an echo service on, beside UDP', meta: 'N[,N...]' },
  mode: { kind: 'string', help: 'built-in service', default: 'echo', choices: ['echo'] },
  handler: { kind: 'string', help: 'handler module (see docs/handlers.md): writes each reply in place; may add options of its own', meta: 'FILE' },
  'reassembly-timeout': { kind: 'number', help: "drop a datagram not complete this long after its first fragment (Linux's net.ipv4.ipfrag_time)", default: 30, min: 0.001, max: 3600, meta: 'SECONDS' },
  batch: { kind: 'integer', help: 'frames per receive batch', default: 64, min: 1, max: 1024, meta: 'N' },
  'busy-poll': { kind: 'boolean', help: 'poll every loop turn instead of waiting for the fd' },
  'strict-checksums': { kind: 'boolean', help: "verify every UDP and TCP checksum in full, even the partial ones a same-host peer on a virtual link sends (they are dropped as udpBadChecksum)" },
  pcap: { kind: 'string', help: 'write every frame in and out to this pcap file (one file per queue, FILE-qN.pcap, when serving several)', meta: 'FILE' },
  user: { kind: 'string', help: 'drop root to this user once the port is open', meta: 'NAME' },
  duration: { kind: 'number', help: 'stop after this many seconds (0: until SIGINT/SIGTERM)', default: 0, min: 0, meta: 'SECONDS' },
  json: { kind: 'boolean', help: 'one JSON object per second instead of a live line' },
  metrics: { kind: 'string', help: 'serve every counter, summed over the queues, in the Prometheus text format at http://HOST:PORT/metrics (see docs/metrics.md)', meta: 'HOST:PORT' },
  help: { kind: 'boolean', help: 'show this help' },
};

/** A worker's hot path counts as warmed up (for gcEventsAfterWarmup) after this many requests and... */
const WARMUP_REQUESTS = 100_000;
/** ...this many milliseconds after its first request. */
const WARMUP_MS = 1000;

/** TCP counters that are drop reasons (the other tcp* counters are traffic, shown on their own). */
const TCP_DROPS: ReadonlySet<string> = new Set(TCP_DROP_REASONS);

function parsePorts(text: string | undefined, option = '--port'): number[] {
  if (text === undefined) throw new UsageError('--port is required (the UDP port or ports to answer on, e.g. 9000 or 53,9000)');
  const ports = text.split(',').map((part) => Number(part.trim()));
  if (ports.some((port) => !Number.isInteger(port) || port < 1 || port > 65535)) throw new UsageError(`${option} must be ports from 1 to 65535 separated by commas, got "${text}"`);
  if (new Set(ports).size !== ports.length) throw new UsageError(`${option} lists a port twice: "${text}"`);
  return ports;
}

/** uid and gid of a user from /etc/passwd. */
function lookupUser(name: string): { uid: number; gid: number } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields.length >= 4) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new UsageError(`--user: no user "${name}" in /etc/passwd`);
}

function dropPrivileges(name: string): void {
  const { uid, gid } = lookupUser(name);
  process.setgroups?.([gid]);
  process.setgid?.(gid);
  process.setuid?.(uid);
}

/** What --vlan cannot see on AF_XDP: tags that travel beside the frame instead of in it. */
export function vlanOffloadWarning(vlan: number, ifname: string): string {
  return `nicring respond: warning: --vlan ${vlan}: XDP sees an 802.1Q tag only when it is in the frame. A NIC that strips tags on receive `
    + `(rx-vlan-offload on ${ifname}) or, over veth, a sender whose VLAN device hands its tag to the link beside the frame `
    + '(its tx-vlan-offload, on by default) delivers frames without it: they are counted as ethernetVlanUntagged, not answered.';
}

/** The value of `--handler` in `argv` before it is parsed (the module's options must be known to parse the rest). */
function handlerArgument(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--handler') return argv[i + 1];
    if (arg.startsWith('--handler=')) return arg.slice('--handler='.length);
    const spec = RESPOND_OPTIONS[arg.slice(2)];
    if (arg.startsWith('--') && spec !== undefined && spec.kind !== 'boolean') i++;
  }
  return undefined;
}

/** Load the `--handler` module and check that its options do not clash with the command's. */
function loadHandler(argument: string): LoadedHandlerModule {
  const file = path.resolve(argument);
  let loaded: LoadedHandlerModule;
  try {
    loaded = loadHandlerModule(file);
  } catch (error) {
    throw new UsageError(`--handler ${file}: ${(error as Error).message}`);
  }
  for (const name in loaded.options) {
    if (RESPOND_OPTIONS[name] !== undefined) throw new UsageError(`--handler ${file}: its option --${name} clashes with nicring respond's own --${name}`);
  }
  return loaded;
}

export async function commandRespond(argv: string[]): Promise<number> {
  const handlerFile = handlerArgument(argv);
  // Loaded here for its options and to check it; every worker loads it again and runs its setup there.
  const module = handlerFile === undefined ? undefined : loadHandler(handlerFile);
  const { options } = parseArgs(argv, module === undefined ? RESPOND_OPTIONS : { ...RESPOND_OPTIONS, ...module.options });
  if (options.help) {
    let text = helpText('respond', '--iface IF --address IP/PREFIX --port N[,N...] [options]', RESPOND_OPTIONS,
      'Answers UDP on the given ports as a full host (ARP, ping, port unreachable), replying in the received frame,\n'
      + 'with one worker thread per NIC queue; with --tcp, echoes TCP on those ports too.\nRun it inside the namespace that holds the interface: ip netns exec NS nicring respond ...');
    if (module !== undefined && Object.keys(module.options).length > 0) text += `\n\nOptions of ${path.basename(module.file)}:\n${formatOptions(module.options)}`;
    console.log(text);
    return 0;
  }
  if (options.iface === undefined) throw new UsageError('--iface is required (the interface to answer on)');
  if (options.address === undefined) throw new UsageError('--address is required (the IPv4 address and prefix nicring answers for, e.g. 198.18.0.1/24)');
  const ports = parsePorts(options.port as string | undefined);
  const tcpPorts = options.tcp === undefined ? [] : parsePorts(options.tcp as string, '--tcp');
  if (module !== undefined && argv.some((arg) => arg === '--mode' || arg.startsWith('--mode='))) throw new UsageError('--mode and --handler exclude each other');
  const selection = queueSelection(options, true) ?? [options.queue as number];
  const cpus = options.cpus === undefined ? undefined : parseCpuList(options.cpus as string);
  try {
    new Ipv4Addressing(options.address as string, options.gateway as string | undefined);
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^(\w+) must/, '--$1 must'));
  }
  const service = module === undefined ? 'echo' : path.basename(module.file);
  const handlerOptions: ParsedOptions = {};
  if (module !== undefined) for (const name in module.options) handlerOptions[name] = options[name];
  const metricsTarget = options.metrics === undefined ? undefined : parseTarget(options.metrics as string, '--metrics');
  if (options.user !== undefined) lookupUser(options.user as string);
  requireRoot('nicring respond');

  const { queue: _queue, ...open } = openOptions(options);
  let queues: number[];
  try {
    queues = resolveQueues(options.iface as string, selection, open.backend);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const workerOptions: RespondWorkerOptions = {
    ports, tcpPorts, handler: module?.file, handlerOptions, warmupRequests: WARMUP_REQUESTS, warmupMs: WARMUP_MS,
    pcap: options.pcap === undefined ? undefined : path.resolve(options.pcap as string),
    severalQueues: queues.length > 1,
  };
  let responders;
  try {
    responders = await serve(options.iface as string, {
      module: builtinWorkerModule('respond'), queues, cpus, open, options: workerOptions,
      interface: {
        address: options.address as string,
        gateway: options.gateway as string | undefined,
        strictChecksums: options['strict-checksums'] === true,
        vlan: options.vlan as number | undefined,
        reassembly: { timeoutMs: (options['reassembly-timeout'] as number) * 1000 },
        loop: { batchSize: options.batch as number, busyPoll: options['busy-poll'] as boolean },
      },
    });
  } catch (error) {
    // The handler's setup refused (every worker runs it the same way): a usage error, as a bad option is.
    if ((error as Error).name === 'HandlerSetupError' || (error as Error).name === 'TcpEchoError') throw new UsageError((error as Error).message.replace(/^queue \d+: /, ''));
    throw error;
  }
  let metrics: MetricsServer | undefined;
  if (metricsTarget !== undefined) {
    try {
      metrics = await MetricsServer.start({
        host: metricsTarget.address, port: metricsTarget.port, read: () => responders.stats().then(counterGroups),
        info: { iface: responders.ports[0].name, backend: responders.ports[0].backend, mode: responders.ports[0].mode, service },
      });
    } catch (error) {
      await responders.close().catch(() => undefined);
      throw new UsageError(`--metrics ${metricsTarget.address}:${metricsTarget.port}: ${(error as Error).message}`);
    }
  }
  if (options.user !== undefined) dropPrivileges(options.user as string);

  const json = options.json as boolean;
  const live = new LiveLine(json);
  const [first] = responders.ports;
  // The TCP ports the handler module serves (DNS over TCP on its UDP ports), as every worker reported them.
  const initial = await responders.stats();
  const handlerTcpLabel = (initial.total.service as unknown as ResponderFigures).handlerTcpPorts ?? '';
  const handlerTcpPorts = [...new Set(String(handlerTcpLabel).split(',').filter((port) => port !== '').map(Number))];
  const servesTcp = tcpPorts.length > 0 || handlerTcpPorts.length > 0;
  const several = responders.queues.length > 1;
  // Every worker opened its port the same way: one warning for a fallback.
  const fallback = first.fallback;
  if (fallback !== null) warnOnFallback({ ...first, fallback });
  const vlan = first.vlan ?? 0;
  if (vlan !== 0 && first.backend === 'xdp') console.error(vlanOffloadWarning(vlan, first.name));
  const describe = {
    iface: first.name, address: options.address as string, ports, tcpPorts, ...(handlerTcpPorts.length > 0 ? { handlerTcpPorts } : {}), service, backend: first.backend, mode: first.mode,
    checksums: first.checksums, ...(vlan !== 0 ? { vlan } : {}), uid: process.getuid?.(),
    queues: [...responders.queues], cpus: cpus ?? null,
  };
  const where = several ? `${first.name} queues ${responders.queues.join(',')}` : first.name;
  const metricsUrl = metrics === undefined ? undefined : `http://${metricsTarget?.address}:${metrics.address.port}/metrics`;
  if (json) console.log(JSON.stringify({ event: 'ready', ...describe, fallback, ...(metricsUrl === undefined ? {} : { metrics: metricsUrl }) }));
  else console.log(`nicring respond: ${service} on ${describe.address.split('/')[0]} UDP ${ports.join(',')}${handlerTcpPorts.length > 0 ? ` and TCP ${handlerTcpPorts.join(',')}` : ''}`
    + `${tcpPorts.length > 0 ? `, TCP echo ${tcpPorts.join(',')}` : ''} `
    + `via ${where}${vlan !== 0 ? ` VLAN ${vlan}` : ''} (${first.backend} ${first.mode}, one worker per queue; checksums ${first.checksums}); `
    + `${metricsUrl === undefined ? '' : `metrics at ${metricsUrl}; `}Ctrl-C stops`);
  // Every worker watches the same link: say each change once.
  let linkState = 'up';
  responders.on('link', (state: string) => {
    if (state === linkState) return;
    linkState = state;
    if (json) console.log(JSON.stringify({ event: 'link', state }));
    else {
      live.end();
      console.log(`link ${state}`);
    }
  });

  const startMs = performance.now();
  const last = { ms: startMs, rx: 0, tx: 0, replies: 0 };
  // Once a second: the workers' figures, summed; the live line and the JSON show the sum, the JSON each queue too.
  const show = (event: string, stats: ServiceStats): void => {
    const now = performance.now();
    const total = stats.total;
    const counters = total.service as unknown as ResponderFigures;
    const seconds = Math.max(1e-3, (now - last.ms) / 1000);
    const stack = (total.stack ?? {}) as unknown as Record<string, number>;
    // TCP's figures: connections open now, accepted, reset by the peer, segments sent again.
    const tcp = {
      open: stack.tcpCurrentEstablished ?? 0, accepted: stack.tcpPassiveOpens ?? 0, reset: stack.tcpEstablishedResets ?? 0, retransmits: stack.tcpRetransmits ?? 0,
      segmentsReceived: stack.tcpSegmentsReceived ?? 0, segmentsSent: stack.tcpSegmentsSent ?? 0, synCookiesSent: stack.tcpSynCookiesSent ?? 0,
    };
    const fields = {
      event, seconds: +((now - startMs) / 1000).toFixed(3), ...describe,
      rx: total.device.rxFrames, tx: total.device.txFrames,
      rxPps: Math.round((total.device.rxFrames - last.rx) / seconds), txPps: Math.round((total.device.txFrames - last.tx) / seconds),
      requests: counters.requests ?? 0, replies: counters.replies ?? 0, requestsDropped: counters.requestsDropped ?? 0,
      replyPps: Math.round(((counters.replies ?? 0) - last.replies) / seconds),
      drops: dropsOf(counters, total.stack as unknown as Record<string, number> | undefined, total.device), pings: stack.icmpEchoRepliesSent ?? 0,
      udpChecksumPartial: stack.udpChecksumPartial ?? 0,
      gcEvents: total.gcEvents, gcEventsAfterWarmup: counters.gcEventsAfterWarmup ?? 0, gcAfterWarmupAtRequest: counters.gcAfterWarmupAtRequest ?? [],
      device: deviceCounts(total.device), kernel: total.device.kernel, stack: total.stack, caches: total.caches,
      unaccounted: total.stack === undefined ? undefined : unaccounted(total.stack), loop: total.loop,
      ...(counters.handler === undefined ? {} : { handler: counters.handler }),
      ...(servesTcp ? { tcp } : {}),
      perQueue: stats.queues.map(queueFigures),
    };
    last.ms = now;
    last.rx = fields.rx;
    last.tx = fields.tx;
    last.replies = fields.replies;
    if (json) {
      live.show('', fields);
      return;
    }
    let dropText = '';
    for (const reason in fields.drops) dropText += `${dropText ? ', ' : ''}${reason} ${fields.drops[reason]}`;
    live.show(`${where} ${first.backend} ${first.mode} | rx ${formatRate(fields.rxPps)}pps tx ${formatRate(fields.txPps)}pps | `
      + `requests ${fields.requests} replies ${fields.replies}${fields.udpChecksumPartial > 0 ? ` (partial checksums ${fields.udpChecksumPartial})` : ''} | `
      + (servesTcp ? `tcp open ${tcp.open} accepted ${tcp.accepted} reset ${tcp.reset} retrans ${tcp.retransmits} | ` : '')
      + `drops: ${dropText || 'none'}`, fields);
  };
  let asking = false;
  const ticker = setInterval(() => {
    if (asking) return;
    asking = true;
    responders.stats().then((stats) => show('stats', stats), () => undefined).finally(() => { asking = false; });
  }, 1000);
  const failed = responders.closed.then(() => null, (error: WorkerError) => error);
  const outcome = await Promise.race([untilStopped(options.duration as number), failed]);
  clearInterval(ticker);
  if (typeof outcome !== 'string') {
    await metrics?.close();
    live.end();
    const error = outcome as WorkerError;
    throw new Error(`the worker for queue ${error.queue} failed, every port is closed: ${error.message}`);
  }
  const final = await responders.close();
  await metrics?.close();
  show('final', final);
  live.end();
  if (!json) {
    const c = final.total.service as unknown as ResponderFigures;
    console.log(`stopped (${outcome}): ${c.requests ?? 0} requests, ${c.replies ?? 0} replies, ${c.requestsDropped ?? 0} dropped; `
      + `${final.total.gcEvents} GC events, ${c.gcEventsAfterWarmup ?? 0} after each worker's warm-up (its first ${WARMUP_REQUESTS} requests and ${WARMUP_MS / 1000} s of load)`
      + `${several ? `; per queue: ${final.queues.map((q) => `q${q.queue} ${(q.service as unknown as ResponderFigures).replies ?? 0}`).join(' ')} replies` : ''}`);
  }
  return 0;
}

/** What the responder worker module reports (see src/service/respond-worker.ts). */
interface ResponderFigures {
  requests?: number;
  replies?: number;
  requestBytes?: number;
  replyBytes?: number;
  requestsDropped?: number;
  dropped?: Record<string, number>;
  handler?: Record<string, number>;
  /** The TCP ports the handler serves, comma-separated (a label, the same on every queue). */
  handlerTcpPorts?: string;
  gcEventsAfterWarmup?: number;
  gcAfterWarmupAtRequest?: number[];
}

/** Every counter by group, summed over the queues, as the metrics name them (docs/metrics.md). */
function counterGroups(stats: ServiceStats): CounterGroups {
  const { kernel } = stats.total.device;
  const figures = stats.total.service as unknown as ResponderFigures;
  return {
    device: deviceCounts(stats.total.device), kernel, stack: stats.total.stack, caches: stats.total.caches,
    responder: { requests: figures.requests ?? 0, replies: figures.replies ?? 0, requestBytes: figures.requestBytes ?? 0, replyBytes: figures.replyBytes ?? 0 },
    responderDropped: figures.dropped ?? {}, loop: stats.total.loop, handler: figures.handler ?? null,
    gc: { events: stats.total.gcEvents, eventsAfterWarmup: figures.gcEventsAfterWarmup ?? 0 },
  };
}

/** The device's own counts, without its labels and the kernel's counters. */
function deviceCounts(stats: DeviceStats): Record<string, number> {
  const { backend: _backend, mode: _mode, kernel: _kernel, ...counts } = stats;
  return counts;
}

/** Device counters that count drops. */
const DEVICE_DROPS = ['rxDropped', 'txRingFull'] as const;

/**
 * Drops by reason: the responder's, the stack's counters that count drops,
 * not traffic, and the device's. Every name is unique across the three
 * (test/unit/service/counter-names.test.ts), so none hides another.
 */
function dropsOf(counters: ResponderFigures, stack: Record<string, number> | undefined, device?: DeviceStats): Record<string, number> {
  const drops: Record<string, number> = {};
  for (const name of DEVICE_DROPS) if (device !== undefined && device[name] > 0) drops[name] = device[name];
  for (const reason in counters.dropped ?? {}) {
    const count = (counters.dropped as Record<string, number>)[reason];
    if (count > 0) drops[reason] = count;
  }
  for (const name in stack ?? {}) {
    const count = (stack as Record<string, number>)[name];
    if (count > 0 && !STACK_TRAFFIC_COUNTERS.has(name) && (!name.startsWith('tcp') || TCP_DROPS.has(name))) drops[name] = count;
  }
  return drops;
}

/** One queue's line in the JSON breakdown. */
function queueFigures(q: QueueStats): Record<string, unknown> {
  const counters = q.service as unknown as ResponderFigures;
  return {
    queue: q.queue, cpus: q.cpus, rx: q.device.rxFrames, tx: q.device.txFrames,
    requests: counters.requests ?? 0, replies: counters.replies ?? 0, requestsDropped: counters.requestsDropped ?? 0,
    pings: q.stack?.icmpEchoRepliesSent ?? 0, arpReplies: q.stack?.arpRepliesSent ?? 0,
    drops: dropsOf(counters, q.stack as unknown as Record<string, number> | undefined, q.device),
    neighborsShared: q.neighbors?.sent ?? 0, neighborsAdopted: q.neighbors?.adopted ?? 0,
    gcEvents: q.gcEvents, gcEventsAfterWarmup: counters.gcEventsAfterWarmup ?? 0,
    tcpAccepted: q.stack?.tcpPassiveOpens ?? 0,
    ...(counters.handler === undefined ? {} : { handler: counters.handler }),
  };
}
