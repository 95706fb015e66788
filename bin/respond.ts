// nicring respond: the UDP responder service on one port, with live figures.

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { Interface } from '../src/iface/interface';
import { open } from '../src/index';
import { captureDevice } from '../src/phy/capture';
import type { Device } from '../src/phy/device';
import { MetricsServer } from '../src/service/metrics';
import { Responder, echoHandler, loadHandlerModule, responderCounterGroups, setupHandler, type LoadedHandlerModule, type ResponderHandler } from '../src/service/responder';
import { startTcpEcho } from '../src/service/tcp-echo';
import type { TcpServer } from '../src/socket/tcp';
import { TCP_DROP_REASONS } from '../src/tcp/drops';
import { UsageError, formatOptions, parseArgs, type OptionSpecs, type ParsedOptions } from './args';
import { OPEN_OPTIONS, openOptions, parseTarget, requireRoot, untilStopped, warnOnFallback } from './common';
import { LiveLine, formatRate, helpText } from './output';

export const RESPOND_OPTIONS: OptionSpecs = {
  ...OPEN_OPTIONS,
  // Deep rings absorb the bursts a high-rate service sees (32 MiB of UMEM at 8192).
  'ring-size': { ...OPEN_OPTIONS['ring-size'], default: 8192 },
  address: { kind: 'string', help: 'the address nicring answers for, with its prefix', meta: 'IP/PREFIX' },
  gateway: { kind: 'string', help: 'default gateway (on the subnet)', meta: 'IP' },
  vlan: { kind: 'integer', help: 'serve one 802.1Q VLAN: take only frames tagged with it, tag every frame sent', min: 1, max: 4094, meta: 'ID' },
  port: { kind: 'string', help: 'UDP port(s) to answer on', meta: 'N[,N...]' },
  tcp: { kind: 'string', help: 'TCP port(s) to run an echo service on, beside UDP', meta: 'N[,N...]' },
  mode: { kind: 'string', help: 'built-in service', default: 'echo', choices: ['echo'] },
  handler: { kind: 'string', help: 'handler module (see docs/handlers.md): writes each reply in place; may add options of its own', meta: 'FILE' },
  batch: { kind: 'integer', help: 'frames per receive batch', default: 64, min: 1, max: 1024, meta: 'N' },
  'busy-poll': { kind: 'boolean', help: 'poll every loop turn instead of waiting for the fd' },
  'strict-checksums': { kind: 'boolean', help: "verify every UDP checksum in full, even the partial ones a same-host peer on a virtual link sends (they are dropped as udpBadChecksum)" },
  pcap: { kind: 'string', help: 'write every frame in and out to this pcap file', meta: 'FILE' },
  user: { kind: 'string', help: 'drop root to this user once the port is open', meta: 'NAME' },
  duration: { kind: 'number', help: 'stop after this many seconds (0: until SIGINT/SIGTERM)', default: 0, min: 0, meta: 'SECONDS' },
  json: { kind: 'boolean', help: 'one JSON object per second instead of a live line' },
  metrics: { kind: 'string', help: 'serve every counter in the Prometheus text format at http://HOST:PORT/metrics (see docs/metrics.md)', meta: 'HOST:PORT' },
  help: { kind: 'boolean', help: 'show this help' },
};

/** TCP counters that are drop reasons (the other tcp* counters are traffic, shown on their own). */
const TCP_DROPS: ReadonlySet<string> = new Set(TCP_DROP_REASONS);

/** Requests after which the hot path counts as warmed up (for gcEventsAfterWarmup). */
const WARMUP_REQUESTS = 100_000;
/** How many GC events after warm-up the figures place (by request count). */
const GC_TIMES_KEPT = 10;

