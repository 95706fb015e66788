// The DNS example against a kernel-socket DNS server, in the same run.
//
// Both serve examples/dns/example.zone on nicring's side of one lab, in turn,
// round after round: `nicring respond --handler examples/dns/index.js` (rate
// limiting off), then NSD (Debian's nsd, one server process, rate limiting
// off) with the lab address added to the kernel of nicring's namespace for
// its run only. Each server runs on CPU 0; dnsperf (Debian's dnsperf), in the
// peer namespace on CPU 1, loads it:
//
// - throughput: dnsperf unpaced (up to 100 queries outstanding) for
//   --seconds; queries per second, median over rounds, and the ratio;
// - latency: dnsperf paced at --rate queries per second with -v, which
//   prints every query's latency; percentiles over all rounds;
// - over TCP: dnsperf -m tcp unpaced (one connection, up to 100 queries
//   outstanding on it, pipelined) for --seconds; queries per second.
//
//   sudo npx tsx bench/dns.ts [--rounds 3] [--seconds 5] [--rate 20000] [--latency-seconds 5]
//
// Writes bench/out/dns.json and prints a table.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canRunLab, execIn, labDown, labUp, type Lab } from '../src/lab';
import { packageRoot } from '../src/native';
import { nicringCommand } from './pps';

const ROOT = packageRoot();
const ZONE = path.join(ROOT, 'examples', 'dns', 'example.zone');
const HANDLER = path.join(ROOT, 'examples', 'dns', 'index.js');
const SERVER_CPU = 0;
const LOAD_CPU = 1;
/** The queries dnsperf cycles through: answers, a CNAME chain, a referral, NXDOMAIN and NODATA. */
const QUERIES = [
  'www.example.test A', 'web.example.test A', 'example.test MX', 'example.test NS', 'example.test SOA', 'text.example.test TXT',
  'ns2.example.test AAAA', 'alias.example.test A', 'nope.example.test A', 'mail.example.test AAAA', 'www.child.example.test A',
];

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 && at + 1 < process.argv.length ? Number(process.argv[at + 1]) : fallback;
  if (!(value > 0)) throw new Error(`--${name} must be a positive number`);
  return value;
}

type ServerName = 'nicring' | 'nsd';

interface Running {
  child: ChildProcess;
  stop(): Promise<void>;
}

