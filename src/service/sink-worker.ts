// The sink as a worker module for serve(): each worker receives and recycles
// every frame of its own queue, counting. `nicring sink --queues` runs it.

import type { CounterTree, WorkerContext, WorkerService } from './serve';
import { Sink } from './sink';

/** `ServeOptions.options` for this module. */
export interface SinkWorkerOptions {
  /** Frames per receive batch (default 64). */
  batchSize?: number;
  /** Poll every turn instead of waiting for the fd. */
  busyPoll?: boolean;
}

export function setup(context: WorkerContext): WorkerService {
  const options = (context.options ?? {}) as SinkWorkerOptions;
  const sink = new Sink(context.device, { batchSize: options.batchSize, busyPoll: options.busyPoll });
  sink.start();
  return {
    counters: (): CounterTree => ({ frames: sink.counters.frames, bytes: sink.counters.bytes }),
    close: () => sink.stop(),
  };
}
