#!/usr/bin/env node
// The nicring command line: lab, sink, demo (and the services as they land).

import './heap-settings';
import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as path from 'node:path';
import { open } from '../src/index';
import * as labs from '../src/lab';
import { packageRoot } from '../src/native';
import { Sink } from '../src/service/sink';
import { builtinWorkerModule, serve, type ServiceStats } from '../src/service/serve';
import { buildRequestFrame } from '../src/service/generator';
import { runLiveFrames } from '../src/service/live-frames';
import { readMacAddress } from '../src/phy/xdp';
import { parseMac } from '../src/wire/ethernet';
import { parseIpv4 } from '../src/wire/ipv4';
import { UsageError, parseArgs, type OptionSpecs, type ParsedOptions } from './args';
import { LiveLine, formatRate, helpText } from './output';
import { OPEN_OPTIONS, QUEUES_OPTIONS, openOptions, parseCpuList, parseTarget, queueSelection, requireRoot, untilStopped, warnOnFallback } from './common';
import { commandRespond } from './respond';
import { commandGen } from './gen';
import { commandBench } from './bench';

const LAB_OPTIONS: OptionSpecs = {
  name: { kind: 'string', help: 'lab name (1-12 lowercase letters or digits)', default: 'lab', meta: 'NAME' },
  queues: { kind: 'integer', help: 'queues on each veth end', default: 1, min: 1, max: 64, meta: 'N' },
  all: { kind: 'boolean', help: 'with down: remove every lab nicring made, orphans included' },
  json: { kind: 'boolean', help: 'print JSON' },
  help: { kind: 'boolean', help: 'show this help' },
};

const PORT_OPTIONS: OptionSpecs = {
  ...OPEN_OPTIONS,
  ...QUEUES_OPTIONS,
  batch: { kind: 'integer', help: 'frames per receive batch', default: 64, min: 1, max: 1024, meta: 'N' },
  'busy-poll': { kind: 'boolean', help: 'poll every loop turn instead of waiting for the fd' },
  duration: { kind: 'number', help: 'stop after this many seconds (0: until SIGINT/SIGTERM)', default: 0, min: 0, meta: 'SECONDS' },
  json: { kind: 'boolean', help: 'print one JSON object per second instead of a live line' },
  help: { kind: 'boolean', help: 'show this help' },
};

const DEMO_OPTIONS: OptionSpecs = {
  duration: { kind: 'number', help: 'seconds of traffic', default: 10, min: 1, max: 600, meta: 'SECONDS' },
  rate: { kind: 'integer', help: 'requests per second offered by the generator', default: 100000, min: 1, max: 10000000, meta: 'PPS' },
  'xdp-mode': { kind: 'string', help: 'AF_XDP attach mode', default: 'auto', choices: ['auto', 'native', 'generic'] },
  help: { kind: 'boolean', help: 'show this help' },
};

const SEND_OPTIONS: OptionSpecs = {
  target: { kind: 'string', help: 'destination', meta: 'IP:PORT' },
  count: { kind: 'integer', help: 'datagrams to send', default: 100000, min: 1, max: 100000000, meta: 'N' },
  rate: { kind: 'integer', help: 'datagrams per second', default: 10000, min: 1, max: 10000000, meta: 'PPS' },
  size: { kind: 'integer', help: 'payload bytes', default: 64, min: 0, max: 1472, meta: 'BYTES' },
  duration: { kind: 'number', help: 'stop after this many seconds at the latest', default: 60, min: 0.1, max: 3600, meta: 'SECONDS' },
  help: { kind: 'boolean', help: 'show this help' },
};

