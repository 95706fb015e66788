// The netmap suite's lab, inside the netmap VM. The tests run in a namespace
// of their own (in-vm.sh makes it); nicring's ends of the veth pairs stay in
// it with no address, the peer's ends go to a second namespace whose kernel
// holds the 198.18.N.2 addresses and keeps its default settings, offloads
// included.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { NetmapDevice } from '../../src/phy/netmap';

export const PEER_NETNS = 'nicring-vm-peer';
const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'bin', 'nicring.js');

/** One veth pair: nicring's end here, the peer's in PEER_NETNS. */
export interface VethLink {
  ifname: string;
  peerIfname: string;
  /** nicring's address (held by nicring in user space) and its /24. */
  ip: string;
  address: string;
  peerIp: string;
  mac: string;
  peerMac: string;
}

/** Run a command here; its stdout. Throws with its stderr on failure. */
export function run(args: string[], input?: string): string {
  try {
    return execFileSync(args[0], args.slice(1), { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    const { stderr, status } = error as { stderr?: string; status?: number };
    throw new Error(`${args.join(' ')} exited with ${status}: ${(stderr ?? '').trim()}`);
  }
}

/** Run a command here to its end, whatever its status. */
export function tryRun(args: string[], timeoutMs = 60_000): { status: number | null; stdout: string } {
  const result = spawnSync(args[0], args.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  return { status: result.status, stdout: result.stdout ?? '' };
}

/** Run a command in the peer's namespace; its stdout. */
export function inPeer(args: string[], input?: string): string {
  return run(['ip', 'netns', 'exec', PEER_NETNS, ...args], input);
}

/** Run a command in the peer's namespace to its end, whatever its status. */
export function tryInPeer(args: string[], timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('ip', ['netns', 'exec', PEER_NETNS, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** Make the peer's namespace (IPv6 off in both: no router solicitations or MLD reports on the links). */
export function makePeerNamespace(): void {
  if (spawnSync('ip', ['netns', 'exec', PEER_NETNS, 'true']).status !== 0) run(['ip', 'netns', 'add', PEER_NETNS]);
  inPeer(['ip', 'link', 'set', 'lo', 'up']);
  for (const exec of [run, inPeer]) exec(['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
}

export function removePeerNamespace(): void {
  spawnSync('ip', ['netns', 'del', PEER_NETNS]);
}

/** Make a veth pair; `subnet` picks 198.18.subnet.0/24. */
export function addLink(ifname: string, subnet: number, options: { queues?: number; peerQueues?: number } = {}): VethLink {
  const queues = String(options.queues ?? 1);
  const peerQueues = String(options.peerQueues ?? options.queues ?? 1);
  const peerIfname = `${ifname}p`;
  run(['ip', 'link', 'add', ifname, 'numtxqueues', queues, 'numrxqueues', queues, 'type', 'veth',
    'peer', 'name', peerIfname, 'netns', PEER_NETNS, 'numtxqueues', peerQueues, 'numrxqueues', peerQueues]);
  run(['ip', 'link', 'set', ifname, 'up']);
  inPeer(['ip', 'link', 'set', peerIfname, 'up']);
  const peerIp = `198.18.${subnet}.2`;
  inPeer(['ip', 'addr', 'add', `${peerIp}/24`, 'dev', peerIfname]);
  const macOf = (text: string): string => (JSON.parse(text) as { address: string }[])[0].address;
  return {
    ifname,
    peerIfname,
    ip: `198.18.${subnet}.1`,
    address: `198.18.${subnet}.1/24`,
    peerIp,
    mac: macOf(run(['ip', '-j', 'link', 'show', 'dev', ifname])),
    peerMac: macOf(inPeer(['ip', '-j', 'link', 'show', 'dev', peerIfname])),
  };
}

/** Remove a veth pair (both ends go). */
export function removeLink(link: VethLink | undefined): void {
  if (link !== undefined) spawnSync('ip', ['link', 'del', link.ifname]);
}

/** Ping from the peer; how many of `count` echo requests of `size` bytes were answered. */
export function pingFromPeer(link: VethLink, size: number, count = 3): number {
  const result = tryInPeer(['ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '5', '-s', String(size), link.ip]);
  const match = /(\d+) received/.exec(result.stdout);
  return match === null ? 0 : Number(match[1]);
}

/** Ping from the peer without blocking this process's event loop (a stack in this process must answer). */
export function pingFromPeerAsync(link: VethLink, size: number, count = 3): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', PEER_NETNS, 'ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '5', '-s', String(size), link.ip]);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.on('close', () => resolve(Number(/(\d+) received/.exec(stdout)?.[1] ?? 0)));
  });
}

/** Give the peer a permanent neighbour entry for `ip` (nicring's address when no stack answers ARP); unpinNeighbor removes it. */
export function pinNeighbor(link: VethLink, ip = link.ip, mac = link.mac): void {
  inPeer(['ip', 'neigh', 'replace', ip, 'lladdr', mac, 'dev', link.peerIfname, 'nud', 'permanent']);
}

export function unpinNeighbor(link: VethLink, ip = link.ip): void {
  spawnSync('ip', ['netns', 'exec', PEER_NETNS, 'ip', 'neigh', 'del', ip, 'dev', link.peerIfname]);
}

/** What a kernel UDP client in the peer saw for each datagram: its echo byte-exact, something else, nothing, or ECONNREFUSED. */
export type EchoOutcome = 'exact' | 'different' | 'timeout' | 'refused';

const UDP_CLIENT = String.raw`
import json, socket, sys
target, port, sizes = sys.argv[1], int(sys.argv[2]), [int(n) for n in sys.argv[3].split(',')]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect((target, port))
out = []
for n in sizes:
    payload = bytes((i * 7 + n) % 256 for i in range(n))
    s.send(payload)
    try:
        out.append('exact' if s.recv(65535) == payload else 'different')
    except socket.timeout:
        out.append('timeout')
    except ConnectionRefusedError:
        out.append('refused')
print(json.dumps(out))
`;

/** A kernel UDP client in the peer sends one datagram of each size to nicring's `port` and waits for each echo. */
export function udpFromPeer(link: VethLink, port: number, sizes: number[]): EchoOutcome[] {
  return JSON.parse(inPeer(['python3', '-c', UDP_CLIENT, link.ip, String(port), sizes.join(',')])) as EchoOutcome[];
}

/** The peer kernel's neighbour entry for nicring's address: its MAC and state, or null. */
export function peerNeighbor(link: VethLink): { mac: string; state: string } | null {
  const entries = JSON.parse(inPeer(['ip', '-j', 'neigh', 'show', 'dev', link.peerIfname, 'to', link.ip])) as { lladdr?: string; state?: string[] }[];
  if (entries.length === 0 || entries[0].lladdr === undefined) return null;
  return { mac: entries[0].lladdr, state: (entries[0].state ?? []).join(',') };
}

const FRAME_CAPTURE = String.raw`
import socket, sys
ifname, ethertype, count = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ethertype))
s.bind((ifname, 0))
s.settimeout(20)
print('listening', flush=True)
got = []
try:
    while len(got) < count:
        got.append(s.recv(65535).hex())
except socket.timeout:
    pass
print(' '.join(got), flush=True)
`;

/** Capture up to `count` frames of `ethertype` arriving at the peer's end; resolves with them (hex) once listening has begun. */
export function captureAtPeer(link: VethLink, ethertype: number, count: number): { listening: Promise<void>; frames: Promise<string[]> } {
  const child = spawn('ip', ['netns', 'exec', PEER_NETNS, 'python3', '-c', FRAME_CAPTURE, link.peerIfname, ethertype.toString(16), String(count)],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let heard: () => void = () => undefined;
  const listening = new Promise<void>((resolve) => { heard = resolve; });
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.startsWith('listening\n')) heard();
  });
  const frames = new Promise<string[]>((resolve, reject) => {
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`capture at ${link.peerIfname} exited with ${code}`));
      const last = stdout.trim().split('\n').slice(1).join('').trim();
      resolve(last === '' ? [] : last.split(' '));
    });
  });
  return { listening, frames };
}

