// Helpers for lab tests: build a lab that is removed even when a test fails,
// and run agents (test/lab/agent.ts) inside its namespaces.

import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { canRunLab, execIn, labDown, labUp, type Lab, type LabUpOptions } from '../../src/lab';

const AGENT = path.join(__dirname, 'agent.ts');
const started = new Set<ChildProcess>();

/** A process running inside a namespace, started by this test run. */
export interface Agent {
  child: ChildProcess;
  /** Resolves when the agent printed "ready". */
  ready: Promise<void>;
  /** Resolves with the agent's last JSON line when it exits. */
  result: Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): void;
}

/** Run `command` in `netns`; its last stdout line is parsed as JSON. */
export function startInNetns(netns: string, command: string[]): Agent {
  const child = spawn('ip', ['netns', 'exec', netns, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  let stdout = '';
  let stderr = '';
  let readyResolve: () => void = () => undefined;
  let readyReject: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (/^ready$/m.test(stdout)) readyResolve();
  });
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const result = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.on('close', (code, signal) => {
      started.delete(child);
      const lines = stdout.trim().split('\n').filter((line) => line.startsWith('{'));
      const last = lines[lines.length - 1];
      const error = new Error(`${command.join(' ')} exited with ${code ?? signal}: ${stderr.trim() || stdout.trim()}`);
      readyReject(error);
      if (last === undefined) reject(error);
      else resolve(JSON.parse(last) as Record<string, unknown>);
    });
  });
  ready.catch(() => undefined);
  result.catch(() => undefined);
  return {
    child,
    ready,
    result,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Run a job of test/lab/agent.ts in `netns`. */
export function startAgent(netns: string, job: string, args: Record<string, string | number>): Agent {
  const flat = Object.entries(args).flatMap(([key, value]) => [`--${key}`, String(value)]);
  return startInNetns(netns, [process.execPath, '--import', 'tsx', AGENT, job, ...flat]);
}

/** Stop every agent this test run started that is still running (after a failure). */
export function stopAllAgents(): void {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
}

/**
 * mocha hooks: a lab for this suite, removed afterwards even on failure; the suite is skipped without root.
 * `staticNeighbor` (default true) gives the peer kernel a permanent ARP entry for nicring's address,
 * for suites where no stack answers ARP.
 */
export function useLab(options: LabUpOptions & { name: string; staticNeighbor?: boolean }): { lab: () => Lab } {
  let current: Lab | null = null;
  before(function () {
    if (!canRunLab()) {
      console.log('    (lab tests need root and iproute2: skipped)');
      this.skip();
    }
    this.timeout(30000);
    current = labUp(options);
    // nicring's stack is not running here: tell the peer kernel nicring's MAC for its address.
    if (options.staticNeighbor !== false) execIn(current.peer.netns, ['ip', 'neigh', 'replace', current.nicring.ip, 'lladdr', current.nicring.mac, 'dev', current.peer.ifname, 'nud', 'permanent']);
  });
  after(function () {
    this.timeout(30000);
    stopAllAgents();
    if (current !== null) labDown(current.name);
  });
  return {
    lab: () => {
      if (current === null) throw new Error('lab not up');
      return current;
    },
  };
}

/** A lab name unique to this process and suite. */
export function labName(suite: string): string {
  return `${suite}${process.pid % 100000}`.slice(0, 12);
}

/** Whether an XDP program is attached to the interface (ip -d link). */
export function xdpAttached(netns: string, ifname: string): boolean {
  return /\bxdp(generic|drv|offload)?\b|prog\/xdp/.test(execIn(netns, ['ip', '-d', 'link', 'show', 'dev', ifname]));
}

process.on('exit', stopAllAgents);