const FLOOD_OPTIONS: OptionSpecs = {
  iface: { kind: 'string', help: 'interface to send from (run inside its namespace)', meta: 'IF' },
  'dst-mac': { kind: 'string', help: 'destination MAC', meta: 'MAC' },
  source: { kind: 'string', help: 'source IPv4 address', meta: 'IP' },
  target: { kind: 'string', help: 'destination', meta: 'IP:PORT' },
  count: { kind: 'integer', help: 'frames to send', default: 1000000, min: 1, max: 100000000, meta: 'N' },
  duration: { kind: 'number', help: 'stop after this many seconds at the latest', default: 10, min: 0.1, max: 3600, meta: 'SECONDS' },
  rate: { kind: 'integer', help: 'frames per second (0: flat out)', default: 0, min: 0, max: 100000000, meta: 'PPS' },
  size: { kind: 'integer', help: 'UDP payload bytes', default: 18, min: 12, max: 1472, meta: 'BYTES' },
  json: { kind: 'boolean', help: 'print the result as JSON' },
  help: { kind: 'boolean', help: 'show this help' },
};

const USAGE = `nicring: kernel-bypass networking for Node.js

Usage:
  nicring respond --iface IF --address IP/PREFIX --port N[,N...]   the UDP responder (a full host)
  nicring gen --iface IF --address IP/PREFIX --target IP:PORT      bounded UDP load, counts replies
  nicring bench [--quick]                               responders compared in the lab (nicring, dgram, C)
  nicring lab up|down|status [--name NAME] [--queues N] [--all] [--json]
  nicring sink --iface IF [--duration S] [--json] ...   receive and recycle, with live figures
  nicring demo [--duration S] [--rate PPS]              the responder in a lab under load, live
  nicring udp-send --target IP:PORT [--count N] [--rate PPS]   bounded kernel UDP sender
  nicring flood --iface IF --dst-mac MAC --source IP --target IP:PORT [--count N] [--duration S]
                                                        in-kernel UDP flood (live frames), bounded
  nicring help COMMAND

Run "nicring COMMAND --help" for a command's options.`;

const help = helpText;

function printLab(lab: labs.Lab): void {
  console.log(`lab ${lab.name} (${lab.queues} queue${lab.queues > 1 ? 's' : ''})`);
  console.log(`  nicring side: netns ${lab.nicring.netns}  ${lab.nicring.ifname}  ${lab.nicring.mac}  ${lab.nicring.address} (held by nicring, not the kernel)`);
  console.log(`  peer side:    netns ${lab.peer.netns}  ${lab.peer.ifname}  ${lab.peer.mac}  ${lab.peer.address}`);
}

function commandLab(argv: string[]): number {
  const { options, positionals } = parseArgs(argv, LAB_OPTIONS);
  if (options.help || positionals.length === 0) {
    console.log(help('lab', 'up|down|status', LAB_OPTIONS));
    return options.help ? 0 : 2;
  }
  const action = positionals[0];
  const name = options.name as string;
  requireRoot('nicring lab');
  if (action === 'up') {
    const lab = labs.labUp({ name, queues: options.queues as number });
    if (options.json) console.log(JSON.stringify(lab, null, 2));
    else printLab(lab);
    return 0;
  }
  if (action === 'down') {
    const removed = options.all ? labs.labDownAll() : (labs.labDown(name) ? [name] : []);
    if (options.json) console.log(JSON.stringify({ removed }));
    else console.log(removed.length === 0 ? 'no lab to remove' : `removed ${removed.join(', ')}`);
    return 0;
  }
  if (action === 'status') {
    const list = argv.some((arg) => arg === '--name' || arg.startsWith('--name=')) ? [labs.labStatus(name)].filter((l): l is labs.Lab => l !== null) : labs.listLabs();
    if (options.json) console.log(JSON.stringify(list, null, 2));
    else if (list.length === 0) console.log('no lab');
    else list.forEach(printLab);
    return list.length === 0 && argv.includes('--name') ? 1 : 0;
  }
  throw new UsageError(`unknown lab action "${action}" (up, down or status)`);
}

