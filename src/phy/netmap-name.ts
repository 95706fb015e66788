// netmap port names, in the syntax netmap's own tools accept:
//
//   netmap:eth0      all NIC ring pairs            (NR_REG_ALL_NIC)
//   netmap:eth0-2    NIC ring pair 2 only          (NR_REG_ONE_NIC)
//   netmap:eth0^     all host-stack ring pairs     (NR_REG_SW)
//   netmap:eth0^1    host-stack ring pair 1        (NR_REG_ONE_SW)
//   netmap:eth0*     NIC and host-stack rings      (NR_REG_NIC_SW)
//   .../x  /R  /T    flags: exclusive, RX rings only, TX rings only
//
// The "netmap:" prefix is optional and never reaches the kernel. Unlike
// netmap's parser, a '-' not followed by a ring number belongs to the name,
// so interfaces such as "veth-a" can be named; "veth-1" still means ring 1 of
// "veth". VALE switch ports ("vale0:p1") keep their ":".

/** nr_mode: every NIC ring pair. */
export const NR_REG_ALL_NIC = 1;
/** nr_mode: every host-stack ring pair. */
export const NR_REG_SW = 2;
/** nr_mode: NIC and host-stack ring pairs. */
export const NR_REG_NIC_SW = 3;
/** nr_mode: the NIC ring pair nr_ringid. */
export const NR_REG_ONE_NIC = 4;
/** nr_mode: the host-stack ring pair nr_ringid. */
export const NR_REG_ONE_SW = 8;

/** nr_flags: refuse other registrations of the same rings. */
export const NR_EXCLUSIVE = 0x800;
/** nr_flags: bind the RX rings only. */
export const NR_RX_RINGS_ONLY = 0x2000;
/** nr_flags: bind the TX rings only. */
export const NR_TX_RINGS_ONLY = 0x4000;

/** nr_name holds 64 bytes including the terminating NUL. */
export const NETMAP_NAME_MAX_BYTES = 63;
/** Largest ring index a port name may carry (NETMAP_RING_MASK is 0x0fff). */
export const NETMAP_MAX_RING_ID = 0x0ffe;

const NAME_PREFIX = 'netmap:';
/** VALE switch ports ("vale0:p1") are the one kind of name with a ':'. */
const VALE_PORT = /^vale\w*:[^:]+$/;

/** A parsed port name: what goes into nmreq_header and nmreq_register. */
export interface NetmapPortName {
  /** nr_name: the interface, without prefix or suffix. */
  name: string;
  /** nr_mode (NR_REG_*). */
  mode: number;
  /** nr_ringid, for NR_REG_ONE_NIC and NR_REG_ONE_SW; 0 otherwise. */
  ringId: number;
  /** nr_flags from a "/..." suffix. */
  flags: number;
}

/** A short word for a registration mode, as shown in stats and logs. */
export function registerModeName(mode: number): string {
  switch (mode) {
    case NR_REG_ALL_NIC: return 'all-nic';
    case NR_REG_SW: return 'host';
    case NR_REG_NIC_SW: return 'nic+host';
    case NR_REG_ONE_NIC: return 'one-nic';
    case NR_REG_ONE_SW: return 'one-host';
    default: return `mode-${mode}`;
  }
}

/** True when `argument` is written for netmap (carries the "netmap:" prefix). */
export function hasNetmapPrefix(argument: string): boolean {
  return argument.startsWith(NAME_PREFIX);
}

/** Parse a port name (see the file comment); throws an Error naming `argument` when the syntax is wrong. */
export function parseNetmapName(argument: string): NetmapPortName {
  const spec = hasNetmapPrefix(argument) ? argument.slice(NAME_PREFIX.length) : argument;
  const slash = spec.indexOf('/');
  const body = slash < 0 ? spec : spec.slice(0, slash);
  const flags = slash < 0 ? 0 : parseFlags(argument, spec.slice(slash + 1));

  let name = body;
  let mode = NR_REG_ALL_NIC;
  let ringId = 0;
  const ringSuffix = /^(.*)-(\d+)$/.exec(body);
  const special = body.search(/[\^*]/);
  if (special >= 0) {
    name = body.slice(0, special);
    const suffix = body.slice(special);
    if (suffix === '*') {
      mode = NR_REG_NIC_SW;
    } else if (suffix === '^') {
      mode = NR_REG_SW;
    } else if (/^\^\d+$/.test(suffix)) {
      mode = NR_REG_ONE_SW;
      ringId = parseRingId(argument, suffix.slice(1));
    } else {
      throw syntaxError(argument, `unexpected "${suffix}" after the interface name (expected "^", "^N" or "*")`);
    }
  } else if (ringSuffix !== null) {
    name = ringSuffix[1];
    mode = NR_REG_ONE_NIC;
    ringId = parseRingId(argument, ringSuffix[2]);
  }

  if (name.length === 0) throw syntaxError(argument, 'the interface name is empty');
  const forbidden = VALE_PORT.test(name) ? /[\s/@{}]/ : /[\s:/@{}]/;
  if (forbidden.test(name)) throw syntaxError(argument, `"${name}" is not an interface name (no spaces, ':', '/', '@', '{' or '}')`);
  if (Buffer.byteLength(name, 'utf8') > NETMAP_NAME_MAX_BYTES) {
    throw syntaxError(argument, `the interface name is longer than ${NETMAP_NAME_MAX_BYTES} bytes`);
  }
  return { name, mode, ringId, flags };
}

function parseFlags(argument: string, letters: string): number {
  if (letters.length === 0) throw syntaxError(argument, 'nothing follows "/" (flags are x, R and T)');
  let flags = 0;
  for (const letter of letters) {
    if (letter === 'x') flags |= NR_EXCLUSIVE;
    else if (letter === 'R') flags |= NR_RX_RINGS_ONLY;
    else if (letter === 'T') flags |= NR_TX_RINGS_ONLY;
    else throw syntaxError(argument, `unknown flag "${letter}" (flags are x, R and T)`);
  }
  if ((flags & NR_RX_RINGS_ONLY) !== 0 && (flags & NR_TX_RINGS_ONLY) !== 0) {
    throw syntaxError(argument, 'flags R and T exclude each other');
  }
  return flags;
}

function parseRingId(argument: string, digits: string): number {
  const ringId = Number(digits);
  if (ringId > NETMAP_MAX_RING_ID) throw syntaxError(argument, `ring ${digits} is out of range (0..${NETMAP_MAX_RING_ID})`);
  return ringId;
}

function syntaxError(argument: string, reason: string): Error {
  return new Error(`Bad netmap port name "${argument}": ${reason}. ` +
    'Expected [netmap:]IFNAME with an optional -N (one NIC ring pair), ^ or ^N (host rings) or * (NIC and host rings), then optional /x, /R or /T.');
}
