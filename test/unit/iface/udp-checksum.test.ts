// Received UDP checksums as a same-host peer sends them: full, partial (only
// the pseudo-header sum in the field, Linux's CHECKSUM_PARTIAL on veth), or
// wrong; accepted or dropped by what the device says, and replies to partial
// requests leaving with a full checksum checked by an independent recompute.

import { strict as assert } from 'node:assert';
import { Responder, type ResponderHandler } from '../../../src/service/responder';
import { createSocket } from '../../../src/socket/udp';
import { IP_PROTOCOL_UDP } from '../../../src/wire/ipv4';
import { PEER_ADDRESS, STACK_ADDRESS, StackFixture, fragment, ipv4Packet, pattern, reassemble, udpDatagram, type SentFrame } from './peer';

/** The folded ones' complement sum of 16-bit words, computed byte by byte (independent of src/wire/checksum.ts). */
function naiveSum(words: number[]): number {
  let sum = 0;
  for (const word of words) {
    sum += word;
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  return sum;
}

function wordsOf(bytes: Uint8Array): number[] {
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) words.push((bytes[i] << 8) | (i + 1 < bytes.length ? bytes[i + 1] : 0));
  return words;
}

function pseudoWords(source: number, destination: number, length: number): number[] {
  return [source >>> 16, source & 0xffff, destination >>> 16, destination & 0xffff, IP_PROTOCOL_UDP, length];
}

/** The field a same-host Linux sender leaves for offload: the folded pseudo-header sum. */
function partialField(source: number, destination: number, length: number): number {
  return naiveSum(pseudoWords(source, destination, length));
}

/** A datagram with a partial checksum. */
function partialDatagram(sourcePort: number, destinationPort: number, payload: Uint8Array, source = PEER_ADDRESS, destination = STACK_ADDRESS): Uint8Array {
  return udpDatagram(sourcePort, destinationPort, payload, source, destination, partialField(source, destination, 8 + payload.length));
}

/** True when a UDP segment (header and payload, as sent) carries its full checksum, recomputed here from scratch. */
function fullChecksumRight(segment: Uint8Array, source: number, destination: number): boolean {
  const field = (segment[6] << 8) | segment[7];
  if (field === 0) return false;
  const zeroed = segment.slice();
  zeroed[6] = 0;
  zeroed[7] = 0;
  const expected = (~naiveSum([...pseudoWords(source, destination, segment.length), ...wordsOf(zeroed)]) & 0xffff) || 0xffff;
  return field === expected;
}

function udpSegmentOf(frame: SentFrame): Uint8Array {
  assert.ok(frame.ip !== undefined && frame.udp !== undefined, 'a UDP frame');
  return frame.ip.payload;
}

const toPort = (port: number, datagram: Uint8Array, source = PEER_ADDRESS): Uint8Array =>
  ipv4Packet({ protocol: IP_PROTOCOL_UDP, source, payload: datagram });