/** Stack counters that count traffic, not drops. */
const TRAFFIC_COUNTERS = new Set([
  'framesReceived', 'framesSent', 'arpRequestsReceived', 'arpRepliesReceived', 'arpRepliesSent', 'arpRequestsSent', 'arpGratuitousSent',
  'arpEntriesExpired', 'ipv4Received', 'ipv4FragmentsReceived', 'ipv4Reassembled', 'ipv4Sent', 'ipv4Fragmented', 'ipv4FragmentsSent',
  'icmpReceived', 'icmpEchoRequests', 'icmpEchoRepliesSent', 'icmpErrorsReceived', 'icmpErrorsSent', 'udpReceived', 'udpChecksumPartial', 'udpSent', 'udpIcmpErrorsReported',
  'udpRepliesInPlace', 'linkDown', 'linkUp', 'linkAbsent',
]);

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
  const module = handlerFile === undefined ? undefined : loadHandler(handlerFile);
  const { options } = parseArgs(argv, module === undefined ? RESPOND_OPTIONS : { ...RESPOND_OPTIONS, ...module.options });
  if (options.help) {
    let text = helpText('respond', '--iface IF --address IP/PREFIX --port N[,N...] [options]', RESPOND_OPTIONS,
      'Answers UDP on the given ports as a full host (ARP, ping, port unreachable), replying in the received frame;\nwith --tcp, echoes TCP on those ports too.\nRun it inside the namespace that holds the interface: ip netns exec NS nicring respond ...');
    if (module !== undefined && Object.keys(module.options).length > 0) text += `\n\nOptions of ${path.basename(module.file)}:\n${formatOptions(module.options)}`;
    console.log(text);
    return 0;
  }
  if (options.iface === undefined) throw new UsageError('--iface is required (the interface to answer on)');
  if (options.address === undefined) throw new UsageError('--address is required (the IPv4 address and prefix nicring answers for, e.g. 198.18.0.1/24)');
  const ports = parsePorts(options.port as string | undefined);
  const tcpPorts = options.tcp === undefined ? [] : parsePorts(options.tcp as string, '--tcp');
  if (module !== undefined && argv.some((arg) => arg === '--mode' || arg.startsWith('--mode='))) throw new UsageError('--mode and --handler exclude each other');
  const service = module === undefined ? 'echo' : path.basename(module.file);
  const handlerOptions: ParsedOptions = {};
  if (module !== undefined) for (const name in module.options) handlerOptions[name] = options[name];
  const metricsTarget = options.metrics === undefined ? undefined : parseTarget(options.metrics as string, '--metrics');
  if (options.user !== undefined) lookupUser(options.user as string);
  requireRoot('nicring respond');

  let device: Device = open(options.iface as string, openOptions(options));
  warnOnFallback(device);
  if (options.pcap !== undefined) device = captureDevice(device, path.resolve(options.pcap as string));
  let iface: Interface;
  try {
    iface = new Interface(device, {
      address: options.address as string,
      gateway: options.gateway as string | undefined,
      strictChecksums: options['strict-checksums'] === true,
      vlan: options.vlan as number | undefined,
      loop: { batchSize: options.batch as number, busyPoll: options['busy-poll'] as boolean },
    });
  } catch (error) {
    device.close();
    throw new UsageError((error as Error).message.replace(/^(\w+) must/, '--$1 must'));
  }
  if (iface.vlan !== 0 && device.backend === 'xdp') console.error(vlanOffloadWarning(iface.vlan, device.name));
  let handler: ResponderHandler = echoHandler;
  if (module !== undefined) {
    try {
      handler = await setupHandler(module, { options: handlerOptions, iface, queue: (options.queue as number | undefined) ?? 0 });
    } catch (error) {
      iface.close();
      throw new UsageError(`--handler ${module.file}: ${(error as Error).message}`);
    }
  }
  const responder = new Responder(iface, { ports, handler, allowLargerReplies: module?.allowLargerReplies === true });
  iface.start();
  let tcpServers: TcpServer[] = [];
  try {
    tcpServers = await startTcpEcho(iface, tcpPorts);
  } catch (error) {
    responder.close();
    iface.close();
    throw new UsageError(`--tcp: ${(error as Error).message}`);
  }
  if (options.user !== undefined) dropPrivileges(options.user as string);

  // GC events in all, and after the first WARMUP_REQUESTS (while the JIT settles, the first moments of traffic allocate),
  // with the request count each of those came at (the first few): early ones are the JIT still at work.
  let gcEvents = 0;
  let gcEventsWarm = 0;
  const gcAfterWarmupAtRequest: number[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    const entries = list.getEntries();
    gcEvents += entries.length;
    if (responder.counters.requests < WARMUP_REQUESTS) return;
    gcEventsWarm += entries.length;
    for (let i = 0; i < entries.length && gcAfterWarmupAtRequest.length < GC_TIMES_KEPT; i++) gcAfterWarmupAtRequest.push(responder.counters.requests);
  });
  gcObserver.observe({ entryTypes: ['gc'] });

  // Every counter, by group: the JSON lines and the metrics are both made from these objects.
  const readCounters = () => ({ ...responderCounterGroups(responder), gc: { events: gcEvents, eventsAfterWarmup: gcEventsWarm } });
  let metrics: MetricsServer | undefined;
  if (metricsTarget !== undefined) {
    try {
      metrics = await MetricsServer.start({
        host: metricsTarget.address, port: metricsTarget.port, read: readCounters,
        info: { iface: device.name, backend: device.backend, mode: device.mode, service },
      });
    } catch (error) {
      gcObserver.disconnect();
      iface.close();
      throw new UsageError(`--metrics ${metricsTarget.address}:${metricsTarget.port}: ${(error as Error).message}`);
    }
  }

  const json = options.json as boolean;
  const live = new LiveLine(json);
  const checksums = iface.checksums.acceptPartial ? `partial accepted (${device.checksums.reason})` : device.checksums.rx === 'partial' ? 'strict' : 'full';
  const describe = {
    iface: device.name, address: iface.address, ports, tcpPorts, service, backend: device.backend, mode: device.mode, checksums, ...(iface.vlan !== 0 ? { vlan: iface.vlan } : {}),
    uid: process.getuid?.(),
  };
  const metricsUrl = metrics === undefined ? undefined : `http://${metricsTarget?.address}:${metrics.address.port}/metrics`;
  if (json) console.log(JSON.stringify({ event: 'ready', ...describe, fallback: device.fallback ?? null, ...(metricsUrl === undefined ? {} : { metrics: metricsUrl }) }));
  else console.log(`nicring respond: ${service} on ${iface.address} UDP ${ports.join(',')}${tcpPorts.length > 0 ? `, TCP echo ${tcpPorts.join(',')}` : ''} via ${device.name}${iface.vlan !== 0 ? ` VLAN ${iface.vlan}` : ''} `
    + `(${device.backend} ${device.mode}; checksums ${checksums}); ${metricsUrl === undefined ? '' : `metrics at ${metricsUrl}; `}Ctrl-C stops`);
  iface.on('link', (state: string) => {
    if (json) console.log(JSON.stringify({ event: 'link', state }));
    else {
      live.end();
      console.log(`link ${state}`);
    }
  });

  const startMs = performance.now();
  const last = { ms: startMs, rx: 0, tx: 0, replies: 0 };
  // Once a second: it reads the responder's counters in place and builds only the line it prints, to keep the service's garbage small.
  const snapshot = (event: string): void => {
    const now = performance.now();
    const read = readCounters();
    const deviceStats = read.device;
    const stack = read.stack as unknown as Record<string, number>;
    const counters = responder.counters;
    const seconds = Math.max(1e-3, (now - last.ms) / 1000);
    const drops: Record<string, number> = {};
    for (const reason in counters.dropped) {
      const count = counters.dropped[reason as keyof typeof counters.dropped];
      if (count > 0) drops[reason] = count;
    }
    for (const name in stack) if (stack[name] > 0 && !TRAFFIC_COUNTERS.has(name) && (!name.startsWith('tcp') || TCP_DROPS.has(name))) drops[name] = stack[name];
    // TCP's figures: connections open now, accepted, reset by the peer, segments sent again.
    const tcp = {
      open: stack.tcpCurrentEstablished, accepted: stack.tcpPassiveOpens, reset: stack.tcpEstablishedResets, retransmits: stack.tcpRetransmits,
      segmentsReceived: stack.tcpSegmentsReceived, segmentsSent: stack.tcpSegmentsSent, synCookiesSent: stack.tcpSynCookiesSent,
    };
    const fields = {
      event, seconds: +((now - startMs) / 1000).toFixed(3), ...describe,
      rx: deviceStats.rxFrames, tx: deviceStats.txFrames,
      rxPps: Math.round((deviceStats.rxFrames - last.rx) / seconds), txPps: Math.round((deviceStats.txFrames - last.tx) / seconds),
      requests: counters.requests, replies: counters.replies, requestsDropped: responder.droppedTotal(),
      replyPps: Math.round((counters.replies - last.replies) / seconds),
      drops, pings: stack.icmpEchoRepliesSent ?? 0, udpChecksumPartial: stack.udpChecksumPartial ?? 0, gcEvents, gcEventsAfterWarmup: gcEventsWarm, gcAfterWarmupAtRequest,
      kernel: read.kernel, loop: read.loop,
      ...(read.handler === null ? {} : { handler: read.handler }),
      ...(tcpPorts.length > 0 ? { tcp } : {}),
    };
    last.ms = now;
    last.rx = deviceStats.rxFrames;
    last.tx = deviceStats.txFrames;
    last.replies = counters.replies;
    if (json) {
      live.show('', fields);
      return;
    }
    let dropText = '';
    for (const reason in drops) dropText += `${dropText ? ', ' : ''}${reason} ${drops[reason]}`;
    live.show(`${device.name} ${device.backend} ${device.mode} | rx ${formatRate(fields.rxPps)}pps tx ${formatRate(fields.txPps)}pps | `
      + `requests ${counters.requests} replies ${counters.replies}${fields.udpChecksumPartial > 0 ? ` (partial checksums ${fields.udpChecksumPartial})` : ''} | `
      + (tcpPorts.length > 0 ? `tcp open ${tcp.open} accepted ${tcp.accepted} reset ${tcp.reset} retrans ${tcp.retransmits} | ` : '')
      + `drops: ${dropText || 'none'}`, fields);
  };
  const ticker = setInterval(() => snapshot('stats'), 1000);
  const why = await untilStopped(options.duration as number);
  clearInterval(ticker);
  for (const server of tcpServers) server.close();
  responder.close();
  iface.flush();
  snapshot('final');
  live.end();
  if (!json) {
    const c = responder.snapshot();
    console.log(`stopped (${why}): ${c.requests} requests, ${c.replies} replies, ${responder.droppedTotal()} dropped; `
      + `${gcEvents} GC events, ${gcEventsWarm} after the first ${WARMUP_REQUESTS} requests`);
  }
  gcObserver.disconnect();
  await metrics?.close();
  iface.close();
  return 0;
}
