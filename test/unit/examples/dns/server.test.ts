import { strict as assert } from 'node:assert';
import { DnsServer } from '../../../../examples/dns/server';
import { ResponseRateLimiter } from '../../../../examples/dns/rrl';
import { FakeClock } from '../../../../src/loop';
import { countGcEvents } from '../../../helpers/gc';
import { BASE, ask, askTcp, decode, hex, lines, query, sampleStore, storeOf } from './dns-test';

const CLIENT_A = 0xc6120002;
const CLIENT_B = 0xc6120003;

function server(options: ConstructorParameters<typeof DnsServer>[1] = {}): DnsServer {
  return new DnsServer(sampleStore(), options);
}

describe('DNS example: answers (RFC 1034, RFC 1035)', () => {
  it('answers web.example.test A with exactly these bytes: AA, RD copied, owners compressed to the question', () => {
    const q = hex('1234 0100 0001 0000 0000 0000  03776562 076578616d706c65 0474657374 00  0001 0001');
    const expected = hex([
      '1234 8500 0001 0002 0000 0000  03776562 076578616d706c65 0474657374 00  0001 0001',
      'c00c 0001 0001 0000012c 0004 c6126450',
      'c00c 0001 0001 0000012c 0004 c6126451',
    ].join(''));
    assert.equal(ask(server(), q)?.toString('hex'), expected.toString('hex'));
  });

  it('answers www.example.test A through its CNAME with exactly these bytes: RDATA names compressed too', () => {
    const q = hex('abcd 0000 0001 0000 0000 0000  03777777 076578616d706c65 0474657374 00  0001 0001');
    const expected = hex([
      'abcd 8400 0001 0003 0000 0000  03777777 076578616d706c65 0474657374 00  0001 0001',
      'c00c 0005 0001 00000e10 0006 03776562 c010', // www CNAME web.<example.test at 16>
      'c02e 0001 0001 0000012c 0004 c6126450', // web (at 46) A
      'c02e 0001 0001 0000012c 0004 c6126451',
    ].join(''));
    assert.equal(ask(server(), q)?.toString('hex'), expected.toString('hex'));
  });

  it('answers every record type of the sample zone', () => {
    const s = server();
    const answer = (name: string, type: string) => {
      const reply = decode(ask(s, query(name, type)));
      assert.equal(reply.rcode, 'NOERROR', `${name} ${type}`);
      assert.equal(reply.flag_aa, true);
      assert.equal(reply.flag_ra, false);
      return reply;
    };
    assert.deepEqual(lines(answer('example.test', 'SOA').answers), ['example.test 3600 SOA {"mname":"ns1.example.test","rname":"hostmaster.example.test","serial":2024010101,"refresh":7200,"retry":900,"expire":1209600,"minimum":300}']);
    const ns = answer('example.test', 'NS');
    assert.deepEqual(lines(ns.answers), ['example.test 3600 NS ns1.example.test', 'example.test 3600 NS ns2.example.test']);
    assert.deepEqual(lines(ns.additionals), ['ns1.example.test 3600 A 198.18.100.53', 'ns2.example.test 3600 A 198.18.100.54', 'ns2.example.test 3600 AAAA 2001:db8::54']);
    const mx = answer('example.test', 'MX');
    assert.deepEqual(lines(mx.answers), ['example.test 3600 MX {"preference":10,"exchange":"mail.example.test"}', 'example.test 3600 MX {"preference":20,"exchange":"mail2.example.test"}']);
    assert.deepEqual(lines(mx.additionals), ['mail.example.test 3600 A 198.18.100.25', 'mail2.example.test 3600 A 198.18.100.26']);
    assert.deepEqual(lines(answer('example.test', 'A').answers), ['example.test 3600 A 198.18.100.1']);
    assert.deepEqual(lines(answer('example.test', 'AAAA').answers), ['example.test 3600 AAAA 2001:db8::1']);
    assert.deepEqual(lines(answer('example.test', 'TXT').answers), ['example.test 3600 TXT v=spf1 mx -all']);
    assert.deepEqual(lines(answer('text.example.test', 'TXT').answers), ['text.example.test 3600 TXT hello|two strings|with "quotes" and a \\ backslash']);
    assert.deepEqual(lines(answer('www.example.test', 'CNAME').answers), ['www.example.test 3600 CNAME web.example.test']);
    assert.deepEqual(lines(answer('web.example.test', 'AAAA').answers), ['web.example.test 3600 AAAA 2001:db8:0:80::1']);
  });

  it('follows CNAME chains inside the zone, and stops at its edge', () => {
    const s = server();
    const chain = decode(ask(s, query('alias.example.test', 'A')));
    assert.equal(chain.rcode, 'NOERROR');
    assert.deepEqual(lines(chain.answers), [
      'alias.example.test 3600 CNAME www.example.test', 'www.example.test 3600 CNAME web.example.test',
      'web.example.test 300 A 198.18.100.80', 'web.example.test 300 A 198.18.100.81',
    ]);
    const out = decode(ask(s, query('outside.example.test', 'A')));
    assert.equal(out.rcode, 'NOERROR');
    assert.deepEqual(lines(out.answers), ['outside.example.test 3600 CNAME www.example.net']);
    // RFC 6604: the RCODE is that of the last name in the chain.
    const dangling = decode(ask(s, query('dangling.example.test', 'A')));
    assert.equal(dangling.rcode, 'NXDOMAIN');
    assert.deepEqual(lines(dangling.answers), ['dangling.example.test 3600 CNAME nowhere.example.test']);
    assert.deepEqual(lines(dangling.authorities).map((line) => line.split(' ').slice(0, 3).join(' ')), ['example.test 300 SOA']);
  });

  it('stops a CNAME loop after a bounded number of hops', () => {
    const s = new DnsServer(storeOf('$ORIGIN t.\n$TTL 5\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\na CNAME b\nb CNAME a\n'));
    const reply = decode(ask(s, query('a.t', 'A')));
    assert.equal(reply.rcode, 'NOERROR');
    assert.equal(reply.answers?.length, 8);
  });

  it('answers NXDOMAIN and NODATA with the SOA (negative TTL) in the authority section', () => {
    const s = server();
    const nx = decode(ask(s, query('nope.example.test', 'A')));
    assert.equal(nx.rcode, 'NXDOMAIN');
    assert.equal(nx.flag_aa, true);
    assert.deepEqual(nx.answers, []);
    assert.deepEqual(lines(nx.authorities), ['example.test 300 SOA {"mname":"ns1.example.test","rname":"hostmaster.example.test","serial":2024010101,"refresh":7200,"retry":900,"expire":1209600,"minimum":300}']);
    const deep = decode(ask(s, query('a.b.c.nope.example.test', 'A')));
    assert.equal(deep.rcode, 'NXDOMAIN');
    const nodata = decode(ask(s, query('mail.example.test', 'AAAA')));
    assert.equal(nodata.rcode, 'NOERROR');
    assert.deepEqual(nodata.answers, []);
    assert.equal(lines(nodata.authorities)[0].split(' ').slice(0, 3).join(' '), 'example.test 300 SOA');
    // RFC 8020: an empty non-terminal exists.
    const empty = decode(ask(s, query('a.b.example.test', 'A')));
    assert.equal(empty.rcode, 'NOERROR');
    assert.deepEqual(empty.answers, []);
    assert.equal(empty.authorities?.length, 1);
  });

  it('refers queries at or below a delegation to the child\'s servers, with glue, not authoritatively', () => {
    const s = server();
    for (const name of ['child.example.test', 'www.child.example.test', 'ns.child.example.test']) {
      const reply = decode(ask(s, query(name, 'A')));
      assert.equal(reply.rcode, 'NOERROR');
      assert.equal(reply.flag_aa, false, name);
      assert.deepEqual(reply.answers, []);
      assert.deepEqual(lines(reply.authorities), ['child.example.test 3600 NS ns.child.example.test']);
      assert.deepEqual(lines(reply.additionals), ['ns.child.example.test 3600 A 198.18.100.77']);
    }
  });

  it('refuses names outside its zones and classes other than IN, without AA', () => {
    const s = server();
    for (const [name, options] of [['www.example.net', {}], ['test', {}], ['.', {}], ['example.test', { class: 'CH' }]] as const) {
      const reply = decode(ask(s, query(name, 'A', options)));
      assert.equal(reply.rcode, 'REFUSED', name);
      assert.equal(reply.flag_aa, false);
      assert.equal(reply.questions?.[0].name, name === '.' ? '.' : name);
    }
  });

  it('keeps the question\'s case as asked, for it and the records it owns, and matches names without regard to case', () => {
    const q = query('WwW.ExAmPlE.tEsT', 'A');
    const reply = ask(server(), q);
    assert.ok(reply !== null);
    assert.deepEqual(reply.subarray(12, q.length), q.subarray(12));
    const decoded = decode(reply);
    assert.equal(decoded.questions?.[0].name, 'WwW.ExAmPlE.tEsT');
    assert.equal(decoded.answers?.[0].name, 'WwW.ExAmPlE.tEsT');
    assert.equal(decoded.answers?.length, 3);
    // Names in RDATA keep the zone's case: they point only at parts of the question written the same way.
    assert.equal((decoded.answers?.[0] as { data?: unknown } | undefined)?.data, 'web.example.test');
    assert.equal(decoded.answers?.[1].name, 'web.example.test');
  });

  it('answers other opcodes with NOTIMP, and zone transfers over UDP too', () => {
    const s = server();
    for (const opcode of ['IQUERY', 'STATUS', 'NOTIFY', 'UPDATE']) assert.equal(decode(ask(s, query('example.test', 'SOA', { opcode }))).rcode, 'NOTIMP', opcode);
    assert.equal(decode(ask(s, query('example.test', 'AXFR'))).rcode, 'NOTIMP');
    assert.equal(decode(ask(s, query('example.test', 'IXFR'))).rcode, 'NOTIMP');
  });

  it('answers ANY with one RRset (RFC 8482)', () => {
    const reply = decode(ask(server(), query('example.test', 'ANY')));
    assert.equal(reply.rcode, 'NOERROR');
    assert.equal(reply.answers?.length, 1);
  });
});

