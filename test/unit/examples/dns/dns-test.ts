// Helpers for the DNS example's tests: the sample zone, queries built and
// replies decoded with dns-packet (an independent codec), and a way to put a
// query at a frame-like offset in a buffer and let the server answer in place.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { parseZone } from '../../../../examples/dns/zone-file';
import { ZoneStore } from '../../../../examples/dns/zone-store';
import { DnsServer } from '../../../../examples/dns/server';

export const EXAMPLES = path.join(__dirname, '..', '..', '..', '..', 'examples', 'dns');
export const SAMPLE_ZONE = path.join(EXAMPLES, 'example.zone');

/** The sample zone, parsed and stored. */
export function sampleStore(): ZoneStore {
  return new ZoneStore([{ ...parseZone(fs.readFileSync(SAMPLE_ZONE), { file: SAMPLE_ZONE }), file: SAMPLE_ZONE }]);
}

/** A zone from text. */
export function storeOf(...texts: string[]): ZoneStore {
  return new ZoneStore(texts.map((text, index) => ({ ...parseZone(text, { file: `zone${index}` }), file: `zone${index}` })));
}

export interface QueryOptions {
  id?: number;
  /** Recursion desired (default true, as dig sends). */
  rd?: boolean;
  /** EDNS(0): the client's UDP size, version (default 0), DO bit. */
  edns?: { udpSize: number; version?: number; dnssecOk?: boolean };
  opcode?: string;
  class?: string;
}

/** A query for `name` `type`, encoded by dns-packet. */
export function query(name: string, type: string, options: QueryOptions = {}): Buffer {
  const additionals: dnsPacket.Answer[] = [];
  if (options.edns !== undefined) {
    additionals.push({
      type: 'OPT', name: '.', udpPayloadSize: options.edns.udpSize, extendedRcode: 0, ednsVersion: options.edns.version ?? 0,
      flags: options.edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0, options: [],
    } as unknown as dnsPacket.Answer);
  }
  const opcodes: Record<string, number> = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 };
  const flags = (options.rd === false ? 0 : dnsPacket.RECURSION_DESIRED) | ((opcodes[options.opcode ?? 'QUERY'] ?? 0) << 11);
  return dnsPacket.encode({
    type: 'query', id: options.id ?? 0x1234, flags,
    questions: [{ type: type as dnsPacket.RecordType, name, class: (options.class ?? 'IN') as dnsPacket.RecordClass }], additionals,
  });
}

/** Where the DNS message sits in the test buffer (as in a frame: after Ethernet, IPv4 and UDP headers). */
export const BASE = 42;

/** Put `message` at BASE in a fresh buffer and let `server` answer it in place; the reply's bytes, or null for none. */
export function ask(server: DnsServer, message: Uint8Array, options: { capacity?: number; client?: number } = {}): Buffer | null {
  const capacity = options.capacity ?? 1472;
  const buffer = new Uint8Array(BASE + Math.max(capacity, message.length) + 64).fill(0xa5);
  buffer.set(message, BASE);
  const length = server.answer(buffer, new DataView(buffer.buffer), BASE, message.length, capacity, (options.client ?? 0xc6120002) | 0);
  if (length < 0) return null;
  if (length > capacity) throw new Error(`reply of ${length} bytes past the capacity ${capacity}`);
  return Buffer.from(buffer.subarray(BASE, BASE + length));
}

/** The same for a query that came over TCP: the reply may take `capacity` bytes (65535 by default). */
export function askTcp(server: DnsServer, message: Uint8Array, capacity = 65535): Buffer | null {
  const buffer = new Uint8Array(BASE + Math.max(capacity, message.length) + 64).fill(0xa5);
  buffer.set(message, BASE);
  const length = server.answerTcp(buffer, new DataView(buffer.buffer), BASE, message.length, capacity);
  if (length < 0) return null;
  if (length > capacity) throw new Error(`reply of ${length} bytes past the capacity ${capacity}`);
  return Buffer.from(buffer.subarray(BASE, BASE + length));
}

/** Decode a reply with dns-packet. */
export function decode(reply: Buffer | null): dnsPacket.Packet & { rcode?: string; flag_aa?: boolean; flag_tc?: boolean; flag_rd?: boolean; flag_ra?: boolean; flag_cd?: boolean } {
  if (reply === null) throw new Error('no reply');
  return dnsPacket.decode(reply) as ReturnType<typeof decode>;
}

/** Records of a section as "name type data" lines, for comparing. */
export function lines(records: dnsPacket.Answer[] | undefined): string[] {
  return (records ?? []).map((record) => {
    const r = record as unknown as { name: string; type: string; ttl?: number; data: unknown };
    let data = r.data;
    if (Array.isArray(data)) data = data.map((part) => (Buffer.isBuffer(part) ? part.toString('latin1') : String(part))).join('|');
    else if (data !== null && typeof data === 'object') data = JSON.stringify(data);
    return `${r.name} ${r.ttl} ${r.type} ${String(data)}`;
  });
}

/** A query as raw bytes from hex (spaces ignored). */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

export { dnsPacket };
