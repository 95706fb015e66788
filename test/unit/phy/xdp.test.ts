import { strict as assert } from 'node:assert';
import { XDP_MAX_MULTI_BUFFER_FRAME, XdpDevice, XDP_PACKET_HEADROOM } from '../../../src/phy/xdp';
import { XdpConsumerRing, XdpProducerRing } from '../../../src/phy/xdp-ring';
import { FakeXdpKernel } from './fake-xdp-kernel';

function frame(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

/** Every UMEM chunk is in exactly one place: the device's pool or one of the kernel's rings. */
function assertEveryFrameOnce(kernel: FakeXdpKernel, device: XdpDevice): void {
  const places = [...device.freeChunks(), ...kernel.heldChunks()].sort((a, b) => a - b);
  const expected = Array.from({ length: kernel.frameCount }, (_, i) => i * kernel.frameSize);
  assert.deepEqual(places, expected);
}

describe('AF_XDP rings (against a fake kernel, indices wrapping past 2^32)', () => {
  it('starts with the fill ring full and every frame accounted for', () => {
    const kernel = new FakeXdpKernel({ ringSize: 64, frameCount: 128 });
    const device = new XdpDevice(kernel.port, 2048, 128, 'fake0', { macAddress: '02:00:00:00:00:09' });
    assert.equal(kernel.fill.used, 64);
    assert.equal(kernel.fill.producer, (0xfffffff0 + 64) >>> 0);
    assertEveryFrameOnce(kernel, device);
  });

  it('reports an empty RX ring as zero frames and lends partial batches in order', () => {
    const kernel = new FakeXdpKernel({ ringSize: 64 });
    const device = new XdpDevice(kernel.port, 2048, 128, 'fake0', { macAddress: '02:00:00:00:00:09' });
    assert.equal(device.receive(64, () => assert.fail('no frame expected')), 0);
    for (let i = 0; i < 40; i++) assert.ok(kernel.deliver(frame(60 + i, i)));
    const seen: number[] = [];
    assert.equal(device.receive(32, (offset, length) => {
      assert.equal(offset % 2048, XDP_PACKET_HEADROOM);
      assert.deepEqual(device.bytes.slice(offset, offset + length), frame(length, length - 60));
      seen.push(length);
    }), 32);
    assert.equal(device.receive(32, (_o, length) => seen.push(length)), 8);
    assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => 60 + i));
    assert.equal(device.receive(32, () => assert.fail('ring should be empty')), 0);
    assertEveryFrameOnce(kernel, device);
  });

  it('drops at the kernel when the fill ring runs dry and recovers after refill', () => {
    const kernel = new FakeXdpKernel({ ringSize: 64 });
    const device = new XdpDevice(kernel.port, 2048, 128, 'fake0', { macAddress: '02:00:00:00:00:09' });
    let delivered = 0;
    for (let i = 0; i < 100; i++) if (kernel.deliver(frame(64, i))) delivered++;
    assert.equal(delivered, 64);
    assert.equal(kernel.stats.fillEmpty, 36);
    assert.equal(device.receive(256, () => undefined), 64);
    assert.equal(kernel.fill.used, 64, 'received frames go straight back to the fill ring');
    assert.ok(kernel.deliver(frame(64, 1)));
    assertEveryFrameOnce(kernel, device);
  });

  it('keeps every frame in exactly one place across 10,000 frames of mixed receive, reply and transmit', () => {
    const kernel = new FakeXdpKernel({ ringSize: 64, frameCount: 128 });
    const device = new XdpDevice(kernel.port, 2048, 128, 'fake0', { macAddress: '02:00:00:00:00:09' });
    let replied = 0;
    let sentFromPool = 0;
    let n = 0;
    while (n < 10_000) {
      const burst = 1 + (n % 50);
      for (let i = 0; i < burst; i++, n++) kernel.deliver(frame(64 + (n % 100), n));
      device.receive(64, (offset, length, token) => {
        if ((offset + length) % 3 === 0 && device.replyInPlace(token, length)) replied++;
      });
      for (let i = 0; i < n % 5; i++) {
        const offset = device.allocTx();
        if (offset < 0) break;
        device.bytes.set(frame(100, i), offset);
        if (device.transmit(offset, 100)) sentFromPool++;
      }
      if (n % 7 === 0) kernel.completeTx = !kernel.completeTx;
      device.flush();
      assertEveryFrameOnce(kernel, device);
    }
    kernel.completeTx = true;
    while (device.txPending()) device.flush();
    assert.equal(kernel.sent.length, replied + sentFromPool);
    assert.ok(replied > 1000 && sentFromPool > 300, `replied ${replied}, sent from pool ${sentFromPool}`);
    assertEveryFrameOnce(kernel, device);
    assert.notEqual(kernel.rx.consumer, 0xfffffff0, 'indices moved');
    assert.ok(kernel.rx.consumer < 0xfffffff0, 'RX consumer index wrapped past 2^32');
    assert.ok(kernel.completion.consumer < 0xfffffff0, 'completion consumer index wrapped past 2^32');
  });

  it('replies in place with the very UMEM address the frame arrived in', () => {
    const kernel = new FakeXdpKernel({ ringSize: 64 });
    const device = new XdpDevice(kernel.port, 2048, 128, 'fake0', { macAddress: '02:00:00:00:00:09' });
    kernel.deliver(frame(80, 3));
    let arrivedAt = -1;
    device.receive(1, (offset, length, token) => {
      arrivedAt = offset;
      device.bytes[offset] ^= 0xff;
      assert.ok(device.replyInPlace(token, length - 10));
      assert.equal(device.lastQueuedTxAddress(), offset);
      assert.equal(device.replyInPlace(token, length), false, 'a frame is replied once');
    });
    device.flush();
    assert.equal(kernel.sent.length, 1);
    assert.equal(kernel.sent[0].addr, arrivedAt);
    const expected = frame(80, 3).slice(0, 70);
    expected[0] ^= 0xff;
    assert.deepEqual(kernel.sent[0].bytes, expected);
  });

  it('refuses a reply when the TX ring is full and recycles the buffer', () => {
    const kernel = new FakeXdpKernel({ ringSize: 64, frameCount: 256 });
    const device = new XdpDevice(kernel.port, 2048, 256, 'fake0', { macAddress: '02:00:00:00:00:09' });
    kernel.completeTx = false;
    // Fill TX from the pool (nothing completes), leaving no room for a reply.
    let queued = 0;
    for (;;) {
      const offset = device.allocTx();
      assert.ok(offset >= 0);
      if (!device.transmit(offset, 60)) break;
      queued++;
    }
    assert.equal(queued, 64);
    kernel.deliver(frame(64, 1));
    let refused = false;
    device.receive(1, (_o, length, token) => { refused = !device.replyInPlace(token, length); });
    assert.ok(refused);
    assert.ok(device.stats().txRingFull >= 2);
    device.flush();
    assertEveryFrameOnce(kernel, device);
  });

  it('kicks in copy mode until the kernel has taken every queued frame, 32 per kick', () => {
    const kernel = new FakeXdpKernel({ ringSize: 256, frameCount: 512, txPerKick: 32 });
    const device = new XdpDevice(kernel.port, 2048, 512, 'fake0', { macAddress: '02:00:00:00:00:09' });
    for (let i = 0; i < 200; i++) {
      const offset = device.allocTx();
      device.transmit(offset, 64);
    }
    device.flush();
    assert.equal(kernel.sent.length, 200);
    assert.equal(kernel.calls.kick, 7);
    assert.equal(device.txPending(), false);
  });

  it('does not kick when need_wakeup is on and the kernel has not asked', () => {
    const kernel = new FakeXdpKernel({ ringSize: 64, needWakeup: true });
    const device = new XdpDevice(kernel.port, 2048, 128, 'fake0', { macAddress: '02:00:00:00:00:09' });
    kernel.tx.flags = 0;
    device.transmit(device.allocTx(), 64);
    device.flush();
    assert.equal(kernel.calls.kick, 0);
    kernel.tx.flags = 1;
    device.flush();
    assert.equal(kernel.calls.kick, 1);
    assert.equal(kernel.sent.length, 1);
  });

  it('makes at most one native call per batch on the receive-and-reply path', () => {
    const kernel = new FakeXdpKernel({ ringSize: 256, frameCount: 512, txPerKick: 256 });
    const device = new XdpDevice(kernel.port, 2048, 512, 'fake0', { macAddress: '02:00:00:00:00:09' });
    const batch = 64;
    const before = device.nativeCalls;
    let packets = 0;
    while (packets < 100_000) {
      for (let i = 0; i < batch; i++) kernel.deliver(frame(64, i));
      packets += device.receive(batch, (_o, length, token) => { device.replyInPlace(token, length); });
      device.flush();
    }
    assert.equal(kernel.sent.length, packets);
    assert.ok(device.nativeCalls - before <= packets / batch + 2, `${device.nativeCalls - before} native calls for ${packets} packets`);
  });

  it('detaches memory on close, and closing inside a receive callback is safe', () => {
    const kernel = new FakeXdpKernel({ ringSize: 64 });
    const device = new XdpDevice(kernel.port, 2048, 128, 'fake0', { macAddress: '02:00:00:00:00:09' });
    for (let i = 0; i < 5; i++) kernel.deliver(frame(64, i));
    let calls = 0;
    assert.equal(device.receive(64, () => { calls++; device.close(); }), 1);
    assert.equal(calls, 1);
    assert.ok(device.closed);
    assert.throws(() => device.memory.getUint8(0), TypeError);
    assert.equal(device.bytes[0], undefined);
    assert.equal(device.receive(64, () => assert.fail('closed')), 0);
    device.flush();
    device.close();
    assert.equal(kernel.calls.close, 1);
  });

  it('poisons released receive buffers when asked', () => {
    const kernel = new FakeXdpKernel({ ringSize: 64 });
    const device = new XdpDevice(kernel.port, 2048, 128, 'fake0', { macAddress: '02:00:00:00:00:09', poison: true });
    kernel.deliver(frame(64, 9));
    let kept = -1;
    device.receive(1, (offset) => { kept = offset; });
    assert.equal(device.bytes[kept], 0xa5);
    assert.equal(device.bytes[kept + 63], 0xa5);
  });
});