describe('DNS example: EDNS(0) and message size (RFC 6891)', () => {
  it('adds OPT only when the query has one, with its UDP size and the DO bit copied', () => {
    const s = server();
    const plain = decode(ask(s, query('example.test', 'A')));
    assert.deepEqual(plain.additionals, []);
    const edns = decode(ask(s, query('example.test', 'A', { edns: { udpSize: 4096, dnssecOk: true } })));
    const opt = edns.additionals?.[0] as unknown as { type: string; udpPayloadSize: number; ednsVersion: number; flags: number; extendedRcode: number };
    assert.equal(opt.type, 'OPT');
    assert.equal(opt.udpPayloadSize, 1232);
    assert.equal(opt.ednsVersion, 0);
    assert.equal(opt.flags & 0x8000, 0x8000);
    const noDo = decode(ask(s, query('example.test', 'A', { edns: { udpSize: 4096 } })));
    assert.equal((noDo.additionals?.[0] as unknown as { flags: number }).flags, 0);
  });

  it('truncates (TC=1, no records) an answer past 512 bytes without EDNS, and sends it whole with a larger EDNS size', () => {
    const s = server();
    const small = ask(s, query('big.example.test', 'TXT'));
    assert.ok(small !== null && small.length <= 512);
    const truncated = decode(small);
    assert.equal(truncated.flag_tc, true);
    assert.equal(truncated.flag_aa, true);
    assert.deepEqual(truncated.answers, []);
    assert.equal(truncated.questions?.[0].name, 'big.example.test');
    const whole = ask(s, query('big.example.test', 'TXT', { edns: { udpSize: 4096 } }));
    assert.ok(whole !== null && whole.length > 512 && whole.length <= 1232, `${whole?.length} bytes`);
    const decoded = decode(whole);
    assert.equal(decoded.flag_tc, false);
    assert.equal(decoded.answers?.length, 8);
    // A size under 512 counts as 512; a size between still truncates; the server's own limit and the frame's bound it too.
    assert.equal(decode(ask(s, query('big.example.test', 'TXT', { edns: { udpSize: 100 } }))).flag_tc, true);
    assert.equal(decode(ask(s, query('big.example.test', 'TXT', { edns: { udpSize: 700 } }))).flag_tc, true);
    assert.equal(decode(ask(new DnsServer(sampleStore(), { ednsUdpSize: 600 }), query('big.example.test', 'TXT', { edns: { udpSize: 4096 } }))).flag_tc, true);
    assert.equal(decode(ask(s, query('big.example.test', 'TXT', { edns: { udpSize: 4096 } }), { capacity: 600 })).flag_tc, true);
  });

  it('over TCP, fills what it is given (up to 65535 bytes) whatever the EDNS size, and rate-limits nothing', () => {
    const clock = new FakeClock(1000);
    const s = new DnsServer(sampleStore(), { rrl: new ResponseRateLimiter({ ratePerSecond: 1, prefixLength: 32, slip: 2 }), clock });
    for (const edns of [undefined, { udpSize: 512 }, { udpSize: 4096 }]) {
      for (let i = 0; i < 5; i++) {
        const reply = askTcp(s, query('big.example.test', 'TXT', { edns }));
        assert.ok(reply !== null && reply.length > 512);
        const decoded = decode(reply);
        assert.equal(decoded.flag_tc, false);
        assert.equal(decoded.answers?.length, 8);
        // OPT still tells the client this server's UDP size.
        if (edns !== undefined) assert.equal((decoded.additionals?.[0] as unknown as { udpPayloadSize: number }).udpPayloadSize, 1232);
      }
    }
    // The capacity given still bounds it.
    assert.equal(decode(askTcp(s, query('big.example.test', 'TXT'), 600)).flag_tc, true);
    assert.deepEqual([s.counters.tcpQueries, s.counters.answers, s.counters.truncated, s.counters.rrlSlipped, s.counters.rrlDropped], [16, 15, 1, 0, 0]);
  });

  it('leaves additional data out, without TC, when only it does not fit', () => {
    const extra = Array.from({ length: 20 }, (_, i) => `ns${i} A 192.0.2.${i}\nns${i} AAAA 2001:db8::${i}\n`).join('');
    const nsLines = Array.from({ length: 20 }, (_, i) => `@ NS ns${i}\n`).join('');
    const s = new DnsServer(storeOf(`$ORIGIN t.\n$TTL 5\n@ SOA ns0 h 1 2 3 4 5\n${nsLines}${extra}`));
    const reply = ask(s, query('t', 'NS'));
    assert.ok(reply !== null && reply.length <= 512);
    const decoded = decode(reply);
    assert.equal(decoded.flag_tc, false);
    assert.equal(decoded.answers?.length, 20);
    assert.ok((decoded.additionals?.length ?? 0) > 0 && (decoded.additionals?.length ?? 0) < 40);
  });

  it('answers an unknown EDNS version with BADVERS and OPT version 0, and nothing else', () => {
    const reply = decode(ask(server(), query('example.test', 'A', { edns: { udpSize: 4096, version: 1 } })));
    const opt = reply.additionals?.[0] as unknown as { extendedRcode: number; ednsVersion: number };
    assert.equal(reply.rcode, 'NOERROR');
    assert.equal(opt.extendedRcode, 1); // BADVERS = 16 = (1 << 4) | 0
    assert.equal(opt.ednsVersion, 0);
    assert.deepEqual(reply.answers, []);
  });
});

