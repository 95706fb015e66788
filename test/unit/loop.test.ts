import { strict as assert } from 'node:assert';
import { FakeClock, Loop, TimerQueue } from '../../src/loop';
import { createPair } from '../../src/phy/pair';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('timer queue', () => {
  it('runs timers in due order, ties in scheduling order, and skips cancelled ones', () => {
    const timers = new TimerQueue();
    const ran: string[] = [];
    timers.schedule(30, () => ran.push('c'));
    timers.schedule(10, () => ran.push('a1'));
    const cancelled = timers.schedule(20, () => ran.push('x'));
    timers.schedule(10, () => ran.push('a2'));
    timers.cancel(cancelled);
    assert.equal(timers.nextDueMs(), 10);
    assert.equal(timers.runDue(25), 2);
    assert.deepEqual(ran, ['a1', 'a2']);
    assert.equal(timers.nextDueMs(), 30);
    assert.equal(timers.size, 1);
  });

  it('passes the current time in and runs timers scheduled by timers when already due', () => {
    const timers = new TimerQueue();
    const clock = new FakeClock(1000);
    const seen: number[] = [];
    timers.schedule(1000, (now) => {
      seen.push(now);
      timers.schedule(now, (later) => seen.push(later + 1));
    });
    timers.runDue(clock.nowMs());
    assert.deepEqual(seen, [1000, 1001]);
    assert.equal(timers.nextDueMs(), Infinity);
  });
});

