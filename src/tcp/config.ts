// TCP settings of one interface, with Linux's defaults (the sysctl each one
// mirrors is named). Tests use short values for the timers and limits.

/** Congestion control algorithms. */
export type CongestionControlName = 'cubic' | 'newreno';

/** TCP settings; every field is optional and defaults as on Linux. */
export interface TcpOptions {
  /** Bytes a connection buffers for sending, sent and unacknowledged included (default 262144). */
  sendBufferSize?: number;
  /** Bytes a connection buffers on receive: the most it advertises (net.ipv4.tcp_rmem's default, 131072). */
  receiveBufferSize?: number;
  /** Out-of-order ranges a connection keeps at most (more are dropped, counted; default 64). */
  maxOutOfOrderRanges?: number;
  /** TIME_WAIT length, 2·MSL (Linux's TCP_TIMEWAIT_LEN, 60000 ms). */
  timeWaitMs?: number;
  /** How long an orphaned FIN_WAIT_2 waits for the peer's FIN (net.ipv4.tcp_fin_timeout, 60000 ms). */
  finWait2TimeoutMs?: number;
  /** Connections kept in TIME_WAIT at most (net.ipv4.tcp_max_tw_buckets; default 65536). */
  maxTimeWait?: number;
  /** SYN retransmissions before connect() fails (net.ipv4.tcp_syn_retries, 6). */
  synRetries?: number;
  /** SYN-ACK retransmissions before a half-open connection is dropped (net.ipv4.tcp_synack_retries, 5). */
  synAckRetries?: number;
  /** Retransmissions of data before the connection fails with ETIMEDOUT (net.ipv4.tcp_retries2, 15). */
  retries?: number;
  /** Fail with ETIMEDOUT when sent data stays unacknowledged this long (TCP_USER_TIMEOUT, RFC 5482; 0: off). */
  userTimeoutMs?: number;
  /** Least retransmission timeout (Linux's TCP_RTO_MIN, 200 ms). */
  minRtoMs?: number;
  /** Largest retransmission timeout (TCP_RTO_MAX, 120000 ms). */
  maxRtoMs?: number;
  /** Retransmission timeout before the first RTT sample (RFC 6298, 1000 ms). */
  initialRtoMs?: number;
  /** Longest an ACK is delayed (Linux's TCP_DELACK_MIN, 40 ms). */
  delayedAckMs?: number;
  /** Idle time before the first keepalive probe (net.ipv4.tcp_keepalive_time, 7200000 ms). */
  keepAliveIdleMs?: number;
  /** Time between keepalive probes (net.ipv4.tcp_keepalive_intvl, 75000 ms). */
  keepAliveIntervalMs?: number;
  /** Unanswered probes before the connection fails (net.ipv4.tcp_keepalive_probes, 9). */
  keepAliveCount?: number;
  /** 'cubic' (default, as Linux) or 'newreno'. */
  congestionControl?: CongestionControlName;
  /** Initial congestion window in segments (RFC 6928, 10). */
  initialWindowSegments?: number;
  /** Restart from the initial window after an idle period (net.ipv4.tcp_slow_start_after_idle, true). */
  slowStartAfterIdle?: boolean;
  /** Listen backlog: completed connections waiting for accept, and half-open ones (default 511, as Node's). */
  backlog?: number;
  /** Answer with SYN cookies when a listener's SYN queue is full (net.ipv4.tcp_syncookies=1, true). */
  synCookies?: boolean;
  /** RFC 7323 timestamps (net.ipv4.tcp_timestamps, true). */
  timestamps?: boolean;
  /** RFC 2018 selective acknowledgments (net.ipv4.tcp_sack, true). */
  sack?: boolean;
  /** RFC 7323 window scaling (net.ipv4.tcp_window_scaling, true). */
  windowScaling?: boolean;
  /** Local ports for active opens, inclusive (net.ipv4.ip_local_port_range, [32768, 60999]). */
  ephemeralPorts?: [number, number];
  /** Challenge ACKs (RFC 5961) sent per second at most (default 1000). */
  challengeAcksPerSecond?: number;
  /** Connections (all states but TIME_WAIT) at most (default 65536). */
  maxConnections?: number;
}

/** Every setting, resolved. */
export type TcpConfig = Required<TcpOptions>;

export const TCP_DEFAULTS: TcpConfig = {
  sendBufferSize: 262144,
  receiveBufferSize: 131072,
  maxOutOfOrderRanges: 64,
  timeWaitMs: 60000,
  finWait2TimeoutMs: 60000,
  maxTimeWait: 65536,
  synRetries: 6,
  synAckRetries: 5,
  retries: 15,
  userTimeoutMs: 0,
  minRtoMs: 200,
  maxRtoMs: 120000,
  initialRtoMs: 1000,
  delayedAckMs: 40,
  keepAliveIdleMs: 7200000,
  keepAliveIntervalMs: 75000,
  keepAliveCount: 9,
  congestionControl: 'cubic',
  initialWindowSegments: 10,
  slowStartAfterIdle: true,
  backlog: 511,
  synCookies: true,
  timestamps: true,
  sack: true,
  windowScaling: true,
  ephemeralPorts: [32768, 60999],
  challengeAcksPerSecond: 1000,
  maxConnections: 65536,
};

