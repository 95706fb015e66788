import { strict as assert } from 'node:assert';
import type { StackCounters } from '../../../src/iface/counters';
import { Ipv4OptionsVerdict, checkIpv4Options, optionsPointer, optionsReason } from '../../../src/iface/ipv4-options';
import { createSocket } from '../../../src/socket/udp';
import { ICMPV4_PARAMETER_PROBLEM } from '../../../src/wire/icmpv4';
import { IP_PROTOCOL_UDP } from '../../../src/wire/ipv4';
import { OPTION_CASES } from '../../fixtures/ipv4-options';
import { StackFixture, fragment, ipv4Packet, pattern, udpDatagram } from './peer';

const OPTION_COUNTERS = ['ipv4OptionBadLength', 'ipv4OptionBadPointer', 'ipv4OptionRepeated', 'ipv4OptionTimestampOverflow', 'ipv4OptionCipso', 'ipv4SourceRouted'] as const;

/** A UDP request to port 7 with `options` in its header. */
function requestWithOptions(options: number[], payload = pattern(12)): Uint8Array {
  return ipv4Packet({ protocol: IP_PROTOCOL_UDP, options: Uint8Array.from(options), payload: udpDatagram(40000, 7, payload) });
}

describe('iface/ipv4 options (as Linux checks them)', () => {
  let fixture: StackFixture;
  beforeEach(() => {
    fixture = new StackFixture();
    fixture.start();
    fixture.introduce();
    const socket = createSocket(fixture.iface).bind(7);
    socket.on('message', (payload, rinfo) => socket.send(payload.copy(), rinfo.port, rinfo.address));
  });
  afterEach(() => fixture.close());

  for (const optionCase of OPTION_CASES) {
    const outcome = optionCase.outcome;
    const expected = 'answered' in outcome ? 'answered' : 'dropped' in outcome ? 'dropped silently' : `parameter problem at byte ${outcome.parameterProblem}`;
    it(`${optionCase.name}: ${expected}${optionCase.counter ? `, counted as ${optionCase.counter}` : ''}`, () => {
      const request = requestWithOptions(optionCase.options);
      const sent = fixture.exchangeIpv4(request).filter((frame) => frame.ip !== undefined);
      const counters = fixture.iface.counters();
      if ('answered' in outcome) {
        assert.equal(sent.length, 1);
        assert.deepEqual(sent[0].udp?.payload, pattern(12));
        assert.equal(sent[0].ip?.headerLength, 20, 'options are not reflected');
      } else if ('dropped' in outcome) {
        assert.deepEqual(sent, []);
      } else {
        assert.equal(sent.length, 1);
        assert.equal(sent[0].icmp?.type, ICMPV4_PARAMETER_PROBLEM);
        assert.equal(sent[0].icmp?.code, 0);
        assert.ok(sent[0].icmp?.checksumOk);
        // The pointer is the first byte after type, code and checksum; the quote is the datagram as it came.
        const quote = sent[0].icmp?.data as Uint8Array;
        assert.equal(sent[0].icmp?.identifier, outcome.parameterProblem << 8);
        assert.deepEqual(quote.subarray(0, 20 + optionCase.options.length), request.subarray(0, 20 + optionCase.options.length));
      }
      for (const name of OPTION_COUNTERS) assert.equal(counters[name], name === optionCase.counter ? 1 : 0, name);
      assert.equal(counters.udpReceived, 'answered' in outcome ? 1 : 0);
    });
  }

  it('checks the options of every fragment, and answers only a first fragment with parameter problem', () => {
    const options = Uint8Array.from([0x07, 0x00, 0x00, 0x00]);
    const whole = ipv4Packet({ protocol: IP_PROTOCOL_UDP, identification: 99, payload: udpDatagram(40000, 7, pattern(2000)) });
    const [first, second] = fragment(whole, 1480).map((part) => {
      const view = new DataView(part.buffer, part.byteOffset);
      return ipv4Packet({
        protocol: IP_PROTOCOL_UDP, identification: 99, options, payload: part.subarray(20),
        moreFragments: (view.getUint16(6) & 0x2000) !== 0, fragmentOffsetBytes: (view.getUint16(6) & 0x1fff) * 8,
      });
    });
    const answerToSecond = fixture.exchangeIpv4(second).filter((frame) => frame.ip !== undefined);
    assert.deepEqual(answerToSecond, []);
    assert.equal(fixture.iface.counters().icmpErrorsSuppressed, 1);
    const answerToFirst = fixture.exchangeIpv4(first).filter((frame) => frame.ip !== undefined);
    assert.equal(answerToFirst[0].icmp?.type, ICMPV4_PARAMETER_PROBLEM);
    const counters = fixture.iface.counters();
    assert.equal(counters.ipv4OptionBadLength, 2);
    assert.equal(counters.ipv4FragmentsReceived, 0, 'refused before reassembly');
    assert.equal(fixture.iface.reassembler.pending, 0);
  });

  it('sends no parameter problem about a datagram to a broadcast address', () => {
    const request = ipv4Packet({ protocol: IP_PROTOCOL_UDP, destination: 0xc61200ff, options: Uint8Array.from([0x07, 0x00, 0x00, 0x00]), payload: udpDatagram(40000, 7, pattern(8), undefined, 0xc61200ff) });
    assert.deepEqual(fixture.exchangeIpv4(request).filter((frame) => frame.ip !== undefined), []);
    const counters: StackCounters = fixture.iface.counters();
    assert.equal(counters.ipv4OptionBadLength, 1);
    assert.equal(counters.icmpErrorsSuppressed, 1);
  });
});

describe('iface/ipv4-options checkIpv4Options', () => {
  const header = (options: number[]): DataView => {
    const bytes = new Uint8Array(20 + options.length);
    bytes.set(options, 20);
    return new DataView(bytes.buffer);
  };

  it('stops at the end of option list, whatever follows', () => {
    assert.equal(checkIpv4Options(header([0x00, 0x07, 0x00, 0x00]), 0, 24), Ipv4OptionsVerdict.OK);
  });

  it('reads at the header offset it is given', () => {
    const bytes = new Uint8Array(100);
    bytes.set([0x01, 0x07, 0x00, 0x00], 50 + 20);
    const verdict = checkIpv4Options(new DataView(bytes.buffer), 50, 24);
    assert.equal(optionsReason(verdict), Ipv4OptionsVerdict.BAD_LENGTH);
    assert.equal(optionsPointer(verdict), 21);
  });

  it('never reads past the header over every 4-byte option field', () => {
    const bytes = new Uint8Array(24 + 1);
    const view = new DataView(bytes.buffer, 0, 24);
    for (let value = 0; value < 1 << 16; value++) {
      bytes[20] = value >>> 8;
      bytes[21] = value & 0xff;
      bytes[22] = (value * 7) & 0xff;
      bytes[23] = (value * 13) & 0xff;
      const verdict = checkIpv4Options(view, 0, 24);
      assert.ok(verdict === 0 || optionsPointer(verdict) < 24 || optionsReason(verdict) === Ipv4OptionsVerdict.SOURCE_ROUTED, `${value}`);
    }
  });
});
