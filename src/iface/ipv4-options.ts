// IPv4 options on receive (RFC 791 section 3.1, RFC 1122 3.2.1.8), checked
// as Linux checks them (net/ipv4/ip_options.c, ip_options_compile, and
// ip_rcv_options with the default sysctls).
//
//   type  length  data...          End (0) and No-op (1) are one byte.
//   +-----+-------+------------     Record Route (7), Timestamp (68),
//   |  T  |   L   | ...             Loose/Strict Source Route (131/137),
//   +-----+-------+------------     Router Alert (148), CIPSO (134) are
//                                   checked; others are skipped by length.
//
// A datagram whose options are malformed is dropped and answered with an
// ICMP parameter problem pointing at the offending byte (Linux's icmp_send
// from ip_options_compile, under the usual error rules and rate limits):
// - a length byte under 2, past the header, or missing (a lone type byte
//   at the end);
// - Record Route or a source route shorter than 3, Timestamp or Router
//   Alert shorter than 4; a route pointer under 4, a timestamp pointer
//   under 5, or a pointer at a slot that runs past the option;
// - a second Record Route, Timestamp or source route;
// - a full timestamp option whose overflow count is already 15;
// - CIPSO: no CIPSO domain is configured (Linux with NetLabel and none
//   refuses every label: short ones at the length, the rest at the domain).
// A source-routed datagram with well-formed options is dropped silently
// (net.ipv4.conf.all.accept_source_route is 0). Nothing here allocates.

/** End of option list. */
export const IPV4_OPTION_END = 0;
/** No operation (padding). */
export const IPV4_OPTION_NOP = 1;
export const IPV4_OPTION_RECORD_ROUTE = 7;
export const IPV4_OPTION_TIMESTAMP = 68;
export const IPV4_OPTION_LOOSE_SOURCE_ROUTE = 131;
export const IPV4_OPTION_CIPSO = 134;
export const IPV4_OPTION_STRICT_SOURCE_ROUTE = 137;
export const IPV4_OPTION_ROUTER_ALERT = 148;

/** Timestamp flags (the low nibble of the option's fourth byte). */
const TIMESTAMP_WITH_ADDRESS = 1;
const TIMESTAMP_PRESPECIFIED = 3;
/** CIPSO's fixed part: type, length, 4-byte domain of interpretation, first tag. */
const CIPSO_MIN_LENGTH = 8;

/** What checkIpv4Options found; a refusal carries the pointer (byte offset from the header's start) in its low 8 bits. */
export const Ipv4OptionsVerdict = {
  OK: 0,
  /** Length byte under 2, past the header or missing, or under the option's minimum. */
  BAD_LENGTH: 1 << 8,
  /** A route or timestamp pointer out of range. */
  BAD_POINTER: 2 << 8,
  /** Record Route, Timestamp or a source route twice. */
  REPEATED: 3 << 8,
  /** A full timestamp option whose overflow count is 15. */
  TIMESTAMP_OVERFLOW: 4 << 8,
  /** A CIPSO label (no CIPSO domain is configured). */
  CIPSO: 5 << 8,
  /** Well-formed, but source routed: dropped without an error. */
  SOURCE_ROUTED: 6 << 8,
} as const;

/** The reason part of a verdict (one of Ipv4OptionsVerdict). */
export function optionsReason(verdict: number): number {
  return verdict & ~0xff;
}

/** The ICMP parameter problem pointer of a refusal. */
export function optionsPointer(verdict: number): number {
  return verdict & 0xff;
}

const SEEN_RECORD_ROUTE = 1;
const SEEN_TIMESTAMP = 2;
const SEEN_SOURCE_ROUTE = 4;

/**
 * Check the options of the IPv4 header at `offset` (`headerLength` bytes,
 * more than 20, all inside `view`). Returns Ipv4OptionsVerdict.OK, or a
 * reason with its pointer (see optionsReason and optionsPointer).
 */
export function checkIpv4Options(view: DataView, offset: number, headerLength: number): number {
  const end = offset + headerLength;
  let seen = 0;
  let at = offset + 20;
  while (at < end) {
    const type = view.getUint8(at);
    if (type === IPV4_OPTION_END) break;
    if (type === IPV4_OPTION_NOP) {
      at++;
      continue;
    }
    const here = at - offset;
    const left = end - at;
    if (left < 2) return Ipv4OptionsVerdict.BAD_LENGTH | here;
    const length = view.getUint8(at + 1);
    if (length < 2 || length > left) return Ipv4OptionsVerdict.BAD_LENGTH | here;
    if (type === IPV4_OPTION_LOOSE_SOURCE_ROUTE || type === IPV4_OPTION_STRICT_SOURCE_ROUTE) {
      if (length < 3) return Ipv4OptionsVerdict.BAD_LENGTH | (here + 1);
      if (view.getUint8(at + 2) < 4) return Ipv4OptionsVerdict.BAD_POINTER | (here + 2);
      if ((seen & SEEN_SOURCE_ROUTE) !== 0) return Ipv4OptionsVerdict.REPEATED | here;
      seen |= SEEN_SOURCE_ROUTE;
    } else if (type === IPV4_OPTION_RECORD_ROUTE) {
      if ((seen & SEEN_RECORD_ROUTE) !== 0) return Ipv4OptionsVerdict.REPEATED | here;
      if (length < 3) return Ipv4OptionsVerdict.BAD_LENGTH | (here + 1);
      const pointer = view.getUint8(at + 2);
      // A pointer past the length means the route is full; one inside must leave room for an address.
      if (pointer < 4 || (pointer <= length && pointer + 3 > length)) return Ipv4OptionsVerdict.BAD_POINTER | (here + 2);
      seen |= SEEN_RECORD_ROUTE;
    } else if (type === IPV4_OPTION_TIMESTAMP) {
      if ((seen & SEEN_TIMESTAMP) !== 0) return Ipv4OptionsVerdict.REPEATED | here;
      if (length < 4) return Ipv4OptionsVerdict.BAD_LENGTH | (here + 1);
      const pointer = view.getUint8(at + 2);
      if (pointer < 5) return Ipv4OptionsVerdict.BAD_POINTER | (here + 2);
      const flags = view.getUint8(at + 3);
      if (pointer <= length) {
        // Room left: a timestamp needs 4 bytes, an address and a timestamp 8.
        const slot = (flags & 0x0f) === TIMESTAMP_WITH_ADDRESS || (flags & 0x0f) === TIMESTAMP_PRESPECIFIED ? 7 : 3;
        if (pointer + slot > length) return Ipv4OptionsVerdict.BAD_POINTER | (here + 2);
      } else if ((flags & 0x0f) !== TIMESTAMP_PRESPECIFIED && flags >>> 4 === 15) {
        return Ipv4OptionsVerdict.TIMESTAMP_OVERFLOW | (here + 3);
      }
      seen |= SEEN_TIMESTAMP;
    } else if (type === IPV4_OPTION_ROUTER_ALERT) {
      if (length < 4) return Ipv4OptionsVerdict.BAD_LENGTH | (here + 1);
    } else if (type === IPV4_OPTION_CIPSO) {
      if (length < CIPSO_MIN_LENGTH) return Ipv4OptionsVerdict.BAD_LENGTH | (here + 1);
      return Ipv4OptionsVerdict.CIPSO | (here + 2);
    }
    at += length;
  }
  return (seen & SEEN_SOURCE_ROUTE) !== 0 ? Ipv4OptionsVerdict.SOURCE_ROUTED : Ipv4OptionsVerdict.OK;
}
