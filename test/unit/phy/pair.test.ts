import { strict as assert } from 'node:assert';
import { createPair } from '../../../src/phy/pair';
import { countGcEvents } from '../../helpers/gc';

describe('in-memory device pair', () => {
  it('carries a frame from one side to the other at flush, byte-exact', () => {
    const [a, b] = createPair();
    const offset = a.allocTx();
    for (let i = 0; i < 100; i++) a.bytes[offset + i] = i;
    assert.ok(a.transmit(offset, 100));
    assert.equal(b.receive(64, () => assert.fail('nothing before flush')), 0);
    assert.ok(a.txPending());
    a.flush();
    assert.equal(a.txPending(), false);
    let got: number[] = [];
    assert.equal(b.receive(64, (off, length) => { got = Array.from(b.bytes.subarray(off, off + length)); }), 1);
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => i));
    assert.equal(a.stats().txFrames, 1);
    assert.equal(b.stats().rxFrames, 1);
  });

  it('replies in place from the received buffer and recycles everything else', () => {
    const [a, b] = createPair({ frameCount: 64 });
    for (let n = 0; n < 10; n++) {
      const offset = a.allocTx();
      a.bytes[offset] = n;
      a.transmit(offset, 60);
    }
    a.flush();
    b.receive(64, (offset, length, token) => {
      if (b.bytes[offset] % 2 === 0) {
        b.bytes[offset] += 100;
        assert.ok(b.replyInPlace(token, length));
        assert.equal(b.replyInPlace(token, length), false);
      }
    });
    b.flush();
    const replies: number[] = [];
    a.receive(64, (offset) => replies.push(a.bytes[offset]));
    assert.deepEqual(replies, [100, 102, 104, 106, 108]);
    assert.equal(a.freeBuffers, 64);
    assert.equal(b.freeBuffers, 64);
  });

  it('drops and counts when the receiver queue is full or the link is down', () => {
    const [a, b] = createPair({ frameCount: 64, rxQueueSize: 4 });
    for (let i = 0; i < 6; i++) a.transmit(a.allocTx(), 60);
    a.flush();
    assert.equal(b.rxQueued, 4);
    assert.equal(b.stats().rxDropped, 2);
    b.linkUp = false;
    a.transmit(a.allocTx(), 60);
    a.flush();
    assert.equal(b.stats().rxDropped, 3);
  });

  it('poisons released buffers and detaches memory on close', () => {
    const [a, b] = createPair({ poison: true });
    a.transmit(a.allocTx(), 60);
    a.flush();
    let kept = -1;
    b.receive(1, (offset) => { kept = offset; });
    assert.equal(b.bytes[kept], 0xa5);
    b.close();
    assert.throws(() => b.memory.getUint8(0), TypeError);
    a.transmit(a.allocTx(), 60);
    a.flush();
    assert.equal(b.receive(1, () => assert.fail('closed')), 0);
  });

  it('wakes a watcher once frames arrive', async () => {
    const [a, b] = createPair();
    let wakes = 0;
    b.watch(() => { wakes++; b.receive(64, () => undefined); });
    a.transmit(a.allocTx(), 60);
    a.transmit(a.allocTx(), 60);
    a.flush();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(wakes, 1);
  });

  it('wakes a watcher again while frames are left, as a level-triggered poll does', async () => {
    const [a, b] = createPair();
    let wakes = 0;
    b.watch(() => { wakes++; b.receive(1, () => undefined); });
    for (let i = 0; i < 3; i++) a.transmit(a.allocTx(), 60);
    a.flush();
    for (let i = 0; i < 6; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(wakes, 3);
    assert.equal(b.rxQueued, 0);
  });

  it('moves 1,000,000 frames with zero GC events on the packet path', async function () {
    this.timeout(120000);
    const [a, b] = createPair({ frameCount: 1024 });
    let echoed = 0;
    let returned = 0;
    const echo = (offset: number, length: number, token: number): void => {
      b.bytes[offset + 1] = b.bytes[offset];
      if (b.replyInPlace(token, length)) echoed++;
    };
    const count = (offset: number): void => {
      if (a.bytes[offset + 1] === a.bytes[offset]) returned++;
    };
    const run = (frames: number): void => {
      for (let sent = 0; sent < frames; sent += 64) {
        for (let i = 0; i < 64; i++) {
          const offset = a.allocTx();
          a.bytes[offset] = i;
          a.transmit(offset, 64);
        }
        a.flush();
        b.receive(64, echo);
        b.flush();
        a.receive(64, count);
      }
    };
    run(64 * 1000);
    echoed = 0;
    returned = 0;
    const gcEvents = await countGcEvents(() => run(1_000_000 - (1_000_000 % 64) + 64));
    assert.equal(echoed, returned);
    assert.ok(returned >= 1_000_000);
    assert.equal(gcEvents, 0, `${gcEvents} GC events`);
  });
});

describe('the GC probe used by the zero-allocation tests', () => {
  it('does see collections when code allocates per packet', async () => {
    let sink: object | undefined;
    const gcEvents = await countGcEvents(() => {
      for (let i = 0; i < 2_000_000; i++) sink = { i, bytes: new Uint8Array(16) };
    });
    assert.ok(sink !== undefined);
    assert.ok(gcEvents > 0);
  });
});
