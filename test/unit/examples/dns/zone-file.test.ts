import { strict as assert } from 'node:assert';
import { ZoneError, nameText, parseZone, parseIpv6 } from '../../../../examples/dns/zone-file';
import { ZoneDataError } from '../../../../examples/dns/zone-store';
import { storeOf } from './dns-test';

const SOA = '@ IN SOA ns1 host 1 2 3 4 5\n@ IN NS ns1\n';

describe('DNS example: zone master files (RFC 1035 5.1)', () => {
  it('reads $ORIGIN, $TTL, relative and absolute names, @, blank owners, parentheses and comments', () => {
    const zone = parseZone([
      '$ORIGIN Example.TEST. ; the origin, case kept',
      '$TTL 1h',
      '@  SOA ns1 hostmaster.example.test. ( 7 ; serial',
      '        2h 15m',
      '        2w 60 )',
      '   NS  ns1',
      'www 60 IN A 198.18.0.9',
      '    IN 120 AAAA 2001:db8::9',
      'sub.www CNAME www',
      '$ORIGIN other.example.test.',
      'x   MX 5 mail',
    ].join('\n'), { file: 'z' });
    assert.equal(nameText(zone.apex), 'Example.TEST.');
    const text = zone.records.map((record) => `${record.line} ${nameText(record.owner)} ${record.ttl} ${record.type}`);
    assert.deepEqual(text, [
      '3 Example.TEST. 3600 6', '6 Example.TEST. 3600 2', '7 www.Example.TEST. 60 1', '8 www.Example.TEST. 120 28',
      '9 sub.www.Example.TEST. 3600 5', '11 x.other.example.test. 3600 15',
    ]);
    const soa = zone.records[0].data;
    assert.ok(soa.kind === 'soa');
    assert.deepEqual([nameText(soa.mname), nameText(soa.rname), soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum],
      ['ns1.Example.TEST.', 'hostmaster.example.test.', 7, 7200, 900, 1209600, 60]);
    const mx = zone.records[5].data;
    assert.ok(mx.kind === 'mx' && mx.preference === 5 && nameText(mx.exchange) === 'mail.other.example.test.');
  });

  it('reads quoted TXT strings with escapes, and escaped names', () => {
    const zone = parseZone(`$ORIGIN t.\n$TTL 5\n${SOA}txt TXT "a \\"quoted\\" word" plain "\\065\\\\" ""\ndot\\.ted A 192.0.2.1\n`);
    const txt = zone.records[2].data;
    assert.ok(txt.kind === 'txt');
    assert.deepEqual(txt.strings.map((s) => s.toString('latin1')), ['a "quoted" word', 'plain', 'A\\', '']);
    assert.equal(zone.records[3].owner[0].toString('latin1'), 'dot.ted');
    assert.equal(nameText(zone.records[3].owner), 'dot\\.ted.t.');
  });

  it('reads IPv6 addresses in every form', () => {
    assert.equal(parseIpv6('2001:db8::1')?.toString('hex'), '20010db8000000000000000000000001');
    assert.equal(parseIpv6('::')?.toString('hex'), '0'.repeat(32));
    assert.equal(parseIpv6('::ffff:192.0.2.1')?.toString('hex'), '00000000000000000000ffffc0000201');
    assert.equal(parseIpv6('1:2:3:4:5:6:7:8')?.toString('hex'), '00010002000300040005000600070008');
    for (const bad of ['1:2:3:4:5:6:7', '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9']) assert.equal(parseIpv6(bad), null, bad);
  });

  it('names the file and line of every error', () => {
    const cases: [string, RegExp][] = [
      [`$ORIGIN t.\n$TTL 5\n${SOA}x IN HINFO a b`, /^z:5: type HINFO is not supported/],
      [`$ORIGIN t.\n$TTL 5\n${SOA}x CH A 192.0.2.1`, /^z:5: class CH is not supported/],
      [`$ORIGIN t.\n$TTL 5\n${SOA}x A 192.0.2.256`, /^z:5: bad IPv4 address "192\.0\.2\.256"/],
      [`$ORIGIN t.\n$TTL 5\n${SOA}x A 192.0.2.1 (\n`, /^z:5: "\(" is not closed/],
      [`$ORIGIN t.\n$TTL 5\n${SOA}x TXT "open`, /^z:5: a quoted string is not closed/],
      [`$TTL 5\nx A 192.0.2.1`, /^z:2: relative name "x" before \$ORIGIN/],
      [`$ORIGIN t.\nx A 192.0.2.1\n${SOA}`, /^z:2: no TTL: give one, or set \$TTL/],
      [`$ORIGIN t.\n$TTL 5\n$INCLUDE other.zone`, /^z:3: \$INCLUDE is not supported/],
      [`$ORIGIN t.\n$TTL 5\n${SOA}${'a'.repeat(64)} A 192.0.2.1`, /^z:5: label longer than 63 bytes/],
      [`$ORIGIN t.\n$TTL 5\nx A 192.0.2.1`, /^z:0: the zone has no SOA record/],
      [`$ORIGIN t.\n$TTL 5\n${SOA}@ SOA a b 1 2 3 4 5`, /^z:5: the zone has more than one SOA record/],
      [`$ORIGIN t.\n$TTL 5\n${SOA}x MX 70000 mail`, /^z:5: bad MX preference/],
    ];
    for (const [text, pattern] of cases) assert.throws(() => parseZone(text, { file: 'z' }), (error: Error) => error instanceof ZoneError && pattern.test(error.message), text);
  });

  it('refuses zone data that breaks the rules: CNAME beside other data, no NS at the apex, names outside the zone', () => {
    assert.throws(() => storeOf(`$ORIGIN t.\n$TTL 5\n${SOA}x CNAME y\nx A 192.0.2.1`), (e: Error) => e instanceof ZoneDataError && /zone0:5: a CNAME at x\.t\. cannot have other data/.test(e.message));
    assert.throws(() => storeOf(`$ORIGIN t.\n$TTL 5\n${SOA}x CNAME y\nx CNAME z`), /more than one CNAME/);
    assert.throws(() => storeOf('$ORIGIN t.\n$TTL 5\n@ SOA a b 1 2 3 4 5\n'), /no NS records at its apex/);
    assert.throws(() => storeOf(`$ORIGIN t.\n$TTL 5\n${SOA}x.u. A 192.0.2.1`), /zone0:5: x\.u\. is outside the zone t\./);
    assert.throws(() => storeOf(`$ORIGIN t.\n$TTL 5\n${SOA}`, `$ORIGIN T.\n$TTL 5\n${SOA}`), /zone T\. is loaded twice/);
  });

  it('keeps one copy of a repeated record (addresses compared byte for byte) and the lowest TTL for an RRset', () => {
    const store = storeOf(`$ORIGIN t.\n$TTL 50\n${SOA}x A 192.0.2.1\nx 20 A 192.0.2.1\nx 30 A 192.0.2.2\nx A 192.0.2.65\nx A 192.0.2.97`);
    const set = store.findSet(store.nodeOf('x.t'), 1);
    assert.equal(store.setSize[set], 4);
    assert.equal(store.setTtl[set], 30);
  });
});
