// The DNS example as `nicring respond` runs it: loaded through the handler
// module contract, set up on an interface over the in-memory device pair,
// answering UDP queries in their own frames through the whole stack.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Responder, loadHandlerModule, setupHandler, type CountingHandler } from '../../../../src/service/responder';
import { ETHERNET_HEADER_LEN, ETHERTYPE_IPV4, parseMac, writeMac } from '../../../../src/wire/ethernet';
import { countGcEvents } from '../../../helpers/gc';
import { PEER_ADDRESS, PEER_MAC, STACK_ADDRESS, STACK_MAC, StackFixture, ipv4Packet, udpDatagram } from '../../iface/peer';
import { IP_PROTOCOL_UDP } from '../../../../src/wire/ipv4';
import { EXAMPLES, SAMPLE_ZONE, decode, query } from './dns-test';

const MODULE = path.join(EXAMPLES, 'index.js');
const OPTIONS = { zone: SAMPLE_ZONE, 'edns-size': 1232, 'rrl-rate': 20, 'rrl-prefix': 32, 'rrl-slip': 2, 'rrl-table': 1024 };

async function dnsFixture(options: Record<string, string | number> = {}) {
  const fixture = new StackFixture({ arp: { gratuitous: false } });
  fixture.clock.advance(0.25);
  const loaded = loadHandlerModule(MODULE);
  const handler: CountingHandler = await setupHandler(loaded, { options: { ...OPTIONS, ...options }, iface: fixture.iface, queue: 0 });
  const responder = new Responder(fixture.iface, { ports: [53], handler, allowLargerReplies: loaded.allowLargerReplies });
  fixture.start();
  fixture.introduce();
  return { fixture, responder, counters: responder.handlerCounters as Record<string, number> };
}

/** A UDP query from the peer to port 53, in an IPv4 packet. */
function packet(message: Uint8Array, sourcePort = 40000, source = PEER_ADDRESS): Uint8Array {
  return ipv4Packet({ source, protocol: IP_PROTOCOL_UDP, payload: udpDatagram(sourcePort, 53, message, source, STACK_ADDRESS) });
}

