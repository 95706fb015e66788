// Initial sequence numbers (RFC 6528) and ephemeral port offsets (RFC 6056
// algorithm 3), both from SipHash under keys drawn when the stack starts.
//
//   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
//
// with M a clock ticking every 4 microseconds (RFC 9293 3.4.1), so ISNs of
// one connection identity grow over time while those of different
// identities are unrelated to each other and unpredictable from outside.

import { randomSipHashKey, sipHashFourTuple, type SipHashKey } from './siphash';

/** The stack's secrets for sequence numbers and ports. */
export class SequenceSecrets {
  private readonly isnKey: SipHashKey = randomSipHashKey();
  private readonly portKey: SipHashKey = randomSipHashKey();
  private readonly timestampKey: SipHashKey = randomSipHashKey();

  /** RFC 6528's ISN for a connection identity at loop time `nowMs`. */
  initialSequence(localAddress: number, localPort: number, remoteAddress: number, remotePort: number, nowMs: number): number {
    const ticks = Math.floor(nowMs * 250);
    const hash = sipHashFourTuple(this.isnKey, localAddress, remoteAddress, localPort, remotePort, 0);
    return (hash + (ticks % 4294967296)) >>> 0;
  }

  /** RFC 6056 algorithm 3's offset F(local, remote, remote port) for picking an ephemeral port. */
  portOffset(localAddress: number, remoteAddress: number, remotePort: number): number {
    return sipHashFourTuple(this.portKey, localAddress, remoteAddress, 0, remotePort, 0);
  }

  /** A per-connection offset for our timestamp clock (RFC 7323 7.1: not to reveal uptime, unrelated across connections). */
  timestampOffset(localAddress: number, localPort: number, remoteAddress: number, remotePort: number): number {
    return sipHashFourTuple(this.timestampKey, localAddress, remoteAddress, localPort, remotePort, 0);
  }
}