describe('multi-buffer AF_XDP (XDP_USE_SG)', () => {
  /** Chunks of the device's assembly region, which never leaves it. */
  function withAssembly(kernel: FakeXdpKernel, device: XdpDevice): number[] {
    const chunks = Math.ceil(XDP_MAX_MULTI_BUFFER_FRAME / kernel.frameSize);
    return Array.from({ length: chunks }, (_, i) => (kernel.frameCount - chunks + i) * kernel.frameSize).filter(() => device.multiBuffer);
  }

  it('lends a frame that came in several descriptors whole, from one region, with token -1, and recycles the pieces', () => {
    const kernel = new FakeXdpKernel({ ringSize: 128, frameCount: 512, multiBuffer: true });
    const device = new XdpDevice(kernel.port, 2048, 512, 'fake0', { macAddress: '02:00:00:00:00:09' });
    assert.equal(device.maxReceiveFrame, XDP_MAX_MULTI_BUFFER_FRAME);
    const big = frame(65000, 3);
    assert.ok(kernel.deliver(frame(100, 1)));
    assert.ok(kernel.deliver(big));
    assert.ok(kernel.deliver(frame(200, 2)));
    const seen: Array<{ length: number; token: number; ok: boolean }> = [];
    device.receive(1000, (offset, length, token) => {
      seen.push({ length, token, ok: Buffer.from(device.bytes.subarray(offset, offset + length)).equals(Buffer.from(frame(length, length === 65000 ? 3 : length / 100))) });
      assert.equal(device.replyInPlace(token, length), token >= 0);
    });
    assert.deepEqual(seen, [{ length: 100, token: seen[0].token, ok: true }, { length: 65000, token: -1, ok: true }, { length: 200, token: seen[2].token, ok: true }]);
    assert.equal(device.stats().kernel.multiBufferFrames, 1);
    device.flush();
    kernel.transmit(1000);
    device.flush();
    const places = [...device.freeChunks(), ...kernel.heldChunks(), ...withAssembly(kernel, device)].sort((x, y) => x - y);
    assert.deepEqual(places, Array.from({ length: 512 }, (_, i) => i * 2048), 'every chunk in one place, the assembly region apart');
  });

  it('puts together a frame whose pieces span two receive() calls', () => {
    const kernel = new FakeXdpKernel({ ringSize: 128, frameCount: 512, multiBuffer: true });
    const device = new XdpDevice(kernel.port, 2048, 512, 'fake0', { macAddress: '02:00:00:00:00:09' });
    const big = frame(9000, 5);
    assert.ok(kernel.deliver(big));
    const lengths: number[] = [];
    assert.equal(device.receive(2, (_o, length) => { lengths.push(length); }), 2);
    assert.equal(lengths.length, 0, 'two of six pieces: nothing to lend yet');
    device.receive(64, (offset, length) => {
      lengths.push(length);
      assert.ok(Buffer.from(device.bytes.subarray(offset, offset + length)).equals(Buffer.from(big)));
    });
    assert.deepEqual(lengths, [9000]);
  });

  it('without multi-buffer the kernel drops a frame larger than a chunk', () => {
    const kernel = new FakeXdpKernel({ ringSize: 64, frameCount: 128 });
    const device = new XdpDevice(kernel.port, 2048, 128, 'fake0', { macAddress: '02:00:00:00:00:09' });
    assert.equal(device.multiBuffer, false);
    assert.equal(kernel.deliver(frame(3000, 1)), false);
    assert.equal(device.receive(64, () => assert.fail('nothing to lend')), 0);
  });
});

