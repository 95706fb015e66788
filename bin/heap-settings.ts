// Imported first by the command line, before anything else has grown the
// heap. V8's memory reducer arms itself once the old generation of a young
// process grows by 1 MB, then runs full collections when it sees a low
// allocation rate; a packet service that allocates nothing in its steady
// state is exactly that, so it would get two major GCs about 8 s after
// start, in the middle of serving. The heap of a long-running service has
// nothing to give back, so the reducer's small-heap trigger is turned off.
//
// gc() is exposed to the worker threads started after this (serve-worker):
// each runs one full collection once its port and module are set up, before
// it takes traffic. Start-up fills V8's old generation to its first limit,
// and the collection that would follow otherwise comes in the first second of
// load (a Mark-Compact of 7-9 ms on this machine).

import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-memory-reducer-for-small-heaps');
setFlagsFromString('--expose-gc');
