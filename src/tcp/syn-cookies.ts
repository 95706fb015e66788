// SYN cookies, as Linux makes them (net/ipv4/syncookies.c): when a
// listener's SYN queue is full, its SYN-ACK carries all the state it needs
// in the ISN, and keeps none. The ACK that completes the handshake brings
// it back in its acknowledgment number:
//
//   cookie = H1(identity) + peer ISN + (count << 24) + ((H2(identity, count) + mssIndex) & 0xffffff)
//
// where count is the minute the SYN came in; a cookie is good for 2 minutes.
// With timestamps, our TSval's low 6 bits carry the window scale (4 bits,
// 15 for none), SACK-permitted (bit 4) and ECN (bit 5, never set here), and
// the peer echoes them back; without timestamps those options are lost.

import { randomSipHashKey, sipHashFourTuple, type SipHashKey } from './siphash';

/** The MSS values a cookie can say (Linux's msstab for IPv4). */
export const COOKIE_MSS_TABLE = [536, 1300, 1440, 1460] as const;
const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** Minutes a cookie stays valid (Linux's MAX_SYNCOOKIE_AGE). */
const MAX_AGE_MINUTES = 2;
/** TSval bits carrying options. */
export const COOKIE_TS_OPTION_BITS = 6;
const TS_WSCALE_NONE = 0xf;
const TS_SACK_BIT = 0x10;

/** The options a cookie's timestamp brought back. */
export interface CookieOptions {
  /** Window scale the peer offered, or -1. */
  windowScale: number;
  sackPermitted: boolean;
}

/** Makes and checks SYN cookies under a key drawn at start. */
export class SynCookies {
  private readonly key1: SipHashKey = randomSipHashKey();
  private readonly key2: SipHashKey = randomSipHashKey();

  /** Index in COOKIE_MSS_TABLE of the largest entry not above `mss`. */
  static mssIndex(mss: number): number {
    let index = 0;
    for (let i = COOKIE_MSS_TABLE.length - 1; i >= 0; i--) {
      if (COOKIE_MSS_TABLE[i] <= mss) {
        index = i;
        break;
      }
    }
    return index;
  }

  /** The ISN for a SYN-ACK answering a SYN with sequence `peerSequence`. */
  make(localAddress: number, localPort: number, remoteAddress: number, remotePort: number, peerSequence: number, mss: number, nowMs: number): number {
    const count = Math.floor(nowMs / 60000) & 0xff;
    const h1 = sipHashFourTuple(this.key1, localAddress, remoteAddress, localPort, remotePort, 0);
    const h2 = sipHashFourTuple(this.key2, localAddress, remoteAddress, localPort, remotePort, count);
    return (h1 + peerSequence + count * (1 << COOKIE_BITS) + ((h2 + SynCookies.mssIndex(mss)) & COOKIE_MASK)) >>> 0;
  }

  /**
   * Check the cookie an ACK brings back (its acknowledgment number minus
   * one; `peerSequence` is its sequence number minus one). Returns the MSS
   * the cookie holds, or 0 when it is not one of ours or too old.
   */
  check(localAddress: number, localPort: number, remoteAddress: number, remotePort: number, peerSequence: number, cookie: number, nowMs: number): number {
    const count = Math.floor(nowMs / 60000) & 0xff;
    const h1 = sipHashFourTuple(this.key1, localAddress, remoteAddress, localPort, remotePort, 0);
    const difference = (cookie - h1 - peerSequence) >>> 0;
    const countIn = difference >>> COOKIE_BITS;
    if (((count - countIn) & 0xff) > MAX_AGE_MINUTES) return 0;
    const h2 = sipHashFourTuple(this.key2, localAddress, remoteAddress, localPort, remotePort, countIn);
    const index = (difference - h2) & COOKIE_MASK;
    return index < COOKIE_MSS_TABLE.length ? COOKIE_MSS_TABLE[index] : 0;
  }

  /** Our TSval for a cookie SYN-ACK: the clock with its low bits replaced by the options. */
  static encodeTimestamp(clock: number, windowScale: number, sackPermitted: boolean): number {
    const options = (windowScale < 0 ? TS_WSCALE_NONE : windowScale & 0xf) | (sackPermitted ? TS_SACK_BIT : 0);
    return ((clock & ~((1 << COOKIE_TS_OPTION_BITS) - 1)) | options) >>> 0;
  }

  /** The options carried by an echoed cookie timestamp, into `out`. */
  static decodeTimestamp(echo: number, out: CookieOptions): void {
    const wscale = echo & 0xf;
    out.windowScale = wscale === TS_WSCALE_NONE ? -1 : wscale;
    out.sackPermitted = (echo & TS_SACK_BIT) !== 0;
  }
}
