// @ts-check
// An authoritative DNS server for `nicring respond`:
//
//   nicring respond --iface IF --address IP/PREFIX --port 53 \
//     --handler examples/dns/index.js --zone examples/dns/example.zone
//
// Each worker loads the zones into its own lookup tables and answers every
// query in the frame it came in (see server.js for what it answers). DNS
// answers are larger than queries, so the module opts in to larger replies
// and bounds the abuse itself with response rate limiting per client prefix
// (rrl.js). Its counters (one outcome per query) come out in respond's JSON
// lines and metrics.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { parseZone } = require('./zone-file');
const { ZoneStore } = require('./zone-store');
const { DnsServer, DEFAULT_EDNS_UDP_SIZE } = require('./server');
const { ResponseRateLimiter } = require('./rrl');

/** DNS replies are larger than their queries: rate limiting bounds the amplification instead. */
exports.allowLargerReplies = true;

exports.options = {
  zone: { kind: 'string', help: 'zone master file(s) to serve, comma-separated', meta: 'FILE[,FILE...]' },
  'edns-size': { kind: 'integer', help: 'largest UDP reply to EDNS queries, and the size advertised', default: DEFAULT_EDNS_UDP_SIZE, min: 512, max: 65535, meta: 'BYTES' },
  'rrl-rate': { kind: 'integer', help: 'responses per second to one client prefix (0: no rate limiting)', default: 20, min: 0, max: 100_000_000, meta: 'N' },
  'rrl-prefix': { kind: 'integer', help: 'IPv4 prefix length that makes one client for rate limiting', default: 24, min: 0, max: 32, meta: 'BITS' },
  'rrl-slip': { kind: 'integer', help: 'over the limit, send every Nth response empty with TC=1 and drop the rest (0: drop all)', default: 2, min: 0, max: 100, meta: 'N' },
  'rrl-table': { kind: 'integer', help: 'client prefixes the rate limiter tracks at once', default: 16384, min: 16, max: 1 << 24, meta: 'N' },
};

/**
 * Load the zones and make this worker's server.
 * @param {{ options: Record<string, string | number | boolean | undefined>, iface: { loop: { nowMs(): number } }, queue: number }} context
 */
exports.setup = (context) => {
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
  return handle;
};
