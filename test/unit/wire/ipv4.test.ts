import { strict as assert } from 'node:assert';
import {
  IP_PROTOCOL_ICMP,
  IP_PROTOCOL_UDP,
  IPV4_HEADER_LEN,
  Ipv4Packet,
  Ipv4Repr,
  ipv4Field,
  ipv4ToString,
  parseIpv4,
} from '../../../src/wire/ipv4';
import { captured, fromHex, synthetic } from '../../fixtures/wire/frames';
import { FRAME_AT, Prng, bytesAt, placed, poisoned, toHex } from '../../fixtures/wire/util';

const HOST_A = 0xc6120102; // 198.18.1.2
const ROUTER = 0xc6120101; // 198.18.1.1
const HOST_B = 0xc6120202; // 198.18.2.2

/** The IPv4 packet of a captured Ethernet frame, and its view. */
function ipv4Of(hex: string, frameLength?: number): { packet: Ipv4Packet; ok: boolean; bytes: Uint8Array; view: DataView } {
  const bytes = fromHex(hex).subarray(14);
  const { view } = placed(bytes);
  const packet = new Ipv4Packet();
  const ok = packet.reset(view, FRAME_AT, frameLength ?? bytes.length);
  return { packet, ok, bytes, view };
}

describe('wire/ipv4', () => {
  it('deconstructs a captured packet', () => {
    const { packet, ok } = ipv4Of(captured.echoRequest.hex);
    assert.equal(ok, true);
    assert.equal(packet.version, 4);
    assert.equal(packet.headerLength, 20);
    assert.equal(packet.dscp, 0);
    assert.equal(packet.ecn, 0);
    assert.equal(packet.totalLength, 52);
    assert.equal(packet.identification, 0xc661);
    assert.equal(packet.dontFragment, true);
    assert.equal(packet.moreFragments, false);
    assert.equal(packet.fragmentOffsetBytes, 0);
    assert.equal(packet.isFragment, false);
    assert.equal(packet.timeToLive, 64);
    assert.equal(packet.protocol, IP_PROTOCOL_ICMP);
    assert.equal(packet.checksum, 0xe63f);
    assert.equal(packet.source, HOST_A);
    assert.equal(packet.destination, ROUTER);
    assert.equal(packet.payloadOffset, FRAME_AT + 20);
    assert.equal(packet.payloadLength, 32);
    assert.equal(packet.verifyChecksum(), true);
  });

  it('skips options: a captured record-route packet has IHL 15', () => {
    const { packet, ok } = ipv4Of(captured.echoRequestWithOptions.hex);
    assert.equal(ok, true);
    assert.equal(packet.headerLength, 60);
    assert.equal(packet.optionsOffset, FRAME_AT + 20);
    assert.equal(packet.payloadOffset, FRAME_AT + 60);
    assert.equal(packet.payloadLength, 32);
    assert.equal(packet.verifyChecksum(), true);
    assert.equal(Ipv4Repr.parse(packet)?.payloadLength, 32);
  });

  it('reads the fragment fields of captured fragments', () => {
    const first = ipv4Of(captured.firstFragment.hex).packet;
    assert.equal(first.moreFragments, true);
    assert.equal(first.dontFragment, false);
    assert.equal(first.fragmentOffsetBytes, 0);
    assert.equal(first.isFragment, true);
    assert.equal(first.payloadLength, 1480);
    const last = ipv4Of(captured.lastFragment.hex).packet;
    assert.equal(last.moreFragments, false);
    assert.equal(last.fragmentOffsetBytes, 1480);
    assert.equal(last.isFragment, true);
    assert.equal(last.identification, first.identification);
    assert.equal(last.payloadLength, 1608 - 1480);
    assert.equal(last.verifyChecksum(), true);
  });

  it('reads DSCP of a captured ICMP error (class selector 6)', () => {
    const { packet } = ipv4Of(captured.timeExceeded.hex);
    assert.equal(packet.dscp, 48);
    assert.equal(packet.ecn, 0);
  });

  it('constructs a packet in a buffer of 0xa5', () => {
    const { bytes } = ipv4Of(captured.echoRequest.hex);
    const { view, memory } = poisoned(IPV4_HEADER_LEN);
    const packet = new Ipv4Packet();
    packet.resetUnchecked(view, FRAME_AT, IPV4_HEADER_LEN);
    packet.version = 4;
    packet.headerLength = 20;
    packet.dscp = 0;
    packet.ecn = 0;
    packet.totalLength = 52;
    packet.identification = 0xc661;
    packet.clearFlags();
    packet.dontFragment = true;
    packet.moreFragments = false;
    packet.fragmentOffsetBytes = 0;
    packet.timeToLive = 64;
    packet.protocol = IP_PROTOCOL_ICMP;
    packet.source = HOST_A;
    packet.destination = ROUTER;
    packet.fillChecksum();
    assert.equal(toHex(bytesAt(memory, 0, IPV4_HEADER_LEN)), toHex(bytes.subarray(0, IPV4_HEADER_LEN)));
  });

  it('parses a captured packet into a record', () => {
    const { packet } = ipv4Of(captured.udpRequest.hex);
    const repr = Ipv4Repr.parse(packet);
    assert.ok(repr);
    assert.deepEqual({ ...repr }, {
      source: HOST_A,
      destination: HOST_B,
      protocol: IP_PROTOCOL_UDP,
      payloadLength: 21,
      timeToLive: 64,
      dscp: 0,
      ecn: 0,
      identification: 0x504b,
      dontFragment: true,
      moreFragments: false,
      fragmentOffsetBytes: 0,
    });
  });

  it('emits a record with its checksum', () => {
    const { bytes } = ipv4Of(captured.lastFragment.hex);
    const repr = new Ipv4Repr();
    Object.assign(repr, {
      source: HOST_A,
      destination: ROUTER,
      protocol: IP_PROTOCOL_ICMP,
      payloadLength: 128,
      timeToLive: 64,
      identification: 0xc664,
      dontFragment: false,
      moreFragments: false,
      fragmentOffsetBytes: 1480,
    });
    const { view, memory } = poisoned(IPV4_HEADER_LEN);
    assert.equal(repr.emit(view, FRAME_AT), IPV4_HEADER_LEN);
    assert.equal(toHex(bytesAt(memory, 0, IPV4_HEADER_LEN)), toHex(bytes.subarray(0, IPV4_HEADER_LEN)));
  });

  it('ends the packet at Total Length, ignoring Ethernet padding', () => {
    const { packet, ok } = ipv4Of(synthetic.paddedUdpRequest);
    assert.equal(ok, true);
    assert.equal(packet.length, 46);
    assert.equal(packet.totalLength, 41);
    assert.equal(packet.payloadLength, 21);
  });

  it('rejects truncated and structurally invalid packets', () => {
    const bytes = fromHex(captured.udpRequest.hex).subarray(14);
    const packet = new Ipv4Packet();
    const check = (mutate: (copy: Uint8Array) => void, length = bytes.length): boolean => {
      const copy = Uint8Array.from(bytes);
      mutate(copy);
      return packet.reset(placed(copy).view, FRAME_AT, length);
    };
    assert.equal(check(() => {}), true);
    assert.equal(check(() => {}, 19), false, 'shorter than a header');
    assert.equal(check(() => {}, 40), false, 'Total Length beyond the frame');
    assert.equal(check((c) => (c[0] = 0x65)), false, 'version 6');
    assert.equal(check((c) => (c[0] = 0x44)), false, 'IHL < 5');
    assert.equal(check((c) => (c[0] = 0x46), 23), false, 'IHL beyond the frame');
    assert.equal(check((c) => (c[0] = 0x4f)), false, 'IHL beyond Total Length');
    assert.equal(check((c) => (c[3] = 19)), false, 'Total Length shorter than the header');
  });

  it('refuses a bad checksum unless told not to check', () => {
    const { packet, view } = ipv4Of(captured.udpRequest.hex);
    view.setUint8(FRAME_AT + ipv4Field.TIME_TO_LIVE, 63);
    assert.equal(packet.verifyChecksum(), false);
    assert.equal(Ipv4Repr.parse(packet), null);
    assert.equal(Ipv4Repr.parse(packet, false)?.timeToLive, 63);
  });

  it('passes unknown protocol numbers through', () => {
    const { packet } = ipv4Of(captured.udpRequest.hex);
    packet.protocol = 253;
    packet.fillChecksum();
    assert.equal(Ipv4Repr.parse(packet)?.protocol, 253);
  });

  it('reads a header quoted in an ICMP error, whose Total Length exceeds the bytes quoted', () => {
    const bytes = fromHex(captured.udpRequest.hex).subarray(14, 14 + 28);
    const packet = new Ipv4Packet();
    const { view } = placed(bytes);
    assert.equal(packet.reset(view, FRAME_AT, 28), false);
    assert.equal(packet.resetHeader(view, FRAME_AT, 28), true);
    assert.equal(packet.totalLength, 41);
    assert.equal(packet.payloadLength, 8);
  });

  it('swaps addresses and rewrites fields keeping the checksum valid', () => {
    const { packet } = ipv4Of(captured.udpRequest.hex);
    packet.swapAddresses();
    assert.equal(packet.source, HOST_B);
    assert.equal(packet.destination, HOST_A);
    assert.equal(packet.verifyChecksum(), true);
    packet.rewriteTimeToLive(17);
    assert.equal(packet.timeToLive, 17);
    assert.equal(packet.protocol, IP_PROTOCOL_UDP);
    assert.equal(packet.verifyChecksum(), true);
  });

  it('updates the checksum incrementally exactly as a full recompute, over random field rewrites', () => {
    const prng = new Prng(791);
    const { packet } = ipv4Of(captured.udpRequest.hex);
    const words16 = [ipv4Field.TOTAL_LENGTH, ipv4Field.IDENTIFICATION, ipv4Field.FLAGS_FRAGMENT_OFFSET, ipv4Field.TIME_TO_LIVE];
    const words32 = [ipv4Field.SOURCE, ipv4Field.DESTINATION];
    for (let trial = 0; trial < 20000; trial++) {
      const kind = prng.below(3);
      if (kind === 0) packet.rewriteUint16(words16[prng.below(words16.length)], prng.below(0x10000));
      else if (kind === 1) packet.rewriteUint32(words32[prng.below(words32.length)], prng.nextU32());
      else packet.rewriteTimeToLive(prng.below(256));
      const incremental = packet.checksum;
      packet.fillChecksum();
      assert.equal(incremental, packet.checksum, `trial ${trial}`);
    }
  });

  it('converts addresses between text and u32', () => {
    assert.equal(ipv4ToString(HOST_A), '198.18.1.2');
    assert.equal(ipv4ToString(0xffffffff), '255.255.255.255');
    assert.equal(parseIpv4('198.18.2.2'), HOST_B);
    assert.equal(parseIpv4('0.0.0.0'), 0);
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
    for (const bad of ['198.18.1', '198.18.1.256', '198.18.1.-1', '198.18.1.2.3', '198.18..2', ' 198.18.1.2', '0x1.2.3.4', '']) {
      assert.equal(parseIpv4(bad), null, bad);
    }
  });
});
