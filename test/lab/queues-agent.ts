// Lab agent for the queue tests: worker threads holding AF_XDP ports on the
// queues of one interface, opened together and closed (or crashed, or
// terminated) in a given order, with the interface's XDP program checked
// after each step.

import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { type Args, printResult, runAgent } from './agent-main';

function attached(iface: string): boolean {
  return /\bxdp(generic|drv|offload)?\b|prog\/xdp/.test(execFileSync('ip', ['-d', 'link', 'show', 'dev', iface], { encoding: 'utf8' }));
}

function startPortThread(iface: string, queue: number, mode: string): Worker {
  const file = path.join(__dirname, 'port-thread.ts');
  const script = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`;
  return new Worker(script, { eval: true, workerData: { iface, queue, mode }, execArgv: [] });
}

/**
 * Open a port per queue in its own thread, all at once; then for each step
 * of `steps` ("close:2,crash:0,terminate:3,..."), act on that queue's
 * thread, wait for the thread to end, and record whether the program is
 * still attached.
 */
async function jobPorts(args: Args): Promise<void> {
  const queues = args.queues.split(',').map(Number);
  const workers = new Map<number, Worker>();
  const exits = new Map<number, Promise<number>>();
  const opened = await Promise.all(queues.map((queue) => new Promise<{ queue: number; mode?: string; error?: string }>((resolve) => {
    const worker = startPortThread(args.iface, queue, args.mode);
    workers.set(queue, worker);
    exits.set(queue, new Promise((done) => worker.once('exit', done)));
    worker.once('message', (message: { mode: string }) => resolve({ queue, mode: message.mode }));
    worker.once('error', (error) => resolve({ queue, error: error.message }));
  })));
  const steps: { step: string; exitCode: number; attached: boolean }[] = [];
  const attachedWhenOpen = attached(args.iface);
  for (const step of args.steps.split(',')) {
    const [action, queueText] = step.split(':');
    const worker = workers.get(Number(queueText)) as Worker;
    if (action === 'close' || action === 'crash') worker.postMessage(action);
    else if (action === 'terminate') void worker.terminate();
    const exitCode = await (exits.get(Number(queueText)) as Promise<number>);
    steps.push({ step, exitCode, attached: attached(args.iface) });
  }
  printResult({ opened, attachedWhenOpen, steps });
}

/** Hold ports on every queue in worker threads until killed (SIGKILL test). */
async function jobHold(args: Args): Promise<void> {
  const queues = args.queues.split(',').map(Number);
  await Promise.all(queues.map((queue) => new Promise<void>((resolve, reject) => {
    const worker = startPortThread(args.iface, queue, args.mode);
    worker.once('message', () => resolve());
    worker.once('error', reject);
  })));
  console.log('ready');
  await new Promise(() => undefined);
}

runAgent({ ports: jobPorts, hold: jobHold }, process.argv.slice(2));
