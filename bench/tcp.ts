// TCP benchmark: nicring's TCP (native and generic XDP) against the
// kernel's on the same veth in the same run, with the same Node http server
// code on top (bench/tcp-server.ts), loaded from the peer namespace by
// curl (bulk throughput, both ways) and wrk (connections per second with
// "Connection: close"; hello-world requests per second with keep-alive, 1
// and 64 connections). Variants alternate within each round; medians over
// rounds; ratios nicring / kernel; the server's CPU time (user + system of
// its process) per request or per MiB. The kernel variant holds nicring's
// address on that side for its runs only.
//
//   sudo npx tsx bench/tcp.ts [--rounds 3] [--duration 10] [--mib 256] [--quick]
//
// The server runs on CPU 0, the clients on CPU 1. Results: bench/out/tcp.json.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execIn, labDown, labUp, type Lab } from '../src/lab';

const ROOT = path.join(__dirname, '..');
const SERVER = path.join(__dirname, 'tcp-server.ts');

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const quick = process.argv.includes('--quick');
const ROUNDS = Number(argument('rounds', quick ? '1' : '3'));
const DURATION = Number(argument('duration', quick ? '5' : '10'));
const MIB = Number(argument('mib', quick ? '128' : '256'));
const VARIANTS = ['nicring-native', 'nicring-generic', 'kernel'] as const;
type Variant = (typeof VARIANTS)[number];
const TESTS = ['download', 'upload', 'connections', 'hello-1', 'hello-64'] as const;
type Test = (typeof TESTS)[number];

interface Sample {
  /** MiB/s for transfers, requests (connections) per second for wrk. */
  rate: number;
  /** Server CPU µs per request, or per MiB for transfers. */
  cpuPerUnit: number;
}

interface ServerResult {
  requests: number;
  userUs: number;
  systemUs: number;
  tcp: Record<string, number>;
}

/** Start the server of `variant`; resolves once it prints ready, with a stop() giving its figures. */
async function startServer(lab: Lab, variant: Variant): Promise<{ stop: () => Promise<ServerResult> }> {
  const stack = variant === 'kernel' ? 'kernel' : 'nicring';
  const args = ['ip', 'netns', 'exec', lab.nicring.netns, 'taskset', '-c', '0', process.execPath, '--import', 'tsx', SERVER,
    '--stack', stack, '--iface', lab.nicring.ifname, '--address', lab.nicring.address];
  if (variant !== 'kernel') args.push('--xdp-mode', variant === 'nicring-native' ? 'native' : 'generic');
  const child = spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const deadline = Date.now() + 30000;
  while (!/ready/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${variant} server did not start: ${out}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    async stop() {
      child.kill('SIGTERM');
      await closed;
      const line = out.split('\n').filter((text) => text.startsWith('{')).pop();
      if (line === undefined) throw new Error(`${variant} server printed no figures`);
      return JSON.parse(line) as ServerResult;
    },
  };
}

function peer(lab: Lab, command: string): string {
  const result = spawnSync('ip', ['netns', 'exec', lab.peer.netns, 'taskset', '-c', '1', 'sh', '-c', command], { encoding: 'utf8', timeout: 600000 });
  if (result.status !== 0) throw new Error(`${command}: ${result.stderr || result.stdout}`);
  return result.stdout;
}

function wrkRate(output: string): number {
  const match = /Requests\/sec:\s+([\d.]+)/.exec(output);
  if (match === null) throw new Error(`no rate in wrk's output:\n${output}`);
  return Number(match[1]);
}

