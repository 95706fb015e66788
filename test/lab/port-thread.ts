// A worker thread that holds one AF_XDP port (queues-agent.ts starts one per
// queue): it opens the port, says so, and closes it, crashes or stays on
// command from the main thread.

import { parentPort, workerData } from 'node:worker_threads';
import { open } from '../../src/index';

const { iface, queue, mode } = workerData as { iface: string; queue: number; mode: 'native' | 'generic' };
const device = open(iface, { backend: 'xdp', xdpMode: mode, queue });
parentPort?.postMessage({ opened: queue, mode: device.mode });
parentPort?.on('message', (command: string) => {
  if (command === 'close') {
    device.close();
    parentPort?.postMessage({ closed: queue });
    parentPort?.close();
  } else if (command === 'crash') {
    // Uncaught: the thread dies with its port still open.
    setImmediate(() => {
      throw new Error(`crash on queue ${queue}`);
    });
  }
});
