import { strict as assert } from 'node:assert';
import { collectAtEndOfWarmup } from '../../../src/service/respond-worker';
import { Responder } from '../../../src/service/responder';
import { StackFixture } from '../iface/peer';

describe('service/respond-worker: the collection at the end of warm-up', () => {
  const exposed = (globalThis as { gc?: unknown }).gc;
  afterEach(() => {
    (globalThis as { gc?: unknown }).gc = exposed;
  });

  it('asks gc() for one young-generation collection once warm-up is over (requests and time since the first), and never again', () => {
    const calls: unknown[] = [];
    (globalThis as { gc?: unknown }).gc = (options: unknown) => calls.push(options);
    const fixture = new StackFixture();
    fixture.start();
    const responder = new Responder(fixture.iface, { ports: [9000] });
    const timer = collectAtEndOfWarmup(fixture.iface, responder, 10, 50);
    fixture.advance(1000);
    assert.deepEqual(calls, [], 'no request yet');
    responder.counters.requests = 10;
    responder.firstRequestMs = performance.now();
    fixture.advance(250);
    assert.deepEqual(calls, [], 'not 50 ms since the first request yet by performance.now()');
    responder.firstRequestMs = performance.now() - 60;
    fixture.advance(250);
    assert.deepEqual(calls, [{ type: 'minor' }]);
    assert.equal(timer.armed, false);
    fixture.advance(5000);
    assert.equal(calls.length, 1);
    responder.close();
    fixture.iface.close();
  });

  it('does nothing and arms nothing where gc() is not exposed', () => {
    delete (globalThis as { gc?: unknown }).gc;
    const fixture = new StackFixture();
    fixture.start();
    const responder = new Responder(fixture.iface, { ports: [9000] });
    const timer = collectAtEndOfWarmup(fixture.iface, responder, 10, 50);
    assert.equal(timer.armed, false);
    responder.close();
    fixture.iface.close();
  });
});