/** Largest buffer a connection may have: the window scale option's limit (2^30). */
const MAX_BUFFER = 1 << 30;

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`tcp option ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`tcp option ${name} must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

/** Check every option and fill in the defaults; a wrong one is a one-line TypeError naming it. */
export function resolveTcpOptions(options: TcpOptions = {}): TcpConfig {
  if (options === null || typeof options !== 'object') throw new TypeError('tcp options must be an object');
  for (const key of Object.keys(options)) {
    if (!(key in TCP_DEFAULTS)) throw new TypeError(`unknown tcp option ${key}`);
  }
  const o = { ...TCP_DEFAULTS, ...options };
  for (const key of Object.keys(o) as (keyof TcpConfig)[]) if (o[key] === undefined) (o as Record<string, unknown>)[key] = TCP_DEFAULTS[key];
  const config: TcpConfig = {
    sendBufferSize: integer('sendBufferSize', o.sendBufferSize, 4096, MAX_BUFFER),
    receiveBufferSize: integer('receiveBufferSize', o.receiveBufferSize, 4096, MAX_BUFFER),
    maxOutOfOrderRanges: integer('maxOutOfOrderRanges', o.maxOutOfOrderRanges, 1, 4096),
    timeWaitMs: integer('timeWaitMs', o.timeWaitMs, 0, 3600000),
    finWait2TimeoutMs: integer('finWait2TimeoutMs', o.finWait2TimeoutMs, 0, 3600000),
    maxTimeWait: integer('maxTimeWait', o.maxTimeWait, 0, 1 << 24),
    synRetries: integer('synRetries', o.synRetries, 0, 127),
    synAckRetries: integer('synAckRetries', o.synAckRetries, 0, 127),
    retries: integer('retries', o.retries, 1, 255),
    userTimeoutMs: integer('userTimeoutMs', o.userTimeoutMs, 0, 2 ** 31 - 1),
    minRtoMs: integer('minRtoMs', o.minRtoMs, 1, 60000),
    maxRtoMs: integer('maxRtoMs', o.maxRtoMs, 1, 3600000),
    initialRtoMs: integer('initialRtoMs', o.initialRtoMs, 1, 3600000),
    delayedAckMs: integer('delayedAckMs', o.delayedAckMs, 1, 500),
    keepAliveIdleMs: integer('keepAliveIdleMs', o.keepAliveIdleMs, 1, 2 ** 31 - 1),
    keepAliveIntervalMs: integer('keepAliveIntervalMs', o.keepAliveIntervalMs, 1, 2 ** 31 - 1),
    keepAliveCount: integer('keepAliveCount', o.keepAliveCount, 1, 127),
    congestionControl: o.congestionControl,
    initialWindowSegments: integer('initialWindowSegments', o.initialWindowSegments, 1, 1024),
    slowStartAfterIdle: boolean('slowStartAfterIdle', o.slowStartAfterIdle),
    backlog: integer('backlog', o.backlog, 1, 1 << 20),
    synCookies: boolean('synCookies', o.synCookies),
    timestamps: boolean('timestamps', o.timestamps),
    sack: boolean('sack', o.sack),
    windowScaling: boolean('windowScaling', o.windowScaling),
    ephemeralPorts: o.ephemeralPorts,
    challengeAcksPerSecond: integer('challengeAcksPerSecond', o.challengeAcksPerSecond, 1, 1 << 30),
    maxConnections: integer('maxConnections', o.maxConnections, 1, 1 << 24),
  };
  if (config.congestionControl !== 'cubic' && config.congestionControl !== 'newreno') {
    throw new TypeError(`tcp option congestionControl must be 'cubic' or 'newreno', got ${JSON.stringify(config.congestionControl)}`);
  }
  if (config.minRtoMs > config.maxRtoMs) throw new TypeError(`tcp option minRtoMs (${config.minRtoMs}) must not exceed maxRtoMs (${config.maxRtoMs})`);
  const ports = config.ephemeralPorts;
  if (!Array.isArray(ports) || ports.length !== 2 || !ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535) || ports[0] > ports[1]) {
    throw new TypeError(`tcp option ephemeralPorts must be [first, last] ports from 1 to 65535, got ${JSON.stringify(ports)}`);
  }
  config.ephemeralPorts = [ports[0], ports[1]];
  return config;
}
