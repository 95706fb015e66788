// The sink: receive and recycle every frame, counting. The simplest job on
// the packet path, used by the demo and the receive benchmark.

import type { Device } from '../phy/device';
import { Loop, type LoopOptions } from '../loop';

export interface SinkCounters {
  frames: number;
  bytes: number;
}

/** Receives and recycles frames on a device, counting them. */
export class Sink {
  readonly loop: Loop;
  readonly counters: SinkCounters = { frames: 0, bytes: 0 };
  private readonly onFrame = (_offset: number, length: number): void => {
    this.counters.frames++;
    this.counters.bytes += length;
  };

  constructor(readonly device: Device, options: LoopOptions = {}) {
    this.loop = new Loop(device, this.onFrame, options);
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }
}
