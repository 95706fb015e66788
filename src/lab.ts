// The lab: two network namespaces joined by a veth pair, addressed from
// 198.18.0.0/15 (RFC 2544's benchmarking range). The peer side's kernel
// holds its address and keeps its default settings; nicring's side holds
// none, IPv6 link-local included (nicring owns that address in user space).
// Nothing is configured in the root namespace.
//
// Labs are found again from their namespace names (prefix "nicring-"), so
// `downAll` also removes labs orphaned by a crash.

import { spawnSync } from 'node:child_process';

/** Every namespace the lab makes starts with this. */
export const LAB_NETNS_PREFIX = 'nicring-';
/** Interface names inside the namespaces. */
export const LAB_NICRING_IFNAME = 'veth-nr';
export const LAB_PEER_IFNAME = 'veth-peer';

export interface LabSide {
  netns: string;
  ifname: string;
  mac: string;
  /** The address with its prefix, e.g. "198.18.0.1/24". */
  address: string;
  /** The address alone. */
  ip: string;
}

export interface Lab {
  name: string;
  queues: number;
  /** nicring's side: its kernel holds no address. */
  nicring: LabSide;
  /** The peer side: its kernel holds `peer.address`. */
  peer: LabSide;
}

export interface LabUpOptions {
  /** Lab name: 1-12 lowercase letters and digits (default "lab"). */
  name?: string;
  /** RX/TX queues on each veth end (default 1). */
  queues?: number;
}

const NAME_PATTERN = /^[a-z0-9]{1,12}$/;

/** The namespace names of lab `name`. */
export function labNamespaces(name: string): { nicring: string; peer: string } {
  return { nicring: `${LAB_NETNS_PREFIX}${name}-nr`, peer: `${LAB_NETNS_PREFIX}${name}-peer` };
}