function startProcess(netns: string, command: string[], log: string): Running {
  const out = fs.openSync(log, 'a');
  const child = spawn('ip', ['netns', 'exec', netns, 'taskset', '-c', String(SERVER_CPU), ...command], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Wait until the server answers dig from the peer. */
async function untilAnswering(lab: Lab, server: Running): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (server.child.exitCode !== null) throw new Error('the server exited before it answered');
    const dig = spawnSync('ip', ['netns', 'exec', lab.peer.netns, 'dig', `@${lab.nicring.ip}`, '+short', '+time=1', '+tries=1', 'www.example.test', 'A'], { encoding: 'utf8' });
    if (dig.status === 0 && dig.stdout.includes('198.18.100.80')) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the server never answered');
}

function startNicring(lab: Lab, work: string): Running {
  return startProcess(lab.nicring.netns, [...nicringCommand(), 'respond', '--iface', lab.nicring.ifname, '--address', lab.nicring.address,
    '--port', '53', '--handler', HANDLER, '--zone', ZONE, '--rrl-rate', '0', '--json'], path.join(work, 'nicring.log'));
}

function startNsd(lab: Lab, work: string): Running {
  const conf = path.join(work, 'nsd.conf');
  fs.writeFileSync(conf, [
    'server:', `  ip-address: ${lab.nicring.ip}`, '  port: 53', '  server-count: 1', '  username: ""', '  chroot: ""',
    `  zonesdir: "${path.dirname(ZONE)}"`, '  database: ""', `  zonelistfile: "${work}/zone.list"`, `  xfrdfile: "${work}/xfrd.state"`,
    `  xfrdir: "${work}"`, `  pidfile: "${work}/nsd.pid"`, `  logfile: "${work}/nsd.log"`, '  hide-version: yes',
    '  rrl-ratelimit: 0', '  rrl-whitelist-ratelimit: 0', 'remote-control:', '  control-enable: no',
    'zone:', '  name: example.test', `  zonefile: ${ZONE}`, '',
  ].join('\n'));
  // The kernel of nicring's namespace holds the lab address for this run only.
  execIn(lab.nicring.netns, ['ip', 'addr', 'add', lab.nicring.address, 'dev', lab.nicring.ifname]);
  const running = startProcess(lab.nicring.netns, ['nsd', '-d', '-c', conf], path.join(work, 'nsd.out'));
  return {
    child: running.child,
    async stop() {
      await running.stop();
      execIn(lab.nicring.netns, ['ip', 'addr', 'del', lab.nicring.address, 'dev', lab.nicring.ifname]);
    },
  };
}

/** The status and answer section dig shows for every query of the mix (over UDP, then over TCP), to check both servers answer alike. */
function digAnswers(lab: Lab): string[] {
  return [...QUERIES.map((line) => `${line} udp`), ...QUERIES.map((line) => `${line} tcp`)].map((line) => {
    const [name, type, over] = line.split(' ');
    const output = spawnSync('ip', ['netns', 'exec', lab.peer.netns, 'dig', `@${lab.nicring.ip}`, '+norec', '+time=2', ...(over === 'tcp' ? ['+tcp'] : []), name, type], { encoding: 'utf8' }).stdout;
    const status = /status: (\w+)/.exec(output)?.[1] ?? 'no answer';
    const section = /;; ANSWER SECTION:\n([\s\S]*?)\n\n/.exec(output)?.[1] ?? '';
    return [status, ...section.split('\n').filter((row) => row !== '').map((row) => row.split(/\s+/).join(' ')).sort()].join('; ');
  });
}

function dnsperf(lab: Lab, queries: string, args: string[]): string {
  const run = spawnSync('ip', ['netns', 'exec', lab.peer.netns, 'taskset', '-c', String(LOAD_CPU), 'dnsperf', '-s', lab.nicring.ip, '-d', queries, ...args],
    { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (run.status !== 0) throw new Error(`dnsperf exited with ${run.status}: ${run.stderr}`);
  return run.stdout;
}

interface Throughput { qps: number; completed: number; lost: number; averageLatencyMs: number }

function throughput(output: string): Throughput {
  const number = (pattern: RegExp): number => Number(pattern.exec(output)?.[1] ?? NaN);
  return {
    qps: Math.round(number(/Queries per second:\s+([\d.]+)/)),
    completed: number(/Queries completed:\s+(\d+)/),
    lost: number(/Queries lost:\s+(\d+)/),
    averageLatencyMs: number(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
  };
}

/** Per-query latencies (ms) from dnsperf -v, and how many answers were not NOERROR/NXDOMAIN. */
function latencies(output: string): { samples: number[]; badCodes: number } {
  const samples: number[] = [];
  let badCodes = 0;
  for (const line of output.split('\n')) {
    if (!line.startsWith('> ')) continue;
    const fields = line.split(' ');
    if (fields[1] !== 'NOERROR' && fields[1] !== 'NXDOMAIN') badCodes++;
    samples.push(Number(fields[fields.length - 1]) * 1000);
  }
  return { samples, badCodes };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  if (!canRunLab()) throw new Error('bench/dns.ts needs root (a lab, AF_XDP)');
  for (const tool of ['dnsperf', 'nsd', 'dig', 'taskset']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed (bash scripts/setup.sh installs it)`);
  }
  const rounds = argument('rounds', 3);
  const seconds = argument('seconds', 5);
  const rate = argument('rate', 20000);
  const latencySeconds = argument('latency-seconds', 5);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-dns-bench-'));
  const queries = path.join(work, 'queries.txt');
  fs.writeFileSync(queries, `${QUERIES.join('\n')}\n`);
  const lab = labUp({ name: `dnsb${process.pid % 10000}` });
  let current: Running | null = null;
  const stopAll = (): void => {
    current?.child.kill('SIGKILL');
    labDown(lab.name);
    process.exit(130);
  };
  process.once('SIGINT', stopAll);
  const results: Record<ServerName, { throughput: Throughput[]; tcp: Throughput[]; latency: number[]; badCodes: number; answers: string[] }> = {
    nicring: { throughput: [], tcp: [], latency: [], badCodes: 0, answers: [] },
    nsd: { throughput: [], tcp: [], latency: [], badCodes: 0, answers: [] },
  };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of ['nicring', 'nsd'] as ServerName[]) {
        current = name === 'nicring' ? startNicring(lab, work) : startNsd(lab, work);
        try {
          await untilAnswering(lab, current);
          if (round === 0) results[name].answers = digAnswers(lab);
          const t = throughput(dnsperf(lab, queries, ['-l', String(seconds)]));
          const l = latencies(dnsperf(lab, queries, ['-l', String(latencySeconds), '-Q', String(rate), '-v']));
          const overTcp = throughput(dnsperf(lab, queries, ['-m', 'tcp', '-l', String(seconds)]));
          results[name].throughput.push(t);
          results[name].tcp.push(overTcp);
          results[name].latency.push(...l.samples);
          results[name].badCodes += l.badCodes;
          console.log(`round ${round + 1} ${name}: ${t.qps} queries/s (${t.lost} lost); paced ${rate}/s: ${l.samples.length} answers; TCP ${overTcp.qps} queries/s (${overTcp.lost} lost)`);
        } finally {
          await current.stop();
          current = null;
        }
      }
    }
  } finally {
    process.off('SIGINT', stopAll);
    labDown(lab.name);
  }

  // Both must have served the same data the same way (answer and authority sections as dig shows them).
  results.nicring.answers.forEach((answer, index) => {
    if (answer !== results.nsd.answers[index]) {
      const query = `${QUERIES[index % QUERIES.length]} over ${index < QUERIES.length ? 'UDP' : 'TCP'}`;
      throw new Error(`${query}: nicring answered "${answer}", NSD "${results.nsd.answers[index]}"`);
    }
  });
  const summary = Object.fromEntries((Object.keys(results) as ServerName[]).map((name) => {
    const r = results[name];
    const sorted = [...r.latency].sort((a, b) => a - b);
    return [name, {
      qpsMedian: median(r.throughput.map((t) => t.qps)), qps: r.throughput.map((t) => t.qps), lost: r.throughput.map((t) => t.lost),
      tcpQpsMedian: median(r.tcp.map((t) => t.qps)), tcpQps: r.tcp.map((t) => t.qps), tcpLost: r.tcp.map((t) => t.lost),
      latencyMs: { samples: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9), max: sorted[sorted.length - 1] },
      badCodes: r.badCodes,
    }];
  })) as unknown as Record<ServerName, {
    qpsMedian: number; qps: number[]; lost: number[]; tcpQpsMedian: number; tcpQps: number[]; tcpLost: number[]; latencyMs: Record<string, number>; badCodes: number;
  }>;
  const ratio = summary.nicring.qpsMedian / summary.nsd.qpsMedian;
  const tcpRatio = summary.nicring.tcpQpsMedian / summary.nsd.tcpQpsMedian;
  const out = path.join(ROOT, 'bench', 'out');
  fs.mkdirSync(out, { recursive: true });
  const report = {
    command: `npx tsx bench/dns.ts ${process.argv.slice(2).join(' ')}`.trim(), rounds, seconds, rate, latencySeconds, cpus: { server: SERVER_CPU, dnsperf: LOAD_CPU },
    loadAverage: os.loadavg(), summary, ratio, tcpRatio,
  };
  fs.writeFileSync(path.join(out, 'dns.json'), `${JSON.stringify(report, null, 2)}\n`);
  const ms = (value: number): string => value.toFixed(3);
  console.log(`\n| server | queries/s (median of ${rounds}; each round) | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms (paced ${rate}/s) |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const name of ['nicring', 'nsd'] as ServerName[]) {
    const s = summary[name];
    const l = s.latencyMs;
    console.log(`| ${name === 'nicring' ? 'nicring DNS example' : 'NSD 4.6 (kernel sockets)'} | ${s.qpsMedian} (${s.qps.join(', ')}) | ${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p99)} | ${ms(l.p999)} | ${ms(l.max)} |`);
  }
  console.log(`\nnicring / NSD: ${ratio.toFixed(2)}x`);
  console.log(`\n| over TCP (dnsperf -m tcp, one connection) | queries/s (median of ${rounds}; each round) |`);
  console.log('|---|---|');
  for (const name of ['nicring', 'nsd'] as ServerName[]) {
    console.log(`| ${name === 'nicring' ? 'nicring DNS example' : 'NSD 4.6 (kernel sockets)'} | ${summary[name].tcpQpsMedian} (${summary[name].tcpQps.join(', ')}) |`);
  }
  console.log(`\nnicring / NSD over TCP: ${tcpRatio.toFixed(2)}x`);
  fs.rmSync(work, { recursive: true, force: true });
  if (summary.nicring.badCodes + summary.nsd.badCodes > 0) throw new Error('some answers were neither NOERROR nor NXDOMAIN');
  if ([...summary.nicring.tcpLost, ...summary.nsd.tcpLost].some((lost) => lost > 0)) throw new Error('queries lost over TCP');
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
