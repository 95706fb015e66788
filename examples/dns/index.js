// @ts-check
// An authoritative DNS server for `nicring respond`:
//
//   nicring respond --iface IF --address IP/PREFIX --port 53 \
//     --handler examples/dns/index.js --zone examples/dns/example.zone
//
// Each worker loads the zones into its own lookup tables and answers every
// UDP query in the frame it came in (see server.js for what it answers).
// DNS answers are larger than queries, so the module opts in to larger
// replies and bounds the abuse itself with response rate limiting per client
// prefix (rrl.js). Each worker also serves DNS over TCP on the same ports
// (tcp-service.js), where a client told TC=1 fetches the whole answer. Its
// counters (one outcome per query, and the TCP service's) come out in
// respond's JSON lines and metrics.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { parseZone } = require('./zone-file');
const { ZoneStore } = require('./zone-store');
const { DnsServer, DEFAULT_EDNS_UDP_SIZE } = require('./server');
const { ResponseRateLimiter } = require('./rrl');
const { DnsTcpService } = require('./tcp-service');

/** DNS replies are larger than their queries: rate limiting bounds the amplification instead. */
exports.allowLargerReplies = true;

exports.options = {
  zone: { kind: 'string', help: 'zone master file(s) to serve, comma-separated', meta: 'FILE[,FILE...]' },
  'edns-size': { kind: 'integer', help: 'largest UDP reply to EDNS queries, and the size advertised', default: DEFAULT_EDNS_UDP_SIZE, min: 512, max: 65535, meta: 'BYTES' },
  'rrl-rate': { kind: 'integer', help: 'responses per second to one client prefix (0: no rate limiting)', default: 20, min: 0, max: 100_000_000, meta: 'N' },
  'rrl-prefix': { kind: 'integer', help: 'IPv4 prefix length that makes one client for rate limiting', default: 24, min: 0, max: 32, meta: 'BITS' },
  'rrl-slip': { kind: 'integer', help: 'over the limit, send every Nth response empty with TC=1 and drop the rest (0: drop all)', default: 2, min: 0, max: 100, meta: 'N' },
  'rrl-table': { kind: 'integer', help: 'client prefixes the rate limiter tracks at once', default: 16384, min: 16, max: 1 << 24, meta: 'N' },
  'tcp-clients': { kind: 'integer', help: 'DNS over TCP connections open at once per worker (one worker per queue); more are reset (0: no DNS over TCP)', default: 100, min: 0, max: 65536, meta: 'N' },
  'tcp-idle-timeout': { kind: 'number', help: 'close a DNS over TCP connection after this long without a byte from the client', default: 10, min: 0.01, max: 3600, meta: 'SECONDS' },
};

/**
 * Load the zones, make this worker's server, and serve DNS over TCP on the responder's ports.
 * @param {import('../../src/service/responder').HandlerContext} context
 */
exports.setup = async (context) => {
  const options = context.options;
  if (typeof options.zone !== 'string' || options.zone === '') throw new Error('--zone FILE is required (a zone master file to serve)');
  const zones = options.zone.split(',').map((file) => {
    const resolved = path.resolve(file.trim());
    let text;
    try {
      text = fs.readFileSync(resolved);
    } catch (error) {
      throw new Error(`--zone ${resolved}: ${/** @type {NodeJS.ErrnoException} */ (error).code ?? /** @type {Error} */ (error).message}`);
    }
    return { ...parseZone(text, { file: resolved }), file: resolved };
  });
  const store = new ZoneStore(zones);
  const rate = Number(options['rrl-rate']);
  const rrl = rate > 0 ? new ResponseRateLimiter({
    ratePerSecond: rate, prefixLength: Number(options['rrl-prefix']), slip: Number(options['rrl-slip']), tableSize: Number(options['rrl-table']),
  }) : null;
  const server = new DnsServer(store, { ednsUdpSize: Number(options['edns-size']), rrl, clock: context.iface.loop });
  /** @param {import('../../src/iface/udp').UdpDatagram} request */
  const handle = (request) => server.answer(request.bytes, request.view, request.payloadOffset, request.payloadLength, request.replyCapacity, request.remoteAddress | 0);
  handle.counters = server.counters;
  const maxConnections = Number(options['tcp-clients']);
  if (maxConnections > 0 && context.ports.length > 0) {
    const tcp = new DnsTcpService(server, { iface: context.iface, tcp: context.tcp, idleTimeoutMs: Number(options['tcp-idle-timeout']) * 1000, maxConnections });
    try {
      await tcp.listen(context.ports);
    } catch (error) {
      tcp.close();
      throw new Error(`DNS over TCP: ${/** @type {Error} */ (error).message}`);
    }
    handle.close = () => tcp.close();
  }
  return handle;
};
