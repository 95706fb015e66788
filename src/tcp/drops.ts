// The TCP counters that name why a segment was dropped: every segment
// handed to TCP ends in exactly one of these or in tcpSegmentsAccepted.

import type { StackCountersSnapshot } from '../iface/counters';

/** Drop reasons, as StackCounters field names. */
export const TCP_DROP_REASONS = [
  'tcpTooShort', 'tcpBadHeaderLength', 'tcpBadChecksum', 'tcpNotUnicast', 'tcpNoSocket',
  'tcpListenOverflows', 'tcpListenDrops', 'tcpListenUnexpected', 'tcpSynCookiesFailed',
  'tcpPawsRejected', 'tcpOutOfWindow', 'tcpDuplicateSegments', 'tcpAckTooNew', 'tcpAckTooOld',
  'tcpRstOutOfWindow', 'tcpRstChallenged', 'tcpSynChallenged', 'tcpNoAck', 'tcpBadAck', 'tcpUnexpected', 'tcpDataAfterClose',
] as const;

/** tcpSegmentsAccepted plus every drop reason: equals tcpSegmentsReceived. */
export function tcpSegmentFates(counters: StackCountersSnapshot): number {
  let total = counters.tcpSegmentsAccepted;
  for (const name of TCP_DROP_REASONS) total += counters[name];
  return total;
}