function run(args: string[], input?: string): string {
  const result = spawnSync(args[0], args.slice(1), { encoding: 'utf8', input });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${args[0]} not found: install iproute2 (and ethtool)`);
    throw result.error;
  }
  if (result.status !== 0) {
    const message = (result.stderr || result.stdout || '').trim();
    const hint = /Operation not permitted|permission/i.test(message) ? ' (the lab needs root: CAP_NET_ADMIN and CAP_SYS_ADMIN)' : '';
    throw new Error(`${args.join(' ')}: ${message}${hint}`);
  }
  return result.stdout;
}

/** Run a command inside a namespace; returns its stdout. */
export function execIn(netns: string, args: string[]): string {
  return run(['ip', 'netns', 'exec', netns, ...args]);
}

/** Every namespace name present. */
function namespaces(): string[] {
  const out = run(['ip', '-j', 'netns', 'list']).trim();
  if (out === '') return [];
  return (JSON.parse(out) as { name: string }[]).map((entry) => entry.name);
}

/** Names of the labs present (complete or not). */
export function labNames(): string[] {
  const names = new Set<string>();
  for (const netns of namespaces()) {
    if (!netns.startsWith(LAB_NETNS_PREFIX)) continue;
    const match = /^nicring-([a-z0-9]{1,12})-(nr|peer)$/.exec(netns);
    if (match) names.add(match[1]);
  }
  return [...names].sort();
}

interface LinkJson {
  ifname: string;
  address?: string;
  num_rx_queues?: number;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

function readSide(netns: string, ifname: string): LabSide | null {
  try {
    const links = JSON.parse(execIn(netns, ['ip', '-d', '-j', 'addr', 'show', 'dev', ifname])) as LinkJson[];
    const link = links[0];
    const inet = (link.addr_info ?? []).find((info) => info.family === 'inet');
    return {
      netns,
      ifname,
      mac: link.address ?? '',
      address: inet ? `${inet.local}/${inet.prefixlen}` : '',
      ip: inet ? inet.local : '',
    };
  } catch {
    return null;
  }
}

/** The lab named `name`, or null when it is not (completely) there. */
export function labStatus(name: string): Lab | null {
  const ns = labNamespaces(name);
  const peer = readSide(ns.peer, LAB_PEER_IFNAME);
  const nicring = readSide(ns.nicring, LAB_NICRING_IFNAME);
  if (peer === null || nicring === null || peer.ip === '') return null;
  const [a, b, c] = peer.ip.split('.');
  nicring.ip = `${a}.${b}.${c}.1`;
  nicring.address = `${nicring.ip}/24`;
  let queues = 1;
  try {
    const links = JSON.parse(execIn(ns.nicring, ['ip', '-d', '-j', 'link', 'show', 'dev', LAB_NICRING_IFNAME])) as LinkJson[];
    queues = links[0].num_rx_queues ?? 1;
  } catch {
    // keep 1
  }
  return { name, queues, nicring, peer };
}

/** Every complete lab. */
export function listLabs(): Lab[] {
  return labNames().map(labStatus).filter((lab): lab is Lab => lab !== null);
}

/** Pick the lowest /24 of 198.18.0.0/16 that no other lab uses. */
function freeSubnet(): number {
  const used = new Set(listLabs().map((lab) => Number(lab.peer.ip.split('.')[2])));
  for (let i = 0; i < 256; i++) if (!used.has(i)) return i;
  throw new Error('all 256 lab subnets in 198.18.0.0/16 are in use: remove labs with `nicring lab down --all`');
}

/** Make a lab (or return the one already there under that name). */
export function labUp(options: LabUpOptions = {}): Lab {
  const name = options.name ?? 'lab';
  const queues = options.queues ?? 1;
  if (!NAME_PATTERN.test(name)) throw new Error(`--name must be 1-12 lowercase letters or digits, got "${name}"`);
  if (!Number.isInteger(queues) || queues < 1 || queues > 64) throw new Error(`--queues must be an integer from 1 to 64, got ${queues}`);
  const existing = labStatus(name);
  if (existing !== null) {
    if (existing.queues !== queues) throw new Error(`lab "${name}" exists with ${existing.queues} queue(s); run \`nicring lab down --name ${name}\` first`);
    return existing;
  }
  labDown(name);
  const subnet = freeSubnet();
  const ns = labNamespaces(name);
  try {
    run(['ip', 'netns', 'add', ns.nicring]);
    run(['ip', 'netns', 'add', ns.peer]);
    const q = String(queues);
    run(['ip', 'link', 'add', LAB_NICRING_IFNAME, 'netns', ns.nicring, 'numtxqueues', q, 'numrxqueues', q,
      'type', 'veth', 'peer', 'name', LAB_PEER_IFNAME, 'netns', ns.peer, 'numtxqueues', q, 'numrxqueues', q]);
    // nicring's side: the kernel holds no address there, not even an IPv6 link-local one (set before the link is up).
    execIn(ns.nicring, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    // nicring's end gets GRO: veth receives frames that XDP programs redirect or send into it
    // (ndo_xdp_xmit, as the live-frames generator's XDP_TX does) only on a NAPI, which it sets up for
    // a native XDP program or for GRO; nicring's program in generic mode gives it none.
    execIn(ns.nicring, ['ethtool', '-K', LAB_NICRING_IFNAME, 'gro', 'on']);
    // The peer keeps its kernel's defaults, as users' peers do: offloads on (its UDP and TCP checksums
    // reach nicring partial), IPv6 on (its router solicitations, MLD reports and neighbour discovery
    // reach nicring, which counts them).
    for (const [netns, ifname] of [[ns.nicring, LAB_NICRING_IFNAME], [ns.peer, LAB_PEER_IFNAME]]) {
      execIn(netns, ['ip', 'link', 'set', 'lo', 'up']);
      execIn(netns, ['ip', 'link', 'set', ifname, 'up']);
    }
    execIn(ns.peer, ['ip', 'addr', 'add', `198.18.${subnet}.2/24`, 'dev', LAB_PEER_IFNAME]);
  } catch (error) {
    labDown(name);
    throw error;
  }
  const lab = labStatus(name);
  if (lab === null) throw new Error(`lab "${name}" did not come up`);
  return lab;
}

/** Remove lab `name`; returns whether anything was there. */
export function labDown(name: string): boolean {
  if (!NAME_PATTERN.test(name)) throw new Error(`--name must be 1-12 lowercase letters or digits, got "${name}"`);
  const ns = labNamespaces(name);
  let removed = false;
  const present = new Set(namespaces());
  for (const netns of [ns.nicring, ns.peer]) {
    if (!present.has(netns)) continue;
    run(['ip', 'netns', 'del', netns]);
    removed = true;
  }
  return removed;
}

/** Remove every lab this tool made, including orphans; returns their names. */
export function labDownAll(): string[] {
  const names = labNames();
  for (const name of names) labDown(name);
  return names;
}

/** Run `fn` with a fresh lab and always remove it afterwards. */
export async function withLab<T>(options: LabUpOptions, fn: (lab: Lab) => Promise<T> | T): Promise<T> {
  const lab = labUp(options);
  try {
    return await fn(lab);
  } finally {
    labDown(lab.name);
  }
}

/** True when this process may build labs (root). */
export function canRunLab(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0 && spawnSync('ip', ['-V']).status === 0;
}

/** The peer-side kernel command line to run in the peer namespace. */
export function peerCommand(lab: Lab, args: string[]): string[] {
  return ['ip', 'netns', 'exec', lab.peer.netns, ...args];
}
