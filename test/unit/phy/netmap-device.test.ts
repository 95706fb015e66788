import { strict as assert } from 'node:assert';
import { NetmapDevice } from '../../../src/phy/netmap';
import type { FakeNetmapOptions } from './fake-netmap';
import {
  FakeNetmap, NR_REG_ALL_NIC, NR_REG_NIC_SW, NR_REG_ONE_NIC, NR_REG_ONE_SW, NR_REG_SW, NR_RX_RINGS_ONLY, NS_BUF_CHANGED, NS_MOREFRAG,
} from './fake-netmap';

const MAC = '02:00:00:00:00:01';

function open(options: FakeNetmapOptions = {}, poison = false): { fake: FakeNetmap; device: NetmapDevice } {
  const fake = new FakeNetmap(options);
  const device = new NetmapDevice(fake, { name: 'fake0', registerMode: options.mode, poison, macAddress: MAC });
  return { fake, device };
}

/** Receive everything available, returning the numbers frames carry in their first four bytes. */
function drain(device: NetmapDevice, budget = 64): number[] {
  const numbers: number[] = [];
  for (;;) {
    const got = device.receive(budget, (offset) => { numbers.push(device.memory.getUint32(offset)); });
    if (got === 0) return numbers;
  }
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

describe('netmap device over a fake netmap region', () => {
  describe('opening', () => {
    it('walks the rings ring_ofs[] binds and skips the zero entries of unbound rings', () => {
      const { fake, device } = open({ nicRings: 3, mode: NR_REG_ONE_NIC, ringId: 1 });
      assert.deepEqual(device.ringOffsets(), { rx: [fake.rx[1].offset], tx: [fake.tx[1].offset] });
      assert.equal(device.backend, 'netmap');
      assert.equal(device.mode, 'one-nic');
      assert.equal(device.frameCapacity, 2048);
      assert.equal(device.bufferBase, fake.bufferArea);
      assert.equal(device.macAddress, MAC);
    });

    it('binds every NIC ring for netmap:eth0, the host ring for eth0^, and both for eth0*', () => {
      const all = open({ nicRings: 2, mode: NR_REG_ALL_NIC });
      assert.deepEqual(all.device.ringOffsets().rx, [all.fake.rx[0].offset, all.fake.rx[1].offset]);
      const host = open({ nicRings: 2, mode: NR_REG_SW });
      assert.deepEqual(host.device.ringOffsets(), { rx: [host.fake.rx[2].offset], tx: [host.fake.tx[2].offset] });
      assert.equal(host.device.mode, 'host');
      const oneHost = open({ nicRings: 2, mode: NR_REG_ONE_SW, ringId: 0 });
      assert.deepEqual(oneHost.device.ringOffsets().tx, [oneHost.fake.tx[2].offset]);
      const both = open({ nicRings: 1, mode: NR_REG_NIC_SW });
      assert.deepEqual(both.device.ringOffsets(), { rx: both.fake.rx.map((r) => r.offset), tx: both.fake.tx.map((r) => r.offset) });
      assert.equal(both.device.mode, 'nic+host');
    });

    it('reads the direction the kernel writes (1 on TX rings, 0 on RX) and refuses a ring that says otherwise', () => {
      const fake = new FakeNetmap();
      assert.equal(fake.header(fake.tx[0]).dir, 1);
      assert.equal(fake.header(fake.rx[0]).dir, 0);
      new DataView(fake.memory).setUint16(fake.rx[0].offset + 18, 1, true);
      assert.throws(() => new NetmapDevice(fake, { name: 'fake0', macAddress: MAC }), /not a RX ring/);
    });

    it('takes the rings wherever the region puts them: RX before TX, netmap_if at offset 0', () => {
      const { fake, device } = open();
      assert.equal(fake.ifOffset, 0);
      assert.ok(fake.rx[0].offset < fake.tx[0].offset);
      fake.deliverNumbered(3);
      assert.deepEqual(drain(device), [0, 1, 2]);
      device.transmit(device.allocTx(), 60);
      device.flush();
      assert.equal(fake.sent.length, 1);
      assert.deepEqual(fake.violations, []);
    });
  });

  describe('receive', () => {
    it('lends each frame at ring + buf_ofs + buf_idx * nr_buf_size with the slot length', () => {
      const { fake, device } = open();
      fake.deliver(Uint8Array.of(1, 2, 3, 4, 5), 0);
      const seen: number[][] = [];
      const got = device.receive(8, (offset, length, token) => {
        seen.push([offset, length, token]);
        assert.deepEqual(Array.from(device.bytes.subarray(offset, offset + length)), [1, 2, 3, 4, 5]);
      });
      assert.equal(got, 1);
      assert.deepEqual(seen, [[fake.bufferOffset(fake.slot(fake.rx[0], 0).bufIdx), 5, 0]]);
    });

    it('walks head to tail across the wrap of a 1000-slot ring, then gives the slots back with head = cur', () => {
      const { fake, device } = open({ slots: 1000 });
      const ring = fake.rx[0];
      fake.deliverNumbered(700);
      assert.deepEqual(drain(device), range(0, 700));
      assert.deepEqual(fake.indices(ring), { head: 700, cur: 700, tail: 700 });
      fake.deliverNumbered(700);
      assert.deepEqual(drain(device), range(0, 700));
      assert.deepEqual(fake.indices(ring), { head: 400, cur: 400, tail: 400 });
      assert.deepEqual(fake.violations, []);
    });

    it('keeps frame order on a 7-slot ring that wraps many times', () => {
      const { fake, device } = open({ slots: 7 });
      const received: number[] = [];
      for (let round = 0; round < 20; round++) {
        fake.deliverNumbered(5);
        received.push(...drain(device, 3));
      }
      assert.equal(received.length, 100);
      for (let round = 0; round < 20; round++) assert.deepEqual(received.slice(round * 5, round * 5 + 5), range(0, 5));
      assert.deepEqual(fake.violations, []);
    });

    it('holds at most num_slots - 1 frames; the rest wait for the next sync, and the kernel drops what its queue cannot hold', () => {
      const { fake, device } = open({ slots: 7 });
      fake.deliverNumbered(10);
      assert.equal(fake.rx[0].dropped, 2, 'the emulated adapter queues num_slots + 1 frames');
      assert.equal(device.receive(0, () => undefined), 0);
      fake.rxSync();
      assert.deepEqual(fake.indices(fake.rx[0]), { head: 0, cur: 0, tail: 6 });
      assert.equal(fake.rx[0].pending.length, 2);
      assert.deepEqual(drain(device, 64), range(0, 8));
    });

    it('returns 0 on an empty ring after exactly one RXSYNC', () => {
      const { fake, device } = open();
      assert.equal(device.receive(32, () => assert.fail('no frame expected')), 0);
      assert.equal(fake.rxSyncs, 1);
      assert.equal(device.stats().kicks, 1);
    });

    it('makes at most one RXSYNC per call and none while the budget is met from the ring', () => {
      const { fake, device } = open();
      fake.deliverNumbered(10);
      assert.equal(device.receive(4, () => undefined), 4); // ring empty: one sync, then 4 frames
      assert.equal(fake.rxSyncs, 1);
      assert.equal(device.receive(4, () => undefined), 4); // served from [head, tail)
      assert.equal(fake.rxSyncs, 1);
      assert.equal(device.receive(4, () => undefined), 2); // 2 left, then one sync finds nothing
      assert.equal(fake.rxSyncs, 2);
    });

    it('visits the RX rings round-robin', () => {
      const { fake, device } = open({ nicRings: 2 });
      fake.deliver(Uint8Array.of(0xa0), 0);
      fake.deliver(Uint8Array.of(0xa1), 0);
      fake.deliver(Uint8Array.of(0xb0), 1);
      fake.deliver(Uint8Array.of(0xb1), 1);
      fake.rxSync();
      const order: number[] = [];
      while (device.receive(1, (offset) => { order.push(device.bytes[offset]); }) > 0);
      assert.deepEqual(order, [0xa0, 0xb0, 0xa1, 0xb1]);
    });

    it('drops a frame longer than a buffer, which the kernel spreads over slots flagged NS_MOREFRAG, and counts it once', () => {
      const { fake, device } = open({ slots: 7 });
      fake.deliver(new Uint8Array(5000).fill(3), 0);
      fake.deliver(Uint8Array.of(4), 0);
      fake.rxSync();
      assert.deepEqual([0, 1, 2].map((s) => [fake.slot(fake.rx[0], s).len, fake.slot(fake.rx[0], s).flags]),
        [[2048, NS_MOREFRAG], [2048, NS_MOREFRAG], [904, 0]]);
      const firstBytes: number[] = [];
      device.receive(8, (offset) => { firstBytes.push(device.bytes[offset]); });
      assert.deepEqual(firstBytes, [4]);
      assert.equal(device.stats().rxDropped, 1);
      assert.equal(device.stats().rxFrames, 1);
      assert.deepEqual(fake.indices(fake.rx[0]), { head: 4, cur: 4, tail: 4 });
    });

    it('poisons a released RX buffer with 0xa5 but not one sent by reply in place', () => {
      const { fake, device } = open({}, true);
      fake.deliver(new Uint8Array(60).fill(7), 0);
      fake.deliver(new Uint8Array(60).fill(8), 0);
      const offsets: number[] = [];
      device.receive(2, (offset, length, token) => {
        offsets.push(offset);
        if (device.bytes[offset] === 8) device.replyInPlace(token, length);
      });
      assert.ok(device.bytes.subarray(offsets[0], offsets[0] + device.frameCapacity).every((b) => b === 0xa5));
      assert.ok(device.bytes.subarray(offsets[1], offsets[1] + 60).every((b) => b === 8));
    });
  });

  describe('transmit', () => {
    it('fills TX slots from allocTx buffers and publishes them with one TXSYNC per flush', () => {
      const { fake, device } = open({ slots: 1000 });
      for (let i = 0; i < 3; i++) {
        const offset = device.allocTx();
        assert.notEqual(offset, -1);
        device.memory.setUint32(offset, 0xc0de0000 + i);
        assert.equal(device.transmit(offset, 64 + i), true);
      }
      assert.deepEqual(fake.indices(fake.tx[0]), { head: 0, cur: 0, tail: 999 });
      assert.equal(device.txPending(), true);
      device.flush();
      assert.equal(fake.txSyncs, 1);
      assert.deepEqual(fake.indices(fake.tx[0]), { head: 3, cur: 3, tail: 2 });
      assert.deepEqual(fake.sent.map((f) => [f.slot, f.bytes.length, new DataView(f.bytes.buffer).getUint32(0)]),
        [[0, 64, 0xc0de0000], [1, 65, 0xc0de0001], [2, 66, 0xc0de0002]]);
      assert.equal(device.txPending(), false);
      device.flush();
      assert.equal(fake.txSyncs, 1, 'nothing to send, nothing in flight: no sync');
    });

    it('sends frames in transmit order even when allocated in another, and freeTx returns a buffer', () => {
      const { fake, device } = open({ slots: 7 });
      const a = device.allocTx();
      const b = device.allocTx();
      const c = device.allocTx();
      device.memory.setUint8(a, 0xaa);
      device.memory.setUint8(c, 0xcc);
      device.transmit(c, 1);
      device.freeTx(b);
      device.transmit(a, 1);
      device.flush();
      assert.deepEqual(fake.sent.map((f) => [f.slot, f.bytes[0]]), [[0, 0xcc], [1, 0xaa]]);
      assert.equal(fake.sent[0].flags & NS_BUF_CHANGED, NS_BUF_CHANGED, 'swapped buffers are flagged');
      assert.deepEqual(fake.bufferCensus(), fake.expectedCensus());
      assert.throws(() => device.transmit(b, 1), /not taken with allocTx/);
    });

    it('refuses frames longer than a buffer', () => {
      const { device } = open();
      const offset = device.allocTx();
      assert.throws(() => device.transmit(offset, device.frameCapacity + 1), RangeError);
    });

    it('reports a full TX ring: allocTx gives -1 until TXSYNC hands slots back', () => {
      const { fake, device } = open({ slots: 7 });
      fake.holdTxCompletions = true;
      for (let i = 0; i < 6; i++) device.transmit(device.allocTx(), 60);
      assert.equal(device.allocTx(), -1);
      assert.equal(device.stats().txRingFull, 1);
      device.flush();
      assert.equal(device.allocTx(), -1, 'sent but not completed');
      assert.equal(device.stats().txInFlight, 6);
      assert.equal(device.txPending(), true);
      fake.holdTxCompletions = false;
      device.flush();
      assert.equal(fake.txSyncs, 2, 'frames in flight: flush syncs to reap them');
      assert.equal(device.stats().txInFlight, 0);
      assert.equal(device.txPending(), false);
      assert.notEqual(device.allocTx(), -1);
    });

    it('uses the next TX ring when the current one is full', () => {
      const { fake, device } = open({ nicRings: 2, slots: 7 });
      for (let i = 0; i < 8; i++) device.transmit(device.allocTx(), 60);
      device.flush();
      assert.deepEqual(fake.sent.map((f) => f.ring), [0, 0, 0, 0, 0, 0, 1, 1]);
    });
  });

  describe('reply in place', () => {
    it('swaps buf_idx between the RX slot and the next TX slot and flags both NS_BUF_CHANGED', () => {
      const { fake, device } = open({ slots: 1000 });
      const rx = fake.rx[0];
      const tx = fake.tx[0];
      fake.deliver(Uint8Array.of(1, 2, 3, 4), 0);
      fake.rxSync();
      const rxBefore = fake.slot(rx, 0);
      const txBefore = fake.slot(tx, 0);
      device.receive(1, (offset, length, token) => {
        device.bytes[offset] = 9;
        assert.equal(device.replyInPlace(token, length + 2), true);
        assert.equal(device.replyInPlace(token, length), false, 'a frame is replied once');
      });
      assert.deepEqual(fake.slot(tx, 0), { bufIdx: rxBefore.bufIdx, len: 6, flags: NS_BUF_CHANGED });
      assert.equal(fake.slot(rx, 0).bufIdx, txBefore.bufIdx);
      assert.equal(fake.slot(rx, 0).flags & NS_BUF_CHANGED, NS_BUF_CHANGED);
      device.flush();
      assert.equal(fake.sent.length, 1);
      assert.deepEqual(Array.from(fake.sent[0].bytes.subarray(0, 4)), [9, 2, 3, 4]);
      assert.equal(fake.sent[0].bufIdx, rxBefore.bufIdx);
      assert.equal(fake.sent[0].flags & NS_BUF_CHANGED, NS_BUF_CHANGED);
      device.receive(1, () => undefined);
      assert.equal(fake.slot(rx, 0).flags & NS_BUF_CHANGED, 0, 'the kernel took the RX slot back');
      assert.deepEqual(fake.bufferCensus(), fake.expectedCensus());
    });

    it('keeps buffers lent by allocTx when a reply takes the next TX slot', () => {
      const { fake, device } = open({ slots: 7 });
      const built = device.allocTx();
      device.memory.setUint8(built, 0xbb);
      fake.deliver(Uint8Array.of(0xee), 0);
      device.receive(1, (_offset, length, token) => { device.replyInPlace(token, length); });
      device.transmit(built, 1);
      device.flush();
      assert.deepEqual(fake.sent.map((f) => f.bytes[0]), [0xee, 0xbb]);
      assert.deepEqual(fake.bufferCensus(), fake.expectedCensus());
    });

    it('returns false and recycles the frame when the TX ring is full', () => {
      const { fake, device } = open({ slots: 7 });
      fake.holdTxCompletions = true;
      for (let i = 0; i < 6; i++) device.transmit(device.allocTx(), 60);
      fake.deliver(Uint8Array.of(1), 0);
      let replied = true;
      device.receive(1, (_offset, length, token) => { replied = device.replyInPlace(token, length); });
      assert.equal(replied, false);
      assert.equal(device.stats().txRingFull, 1);
      assert.deepEqual(fake.indices(fake.rx[0]), { head: 1, cur: 1, tail: 1 });
    });

    it('ignores a token outside its receive callback', () => {
      const { fake, device } = open();
      fake.deliver(Uint8Array.of(1), 0);
      let kept = -1;
      device.receive(1, (_offset, _length, token) => { kept = token; });
      assert.equal(device.replyInPlace(kept, 1), false);
    });

    it('does nothing on a port registered for RX only', () => {
      const { fake, device } = open({ flags: NR_RX_RINGS_ONLY });
      fake.deliver(Uint8Array.of(1), 0);
      let replied = true;
      device.receive(1, (_offset, length, token) => { replied = device.replyInPlace(token, length); });
      assert.equal(replied, false);
      assert.equal(device.allocTx(), -1);
    });
  });

  describe('accounting', () => {
    it('leaks no slot and no buffer over a long mixed run on small wrapping rings', () => {
      const { fake, device } = open({ nicRings: 2, slots: 7 });
      let seed = 7;
      const random = (n: number): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return (seed >>> 8) % n;
      };
      const lent: number[] = [];
      let delivered = 0;
      let received = 0;
      let replied = 0;
      let transmitted = 0;
      for (let step = 0; step < 3000; step++) {
        fake.holdTxCompletions = random(4) === 0;
        switch (random(5)) {
          case 0:
            for (let i = random(6); i > 0; i--) {
              fake.deliver(new Uint8Array(40).fill(step & 0xff), random(2));
              delivered++;
            }
            break;
          case 1:
            received += device.receive(1 + random(8), (_offset, length, token) => {
              if (random(2) === 0 && device.replyInPlace(token, length)) replied++;
            });
            break;
          case 2: {
            const offset = device.allocTx();
            if (offset >= 0) lent.push(offset);
            break;
          }
          case 3:
            if (lent.length > 0) {
              const offset = lent.splice(random(lent.length), 1)[0];
              if (random(3) === 0) device.freeTx(offset);
              else if (device.transmit(offset, 42)) transmitted++;
            }
            break;
          default:
            device.flush();
        }
      }
      for (const offset of lent) device.freeTx(offset);
      fake.holdTxCompletions = false;
      device.flush();
      received += drain(device).length;
      device.flush();

      assert.deepEqual(fake.violations, []);
      assert.deepEqual(fake.bufferCensus(), fake.expectedCensus());
      assert.equal(received, delivered - fake.rx[0].dropped - fake.rx[1].dropped);
      assert.equal(fake.sent.length, replied + transmitted);
      const stats = device.stats();
      assert.equal(stats.rxFrames, received);
      assert.equal(stats.txFrames, replied + transmitted);
      assert.equal(stats.txInFlight, 0);
      assert.ok(replied > 50 && transmitted > 50, `exercised both paths (${replied} replies, ${transmitted} transmits)`);
    });

    it('counts frames, bytes and kicks', () => {
      const { fake, device } = open();
      fake.deliverNumbered(3, 100);
      device.receive(8, (_offset, length, token) => { device.replyInPlace(token, length); });
      device.flush();
      const stats = device.stats();
      assert.equal(stats.backend, 'netmap');
      assert.equal(stats.rxFrames, 3);
      assert.equal(stats.rxBytes, 300);
      assert.equal(stats.txFrames, 3);
      assert.equal(stats.txBytes, 300);
      assert.equal(stats.kicks, 2);
      assert.equal(stats.kernel.syncErrors, 0);
    });
  });

  describe('watch and close', () => {
    it('passes watch and unwatch to the port', () => {
      const { fake, device } = open();
      let calls = 0;
      device.watch(() => { calls++; });
      fake.watcher?.();
      device.unwatch();
      assert.equal(calls, 1);
      assert.equal(fake.watcher, null);
    });

    it('detaches memory on close so a kept view throws instead of reading freed memory', () => {
      const { fake, device } = open();
      fake.deliver(Uint8Array.of(1), 0);
      device.close();
      assert.equal(device.closed, true);
      assert.equal(fake.closed, true);
      assert.throws(() => device.memory.getUint8(0), TypeError);
      assert.equal(device.receive(8, () => assert.fail('closed')), 0);
      device.flush();
      assert.equal(device.txPending(), false);
      device.close();
    });

    it('stops lending when the callback closes the device', () => {
      const { fake, device } = open();
      fake.deliverNumbered(4);
      let seen = 0;
      assert.equal(device.receive(8, () => { seen++; device.close(); }), 1);
      assert.equal(seen, 1);
    });
  });
});