describe('DNS example over the stack (device pair)', () => {
  it('stops at set-up with a clear message when --zone is missing, unreadable or wrong', async () => {
    const fixture = new StackFixture({ arp: { gratuitous: false } });
    const loaded = loadHandlerModule(MODULE);
    const setup = (zone: string | undefined) => setupHandler(loaded, { options: { ...OPTIONS, zone }, iface: fixture.iface, queue: 0 });
    await assert.rejects(setup(undefined), /--zone FILE is required/);
    await assert.rejects(setup('/nonexistent/zone'), /--zone \/nonexistent\/zone: ENOENT/);
    const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-zone-')), 'bad.zone');
    fs.writeFileSync(bad, '$ORIGIN t.\n$TTL 5\n@ SOA a b 1 2 3 4 5\n@ NS a\nx IN SRV 0 0 53 a\n');
    await assert.rejects(setup(bad), (error: Error) => error.message === `${bad}:5: type SRV is not supported (SOA, NS, A, AAAA, CNAME, MX, TXT are)`);
    fs.rmSync(path.dirname(bad), { recursive: true });
    fixture.close();
  });

  it('answers queries in their frames, with correct checksums, from port 53 to the client\'s port', async () => {
    const { fixture, responder, counters } = await dnsFixture();
    const sent = fixture.exchangeIpv4(packet(query('www.example.test', 'A')), packet(query('nope.example.test', 'A', { edns: { udpSize: 4096 } }), 40001));
    const replies = sent.filter((frame) => frame.udp !== undefined);
    assert.equal(replies.length, 2);
    for (const reply of replies) {
      assert.ok(reply.ip?.checksumOk && reply.udp?.checksumOk);
      assert.equal(reply.udp?.sourcePort, 53);
    }
    assert.equal(replies[0].udp?.destinationPort, 40000);
    assert.equal(decode(Buffer.from(replies[0].udp!.payload)).answers?.length, 3);
    assert.equal(decode(Buffer.from(replies[1].udp!.payload)).rcode, 'NXDOMAIN');
    assert.equal(fixture.iface.counters().udpRepliesInPlace, 2);
    assert.deepEqual([counters.queries, counters.answers, counters.nxDomain], [2, 1, 1]);
    assert.equal(responder.counters.replies, 2);
    fixture.close();
  });

  it('sends no reply to a response or a runt, and the responder counts those as declined', async () => {
    const { fixture, responder, counters } = await dnsFixture();
    const response = Buffer.from(query('www.example.test', 'A'));
    response[2] |= 0x80;
    const sent = fixture.exchangeIpv4(packet(response), packet(new Uint8Array(5)), packet(Buffer.from('00010000000200000000000003616263000001000100', 'hex')));
    const replies = sent.filter((frame) => frame.udp !== undefined);
    assert.equal(replies.length, 1);
    assert.equal(replies[0].udp!.payload.length, 12);
    assert.equal(responder.counters.dropped.handlerDeclined, 2);
    assert.deepEqual([counters.ignoredResponses, counters.ignoredTooShort, counters.formErr], [1, 1, 1]);
    fixture.close();
  });

  it('rate-limits one flooding client at /32 while another is answered in full', async () => {
    const { fixture, counters } = await dnsFixture({ 'rrl-rate': 5 });
    const other = 0xc6120003;
    const flood = Array.from({ length: 40 }, (_, i) => packet(query('big.example.test', 'TXT', { id: i, edns: { udpSize: 4096 } }), 41000 + i));
    const sent = fixture.exchangeIpv4(...flood.slice(0, 20), packet(query('www.example.test', 'A', { id: 999 }), 42000, other), ...flood.slice(20));
    const replies = sent.filter((frame) => frame.udp !== undefined).map((frame) => ({ to: frame.ip!.repr.destination, message: decode(Buffer.from(frame.udp!.payload)) }));
    const toFlooder = replies.filter((reply) => reply.to === PEER_ADDRESS);
    assert.equal(toFlooder.filter((reply) => !reply.message.flag_tc).length, 5);
    assert.equal(toFlooder.filter((reply) => reply.message.flag_tc).length, 17);
    const toOther = replies.filter((reply) => reply.to === other);
    assert.equal(toOther.length, 1);
    assert.equal(toOther[0].message.answers?.length, 3);
    assert.deepEqual([counters.rrlSlipped, counters.rrlDropped], [17, 18]);
    fixture.close();
  });

  it('answers 1,000,000 queries through the stack with zero GC events', async function () {
    this.timeout(180000);
    const { fixture, counters } = await dnsFixture({ 'rrl-rate': 100_000_000 });
    const peer = fixture.peerDevice;
    // Each query as a whole frame from the peer's MAC to the stack's, built once.
    const templates: Uint8Array[] = [];
    for (const [i, name] of ['www.example.test', 'nope.example.test', 'big.example.test', 'example.test'].entries()) {
      const ip = packet(query(name, i === 2 ? 'TXT' : 'A', { edns: i === 2 ? { udpSize: 4096 } : undefined }), 40000 + i);
      const frame = new Uint8Array(ETHERNET_HEADER_LEN + ip.length);
      const view = new DataView(frame.buffer);
      writeMac(view, 0, parseMac(STACK_MAC) as number);
      writeMac(view, 6, parseMac(PEER_MAC) as number);
      view.setUint16(12, ETHERTYPE_IPV4);
      frame.set(ip, ETHERNET_HEADER_LEN);
      templates.push(frame);
    }
    let received = 0;
    const onReply = (): void => { received++; };
    const iface = fixture.iface;
    const server = fixture.stackDevice;
    const pump = (count: number): void => {
      for (let sent = 0; sent < count;) {
        for (let i = 0; i < 64 && sent < count; i++, sent++) {
          const template = templates[sent & 3];
          const offset = peer.allocTx();
          peer.bytes.set(template, offset);
          peer.transmit(offset, template.length);
        }
        peer.flush();
        server.receive(64, iface.frameHandler);
        server.flush();
        peer.receive(64, onReply);
      }
    };
    pump(50_000);
    const events = await countGcEvents(() => pump(1_000_000));
    assert.equal(received, 1_050_000);
    assert.equal(counters.queries, 1_050_000);
    assert.equal(events, 0, `${events} GC events`);
    fixture.close();
  });
});