function commandSink(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, PORT_OPTIONS);
  if (options.help) {
    console.log(help('sink', '--iface IF [options]', PORT_OPTIONS));
    return Promise.resolve(0);
  }
  if (options.iface === undefined) throw new UsageError('--iface is required (the interface to receive on)');
  const queues = queueSelection(options, false);
  if (queues !== null) return commandSinkQueues(options, queues);
  const device = open(options.iface as string, openOptions(options));
  warnOnFallback(device);
  const sink = new Sink(device, { batchSize: options.batch as number, busyPoll: options['busy-poll'] as boolean });
  const live = new LiveLine(options.json as boolean);
  const startMs = performance.now();
  let lastFrames = 0;
  let lastMs = startMs;
  const report = (final: boolean): void => {
    const now = performance.now();
    const frames = sink.counters.frames;
    const pps = ((frames - lastFrames) * 1000) / Math.max(1, now - lastMs);
    lastFrames = frames;
    lastMs = now;
    const kernel = device.stats().kernel;
    const fields = {
      event: final ? 'final' : 'stats', seconds: +((now - startMs) / 1000).toFixed(3), rx: frames, pps: Math.round(pps),
      rxBytes: sink.counters.bytes, backend: device.backend, mode: device.mode,
      kernelRxDropped: kernel.xdpRxDropped ?? 0, rxRingFull: kernel.xdpRxRingFull ?? 0, fillRingEmpty: kernel.xdpRxFillRingEmptyDescs ?? 0,
    };
    const text = `${device.name} ${device.backend} ${device.mode} | rx ${formatRate(pps)}pps | total ${frames} | kernel drops ${fields.kernelRxDropped} ring-full ${fields.rxRingFull} fill-empty ${fields.fillRingEmpty}`;
    live.show(final ? `${text} | final` : text, fields);
  };
  sink.start();
  if (options.json) console.log(JSON.stringify({ event: 'ready', iface: device.name, backend: device.backend, mode: device.mode }));
  return new Promise((resolve) => {
    const ticker = setInterval(() => report(false), 1000);
    const finish = (): void => {
      clearInterval(ticker);
      if (deadline) clearTimeout(deadline);
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      sink.stop();
      report(true);
      live.end();
      device.close();
      resolve(0);
    };
    const duration = options.duration as number;
    const deadline = duration > 0 ? setTimeout(finish, duration * 1000) : null;
    process.on('SIGINT', finish);
    process.on('SIGTERM', finish);
  });
}

/** The sink on several queues: one worker thread each, the live line summing them. */
async function commandSinkQueues(options: ParsedOptions, queues: 'all' | number[]): Promise<number> {
  const { queue: _queue, ...open } = openOptions(options);
  const service = await serve(options.iface as string, {
    module: builtinWorkerModule('sink'),
    queues, cpus: options.cpus === undefined ? undefined : parseCpuList(options.cpus as string), open,
    options: { batchSize: options.batch as number, busyPoll: options['busy-poll'] as boolean },
  });
  const json = options.json as boolean;
  const live = new LiveLine(json);
  const [first] = service.ports;
  if (first.fallback !== null) warnOnFallback({ ...first, fallback: first.fallback });
  if (json) console.log(JSON.stringify({ event: 'ready', iface: first.name, backend: first.backend, mode: first.mode, queues: service.queues }));
  const startMs = performance.now();
  let lastFrames = 0;
  let lastMs = startMs;
  const report = (stats: ServiceStats, final: boolean): void => {
    const now = performance.now();
    const frames = stats.total.service.frames as number;
    const pps = ((frames - lastFrames) * 1000) / Math.max(1, now - lastMs);
    lastFrames = frames;
    lastMs = now;
    const kernel = stats.total.device.kernel;
    const fields = {
      event: final ? 'final' : 'stats', seconds: +((now - startMs) / 1000).toFixed(3), rx: frames, pps: Math.round(pps),
      rxBytes: stats.total.service.bytes, backend: first.backend, mode: first.mode,
      kernelRxDropped: kernel.xdpRxDropped ?? 0, rxRingFull: kernel.xdpRxRingFull ?? 0, fillRingEmpty: kernel.xdpRxFillRingEmptyDescs ?? 0,
      perQueue: stats.queues.map((q) => ({ queue: q.queue, rx: q.service.frames, rxBytes: q.service.bytes, kernelRxDropped: q.device.kernel.xdpRxDropped ?? 0 })),
    };
    const text = `${first.name} ${first.backend} ${first.mode} ${service.queues.length} queues | rx ${formatRate(pps)}pps | total ${frames} `
      + `(${stats.queues.map((q) => `q${q.queue} ${q.service.frames}`).join(' ')}) | kernel drops ${fields.kernelRxDropped} ring-full ${fields.rxRingFull} fill-empty ${fields.fillRingEmpty}`;
    live.show(final ? `${text} | final` : text, fields);
  };
  const ticker = setInterval(() => {
    service.stats().then((stats) => report(stats, false), () => undefined);
  }, 1000);
  const stopped = untilStopped(options.duration as number);
  const failed = service.closed.then(() => null, (error: Error) => error);
  const outcome = await Promise.race([stopped, failed]);
  clearInterval(ticker);
  if (outcome instanceof Error) throw outcome;
  const final = await service.close();
  report(final, true);
  live.end();
  return 0;
}

