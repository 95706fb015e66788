import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { resolveQueues, serve, type Service, type ServiceStats, type WorkerError } from '../../../src/service/serve';
import type { PairWorkerOptions } from './pair-worker';

const MODULE = path.join(__dirname, 'pair-worker.ts');
const INTERFACE = { address: '198.18.0.1/24', arp: { gratuitous: false } };

function start(queues: number[], options: PairWorkerOptions, extra: { cpus?: number[] } = {}): Promise<Service> {
  return serve('pair', { module: MODULE, queues, interface: INTERFACE, options, ...extra });
}

/** Ask for stats until every queue's module says it is done (bounded by the test's timeout). */
async function untilDone(service: Service): Promise<ServiceStats> {
  for (;;) {
    const stats = await service.stats();
    if (stats.queues.every((q) => q.service.done === 1)) return stats;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function cpusAllowed(): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/thread-self/status', 'utf8'))?.[1] ?? '';
}

describe('serve: one worker thread per queue', () => {
  describe('queues', () => {
    it('serves every queue the interface has, or the ones listed', () => {
      assert.deepEqual(resolveQueues('lo', 'all'), [0]);
      assert.deepEqual(resolveQueues('lo', [0]), [0]);
    });

    it('refuses a queue the interface lacks, a repeated queue, an unknown interface and a list with a netmap ring name, each in one line', () => {
      assert.throws(() => resolveQueues('lo', [0, 1]), /^RangeError: lo has 1 queue \(0-0\): it has no queue 1 \(see ethtool -l lo\)$/);
      assert.throws(() => resolveQueues('lo', [0, 0]), /lists a queue twice: 0,0/);
      assert.throws(() => resolveQueues('lo', [-1]), /-1 is not a queue number/);
      assert.throws(() => resolveQueues('nosuchif0', 'all'), /no interface nosuchif0 in this network namespace/);
      assert.throws(() => resolveQueues('netmap:lo-1', [0, 1]), /already names its rings: give the interface \(netmap:lo\)/);
      assert.throws(() => resolveQueues('lo-1', [1], 'netmap'), /already names its rings/);
      assert.deepEqual(resolveQueues('netmap:lo', 'all'), [0]);
      assert.deepEqual(resolveQueues('netmap:lo-3', 'all'), [3], 'a name with a ring is served as it is, by one worker');
      assert.deepEqual(resolveQueues('netmap:lo^', 'all'), [0]);
    });

    it('refuses options it does not know, a queue in the open options and bad CPU lists', async () => {
      await assert.rejects(serve('pair', { module: MODULE, queues: [0], color: 'red' } as never), /unknown option color/);
      await assert.rejects(serve('pair', { module: MODULE, queues: [0], open: { queue: 1 } as never }), /open.queue is not an option here/);
      await assert.rejects(serve('pair', { module: MODULE, queues: [0], cpus: [-1] }), /cpus must be a non-empty list of CPU numbers/);
      await assert.rejects(serve('pair', { module: '' }), /module must be the path of a worker module/);
    });
  });

  it('answers 1,000,000 requests in each worker with zero GC events from the packet path, and sums the figures', async function () {
    this.timeout(300000);
    const service = await start([0, 1], { scenario: 'echo', frames: 1_000_000 });
    try {
      const stats = await untilDone(service);
      assert.deepEqual(stats.queues.map((q) => q.queue), [0, 1]);
      for (const q of stats.queues) {
        assert.equal(q.service.gcEvents, 0, `queue ${q.queue}: ${q.service.gcEvents} GC events`);
        assert.equal(q.service.replies, 1_050_000);
        assert.equal(q.stack?.udpRepliesInPlace, 1_050_000);
        assert.equal(q.device.backend, 'pair');
      }
      assert.equal(stats.total.service.replies, 2_100_000);
      assert.equal(stats.total.stack?.udpRepliesInPlace, 2_100_000);
      assert.equal(stats.total.device.rxFrames, stats.queues[0].device.rxFrames + stats.queues[1].device.rxFrames);
      assert.equal(stats.total.device.backend, 'pair');
      assert.deepEqual(service.ports.map((p) => [p.queue, p.name]), [[0, 'pair-q0'], [1, 'pair-q1']]);
    } finally {
      const final = await service.close();
      assert.equal(final.queues.length, 2);
      assert.equal(final.total.service.replies, 2_100_000);
    }
  });

  it('lets every worker send to a neighbour whose ARP reply reached one queue only', async function () {
    this.timeout(30000);
    const service = await start([0, 1, 2], { scenario: 'send', arpQueue: 1 });
    try {
      const stats = await untilDone(service);
      for (const q of stats.queues) assert.equal(q.service.delivered, 1, `queue ${q.queue} delivered its datagram`);
      assert.equal(stats.queues[1].neighbors?.sent, 1, 'the queue that heard the reply shared it');
      assert.equal(stats.queues[0].neighbors?.adopted, 1);
      assert.equal(stats.queues[2].neighbors?.adopted, 1);
      assert.equal(stats.queues[0].stack?.arpRepliesReceived, 0, 'queue 0 never saw the reply itself');
    } finally {
      await service.close();
    }
  });

  it('takes the service down with a worker\'s error, after every port closed', async function () {
    this.timeout(30000);
    const service = await start([0, 1, 2], { scenario: 'fail', failQueue: 2 });
    await service.stats();
    const error = await service.closed.then(() => null, (e: WorkerError) => e);
    assert.ok(error !== null, 'closed rejects');
    assert.equal(error.message, 'injected fault on queue 2');
    assert.equal(error.queue, 2);
    const final = await service.close().catch((e: Error) => e);
    assert.equal(final, error, 'close() reports the same failure');
    const after = await service.stats();
    assert.deepEqual(after.queues.map((q) => q.queue), [0, 1, 2], 'every worker reported its last figures before it closed');
  });

  it('rejects when a worker\'s setup fails, naming the queue, and starts nothing', async function () {
    this.timeout(30000);
    const error = await start([0, 1], { scenario: 'fail-setup', failQueue: 1 }).then(() => null, (e: WorkerError) => e);
    assert.ok(error !== null);
    assert.equal(error.message, 'queue 1: setup refused on queue 1');
    assert.equal(error.queue, 1);
  });

  it('pins each worker thread with its own native call, leaving the main thread alone', async function () {
    this.timeout(30000);
    const before = cpusAllowed();
    const service = await start([0, 1], { scenario: 'threads' }, { cpus: [0] });
    try {
      const stats = await untilDone(service);
      for (const q of stats.queues) {
        assert.equal(q.service.cpusAllowed, '0');
        assert.ok((q.service.gcEvents as number) > 0, 'GC in a worker is counted');
        assert.deepEqual(q.cpus, [0]);
        assert.ok(typeof q.threadId === 'number' && q.threadId !== process.pid);
      }
      assert.notEqual(stats.queues[0].threadId, stats.queues[1].threadId);
      assert.equal(cpusAllowed(), before);
    } finally {
      await service.close();
    }
  });
});
