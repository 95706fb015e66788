// A lab with an impairing relay between nicring and the peer (this
// machine's kernel has no netem): three namespaces, nicring's and the
// peer's as in src/lab.ts, and a relay namespace in between where
// test/lab/impair-relay.c carries every frame from one veth to the other,
// losing, delaying, reordering, duplicating or corrupting them. The peer
// keeps its kernel's default offloads; the relay acts as the wire after a
// NIC would (segments TSO frames, completes checksums).
//
// Also the two transfers the impaired-link tests and bench/tcp-transfer.ts
// run: a kernel client into a nicring sink, and a nicring client into a
// kernel sink, both with SHA-256 checks.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LAB_NETNS_PREFIX } from '../../src/lab';
import { type Agent, startInNetns } from './harness';
import { patternSha256 } from './tcp-agent';

const RELAY_SOURCE = path.join(__dirname, 'impair-relay.c');
const AGENT = path.join(__dirname, 'tcp-agent.ts');

/** One side of the relay lab. */
export interface RelaySide {
  netns: string;
  ifname: string;
  address: string;
  ip: string;
}

/** The two ends a transfer needs (a relay lab, or src/lab.ts's lab). */
export interface TwoSides {
  nicring: RelaySide;
  peer: RelaySide;
}

export interface RelayLab {
  name: string;
  nicring: RelaySide;
  peer: RelaySide;
  relay: { netns: string; towardsNicring: string; towardsPeer: string };
}

/** How the relay spoils traffic. */
export interface Impairment {
  loss?: number;
  delayMs?: number;
  reorder?: number;
  reorderMs?: number;
  duplicate?: number;
  corrupt?: number;
}