function commandUdpSend(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, SEND_OPTIONS);
  if (options.help) {
    console.log(help('udp-send', '--target IP:PORT [options]', SEND_OPTIONS));
    return Promise.resolve(0);
  }
  const { address, port } = parseTarget(options.target as string | undefined);
  const count = options.count as number;
  const rate = options.rate as number;
  const payload = Buffer.alloc(options.size as number, 0x5a);
  const socket = dgram.createSocket('udp4');
  const startMs = performance.now();
  const deadlineMs = startMs + (options.duration as number) * 1000;
  let sent = 0;
  let errors = 0;
  return new Promise((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(count, Math.floor(((now - startMs) * rate) / 1000) + 1);
      let inFlight = 0;
      while (sent < due && inFlight < 4096) {
        if (payload.length >= 4) payload.writeUInt32BE(sent, 0);
        socket.send(payload, port, address, (error) => {
          if (error) errors++;
        });
        sent++;
        inFlight++;
      }
      if (sent >= count || now >= deadlineMs) {
        socket.close(() => {
          console.log(JSON.stringify({ sent, errors, seconds: +((performance.now() - startMs) / 1000).toFixed(3) }));
          resolve(0);
        });
        return;
      }
      setTimeout(tick, 1);
    };
    tick();
  });
}

async function commandFlood(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, FLOOD_OPTIONS);
  if (options.help) {
    console.log(help('flood', '--iface IF --dst-mac MAC --source IP --target IP:PORT [options]', FLOOD_OPTIONS));
    return 0;
  }
  if (options.iface === undefined) throw new UsageError('--iface is required (the interface to send from)');
  const destinationMac = parseMac(String(options['dst-mac'] ?? ''));
  if (destinationMac === null) throw new UsageError(`--dst-mac must be a MAC address like 02:00:00:00:00:01, got "${options['dst-mac'] ?? ''}"`);
  const sourceAddress = parseIpv4(String(options.source ?? ''));
  if (sourceAddress === null) throw new UsageError(`--source must be an IPv4 address, got "${options.source ?? ''}"`);
  const target = parseTarget(options.target as string | undefined);
  const ifname = options.iface as string;
  const sourceMac = parseMac(readMacAddress(ifname)) ?? 0;
  const size = options.size as number;
  const frame = buildRequestFrame({
    sourceMac, destinationMac, sourceAddress, destinationAddress: parseIpv4(target.address) as number, destinationPort: target.port,
    sourcePortBase: 40000, sourcePorts: 1, payloadSize: size, count: 1, durationMs: 1, rate: 0, batchSize: 1,
  });
  const live = new LiveLine(options.json as boolean);
  let last = 0;
  let lastMs = performance.now();
  const result = await runLiveFrames({
    ifname, frame, count: options.count as number, durationMs: (options.duration as number) * 1000, rate: options.rate as number,
    onProgress: (sent) => {
      const now = performance.now();
      if (now - lastMs < 1000) return;
      live.show(`${ifname} flood | ${formatRate(((sent - last) * 1000) / (now - lastMs))}pps | sent ${sent}`, { event: 'progress', sent });
      last = sent;
      lastMs = now;
    },
  });
  live.end();
  const summary = { event: 'final', sent: result.sent, seconds: +result.seconds.toFixed(3), pps: Math.round(result.sent / Math.max(result.seconds, 1e-6)) };
  console.log(options.json ? JSON.stringify(summary) : `sent ${summary.sent} frames in ${summary.seconds} s (${formatRate(summary.pps)}pps)`);
  return 0;
}

