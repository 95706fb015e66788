// Helpers for lab tests of `nicring respond`: run it with --json in a
// namespace and read its lines, run the clients of test/lab/respond-agent.ts.

import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { execIn, type Lab } from '../../src/lab';
import { startInNetns, type Agent } from './harness';

export const CLI = path.join(__dirname, '..', '..', 'bin', 'nicring.ts');
const RESPOND_AGENT = path.join(__dirname, 'respond-agent.ts');

export type Json = Record<string, unknown>;

/** Every JSON line `agent` prints; `closed` resolves with all of them once its output has ended. */
export function jsonLines(agent: Agent): { lines: Json[]; closed: Promise<Json[]>; onLine(listener: (line: Json) => void): void } {
  const lines: Json[] = [];
  const listeners: ((line: Json) => void)[] = [];
  let pending = '';
  agent.child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const text of complete) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as Json;
      lines.push(line);
      for (const listener of listeners) listener(line);
    }
  });
  // 'close' comes after the output has been read to its end ('exit' may come before).
  const closed = new Promise<Json[]>((resolve) => agent.child.on('close', () => resolve(lines)));
  return { lines, closed, onLine: (listener) => listeners.push(listener) };
}

/** The last JSON line a finished agent printed; fails with its stderr when there is none. */
export async function lastLine(agent: Agent, closed: Promise<Json[]>): Promise<Json> {
  const [lines] = await Promise.all([closed, agent.result.catch(() => undefined)]);
  if (lines.length > 0) return lines[lines.length - 1];
  return agent.result;
}

/** `nicring respond --json` running in a namespace, with every JSON line it printed so far. */
export interface RunningResponder {
  agent: Agent;
  pid: number;
  lines: Json[];
  /** Resolves with the ready line. */
  ready: Promise<Json>;
  /** SIGTERM, then the final line. */
  stop(): Promise<Json>;
}

/** The responder's latest figures, to explain a failure. */
export function latestFigures(responder: RunningResponder): string {
  const line = responder.lines[responder.lines.length - 1] ?? {};
  return JSON.stringify({ requests: line.requests, replies: line.replies, drops: line.drops, kernel: line.kernel });
}

/**
 * Start `nicring respond --json` on the lab's nicring side; ready once it said so and the peer kernel
 * has resolved its address: a client that starts a fast stream while its kernel still waits for an
 * ARP reply loses what overflows the kernel's queue of unresolved packets, whoever answers.
 * `untaggedPeer: false` (a responder on a VLAN the peer's plain interface is not on): ready once it said so.
 */
export function startResponder(l: Lab, args: string[], options: { untaggedPeer?: boolean } = {}): RunningResponder {
  const agent = startInNetns(l.nicring.netns, [process.execPath, '--import', 'tsx', CLI, 'respond', '--json',
    '--iface', l.nicring.ifname, '--address', l.nicring.address, ...args]);
  const output = jsonLines(agent);
  const readyLine = new Promise<Json>((resolve) => output.onLine((line) => { if (line.event === 'ready') resolve(line); }));
  const exitedEarly = agent.result.then((last) => { throw new Error(`nicring respond exited before it was ready: ${JSON.stringify(last)}`); });
  const ready = Promise.race([readyLine, exitedEarly]).then(async (line) => {
    if (options.untaggedPeer === false) return line;
    for (let attempt = 0; attempt < 5; attempt++) {
      if ((await runInAsync(l.peer.netns, ['ping', '-c', '1', '-W', '1', l.nicring.ip])).status === 0) return line;
    }
    throw new Error(`the peer cannot reach nicring respond at ${l.nicring.ip}`);
  });
  ready.catch(() => undefined);
  return {
    agent,
    pid: agent.child.pid ?? -1,
    lines: output.lines,
    ready,
    async stop() {
      agent.stop('SIGTERM');
      return lastLine(agent, output.closed);
    },
  };
}

/** Run `command` in `netns` to its end; resolves with its last JSON line. */
export function runToEnd(netns: string, command: string[]): { agent: Agent; result: Promise<Json> } {
  const agent = startInNetns(netns, command);
  const output = jsonLines(agent);
  return { agent, result: lastLine(agent, output.closed) };
}

/** Start a job of test/lab/respond-agent.ts in `netns`. */
export function startClient(netns: string, job: string, args: Record<string, string | number>): { agent: Agent; result: Promise<Json> } {
  const flat = Object.entries(args).flatMap(([key, value]) => [`--${key}`, String(value)]);
  return runToEnd(netns, [process.execPath, '--import', 'tsx', RESPOND_AGENT, job, ...flat]);
}

/** Run a job of test/lab/respond-agent.ts in `netns`; resolves with its result. */
export function runClient(netns: string, job: string, args: Record<string, string | number>): Promise<Json> {
  return startClient(netns, job, args).result;
}

/** The UDP error counters of a namespace's kernel (/proc/net/snmp), to explain a loss. */
export function udpErrors(netns: string): string {
  const rows = execIn(netns, ['cat', '/proc/net/snmp']).split('\n').filter((row) => row.startsWith('Udp:'));
  if (rows.length < 2) return 'UDP counters unavailable';
  const names = rows[0].split(/\s+/).slice(1);
  const values = rows[1].split(/\s+/).slice(1);
  return names.map((name, i) => `${name} ${values[i]}`).filter((pair) => /Errors/.test(pair)).join(', ');
}

/** Run a command in a namespace without blocking the event loop; stdout and exit status. */
export function runInAsync(netns: string, args: string[], timeoutMs = 30000): Promise<{ stdout: string; status: number | null }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', netns, ...args], { encoding: 'utf8', timeout: timeoutMs }, (error, stdout, stderr) => {
      const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ stdout: stdout + stderr, status });
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