function run(args: string[]): string {
  const result = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')}: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}

function inNs(netns: string, args: string[]): string {
  return run(['ip', 'netns', 'exec', netns, ...args]);
}

/** Build the relay once per source version; returns the binary's path. */
export function relayBinary(): string {
  const stamp = fs.statSync(RELAY_SOURCE).mtimeMs.toFixed(0);
  const binary = path.join(os.tmpdir(), `nicring-impair-relay-${stamp}`);
  if (!fs.existsSync(binary)) run(['gcc', '-O2', '-Wall', '-o', binary, RELAY_SOURCE]);
  return binary;
}

/** Make the three namespaces (`name`: 1-10 lowercase letters and digits) on 198.19.`subnet`.0/24. */
export function relayLabUp(name: string, subnet: number): RelayLab {
  const lab: RelayLab = {
    name,
    nicring: { netns: `${LAB_NETNS_PREFIX}${name}-nr`, ifname: 'veth-nr', address: `198.19.${subnet}.1/24`, ip: `198.19.${subnet}.1` },
    peer: { netns: `${LAB_NETNS_PREFIX}${name}-peer`, ifname: 'veth-peer', address: `198.19.${subnet}.2/24`, ip: `198.19.${subnet}.2` },
    relay: { netns: `${LAB_NETNS_PREFIX}${name}-relay`, towardsNicring: 'veth-rn', towardsPeer: 'veth-rp' },
  };
  relayLabDown(lab);
  try {
    for (const netns of [lab.nicring.netns, lab.peer.netns, lab.relay.netns]) {
      run(['ip', 'netns', 'add', netns]);
      inNs(netns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      inNs(netns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    run(['ip', 'link', 'add', lab.nicring.ifname, 'netns', lab.nicring.netns, 'type', 'veth', 'peer', 'name', lab.relay.towardsNicring, 'netns', lab.relay.netns]);
    run(['ip', 'link', 'add', lab.peer.ifname, 'netns', lab.peer.netns, 'type', 'veth', 'peer', 'name', lab.relay.towardsPeer, 'netns', lab.relay.netns]);
    for (const [netns, ifname] of [[lab.nicring.netns, lab.nicring.ifname], [lab.peer.netns, lab.peer.ifname],
      [lab.relay.netns, lab.relay.towardsNicring], [lab.relay.netns, lab.relay.towardsPeer]]) {
      inNs(netns, ['ip', 'link', 'set', ifname, 'up']);
    }
    // XDP on veth wants GRO on its own side for frames redirected into it (as the lab does); the peer is left as its kernel made it.
    inNs(lab.nicring.netns, ['ethtool', '-K', lab.nicring.ifname, 'gro', 'on']);
    inNs(lab.peer.netns, ['ip', 'addr', 'add', lab.peer.address, 'dev', lab.peer.ifname]);
  } catch (error) {
    relayLabDown(lab);
    throw error;
  }
  return lab;
}

/** Remove the relay lab's namespaces (what is there of them). */
export function relayLabDown(lab: RelayLab): void {
  const present = run(['ip', 'netns', 'list']);
  for (const netns of [lab.nicring.netns, lab.peer.netns, lab.relay.netns]) {
    if (new RegExp(`^${netns}( |$)`, 'm').test(present)) spawnSync('ip', ['netns', 'del', netns]);
  }
}

/** A running relay; stop() resolves with its counts. */
export interface RunningRelay {
  stop(): Promise<Record<string, number>>;
}

/** Start the relay with `impairment` for at most `seconds`. */
export async function startRelay(lab: RelayLab, impairment: Impairment, seconds: number, seed = 1): Promise<RunningRelay> {
  const args = [
    relayBinary(), lab.relay.towardsNicring, lab.relay.towardsPeer,
    '--loss', String(impairment.loss ?? 0), '--delay', String(impairment.delayMs ?? 0),
    '--reorder', String(impairment.reorder ?? 0), '--reorder-ms', String(impairment.reorderMs ?? 0),
    '--duplicate', String(impairment.duplicate ?? 0), '--corrupt', String(impairment.corrupt ?? 0),
    '--seconds', String(seconds), '--seed', String(seed),
  ];
  const child = spawn('ip', ['netns', 'exec', lab.relay.netns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const deadline = Date.now() + 10000;
  while (!/ready/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`impair-relay did not start: ${err}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await closed;
      const line = out.trim().split('\n').filter((text) => text.startsWith('{')).pop();
      if (line === undefined) throw new Error(`impair-relay printed no counts: ${err}`);
      return JSON.parse(line) as Record<string, number>;
    },
  };
}

function agentJob(netns: string, job: string, args: Record<string, string | number>): Agent {
  const flat = Object.entries(args).flatMap(([key, value]) => [`--${key}`, String(value)]);
  return startInNetns(netns, [process.execPath, '--import', 'tsx', AGENT, job, ...flat]);
}

function python(netns: string, code: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, 'python3', '-c', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
    child.on('close', (status) => {
      clearTimeout(timer);
      if (status === 0) resolve(out.trim());
      else reject(new Error(`python3 exited with ${status}: ${err.trim() || out.trim()}`));
    });
  });
}

const PY_PATTERN = `
import hashlib, socket, time
PERIOD = 1 << 19
BLOCK = bytes(((i * 31 + (i >> 11)) & 0xff) for i in range(2 * PERIOD))
def send_pattern(sock, total):
    sent = 0
    while sent < total:
        size = min(PERIOD, total - sent)
        start = sent % PERIOD
        sock.sendall(BLOCK[start:start + size])
        sent += size
`;

/** What one transfer did. */
export interface TransferResult {
  direction: 'kernel-to-nicring' | 'nicring-to-kernel';
  bytes: number;
  intact: boolean;
  ms: number;
  /** nicring's tcp counters. */
  tcp: Record<string, number>;
  /** nicring's device counters (multi-buffer frames and the like). */
  device?: Record<string, number>;
}

/**
 * A kernel client in the peer sends `bytes` pattern bytes to a nicring
 * sink; the sink's SHA-256 must match.
 */
export async function kernelToNicring(lab: TwoSides, mode: string, bytes: number, timeoutMs: number): Promise<TransferResult> {
  const host = agentJob(lab.nicring.netns, 'host', { iface: lab.nicring.ifname, address: lab.nicring.address, mode });
  await host.ready;
  let answer = '';
  const started = Date.now();
  try {
    answer = await python(lab.peer.netns, `${PY_PATTERN}
s = socket.create_connection(('${lab.nicring.ip}', 9), timeout=${Math.ceil(timeoutMs / 1000)})
send_pattern(s, ${bytes})
s.shutdown(socket.SHUT_WR)
print(s.makefile().read().strip())`, timeoutMs);
  } finally {
    host.stop();
  }
  const ms = Date.now() - started;
  const final = await host.result;
  const device = (final.device as { kernel?: Record<string, number> } | undefined)?.kernel;
  return { direction: 'kernel-to-nicring', bytes, intact: answer === `${bytes} ${patternSha256(bytes)}`, ms, tcp: final.tcp as Record<string, number>, device };
}

/** A nicring client sends `bytes` pattern bytes to a kernel sink in the peer, which answers with their SHA-256. */
export async function nicringToKernel(lab: TwoSides, mode: string, bytes: number, timeoutMs: number, port = 5009): Promise<TransferResult> {
  const sink = python(lab.peer.netns, `
import hashlib, socket
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('${lab.peer.ip}', ${port}))
server.listen(1)
conn, _ = server.accept()
h = hashlib.sha256(); n = 0
while True:
    data = conn.recv(1 << 20)
    if not data: break
    h.update(data); n += len(data)
conn.sendall(f'{n} {h.hexdigest()}\\n'.encode())
conn.close()`, timeoutMs);
  await new Promise((resolve) => setTimeout(resolve, 800));
  const client = agentJob(lab.nicring.netns, 'upload', { iface: lab.nicring.ifname, address: lab.nicring.address, mode, target: `${lab.peer.ip}:${port}`, bytes });
  const timer = setTimeout(() => client.stop('SIGKILL'), timeoutMs);
  try {
    const result = await client.result;
    await sink;
    return { direction: 'nicring-to-kernel', bytes, intact: result.answer === `${bytes} ${patternSha256(bytes)}`, ms: Number(result.ms), tcp: result.tcp as Record<string, number> };
  } finally {
    clearTimeout(timer);
  }
}
