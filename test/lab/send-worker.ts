// A worker module for serve() in the lab: every worker sends datagrams from
// its own queue to a kernel socket on the peer, through its own UDP socket,
// so each must resolve the peer's MAC (whose ARP reply lands on one queue).

import { createSocket } from '../../src/socket/udp';
import type { WorkerContext, WorkerService } from '../../src/service/serve';

export interface SendWorkerOptions {
  /** The peer's address and UDP port. */
  target: string;
  port: number;
  /** Datagrams each worker sends, 20 ms apart. */
  count: number;
}

export function setup(context: WorkerContext): WorkerService {
  const options = context.options as SendWorkerOptions;
  const socket = createSocket(context.iface!).bind(6000 + context.queue);
  let sent = 0;
  let refused = 0;
  const timer = setInterval(() => {
    if (sent + refused >= options.count) {
      clearInterval(timer);
      return;
    }
    // Payload: "queue N #i", so the peer can tell which worker it came from.
    if (socket.send(`queue ${context.queue} #${sent + refused}`, options.port, options.target)) sent++;
    else refused++;
  }, 20);
  return {
    counters: () => ({ sent, refused }),
    close: () => {
      clearInterval(timer);
      socket.close();
    },
  };
}
