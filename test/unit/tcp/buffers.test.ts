// The send ring and the receive slabs on their own.

import { strict as assert } from 'node:assert';
import { ReceiveBuffer, ReceiveResult } from '../../../src/tcp/receive-buffer';
import { SackScoreboard } from '../../../src/tcp/sack-scoreboard';
import { SendBuffer } from '../../../src/tcp/send-buffer';
import { randomBytes } from './harness';

describe('tcp/buffers', () => {
  describe('SendBuffer', () => {
    it('takes what fits, gives back any range from SND.UNA, and frees acknowledged bytes, across the ring wrap and growth', () => {
      const buffer = new SendBuffer(10000);
      const data = randomBytes(50000, 3);
      let written = 0;
      let acked = 0;
      for (let round = 0; round < 40; round++) {
        written += buffer.write(data, written, Math.min(3333, data.length - written));
        assert.ok(buffer.length <= 10000);
        const out = new Uint8Array(buffer.length);
        buffer.copyOut(0, buffer.length, out, 0);
        assert.deepEqual(out, data.subarray(acked, written));
        const ack = Math.min(buffer.length, 1234 + round * 17);
        buffer.consume(ack);
        acked += ack;
      }
      const room = 10000 - buffer.length;
      assert.equal(buffer.write(data, 0, 20000), room, 'never more than the capacity');
      assert.equal(buffer.length, 10000);
    });

    it('starts small: a short exchange does not allocate the whole capacity', () => {
      const buffer = new SendBuffer(1 << 20);
      buffer.write(new Uint8Array(100), 0, 100);
      const ring = (buffer as unknown as { ring: Uint8Array }).ring;
      assert.ok(ring.length <= 4096);
    });
  });

  describe('ReceiveBuffer', () => {
    it('puts segments where they belong, in any order, and hands out views of what is in order', () => {
      const buffer = new ReceiveBuffer(1 << 20, 16);
      const data = randomBytes(300000, 4);
      const pieces: Array<[number, number]> = [];
      for (let at = 0; at < data.length; at += 1448) pieces.push([at, Math.min(1448, data.length - at)]);
      // Every third piece late.
      const order = [...pieces.filter((_, i) => i % 3 !== 1), ...pieces.filter((_, i) => i % 3 === 1)];
      const out: Buffer[] = [];
      let dropped = 0;
      for (const [at, length] of order) {
        const result = buffer.accept(at, data, at, length);
        if (result === ReceiveResult.DROPPED) dropped++;
        for (let view = buffer.take(65536); view !== null; view = buffer.take(65536)) out.push(Buffer.from(view));
      }
      assert.ok(dropped > 0, 'out-of-order ranges are bounded');
      // What was dropped comes again (as a sender would resend it).
      for (const [at, length] of pieces) if (at >= buffer.contiguous) buffer.accept(Math.max(at, buffer.contiguous), data, Math.max(at, buffer.contiguous), at + length - Math.max(at, buffer.contiguous));
      for (let view = buffer.take(65536); view !== null; view = buffer.take(65536)) out.push(Buffer.from(view));
      assert.ok(Buffer.concat(out).equals(Buffer.from(data)));
    });

    it('reports SACK blocks, the latest first', () => {
      const buffer = new ReceiveBuffer(65536, 8);
      const bytes = new Uint8Array(100);
      buffer.accept(1000, bytes, 0, 100);
      buffer.accept(3000, bytes, 0, 100);
      buffer.accept(2000, bytes, 0, 100);
      const out = new Float64Array(8);
      assert.equal(buffer.sackBlocks(out, 4), 3);
      assert.deepEqual([...out.subarray(0, 6)], [2000, 2100, 3000, 3100, 1000, 1100]);
    });
  });

  describe('SackScoreboard (RFC 6675)', () => {
    it('merges blocks, deems lost what has DupThresh segments SACKed above, and estimates the pipe', () => {
      const board = new SackScoreboard();
      const mss = 1000;
      board.add(2000, 3000, 0, 10000);
      board.add(3000, 4000, 0, 10000);
      assert.equal(board.rangeCount, 1);
      assert.equal(board.lossBoundary(mss, 0), 0, 'two segments above: not yet lost');
      board.add(5000, 6000, 0, 10000);
      assert.equal(board.lossBoundary(mss, 0), 2000, 'three segments above the first hole');
      // Unsacked, not lost: [4000, 5000) and [6000, 10000); retransmitted: [0, 1000).
      assert.equal(board.pipe(0, 10000, mss, 1000), 5000 + 1000);
      board.advance(2500);
      assert.equal(board.sackedBytes, 1500 + 1000);
    });
  });
});
