// 100,000 fuzzed queries: mutations of real ones and random bytes. Nothing
// throws; every query gets FORMERR, another well-formed reply, or silence,
// and lands in exactly one counter; the server answers normally afterwards.

import { strict as assert } from 'node:assert';
import { DnsServer } from '../../../../examples/dns/server';
import { ResponseRateLimiter } from '../../../../examples/dns/rrl';
import { FakeClock } from '../../../../src/loop';
import { seededRandom, fuzzedQuery } from '../../../helpers/dns-fuzz';
import { BASE, decode, dnsPacket, query, sampleStore } from './dns-test';

const SEEDS = [
  query('www.example.test', 'A'), query('Alias.EXAMPLE.test', 'A', { edns: { udpSize: 4096, dnssecOk: true } }),
  query('nope.example.test', 'MX', { edns: { udpSize: 1232 } }), query('example.test', 'NS'), query('big.example.test', 'TXT', { edns: { udpSize: 600 } }),
  query('ns.child.example.test', 'AAAA'), query('a.b.example.test', 'TXT'), query('example.org', 'SOA'),
];

describe('DNS example: fuzzed queries', () => {
  it('survives 100,000 fuzzed queries: FORMERR, a well-formed reply or silence, each counted, and still answers', function () {
    this.timeout(120000);
    const next = seededRandom(0x5eed);
    const server = new DnsServer(sampleStore(), { rrl: new ResponseRateLimiter({ ratePerSecond: 1e9, prefixLength: 32 }), clock: new FakeClock(0) });
    const buffer = new Uint8Array(4096);
    const view = new DataView(buffer.buffer);
    const capacity = 1472;
    let replies = 0;
    let silent = 0;
    let formErr = 0;
    for (let i = 0; i < 100_000; i++) {
      const message = fuzzedQuery(next, SEEDS);
      buffer.fill(0xa5);
      buffer.set(message, BASE);
      let length: number;
      try {
        length = server.answer(buffer, view, BASE, message.length, capacity, (0xc6120000 + (i & 0xffff)) | 0);
      } catch (error) {
        assert.fail(`query ${i} (${Buffer.from(message).toString('hex')}) threw ${(error as Error).stack}`);
      }
      if (length < 0) {
        silent++;
        continue;
      }
      assert.ok(length >= 12 && length <= capacity, `query ${i}: reply length ${length}`);
      for (let j = BASE + Math.max(capacity, message.length); j < buffer.length; j++) if (buffer[j] !== 0xa5) assert.fail(`query ${i}: wrote past its capacity`);
      const reply = Buffer.from(buffer.subarray(BASE, BASE + length));
      assert.equal(reply.readUInt16BE(0), message[0] << 8 | message[1], `query ${i}: id`);
      assert.equal(reply[2] & 0x80, 0x80, `query ${i}: QR`);
      if ((reply[3] & 0xf) === 1) {
        formErr++;
        assert.equal(length, 12, `query ${i}: FORMERR is a header`);
      } else {
        try {
          dnsPacket.decode(reply);
        } catch (error) {
          assert.fail(`query ${i} (${Buffer.from(message).toString('hex')}): reply ${reply.toString('hex')} does not decode: ${(error as Error).message}`);
        }
      }
      replies++;
    }
    const counters = server.counters;
    const { queries, ...outcomes } = counters;
    const total = Object.values(outcomes).reduce((sum, value) => sum + value, 0);
    assert.equal(queries, 100_000);
    assert.equal(total, queries, JSON.stringify(counters));
    assert.equal(counters.formErr, formErr);
    assert.equal(counters.ignoredResponses + counters.ignoredTooShort, silent);
    assert.ok(formErr > 10_000 && replies - formErr > 10_000, JSON.stringify(counters));

    buffer.set(SEEDS[0], BASE);
    const length = server.answer(buffer, view, BASE, SEEDS[0].length, capacity, 0x01020304);
    assert.equal(decode(Buffer.from(buffer.subarray(BASE, BASE + length))).answers?.length, 3);
  });
});
