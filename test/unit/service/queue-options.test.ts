import { strict as assert } from 'node:assert';
import { UsageError } from '../../../bin/args';
import { parseCpuList, parseQueues, queueSelection } from '../../../bin/common';
import { pcapFileForQueue } from '../../../src/service/respond-worker';
import { addCounters } from '../../../src/service/serve';

describe('queue options', () => {
  it('--queues: all, a count N meaning queues 0 to N-1, or a list', () => {
    assert.equal(parseQueues('all'), 'all');
    assert.deepEqual(parseQueues('1'), [0]);
    assert.deepEqual(parseQueues('4'), [0, 1, 2, 3]);
    assert.deepEqual(parseQueues('0,2'), [0, 2]);
    assert.throws(() => parseQueues('0'), /--queues N must be from 1 to 1024, got 0/);
    assert.throws(() => parseQueues('0,x'), UsageError);
    assert.throws(() => parseQueues('2,2'), /lists a queue twice/);
    assert.throws(() => parseQueues('1,2000'), /go up to 1023/);
  });

  it('--cpus: numbers and ranges as taskset writes them', () => {
    assert.deepEqual(parseCpuList('0'), [0]);
    assert.deepEqual(parseCpuList('0-3'), [0, 1, 2, 3]);
    assert.deepEqual(parseCpuList('0-1,4,6-7'), [0, 1, 4, 6, 7]);
    assert.throws(() => parseCpuList('3-1'), /"3-1" is not a CPU range/);
    assert.throws(() => parseCpuList('a'), /--cpus must be CPU numbers and ranges/);
  });

  it('--queue and --queues exclude each other; --queues refuses a netmap name with a ring', () => {
    assert.equal(queueSelection({ iface: 'eth1' }, true), 'all');
    assert.equal(queueSelection({ iface: 'eth1' }, false), null);
    assert.equal(queueSelection({ iface: 'eth1', queue: 2 }, true), null);
    assert.deepEqual(queueSelection({ iface: 'eth1', queues: '2' }, false), [0, 1]);
    assert.throws(() => queueSelection({ iface: 'eth1', queue: 1, queues: 'all' }, true), /^UsageError: --queue and --queues exclude each other/);
    assert.throws(() => queueSelection({ iface: 'netmap:eth1-2', queues: 'all' }, true), /names its rings: give netmap:eth1/);
    assert.throws(() => queueSelection({ iface: 'eth1^', backend: 'netmap', queues: '2' }, true), /names its rings/);
    assert.deepEqual(queueSelection({ iface: 'netmap:eth1', queues: '0,1' }, true), [0, 1]);
    assert.throws(() => queueSelection({ iface: 'eth1', queue: 1, cpus: '0' }, true), /--cpus pins worker threads/);
  });

  it('writes one pcap file per queue when serving several', () => {
    assert.equal(pcapFileForQueue('/tmp/out.pcap', 2, false), '/tmp/out.pcap');
    assert.equal(pcapFileForQueue('/tmp/out.pcap', 2, true), '/tmp/out-q2.pcap');
    assert.equal(pcapFileForQueue('/tmp/out', 0, true), '/tmp/out-q0.pcap');
  });

  it('sums counters over queues: numbers added, groups recursively, lists joined, labels kept when equal', () => {
    const total = {};
    addCounters(total, { replies: 3, dropped: { replyNotSent: 1 }, backend: 'xdp', mode: 'native', at: [5] });
    addCounters(total, { replies: 4, dropped: { replyNotSent: 2, handlerError: 1 }, backend: 'xdp', mode: 'generic', at: [7] });
    assert.deepEqual(total, { replies: 7, dropped: { replyNotSent: 3, handlerError: 1 }, backend: 'xdp', mode: 'native,generic', at: [5, 7] });
  });
});
