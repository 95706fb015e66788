// Option sets and helpers shared by the commands that open a port.

import { fallbackWarning, type Device, type OpenOptions } from '../src/index';
import { NR_REG_ALL_NIC, hasNetmapPrefix, parseNetmapName } from '../src/phy/netmap-name';
import { UsageError, type OptionSpecs, type ParsedOptions } from './args';

/** Options of every command that opens a port. */
export const OPEN_OPTIONS: OptionSpecs = {
  iface: { kind: 'string', help: 'interface to open (run inside its namespace: ip netns exec NS ...)', meta: 'IF' },
  backend: { kind: 'string', help: 'backend', default: 'auto', choices: ['auto', 'netmap', 'xdp'] },
  'xdp-mode': { kind: 'string', help: 'AF_XDP attach mode', default: 'auto', choices: ['auto', 'native', 'generic'] },
  queue: { kind: 'integer', help: 'NIC queue (default: 0 for AF_XDP, the port name\'s rings for netmap)', min: 0, max: 1023, meta: 'N' },
  'ring-size': { kind: 'integer', help: 'entries per ring (power of two)', default: 2048, min: 64, max: 16384, meta: 'N' },
};

/** The open() options from parsed command-line options. */
export function openOptions(options: ParsedOptions): OpenOptions {
  const result: OpenOptions = {
    backend: options.backend as OpenOptions['backend'],
    xdpMode: options['xdp-mode'] as OpenOptions['xdpMode'],
    ringSize: options['ring-size'] as number,
  };
  if (options.queue !== undefined) result.queue = options.queue as number;
  return result;
}

/** Print one warning on stderr when open() fell back from the backend it tried first (for a service: its first port's). */
export function warnOnFallback(device: Pick<Device, 'name' | 'backend' | 'mode' | 'fallback'>): void {
  const warning = fallbackWarning(device);
  if (warning !== null) console.error(warning);
}

/** Parse "IPV4:PORT". */
export function parseTarget(text: string | undefined, option = '--target'): { address: string; port: number } {
  const match = text === undefined ? null : /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text);
  if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65535 || match[1].split('.').some((part) => Number(part) > 255)) {
    throw new UsageError(`${option} must be IPV4:PORT, e.g. 198.18.0.1:9000, got "${text ?? ''}"`);
  }
  return { address: match[1], port: Number(match[2]) };
}

/** Fail with a clear message when not root. */
export function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new UsageError(`${what} needs root (network namespaces, XDP and AF_XDP need CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW, CAP_IPC_LOCK)`);
  }
}

/** Resolve when SIGINT or SIGTERM arrives (or `durationS` passes, when > 0). */
export function untilStopped(durationS: number): Promise<string> {
  return new Promise((resolve) => {
    const finish = (why: string): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (timer !== null) clearTimeout(timer);
      resolve(why);
    };
    const onInt = (): void => finish('SIGINT');
    const onTerm = (): void => finish('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const timer = durationS > 0 ? setTimeout(() => finish('duration'), durationS * 1000) : null;
  });
}

/** Options of the commands that serve several queues, one worker thread each. */
export const QUEUES_OPTIONS: OptionSpecs = {
  queues: { kind: 'string', help: 'queues to serve, one worker thread each: all, N (queues 0 to N-1) or a list (0,2)', meta: 'all|N|LIST' },
  cpus: { kind: 'string', help: 'pin worker i to the i-th CPU of the list (cycling), e.g. 0-3 or 0,2', meta: 'LIST' },
};

/** --queues as serve() takes it: 'all', N meaning queues 0 to N-1, or a list of queue numbers. */
export function parseQueues(text: string): 'all' | number[] {
  if (text === 'all') return 'all';
  if (/^\d+$/.test(text)) {
    const count = Number(text);
    if (count < 1 || count > 1024) throw new UsageError(`--queues N must be from 1 to 1024, got ${text}`);
    return Array.from({ length: count }, (_, i) => i);
  }
  if (!/^\d+(,\d+)+$/.test(text)) throw new UsageError(`--queues must be all, a count N (queues 0 to N-1) or a list like 0,2, got "${text}"`);
  const queues = text.split(',').map(Number);
  if (queues.some((queue) => queue > 1023)) throw new UsageError(`--queues: queue numbers go up to 1023, got "${text}"`);
  if (new Set(queues).size !== queues.length) throw new UsageError(`--queues lists a queue twice: "${text}"`);
  return queues;
}

/** A CPU list as taskset writes it: 0-3, 0,2, 0-1,4. */
export function parseCpuList(text: string, option = '--cpus'): number[] {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(text)) throw new UsageError(`${option} must be CPU numbers and ranges like 0-3 or 0,2, got "${text}"`);
  const cpus: number[] = [];
  for (const part of text.split(',')) {
    const [first, last = first] = part.split('-').map(Number);
    if (last < first || last > 1023) throw new UsageError(`${option}: "${part}" is not a CPU range (0 to 1023, low-high)`);
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/**
 * The queues a command serves from --queue and --queues: null for one port
 * the old way (--queue alone, or neither when `defaultAll` is false).
 * Both together, or --queues with a netmap name that names a ring, are
 * one-line errors.
 */
export function queueSelection(options: ParsedOptions, defaultAll: boolean): 'all' | number[] | null {
  const queues = options.queues as string | undefined;
  const ifname = String(options.iface ?? '');
  if (queues !== undefined && options.queue !== undefined) throw new UsageError('--queue and --queues exclude each other (--queue N serves one queue; --queues a set)');
  if (options.cpus !== undefined && options.queue !== undefined) throw new UsageError('--cpus pins worker threads: use it with --queues (or taskset for one queue)');
  if (queues !== undefined && (hasNetmapPrefix(ifname) || options.backend === 'netmap')) {
    let port;
    try {
      port = parseNetmapName(ifname);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (port.mode !== NR_REG_ALL_NIC) throw new UsageError(`--queues cannot be used with the netmap port name "${ifname}", which names its rings: give netmap:${port.name}`);
  }
  if (queues !== undefined) return parseQueues(queues);
  if (options.queue !== undefined) return null;
  return defaultAll ? 'all' : null;
}