describe('AF_XDP ring verbs', () => {
  it('reserving more than is submitted leaks no slots', () => {
    const kernel = new FakeXdpKernel({ ringSize: 16 });
    const ring = new XdpProducerRing(kernel.fill.info);
    // Construction of nothing else: the fill ring is empty.
    assert.equal(ring.reserve(10), 10);
    for (let i = 0; i < 3; i++) ring.writeAddr(ring.cachedProducer + i, i * 2048);
    ring.submit(3);
    assert.equal(kernel.fill.used, 3);
    assert.equal(ring.reserve(100), 13, 'the 7 reserved-but-unsubmitted slots are free again');
    ring.submit(13);
    assert.equal(ring.reserve(1), 0, 'full');
    kernel.fill.consumer = kernel.fill.consumer + 5;
    assert.equal(ring.reserve(8), 5, 'the kernel consumer is re-read only when the cache runs out');
  });

  it('peek and release follow the kernel producer across the u32 wrap', () => {
    const kernel = new FakeXdpKernel({ ringSize: 16, startIndex: 0xfffffffe });
    const ring = new XdpConsumerRing(kernel.completion.info);
    assert.equal(ring.peek(4), 0);
    for (let i = 0; i < 5; i++) {
      kernel.completion.writeU64(kernel.completion.producer, 2 ** 33 + i);
      kernel.completion.producer = kernel.completion.producer + 1;
    }
    assert.equal(ring.peek(4), 4);
    assert.equal(ring.readAddr(ring.cachedConsumer), 2 ** 33, 'a u64 address above 4 GiB reads back whole');
    ring.release(4);
    assert.equal(kernel.completion.consumer, 2);
    assert.equal(ring.peek(4), 1);
    assert.equal(ring.readAddr(ring.cachedConsumer), 2 ** 33 + 4);
  });
});
