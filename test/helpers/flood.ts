// Floods for the bound tests: copies of one frame written straight into the
// peer side of an in-memory pair, a batch at a time, each copy made new by a
// patch (a spoofed source, a new datagram, a new port), the stack's loop
// turned once per batch on a fake clock.

import type { StackFixture } from '../unit/iface/peer';
import { internetChecksum } from '../../src/wire/checksum';

/** Frames the peer sends per loop turn. */
export const FLOOD_BATCH = 64;

/** Called for each frame the stack sent, as the peer receives it. */
export type SentFrameReader = (view: DataView, offset: number, length: number) => void;

const ignore: SentFrameReader = () => undefined;

/**
 * Send `count` copies of `template` from the peer, `patch(view, offset, i)` making copy `i` new,
 * one batch at a time, the clock moving `msPerBatch` per batch; `check()` runs after every batch,
 * `read` sees every frame the stack sent.
 */
export function flood(
  fixture: StackFixture, template: Uint8Array, count: number, patch: (view: DataView, offset: number, i: number) => void,
  msPerBatch: number, check: () => void, read: SentFrameReader = ignore,
): void {
  const peer = fixture.peerDevice;
  const stack = fixture.stackDevice;
  const onFrame = (offset: number, length: number): void => read(peer.memory, offset, length);
  for (let sent = 0; sent < count;) {
    for (let n = 0; n < FLOOD_BATCH && sent < count; n++, sent++) {
      const offset = peer.allocTx();
      if (offset < 0) throw new Error('peer: no free buffer');
      peer.bytes.set(template, offset);
      patch(peer.memory, offset, sent);
      peer.transmit(offset, template.length);
    }
    peer.flush();
    fixture.clock.advance(msPerBatch);
    fixture.iface.loop.turn();
    stack.flush();
    peer.receive(1 << 16, onFrame);
    check();
  }
}

/** Rewrite the IPv4 header checksum of the packet at `at` (20-byte header). */
export function fixIpv4Checksum(view: DataView, at: number): void {
  view.setUint16(at + 10, 0);
  view.setUint16(at + 10, internetChecksum(view, at, 20));
}