describe('iface/udp checksums from same-host peers', () => {
  let fixture: StackFixture;
  afterEach(() => fixture.close());

  function start(rxChecksums: 'full' | 'partial', strictChecksums?: boolean): void {
    fixture = new StackFixture(strictChecksums === undefined ? {} : { strictChecksums }, { rxChecksums, poison: true });
    fixture.start();
    fixture.introduce();
  }

  it('accepts a partial checksum on a device that may carry one, counts it, and echoes with a full checksum', () => {
    start('partial');
    const responder = new Responder(fixture.iface, { ports: [9000] });
    const sent = fixture.exchangeIpv4(toPort(9000, partialDatagram(40001, 9000, pattern(301))));
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0].udp?.payload, pattern(301));
    assert.ok(fullChecksumRight(udpSegmentOf(sent[0]), STACK_ADDRESS, PEER_ADDRESS), 'the echo carries a full, correct checksum');
    const counters = fixture.iface.counters();
    assert.equal(counters.udpChecksumPartial, 1);
    assert.equal(counters.udpBadChecksum, 0);
    assert.equal(counters.udpRepliesInPlace, 1);
    assert.equal(responder.counters.replies, 1);
  });

  it('drops the same frame as udpBadChecksum on a device without the capability', () => {
    start('full');
    const responder = new Responder(fixture.iface, { ports: [9000] });
    assert.deepEqual(fixture.exchangeIpv4(toPort(9000, partialDatagram(40001, 9000, pattern(301)))), []);
    const counters = fixture.iface.counters();
    assert.equal(counters.udpBadChecksum, 1);
    assert.equal(counters.udpChecksumPartial, 0);
    assert.equal(responder.counters.requests, 0);
  });

  it('drops it as udpBadChecksum with strictChecksums, whatever the device says', () => {
    start('partial', true);
    assert.equal(fixture.iface.checksums.acceptPartial, false);
    new Responder(fixture.iface, { ports: [9000] });
    assert.deepEqual(fixture.exchangeIpv4(toPort(9000, partialDatagram(40001, 9000, pattern(64)))), []);
    assert.equal(fixture.iface.counters().udpBadChecksum, 1);
    assert.equal(fixture.iface.counters().udpChecksumPartial, 0);
  });

  it('still drops a wrong checksum (neither full nor the pseudo-header sum) where partial ones are accepted', () => {
    start('partial');
    new Responder(fixture.iface, { ports: [9000] });
    const good = partialField(PEER_ADDRESS, STACK_ADDRESS, 8 + 64);
    for (const wrong of [good ^ 1, (good + 1) & 0xffff, ~good & 0xffff, 0x1234]) {
      assert.deepEqual(fixture.exchangeIpv4(toPort(9000, udpDatagram(40001, 9000, pattern(64), PEER_ADDRESS, STACK_ADDRESS, wrong))), []);
    }
    // A partial field whose payload was corrupted on the way is not caught (the checksum was never computed), as on Linux.
    assert.equal(fixture.iface.counters().udpBadChecksum, 4);
    assert.equal(fixture.iface.counters().udpChecksumPartial, 0);
  });

  it('takes a full checksum as full on such a device (not counted partial), and keeps it in the echo', () => {
    start('partial');
    new Responder(fixture.iface, { ports: [9000] });
    const request = udpDatagram(40001, 9000, pattern(100));
    const sent = fixture.exchangeIpv4(toPort(9000, request));
    assert.equal(sent.length, 1);
    assert.equal(fixture.iface.counters().udpChecksumPartial, 0);
    assert.equal((sent[0].ip?.payload[6] ?? 0) << 8 | (sent[0].ip?.payload[7] ?? 0), (request[6] << 8) | request[7]);
    assert.ok(fullChecksumRight(udpSegmentOf(sent[0]), STACK_ADDRESS, PEER_ADDRESS));
  });

  it('echoes partial requests of every size from 0 to 1472 bytes with full checksums', () => {
    start('partial');
    new Responder(fixture.iface, { ports: [9000] });
    let checked = 0;
    for (let size = 0; size <= 1472; size++) {
      const payload = pattern(size, size * 7);
      const sent = fixture.exchangeIpv4(toPort(9000, partialDatagram(30000 + size, 9000, payload)));
      assert.equal(sent.length, 1, `size ${size}`);
      assert.deepEqual(sent[0].udp?.payload, payload, `size ${size}`);
      assert.ok(fullChecksumRight(udpSegmentOf(sent[0]), STACK_ADDRESS, PEER_ADDRESS), `size ${size}`);
      checked++;
    }
    assert.equal(checked, 1473);
    assert.equal(fixture.iface.counters().udpChecksumPartial, 1473);
  });

  it('gets a pseudo-header sum of 0xffff right, in the check and in the reply', () => {
    // On a /15 the source's low word is free: pick it so the pseudo-header folds to 0xffff.
    fixture = new StackFixture({ address: '198.18.0.1/15' }, { rxChecksums: 'partial' });
    fixture.start();
    const length = 8 + 100;
    const rest = naiveSum([STACK_ADDRESS >>> 16, STACK_ADDRESS & 0xffff, 0xc613, IP_PROTOCOL_UDP, length]);
    const source = (0xc613 * 0x10000 + (0xffff - rest)) >>> 0;
    assert.equal(partialField(source, STACK_ADDRESS, length), 0xffff);
    new Responder(fixture.iface, { ports: [9000] });
    fixture.exchangeIpv4(toPort(9000, udpDatagram(40001, 9000, pattern(4), source, STACK_ADDRESS), source));
    const sent = fixture.exchangeIpv4(toPort(9000, partialDatagram(40001, 9000, pattern(100), source), source));
    const replies = sent.filter((frame) => frame.udp !== undefined);
    assert.equal(replies.length, 1);
    assert.ok(fullChecksumRight(udpSegmentOf(replies[0]), STACK_ADDRESS, source));
    assert.equal(fixture.iface.counters().udpChecksumPartial, 1);
  });

  it('answers a partial request with a changed payload through a full recompute', () => {
    start('partial');
    const upper: ResponderHandler = (request) => {
      for (let i = 0; i < request.payloadLength; i++) request.bytes[request.payloadOffset + i] ^= 0x20;
      return request.payloadLength - 1;
    };
    new Responder(fixture.iface, { ports: [9000], handler: upper });
    const sent = fixture.exchangeIpv4(toPort(9000, partialDatagram(40001, 9000, pattern(77))));
    assert.equal(sent.length, 1);
    assert.equal(sent[0].udp?.payload.length, 76);
    assert.ok(fullChecksumRight(udpSegmentOf(sent[0]), STACK_ADDRESS, PEER_ADDRESS));
  });

  it("delivers partial datagrams to 'message' and to onRequest, replies always full", () => {
    start('partial');
    const viaMessage = createSocket(fixture.iface).bind(7);
    viaMessage.on('message', (payload, rinfo) => viaMessage.send(payload.copy(), rinfo.port, rinfo.address));
    const viaRequest = createSocket(fixture.iface).bind(8);
    viaRequest.onRequest = (request) => request.payloadLength;
    const sent = fixture.exchangeIpv4(toPort(7, partialDatagram(40001, 7, pattern(33))), toPort(8, partialDatagram(40002, 8, pattern(34))));
    assert.equal(sent.length, 2);
    for (const frame of sent) assert.ok(fullChecksumRight(udpSegmentOf(frame), STACK_ADDRESS, PEER_ADDRESS));
    assert.equal(fixture.iface.counters().udpChecksumPartial, 2);
    assert.equal(fixture.iface.counters().udpReceived, 2);
  });

  it('judges a partial datagram to a closed port like any other: port unreachable, not a bad checksum', () => {
    start('partial');
    const sent = fixture.exchangeIpv4(toPort(4444, partialDatagram(40001, 4444, pattern(20))));
    assert.equal(sent.length, 1);
    assert.equal(sent[0].icmp?.type, 3);
    assert.equal(fixture.iface.counters().udpNoSocket, 1);
    assert.equal(fixture.iface.counters().udpChecksumPartial, 1);
  });

  for (const rxChecksums of ['partial', 'full'] as const) {
    it(`judges a reassembled partial datagram by the device too (${rxChecksums} checksums)`, () => {
      start(rxChecksums);
      new Responder(fixture.iface, { ports: [9000] });
      const payload = pattern(2000, 3);
      const sent = fixture.exchangeIpv4(...fragment(toPort(9000, partialDatagram(40001, 9000, payload)), 1480));
      const counters = fixture.iface.counters();
      assert.equal(counters.ipv4Reassembled, 1);
      if (rxChecksums === 'full') {
        assert.deepEqual(sent, []);
        assert.equal(counters.udpBadChecksum, 1);
        return;
      }
      assert.equal(counters.udpChecksumPartial, 1);
      assert.equal(sent.length, 2, 'the echo leaves in two fragments');
      const segment = reassemble(sent);
      assert.deepEqual(segment.subarray(8), payload);
      assert.ok(fullChecksumRight(segment, STACK_ADDRESS, PEER_ADDRESS));
    });
  }
});