describe('DNS example: malformed queries', () => {
  const formerr = (message: Buffer) => {
    const s = server();
    const reply = ask(s, message);
    assert.ok(reply !== null, 'no reply');
    assert.equal(reply.length, 12);
    assert.equal(reply.readUInt16BE(0), message.readUInt16BE(0));
    assert.equal(reply.readUInt16BE(2) & 0x800f, 0x8001, 'QR and FORMERR');
    assert.equal(s.counters.formErr, 1);
    return reply;
  };
  const good = query('www.example.test', 'A', { edns: { udpSize: 1232 } });

  it('answers FORMERR, header only, for QDCOUNT 0 or 2, answer records, and questions cut short', () => {
    formerr(hex('0001 0000 0000 0000 0000 0000'));
    const two = Buffer.from(good);
    two.writeUInt16BE(2, 4);
    formerr(two);
    const answers = Buffer.from(good);
    answers.writeUInt16BE(1, 6);
    formerr(answers);
    for (const cut of [13, 20, 29, 31]) formerr(good.subarray(0, cut));
  });

  it('answers FORMERR for compression in the question, pointer loops, labels past the end, and names over 255 bytes', () => {
    formerr(hex('0001 0000 0001 0000 0000 0000 c00c 0001 0001'));
    formerr(hex('0001 0000 0001 0000 0000 0000 03616263 c00c 0001 0001'));
    formerr(hex('0001 0000 0001 0000 0000 0000 3f616263 00 0001 0001'));
    formerr(hex('0001 0000 0001 0000 0000 0000 4061 00 0001 0001'));
    const long = Buffer.concat([hex('0001 0000 0001 0000 0000 0000'), Buffer.from('3f'.concat('61'.repeat(63)).repeat(4), 'hex'), hex('00 0001 0001')]);
    formerr(long);
    // An additional record whose name points forward, or at itself: a loop.
    formerr(hex('0001 0000 0001 0000 0000 0001 03777777 00 0001 0001 c01b 0001 0001 00000000 0000'));
    formerr(hex('0001 0000 0001 0000 0000 0001 03777777 00 0001 0001 c019 0001 0001 00000000 0000'));
  });

  it('answers FORMERR for two OPT records, an OPT not at the root, bad option lengths, and bytes after the message', () => {
    const opt = hex('00 0029 1000 00000000 0000');
    const base = hex('0001 0000 0001 0000 0000 0002 076578616d706c65 0474657374 00 0001 0001');
    formerr(Buffer.concat([base, opt, opt]));
    const one = Buffer.from(base);
    one.writeUInt16BE(1, 10);
    formerr(Buffer.concat([one, hex('01 61 00 0029 1000 00000000 0000')]));
    formerr(Buffer.concat([one, hex('00 0029 1000 00000000 0006 000a 0008 0102')]));
    formerr(Buffer.concat([one, hex('00 0029 1000 00000000 0003 000a 00')]));
    formerr(Buffer.concat([one, opt, hex('00')]));
    formerr(Buffer.concat([one, hex('00 0029 1000 00000000 0010')]));
  });

  it('answers a query for type OPT with FORMERR', () => {
    formerr(query('example.test', 'OPT'));
  });

  it('says nothing to responses and to messages shorter than a header, and counts them', () => {
    const s = server();
    const response = Buffer.from(good);
    response.writeUInt16BE(0x8000, 2);
    assert.equal(ask(s, response), null);
    assert.equal(ask(s, good.subarray(0, 11)), null);
    assert.equal(ask(s, Buffer.alloc(0)), null);
    assert.equal(s.counters.ignoredResponses, 1);
    assert.equal(s.counters.ignoredTooShort, 2);
    assert.equal(decode(ask(s, good)).answers?.length, 3);
  });

  it('answers only within the buffer it was given, for requests at any offset', () => {
    const s = server();
    const q = query('big.example.test', 'TXT', { edns: { udpSize: 4096 } });
    const buffer = new Uint8Array(2048).fill(0xa5);
    for (const base of [0, 1, 42, 1000]) {
      buffer.fill(0xa5);
      buffer.set(q, base);
      const capacity = 2048 - base - 100;
      const length = s.answer(buffer, new DataView(buffer.buffer), base, q.length, capacity, CLIENT_A | 0);
      assert.ok(length > 0 && length <= capacity);
      assert.equal(buffer[base + length], base + length < base + q.length ? buffer[base + length] : 0xa5);
      assert.equal(decode(Buffer.from(buffer.subarray(base, base + length))).answers?.length, 8);
    }
    assert.equal(BASE, 42);
  });
});