function nicringScript(): string {
  return path.resolve(__dirname, path.basename(__filename));
}

function nodeArgs(): string[] {
  // Under tsx (development) the child needs the same loader.
  return __filename.endsWith('.ts') ? ['--import', 'tsx'] : [];
}

async function commandDemo(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, DEMO_OPTIONS);
  if (options.help) {
    console.log(help('demo', '[options]', DEMO_OPTIONS, 'Brings up a lab, runs `nicring respond` (echo) on its nicring side with live figures, loads it\nfrom the peer side with `nicring gen` for the given time, prints the generator\'s report, and removes the lab.'));
    return 0;
  }
  requireRoot('nicring demo');
  const duration = options.duration as number;
  const lab = labs.labUp({ name: 'demo' });
  printLab(lab);
  const children: ChildProcess[] = [];
  const exited = (child: ChildProcess): Promise<number> => new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code ?? 1));
  });
  try {
    const responder = spawn('ip', ['netns', 'exec', lab.nicring.netns, process.execPath, ...nodeArgs(), nicringScript(), 'respond', '--iface', lab.nicring.ifname,
      '--address', lab.nicring.address, '--port', '9000', '--xdp-mode', options['xdp-mode'] as string], { stdio: ['ignore', 'inherit', 'inherit'] });
    children.push(responder);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    if (responder.exitCode !== null) throw new Error('the responder did not start (see above)');
    const generator = spawn('ip', ['netns', 'exec', lab.peer.netns, process.execPath, ...nodeArgs(), nicringScript(), 'gen', '--iface', lab.peer.ifname,
      '--address', lab.peer.address, '--target', `${lab.nicring.ip}:9000`, '--rate', String(options.rate),
      '--count', String(Math.ceil((options.rate as number) * duration)), '--duration', String(duration), '--size', '64'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(generator);
    let report = '';
    generator.stdout?.on('data', (chunk: Buffer) => { report += chunk.toString(); });
    const genCode = await exited(generator);
    responder.kill('SIGINT');
    const responderCode = await exited(responder);
    console.log(`\ngenerator (peer side, ${lab.peer.address}):`);
    console.log(report.trim().split('\n').filter((line) => !line.startsWith('gen ')).map((line) => `  ${line}`).join('\n'));
    return genCode === 0 && responderCode === 0 ? 0 : 1;
  } finally {
    for (const child of children) if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    labs.labDown(lab.name);
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'lab': return commandLab(rest);
    case 'respond': return commandRespond(rest);
    case 'gen': return commandGen(rest);
    case 'bench': return commandBench(rest);
    case 'sink': return commandSink(rest);
    case 'demo': return commandDemo(rest);
    case 'udp-send': return commandUdpSend(rest);
    case 'flood': return commandFlood(rest);
    case 'help':
      if (rest.length > 0) return main([rest[0], '--help']);
      console.log(USAGE);
      return 0;
    case undefined:
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    case '--version':
    case 'version':
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      console.log(require(path.join(packageRoot(), 'package.json')).version);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}" (see nicring --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error: Error) => {
    console.error(`nicring: ${error.message}`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