describe('event loop', () => {
  it('drains frames as they arrive and re-arms the watch when idle', async () => {
    const [a, b] = createPair();
    let frames = 0;
    const loop = new Loop(b, () => { frames++; }, { batchSize: 8 });
    loop.start();
    for (let i = 0; i < 20; i++) a.transmit(a.allocTx(), 60);
    a.flush();
    await sleep(10);
    assert.equal(frames, 20);
    loop.stop();
  });

  it('yields to Node after batchesPerTurn batches when more is pending', async () => {
    const [a, b] = createPair({ frameCount: 1024, rxQueueSize: 512 });
    let frames = 0;
    const loop = new Loop(b, () => { frames++; }, { batchSize: 8, batchesPerTurn: 4 });
    loop.start();
    for (let i = 0; i < 100; i++) a.transmit(a.allocTx(), 60);
    a.flush();
    let otherWork = 0;
    const interleaved = setInterval(() => { otherWork++; }, 0);
    await sleep(30);
    clearInterval(interleaved);
    assert.equal(frames, 100);
    assert.ok(loop.counters.yields >= 3, `${loop.counters.yields} yields`);
    assert.ok(otherWork > 0);
    loop.stop();
  });

  it("yields through the device's own deferral when it has one", async () => {
    const [a, b] = createPair({ frameCount: 1024, rxQueueSize: 512 });
    let deferrals = 0;
    const device = Object.assign(b, {
      defer(callback: () => void): void {
        deferrals++;
        setImmediate(callback);
      },
    });
    let frames = 0;
    const loop = new Loop(device, () => { frames++; }, { batchSize: 8, batchesPerTurn: 4 });
    loop.start();
    for (let i = 0; i < 100; i++) a.transmit(a.allocTx(), 60);
    a.flush();
    await sleep(30);
    assert.equal(frames, 100);
    assert.equal(deferrals, loop.counters.yields);
    assert.ok(deferrals >= 3, `${deferrals} deferrals`);
    loop.stop();
  });

  it('polls a drained ring a while longer after a busy turn, and not after a quiet one', async () => {
    const [a, b] = createPair({ frameCount: 1024, rxQueueSize: 512 });
    let receives = 0;
    const receive = b.receive.bind(b);
    const device = Object.assign(b, {
      receive(budget: number, onFrame: Parameters<typeof receive>[1]): number {
        receives++;
        return receive(budget, onFrame);
      },
    });
    let frames = 0;
    const loop = new Loop(device, () => { frames++; }, { batchSize: 8 });
    loop.start();
    a.transmit(a.allocTx(), 60);
    a.flush();
    await sleep(10);
    assert.equal(frames, 1);
    assert.ok(receives <= 2, `${receives} receive calls for one frame`);
    receives = 0;
    for (let i = 0; i < 64; i++) a.transmit(a.allocTx(), 60);
    a.flush();
    await sleep(10);
    assert.equal(frames, 65);
    // 8 full batches, then the spin's empty polls, then back to the fd.
    assert.ok(receives > 8 + 100, `${receives} receive calls`);
    assert.ok(receives < 8 + 5000, `${receives} receive calls`);
    loop.stop();
  });

  it("ends a spinning turn at batchesPerTurn batches' worth of frames even when they come in partial batches", async () => {
    const [a, b] = createPair({ frameCount: 1024, rxQueueSize: 512 });
    let frames = 0;
    const receive = b.receive.bind(b);
    // 64 frames make the turn a busy one; from then on one frame arrives after every
    // receive call, so each call finds a partial batch and the ring never stays empty.
    const device = Object.assign(b, {
      receive(budget: number, onFrame: Parameters<typeof receive>[1]): number {
        const count = receive(budget, onFrame);
        if (frames >= 64 && frames < 20000) {
          a.transmit(a.allocTx(), 60);
          a.flush();
        }
        return count;
      },
    });
    const loop = new Loop(device, () => { frames++; }, { batchSize: 8, batchesPerTurn: 16 });
    for (let i = 0; i < 64; i++) a.transmit(a.allocTx(), 60);
    a.flush();
    loop.start();
    await sleep(100);
    assert.equal(frames, 20000);
    // About one turn per 16 × 8 frames, not one turn for everything.
    assert.ok(loop.counters.turns >= 100, `${loop.counters.turns} turns for ${frames} frames`);
    loop.stop();
  });

  it("looks for transmit completions again through the device's own timer when it has one", async () => {
    const [a, b] = createPair();
    let pendingFlushes = 3;
    const delays: number[] = [];
    const flush = b.flush.bind(b);
    const device = Object.assign(b, {
      flush(): void {
        flush();
        if (pendingFlushes > 0) pendingFlushes--;
      },
      txPending: (): boolean => pendingFlushes > 0,
      later(callback: () => void, delayMs: number): void {
        delays.push(delayMs);
        setTimeout(callback, delayMs);
      },
    });
    const loop = new Loop(device, () => undefined);
    loop.start();
    a.transmit(a.allocTx(), 60);
    a.flush();
    await sleep(50);
    assert.equal(pendingFlushes, 0);
    assert.ok(delays.length >= 1 && delays.every((d) => d === 1), `later(…) delays ${delays.join(',')}`);
    loop.stop();
  });

  it('does no work while idle', async () => {
    const [, b] = createPair();
    const loop = new Loop(b, () => undefined);
    loop.start();
    await tick();
    const turns = loop.counters.turns;
    await sleep(200);
    assert.equal(loop.counters.turns, turns);
    loop.stop();
  });

  it('runs timers on its clock and flushes what they send', async () => {
    const [a, b] = createPair();
    const loop = new Loop(a, () => undefined);
    loop.start();
    let firedAt = -1;
    loop.setTimer(5, (now) => {
      firedAt = now;
      a.transmit(a.allocTx(), 60);
    });
    const cancelled = loop.setTimer(6, () => assert.fail('cancelled timer ran'));
    loop.cancelTimer(cancelled);
    await sleep(40);
    assert.ok(firedAt > 0);
    assert.equal(b.rxQueued, 1);
    loop.stop();
  });

  it('stops cleanly when the device is closed inside a frame callback', async () => {
    const [a, b] = createPair();
    let frames = 0;
    const loop = new Loop(b, () => { frames++; b.close(); });
    loop.start();
    for (let i = 0; i < 5; i++) a.transmit(a.allocTx(), 60);
    a.flush();
    await sleep(10);
    assert.equal(frames, 1);
    loop.stop();
  });

  it('rejects a bad batch size with a message naming it', () => {
    const [, b] = createPair();
    assert.throws(() => new Loop(b, () => undefined, { batchSize: 0 }), /batchSize/);
  });
});
