// Count garbage collections while a piece of code runs (PerformanceObserver 'gc').

import { PerformanceObserver, performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A full collection on demand, so every measurement starts from an empty young generation and no
// marking in progress: what earlier tests left in the heap cannot decide whether a GC falls inside it.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/**
 * Run `work` (synchronous) and return how many GC events started while it
 * ran; collections started before or after it (by timers earlier tests
 * left behind) are not its own.
 */
export async function countGcEvents(work: () => void): Promise<number> {
  collect();
  // Let collections caused by earlier tests (and that one) finish and be reported first.
  await new Promise((resolve) => setTimeout(resolve, 20));
  let startMs = Infinity;
  let endMs = -Infinity;
  let events = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (entry.startTime >= startMs && entry.startTime <= endMs) events++;
  });
  observer.observe({ entryTypes: ['gc'] });
  startMs = performance.now();
  work();
  endMs = performance.now();
  // GC entries are delivered asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return events;
}