describe('DNS example: response rate limiting', () => {
  it('limits each client /32 prefix to its rate, slipping every second response over it (TC=1) and dropping the rest', () => {
    const clock = new FakeClock(1000);
    const rrl = new ResponseRateLimiter({ ratePerSecond: 10, prefixLength: 32, slip: 2 });
    const s = new DnsServer(sampleStore(), { rrl, clock });
    const q = query('big.example.test', 'TXT', { edns: { udpSize: 4096 } });
    let full = 0;
    let slipped = 0;
    let dropped = 0;
    for (let i = 0; i < 100; i++) {
      const reply = ask(s, q, { client: CLIENT_A });
      if (reply === null) dropped++;
      else if (decode(reply).flag_tc) {
        slipped++;
        assert.ok(reply.length <= q.length, 'a slipped reply is no larger than the query');
      } else full++;
    }
    assert.deepEqual({ full, slipped, dropped }, { full: 10, slipped: 45, dropped: 45 });
    // Another client, even the next address, is answered in full.
    assert.equal(decode(ask(s, q, { client: CLIENT_B })).answers?.length, 8);
    // Tokens come back with time: half a second later, five more.
    clock.advance(500);
    let again = 0;
    for (let i = 0; i < 10; i++) {
      const reply = ask(s, q, { client: CLIENT_A });
      if (reply !== null && !decode(reply).flag_tc) again++;
    }
    assert.equal(again, 5);
    assert.equal(s.counters.rrlSlipped + s.counters.rrlDropped + s.counters.answers, s.counters.queries);
  });

  it('groups clients by the prefix length given (/24 puts a subnet together)', () => {
    const clock = new FakeClock(0);
    const s = new DnsServer(sampleStore(), { rrl: new ResponseRateLimiter({ ratePerSecond: 4, prefixLength: 24, slip: 0 }), clock });
    const q = query('example.test', 'A');
    const answered = [0, 1, 2, 3, 4, 5, 6, 7].filter((i) => ask(s, q, { client: 0xc6120000 + i }) !== null).length;
    assert.equal(answered, 4);
    assert.ok(ask(s, q, { client: 0xc6120100 }) !== null, 'another /24');
    assert.equal(s.counters.rrlDropped, 4);
  });

  it('keeps a bounded table, evicting the longest idle prefix when full', () => {
    const clock = new FakeClock(0);
    const rrl = new ResponseRateLimiter({ ratePerSecond: 1, prefixLength: 32, tableSize: 16 });
    for (let i = 0; i < 1000; i++) {
      clock.advance(1);
      rrl.check(0x0a000000 + i, clock.nowMs());
    }
    assert.equal(rrl.prefix.length, 16);
    assert.ok(rrl.evictions >= 1000 - 16);
  });
});

