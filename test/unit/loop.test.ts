import { strict as assert } from 'node:assert';
import { FakeClock, Loop, TimerQueue, systemClock, type Clock } from '../../src/loop';
import { createPair } from '../../src/phy/pair';
import { countGcEvents } from '../helpers/gc';

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

  it('holds one heap entry per armed timer: a cancelled one leaves at once, through 1,000,000 schedule/cancel pairs', () => {
    const timers = new TimerQueue();
    const keep = timers.schedule(5e9, () => undefined);
    let largest = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const id = timers.schedule(1000 + i, () => undefined);
      if (timers.size > largest) largest = timers.size;
      timers.cancel(id);
    }
    assert.equal(largest, 2);
    assert.equal(timers.size, 1);
    assert.equal(timers.scheduledIds, 1);
    timers.cancel(keep);
    assert.equal(timers.size, 0);
    assert.equal(timers.scheduledIds, 0);
    assert.equal(timers.nextDueMs(), Infinity);
  });

  it('re-arms a timer handle in its one entry: 1,000,000 re-arms and cancels leave the heap at the live count', () => {
    const timers = new TimerQueue();
    const live = Array.from({ length: 100 }, () => timers.timer(() => undefined));
    live.forEach((timer, i) => timer.armAt(10_000 + i));
    const moved = timers.timer(() => undefined);
    let largest = 0;
    for (let i = 0; i < 1_000_000; i++) {
      moved.armAt((i * 7919) % 20_000);
      if (i % 3 === 0) moved.cancel();
      if (timers.size > largest) largest = timers.size;
    }
    assert.equal(largest, 101);
    for (const timer of live) timer.cancel();
    moved.cancel();
    assert.equal(timers.size, 0);
  });

  it('arms, moves, runs and cancels handles with zero GC events over 1,000,000 rounds', async () => {
    let nowMs = 0;
    const timers = new TimerQueue(() => nowMs);
    let fired = 0;
    const onFire = (): void => { fired++; };
    const handles = Array.from({ length: 64 }, () => timers.timer(onFire));
    const round = (i: number): void => {
      const handle = handles[i & 63];
      handle.arm(1 + (i % 97));
      if ((i & 7) === 0) handle.cancel();
      nowMs++;
      timers.runDue(nowMs);
    };
    for (let i = 0; i < 100_000; i++) round(i);
    const events = await countGcEvents(() => {
      for (let i = 0; i < 1_000_000; i++) round(i);
    });
    assert.equal(events, 0);
    assert.ok(fired > 0);
  });

  it('runs handles in due order after moves, and a cancelled or moved one only where it now is', () => {
    let nowMs = 0;
    const timers = new TimerQueue(() => nowMs);
    const ran: string[] = [];
    const a = timers.timer((now) => ran.push(`a@${now}`));
    const b = timers.timer(() => ran.push('b'));
    const c = timers.timer(() => ran.push('c'));
    a.arm(30);
    b.arm(10);
    c.arm(20);
    b.arm(40);
    c.cancel();
    assert.equal(c.armed, false);
    assert.equal(timers.size, 2);
    nowMs = 35;
    assert.equal(timers.runDue(nowMs), 1);
    assert.deepEqual(ran, ['a@35']);
    assert.equal(a.armed, false);
    a.arm(0);
    assert.equal(timers.nextDueMs(), 35);
    assert.equal(timers.runDue(100), 2);
    assert.deepEqual(ran, ['a@35', 'a@100', 'b']);
    assert.equal(timers.size, 0);
  });

  it('runs timers due at the same time in the order they were armed, re-arming counting as new', () => {
    const timers = new TimerQueue();
    const ran: number[] = [];
    const handles = [0, 1, 2, 3].map((n) => timers.timer(() => ran.push(n)));
    for (const handle of handles) handle.armAt(50);
    handles[1].armAt(50);
    timers.runDue(50);
    assert.deepEqual(ran, [0, 2, 3, 1]);
  });

  it('keeps heap order through random arms, moves and cancels (checked against a sorted list)', () => {
    const timers = new TimerQueue();
    let seed = 12345;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const handles = Array.from({ length: 200 }, () => timers.timer(() => undefined));
    const due = new Map<number, number>();
    for (let step = 0; step < 20_000; step++) {
      const i = Math.floor(random() * handles.length);
      if (random() < 0.3) {
        handles[i].cancel();
        due.delete(i);
      } else {
        const at = Math.floor(random() * 1000);
        handles[i].armAt(at);
        due.set(i, at);
      }
      assert.equal(timers.size, due.size);
    }
    const expected = [...due.values()].sort((x, y) => x - y);
    const seen: number[] = [];
    while (timers.size > 0) {
      const next = timers.nextDueMs();
      seen.push(next);
      const before = timers.size;
      // Run exactly the earliest: everything due at `next` goes.
      timers.runDue(next);
      for (let k = 1; k < before - timers.size; k++) seen.push(next);
    }
    assert.deepEqual(seen, expected);
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

  it('wakes for a handle armed earlier than the timer it was waiting for', async () => {
    const [a] = createPair();
    const loop = new Loop(a, () => undefined);
    loop.start();
    const ran: string[] = [];
    loop.timer(() => ran.push('late')).arm(10_000);
    const soon = loop.timer(() => ran.push('soon'));
    soon.arm(5);
    await sleep(40);
    assert.deepEqual(ran, ['soon']);
    assert.equal(loop.timers.size, 1);
    loop.stop();
  });

  it("still runs a timer when Node's timer fires before the loop's clock says it is due", async () => {
    // Node's timers count from libuv's cached loop time, so one may fire a little early by the loop's clock.
    const [a] = createPair();
    const clock = new FakeClock();
    const loop = new Loop(a, () => undefined, { clock });
    loop.start();
    let ran = 0;
    loop.timer(() => ran++).arm(5);
    await sleep(40);
    assert.equal(ran, 0, 'not due on the loop clock yet');
    clock.advance(5);
    await sleep(40);
    assert.equal(ran, 1);
    loop.stop();
  });

  it("reads the system clock into a cell and compares it with a due time there (performance.now()'s time)", () => {
    assert.equal(typeof systemClock.tick, 'function', 'the addon is built: the system clock ticks natively');
    const cells = new Float64Array([0, Infinity]);
    const before = performance.now();
    assert.equal(systemClock.tick?.(cells), false);
    const after = performance.now();
    assert.ok(cells[0] >= before - 1 && cells[0] <= after + 1, `${before} <= ${cells[0]} <= ${after}`);
    cells[1] = cells[0];
    assert.equal(systemClock.tick?.(cells), true, 'due at the time just read');
    cells[1] = cells[0] + 60_000;
    assert.equal(systemClock.tick?.(cells), false);
  });

  it("asks a ticking clock once a turn and runs timers only when it says they are due, and a timer armed for the turn's time in that turn", () => {
    const [a, b] = createPair();
    let timeMs = 100;
    let ticks = 0;
    const clock: Clock = {
      nowMs: () => timeMs,
      tick: (cells) => {
        ticks++;
        cells[0] = timeMs;
        return cells[0] >= cells[1];
      },
    };
    const ran: string[] = [];
    let armNow = false;
    const loop = new Loop(b, () => {
      if (armNow) loop.timer(() => ran.push('now')).arm(0);
    }, { clock });
    loop.start();
    loop.timer(() => ran.push('at 105')).arm(5);
    loop.turn();
    assert.equal(ticks, 1);
    assert.deepEqual(ran, []);
    timeMs = 105;
    loop.turn();
    assert.deepEqual(ran, ['at 105']);
    armNow = true;
    a.transmit(a.allocTx(), 60);
    a.flush();
    loop.turn();
    assert.deepEqual(ran, ['at 105', 'now'], 'armed during the turn for its own time, run before the turn ends');
    assert.equal(ticks, 3);
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