async function measure(lab: Lab, variant: Variant, test: Test): Promise<Sample> {
  const url = `http://${lab.nicring.ip}`;
  const server = await startServer(lab, variant);
  let rate = 0;
  let units = 0;
  let figures: ServerResult;
  try {
    // A first request warms the path (ARP, JIT) outside the measurement.
    peer(lab, `curl -s -o /dev/null ${url}/`);
    if (test === 'download') {
      const bytesPerSecond = Number(peer(lab, `curl -s -o /dev/null -w '%{speed_download}' ${url}/bytes/${MIB << 20}`));
      rate = bytesPerSecond / (1 << 20);
      units = MIB;
    } else if (test === 'upload') {
      const answer = peer(lab, `head -c ${MIB << 20} /dev/zero | curl -s -T - ${url}/sink -w ' %{speed_upload}'`).trim().split(/\s+/);
      if (Number(answer[0]) !== MIB << 20) throw new Error(`upload: the server got ${answer[0]} bytes`);
      rate = Number(answer[1]) / (1 << 20);
      units = MIB;
    } else {
      const connections = test === 'hello-1' ? 1 : 64;
      const close = test === 'connections' ? "-H 'Connection: close'" : '';
      const threads = connections === 1 ? 1 : 2;
      const output = peer(lab, `wrk -t${threads} -c${connections} -d${DURATION}s ${close} ${url}/`);
      rate = wrkRate(output);
    }
  } finally {
    figures = await server.stop();
  }
  if (units === 0) units = Math.max(1, figures.requests - 1);
  return { rate, cpuPerUnit: (figures.userUs + figures.systemUs) / units };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  if (spawnSync('which', ['wrk']).status !== 0) throw new Error('wrk is not installed (apt-get install wrk)');
  const lab = labUp({ name: `tb${process.pid % 100000}`.slice(0, 12) });
  const samples = new Map<string, Sample[]>();
  const stop = (): void => {
    labDown(lab.name);
    process.exit(130);
  };
  process.once('SIGINT', stop);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const test of TESTS) {
        for (const variant of VARIANTS) {
          if (variant === 'kernel') execIn(lab.nicring.netns, ['ip', 'addr', 'add', lab.nicring.address, 'dev', lab.nicring.ifname]);
          try {
            const sample = await measure(lab, variant, test);
            const key = `${variant} ${test}`;
            samples.set(key, [...(samples.get(key) ?? []), sample]);
            console.error(`round ${round + 1}/${ROUNDS} ${key}: ${sample.rate.toFixed(1)} (${sample.cpuPerUnit.toFixed(1)} µs CPU per unit)`);
          } finally {
            if (variant === 'kernel') execIn(lab.nicring.netns, ['ip', 'addr', 'flush', 'dev', lab.nicring.ifname]);
          }
        }
      }
    }
  } finally {
    labDown(lab.name);
  }
  const unit: Record<Test, string> = { download: 'MiB/s', upload: 'MiB/s', connections: 'connections/s', 'hello-1': 'requests/s', 'hello-64': 'requests/s' };
  const cpuUnit: Record<Test, string> = { download: 'µs/MiB', upload: 'µs/MiB', connections: 'µs/connection', 'hello-1': 'µs/request', 'hello-64': 'µs/request' };
  const table: Array<Record<string, string | number>> = [];
  console.log(`\n${ROUNDS} round(s), wrk runs of ${DURATION} s, transfers of ${MIB} MiB; server on CPU 0, clients on CPU 1; medians.\n`);
  console.log('| test | nicring native | nicring generic | kernel | native/kernel | generic/kernel | server CPU native / generic / kernel |');
  console.log('|---|---|---|---|---|---|---|');
  for (const test of TESTS) {
    const figure = (variant: Variant): Sample => {
      const list = samples.get(`${variant} ${test}`) ?? [];
      return { rate: median(list.map((s) => s.rate)), cpuPerUnit: median(list.map((s) => s.cpuPerUnit)) };
    };
    const [native, generic, kernel] = VARIANTS.map(figure);
    const row = {
      test, unit: unit[test], native: native.rate, generic: generic.rate, kernel: kernel.rate,
      nativeRatio: native.rate / kernel.rate, genericRatio: generic.rate / kernel.rate,
      cpuNative: native.cpuPerUnit, cpuGeneric: generic.cpuPerUnit, cpuKernel: kernel.cpuPerUnit, cpuUnit: cpuUnit[test],
    };
    table.push(row);
    const f = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
    console.log(`| ${test} (${unit[test]}) | ${f(native.rate)} | ${f(generic.rate)} | ${f(kernel.rate)} | ${row.nativeRatio.toFixed(2)}× | ${row.genericRatio.toFixed(2)}× `
      + `| ${f(native.cpuPerUnit)} / ${f(generic.cpuPerUnit)} / ${f(kernel.cpuPerUnit)} ${cpuUnit[test]} |`);
  }
  fs.mkdirSync(path.join(ROOT, 'bench', 'out'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'out', 'tcp.json'), JSON.stringify({ rounds: ROUNDS, durationS: DURATION, mib: MIB, table }, null, 2));
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exitCode = 1;
});
