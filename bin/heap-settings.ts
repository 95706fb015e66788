// Imported first by the command line, before anything else has grown the
// heap. V8's memory reducer arms itself once the old generation of a young
// process grows by 1 MB, then runs full collections when it sees a low
// allocation rate; a packet service that allocates nothing in its steady
// state is exactly that, so it would get two major GCs about 8 s after
// start, in the middle of serving. The heap of a long-running service has
// nothing to give back, so the reducer's small-heap trigger is turned off.

import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-memory-reducer-for-small-heaps');
