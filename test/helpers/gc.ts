// Count garbage collections while a piece of code runs (PerformanceObserver 'gc').

import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A full collection on demand, so every measurement starts from an empty young generation and no
// marking in progress: what earlier tests left in the heap cannot decide whether a GC falls inside it.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** Run `work` and return how many GC events happened during it. */
export async function countGcEvents(work: () => void): Promise<number> {
  collect();
  // Let collections caused by earlier tests (and that one) finish and be reported first.
  await new Promise((resolve) => setTimeout(resolve, 20));
  let events = 0;
  let observing = false;
  const observer = new PerformanceObserver((list) => {
    if (observing) events += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  observing = true;
  const before = events;
  work();
  // GC entries are delivered asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 50));
  observing = false;
  observer.disconnect();
  return events - before;
}