/** `nicring respond --json` running here (dist/, as installed), with the lines it printed. */
export interface RunningResponder {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the ready line; fails if the process ends first. */
  ready: Promise<Record<string, unknown>>;
  /** Resolves with the exit code and signal once its output has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startResponder(link: VethLink, args: string[]): RunningResponder {
  const child = spawn(process.execPath, [CLI, 'respond', '--json', '--iface', link.ifname, '--address', link.address, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let pending = '';
  let stderr = '';
  let readyResolve: (line: Record<string, unknown>) => void = () => undefined;
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    readyResolve = resolve;
    child.on('close', (code, signal) => reject(new Error(`nicring respond ended (${code ?? signal}) before it was ready: ${stderr.trim()}`)));
  });
  ready.catch(() => undefined);
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const text of complete) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      lines.push(line);
      if (line.event === 'ready') readyResolve(line);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, lines, stderr: () => stderr, ready, exited };
}

// ----- netmap's structures, read from a port's memory at the ABI's offsets (not through src/) -----

/** A ring header as the kernel keeps it. */
export interface RingHeader {
  numSlots: number;
  bufSize: number;
  ringid: number;
  dir: number;
  head: number;
  cur: number;
  tail: number;
}

export function ringHeader(device: NetmapDevice, ringOffset: number): RingHeader {
  const m = device.memory;
  return {
    numSlots: m.getUint32(ringOffset + 8, true),
    bufSize: m.getUint32(ringOffset + 12, true),
    ringid: m.getUint16(ringOffset + 16, true),
    dir: m.getUint16(ringOffset + 18, true),
    head: m.getUint32(ringOffset + 20, true),
    cur: m.getUint32(ringOffset + 24, true),
    tail: m.getUint32(ringOffset + 28, true),
  };
}

/** Slot `index` of the ring at `ringOffset`. */
export function ringSlot(device: NetmapDevice, ringOffset: number, index: number): { bufIdx: number; len: number; flags: number } {
  const at = ringOffset + 256 + index * 16;
  const m = device.memory;
  return { bufIdx: m.getUint32(at, true), len: m.getUint16(at + 4, true), flags: m.getUint16(at + 6, true) };
}

/** The buffer index of a frame at `offset` in the device's memory. */
export function bufferIndexAt(device: NetmapDevice, offset: number): number {
  return (offset - device.bufferBase) / device.bufferSize;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
