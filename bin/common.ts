// Option sets and helpers shared by the commands that open a port.

import { fallbackWarning, type Device, type OpenOptions } from '../src/index';
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

/** Print one warning on stderr when open() fell back from the backend it tried first. */
export function warnOnFallback(device: Device): void {
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
