// The one place where a received transport checksum (UDP; TCP uses the same)
// is judged: good, partial, or bad.
//
// A same-host sender on a virtual link leaves its checksum to offload that
// never runs (Linux's CHECKSUM_PARTIAL, see phy/checksum-capabilities.ts):
// the field holds the folded sum of the pseudo-header, not its complement
// over the whole segment, and the kernel at the other end accepts the frame
// without looking further. A segment whose field is exactly that sum is
// accepted as partial when the device says its receive path may carry
// partial checksums and the interface was not told to be strict; on any
// other device, and with anything else in the field, a checksum that does
// not verify is bad. The decision follows the capability, not the value.

import type { ChecksumCapabilities } from '../phy/device';
import { ipv4PseudoHeaderSumAt, packetChecksumSum } from '../wire/checksum';

/** The checksum verifies. */
export const CHECKSUM_GOOD = 0;
/** The field holds only the pseudo-header sum, and the device may deliver such segments. */
export const CHECKSUM_PARTIAL = 1;
/** Neither: drop the segment. */
export const CHECKSUM_BAD = 2;

/** Judges received transport checksums for one interface. */
export class TransportChecksums {
  /** Partial checksums are accepted (the device may carry them, and strict verification is off). */
  readonly acceptPartial: boolean;
  /**
   * After a CHECKSUM_PARTIAL verdict: the folded sum of the segment as it
   * came, field included (1..0xffff). The field holds the pseudo-header sum,
   * so this is the sum a full checksum of the same segment complements: a
   * reply that sends the segment back unchanged, addresses and ports
   * swapped, carries ~segmentSum.
   */
  segmentSum = 0;

  constructor(capabilities: ChecksumCapabilities, strict: boolean) {
    this.acceptPartial = capabilities.rx === 'partial' && !strict;
  }

  /**
   * Judge the checksum of the `segmentLength`-byte segment at
   * `segmentOffset` (its field at `checksumOffset`), whose IPv4 source and
   * destination addresses are the 8 bytes at `addressesOffset`.
   */
  verify(view: DataView, addressesOffset: number, protocol: number, segmentOffset: number, segmentLength: number, checksumOffset: number): number {
    const pseudo = ipv4PseudoHeaderSumAt(view, addressesOffset, protocol, segmentLength);
    const sum = packetChecksumSum(view, segmentOffset, segmentLength, pseudo);
    if (sum === 0xffff) return CHECKSUM_GOOD;
    if (!this.acceptPartial) return CHECKSUM_BAD;
    let partial = (pseudo & 0xffff) + (pseudo >>> 16);
    partial = (partial & 0xffff) + (partial >>> 16);
    if (view.getUint16(checksumOffset) !== partial) return CHECKSUM_BAD;
    // sum = pseudo + segment in ones' complement; the segment alone is sum - pseudo = sum + ~pseudo.
    let segment = sum + (~partial & 0xffff);
    segment = (segment & 0xffff) + (segment >>> 16);
    this.segmentSum = segment;
    return CHECKSUM_PARTIAL;
  }
}