describe('DNS example: counters and allocation', () => {
  it('puts every query in exactly one outcome', () => {
    const s = server();
    ask(s, query('www.example.test', 'A'));
    ask(s, query('nope.example.test', 'A'));
    ask(s, query('mail.example.test', 'AAAA'));
    ask(s, query('www.child.example.test', 'A'));
    ask(s, query('big.example.test', 'TXT'));
    ask(s, query('example.net', 'A'));
    ask(s, hex('0001 0000 0000 0000 0000 0000'));
    ask(s, query('example.test', 'A', { opcode: 'STATUS' }));
    ask(s, query('example.test', 'A', { edns: { udpSize: 512, version: 3 } }));
    ask(s, hex('0001 8000 0000 0000 0000 0000'));
    ask(s, hex('0001'));
    const tcpReply = askTcp(s, query('www.example.test', 'A'));
    assert.ok(tcpReply !== null);
    const { queries, tcpQueries, tcpAccepted, tcpRefused, tcpIdleTimeouts, tcpBadLength, tcpClosedAfterFormErr, tcpIncomplete, ...outcomes } = s.counters;
    assert.deepEqual(outcomes, {
      answers: 2, noData: 1, nxDomain: 1, referrals: 1, truncated: 1, refused: 1, formErr: 1, notImp: 1, badVers: 1,
      rrlSlipped: 0, rrlDropped: 0, ignoredResponses: 1, ignoredTooShort: 1,
    });
    assert.equal(queries, 12);
    // One came over TCP; the connection counters are the TCP service's (none here).
    assert.deepEqual([tcpQueries, tcpAccepted, tcpRefused, tcpIdleTimeouts, tcpBadLength, tcpClosedAfterFormErr, tcpIncomplete], [1, 0, 0, 0, 0, 0, 0]);
  });

  it('answers 1,000,000 queries of every kind with zero GC events', async function () {
    this.timeout(120000);
    const clock = new FakeClock(0);
    const s = new DnsServer(sampleStore(), { rrl: new ResponseRateLimiter({ ratePerSecond: 1e9, prefixLength: 32 }), clock });
    const queries = [
      query('www.example.test', 'A'), query('Alias.Example.Test', 'A', { edns: { udpSize: 4096, dnssecOk: true } }), query('nope.example.test', 'MX'),
      query('example.test', 'NS'), query('big.example.test', 'TXT'), query('ns.child.example.test', 'A'), query('x.example.org', 'A'),
      hex('0001 0000 0001 0000 0000 0000 c00c 0001 0001'),
    ];
    const buffer = new Uint8Array(2048);
    const view = new DataView(buffer.buffer);
    const run = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const q = queries[i & 7];
        buffer.set(q, BASE);
        s.answer(buffer, view, BASE, q.length, 1472, (CLIENT_A + (i & 0xff)) | 0);
      }
    };
    run(100_000);
    const events = await countGcEvents(() => run(1_000_000));
    assert.equal(s.counters.queries, 1_100_000);
    assert.equal(events, 0, `${events} GC events`);
  });
});
