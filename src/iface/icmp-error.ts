// What a received ICMP error means to the socket whose datagram it quotes
// (RFC 1122 4.1.3.3: UDP passes ICMP errors to the application), as Linux
// reads it (net/ipv4/icmp.c icmp_err_convert, __udp4_lib_err): an errno
// name, and whether the error is hard. A connected socket is told of hard
// errors only (without IP_RECVERR, which nicring does not have); a soft one,
// such as host unreachable or time exceeded, may pass and is not reported.

import { ICMPV4_DESTINATION_UNREACHABLE, ICMPV4_PARAMETER_PROBLEM, ICMPV4_TIME_EXCEEDED } from '../wire/icmpv4';

/** An ICMP error as a socket error: the errno name, and whether a connected socket is told. */
export interface IcmpErrorMeaning {
  readonly code: string;
  readonly hard: boolean;
}

function meaning(code: string, hard: boolean): IcmpErrorMeaning {
  return Object.freeze({ code, hard });
}

/** Destination unreachable, by code 0..15 (icmp_err_convert). */
const UNREACHABLE: readonly IcmpErrorMeaning[] = [
  meaning('ENETUNREACH', false), // 0 net unreachable
  meaning('EHOSTUNREACH', false), // 1 host unreachable
  meaning('ENOPROTOOPT', true), // 2 protocol unreachable
  meaning('ECONNREFUSED', true), // 3 port unreachable
  meaning('EMSGSIZE', true), // 4 fragmentation needed (path MTU discovery on, Linux's default)
  meaning('EOPNOTSUPP', false), // 5 source route failed
  meaning('ENETUNREACH', true), // 6 destination network unknown
  meaning('EHOSTDOWN', true), // 7 destination host unknown
  meaning('ENONET', true), // 8 source host isolated
  meaning('ENETUNREACH', true), // 9 network administratively prohibited
  meaning('EHOSTUNREACH', true), // 10 host administratively prohibited
  meaning('ENETUNREACH', false), // 11 network unreachable for TOS
  meaning('EHOSTUNREACH', false), // 12 host unreachable for TOS
  meaning('EHOSTUNREACH', true), // 13 communication administratively prohibited
  meaning('EHOSTUNREACH', true), // 14 host precedence violation
  meaning('EHOSTUNREACH', true), // 15 precedence cutoff
];
const UNREACHABLE_OTHER = meaning('EHOSTUNREACH', false);
const TIME_EXCEEDED = meaning('EHOSTUNREACH', false);
const PARAMETER_PROBLEM = meaning('EPROTO', true);

/** The meaning of ICMP error `type`/`code` to a UDP socket, or null for types that are not reported (source quench, redirect). */
export function icmpErrorMeaning(type: number, code: number): IcmpErrorMeaning | null {
  if (type === ICMPV4_DESTINATION_UNREACHABLE) return code < UNREACHABLE.length ? UNREACHABLE[code] : UNREACHABLE_OTHER;
  if (type === ICMPV4_TIME_EXCEEDED) return TIME_EXCEEDED;
  if (type === ICMPV4_PARAMETER_PROBLEM) return PARAMETER_PROBLEM;
  return null;
}
