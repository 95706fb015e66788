import { strict as assert } from 'node:assert';
import { Interface } from '../../../src/iface/interface';
import { FakeClock } from '../../../src/loop';
import { createPair, type PairDevice } from '../../../src/phy/pair';
import { UdpGenerator, type GeneratorOptions } from '../../../src/service/generator';
import { Responder, type ResponderHandler } from '../../../src/service/responder';
import { parseMac } from '../../../src/wire/ethernet';
import { countGcEvents } from '../../helpers/gc';
import { Ipv4Packet } from '../../../src/wire/ipv4';
import { UdpPacket } from '../../../src/wire/udp';
import { PEER_ADDRESS, StackFixture, decodeTransport, ethernetFrame, ipv4Packet, pattern, reassemble, udpDatagram, type SentFrame } from '../iface/peer';

const RESPONDER_ADDRESS = 0xc6120001; // 198.18.0.1
const CLIENT_ADDRESS = 0xc6120002;

function setup(handler?: ResponderHandler, allowLargerReplies = false, rxChecksums: 'full' | 'partial' = 'full') {
  const [client, server] = createPair({ frameCount: 2048, rxChecksums });
  const iface = new Interface(server, { address: '198.18.0.1/24', clock: new FakeClock(1000), arp: { gratuitous: false } });
  const responder = new Responder(iface, { ports: [9000, 9001], handler, allowLargerReplies });
  const options = (overrides: Partial<GeneratorOptions> = {}): GeneratorOptions => ({
    sourceMac: parseMac(client.macAddress)!, destinationMac: parseMac(server.macAddress)!,
    sourceAddress: CLIENT_ADDRESS, destinationAddress: RESPONDER_ADDRESS, destinationPort: 9000,
    sourcePortBase: 40000, sourcePorts: 8, payloadSize: 32, count: 1_000_000, durationMs: 60000, rate: 0, batchSize: 64, ...overrides,
  });
  return { client, server, iface, responder, options };
}

/**
 * A receive handler that turns each request's UDP checksum into a partial
 * one (the folded pseudo-header sum, as a same-host sender on veth leaves
 * it) before the stack sees the frame. Allocates nothing.
 */
function asPartial(server: PairDevice, iface: Interface): { input: (offset: number, length: number, token: number) => void; unchanged: () => number } {
  const view = server.memory;
  // Requests whose full checksum happens to equal the pseudo-header sum (about 1 in 65535) stay full.
  let unchanged = 0;
  const input = (offset: number, length: number, token: number): void => {
    const ip = offset + 14;
    const udp = ip + 20;
    let sum = view.getUint16(ip + 12) + view.getUint16(ip + 14) + view.getUint16(ip + 16) + view.getUint16(ip + 18) + 17 + view.getUint16(udp + 4);
    sum = (sum & 0xffff) + (sum >>> 16);
    sum = (sum & 0xffff) + (sum >>> 16);
    if (view.getUint16(udp + 6) === sum) unchanged++;
    view.setUint16(udp + 6, sum);
    iface.frameHandler(offset, length, token);
  };
  return { input, unchanged: () => unchanged };
}

/** Send `count` requests from `generator`, answer them on `server`, count replies on `client`: synchronously, no loop. */
function pump(generator: UdpGenerator, client: PairDevice, server: PairDevice, iface: Interface, count: number, input = iface.frameHandler): void {
  const gen = generator as unknown as { sendOne(sequence: number, nowUs: number): boolean };
  const observe = (offset: number, length: number): void => { generator.observe(offset, length, 1000); };
  for (let sent = 0; sent < count;) {
    for (let i = 0; i < 64 && sent < count; i++, sent++) gen.sendOne(sent, 0);
    client.flush();
    server.receive(64, input);
    server.flush();
    client.receive(64, observe);
  }
}

describe('UDP responder', () => {
  it('echoes every request in place, and requests = replies + dropped', () => {
    const { client, server, iface, responder, options } = setup();
    const generator = new UdpGenerator(client, options({ count: 5000 }));
    pump(generator, client, server, iface, 5000);
    const c = responder.snapshot();
    assert.equal(c.requests, 5000);
    assert.equal(c.replies, 5000);
    assert.equal(responder.droppedTotal(), 0);
    assert.equal(generator.meter.received, 5000);
    assert.equal(iface.counters().udpRepliesInPlace, 5000);
  });

  it('sends echo replies with valid IPv4 and UDP checksums, kept from the request', () => {
    const { client, server, iface, options } = setup();
    const generator = new UdpGenerator(client, options({ count: 200, payloadSize: 301 }));
    const gen = generator as unknown as { sendOne(sequence: number, nowUs: number): boolean };
    const ip = new Ipv4Packet();
    const udp = new UdpPacket();
    let good = 0;
    for (let sent = 0; sent < 200; sent++) gen.sendOne(sent, 0);
    client.flush();
    server.receive(256, iface.frameHandler);
    server.flush();
    client.receive(256, (offset, length) => {
      assert.ok(ip.reset(client.memory, offset + 14, length - 14) && ip.verifyChecksum());
      assert.ok(udp.reset(client.memory, ip.payloadOffset, ip.payloadLength) && udp.verifyChecksum(ip.source, ip.destination));
      assert.equal(ip.source, RESPONDER_ADDRESS);
      assert.equal(udp.sourcePort, 9000);
      good++;
    });
    assert.equal(good, 200);
  });

  it('never amplifies unless the handler opts in, and counts every refusal by reason', () => {
    const larger: ResponderHandler = (request) => request.payloadLength + 10;
    const { client, server, iface, responder, options } = setup(larger);
    pump(new UdpGenerator(client, options({ count: 100 })), client, server, iface, 100);
    assert.equal(responder.counters.replies, 0);
    assert.equal(responder.counters.dropped.largerThanRequest, 100);

    const opted = setup(larger, true);
    const generator = new UdpGenerator(opted.client, opted.options({ count: 100 }));
    pump(generator, opted.client, opted.server, opted.iface, 100);
    assert.equal(opted.responder.counters.replies, 100);
  });

  it('echoes a request larger than the MTU (the link allowed it) in fragments, as Linux does, and refuses only what its buffer cannot hold', () => {
    const fixture = new StackFixture();
    try {
      fixture.start();
      fixture.introduce();
      const responder = new Responder(fixture.iface, { ports: [9000] });
      const request = ethernetFrame(ipv4Packet({ protocol: 17, payload: udpDatagram(40000, 9000, pattern(1700, 5)) }));
      const sent = fixture.exchange(request);
      assert.equal(sent.length, 2);
      assert.ok(sent.every((frame) => frame.bytes.length <= 1514 && frame.ip?.checksumOk));
      const whole: SentFrame = { ...sent[0] };
      decodeTransport(whole, sent[0].ip!.repr, reassemble(sent));
      assert.equal(whole.ip?.repr.destination, PEER_ADDRESS);
      assert.ok(whole.udp?.checksumOk);
      assert.deepEqual([whole.udp?.sourcePort, whole.udp?.destinationPort], [9000, 40000]);
      assert.deepEqual(whole.udp?.payload, pattern(1700, 5));
      assert.deepEqual(responder.counters.dropped.replyTooLarge, 0);
      assert.equal(responder.counters.replies, 1);
      responder.close();

      const larger = new Responder(fixture.iface, { ports: [9000], allowLargerReplies: true, handler: (r) => r.replyCapacity + 1 });
      assert.deepEqual(fixture.exchange(request), []);
      assert.equal(larger.counters.dropped.replyTooLarge, 1);
    } finally {
      fixture.close();
    }
  });

  it('counts declined requests and handler errors, and stays up', () => {
    let n = 0;
    const picky: ResponderHandler = (request) => {
      n++;
      if (n % 3 === 0) throw new Error('handler bug');
      return n % 3 === 1 ? -1 : request.payloadLength;
    };
    const { client, server, iface, responder, options } = setup(picky);
    pump(new UdpGenerator(client, options({ count: 300 })), client, server, iface, 300);
    const c = responder.snapshot();
    assert.equal(c.requests, 300);
    assert.equal(c.dropped.handlerDeclined, 100);
    assert.equal(c.dropped.handlerError, 100);
    assert.equal(c.replies, 100);
    assert.equal(c.replies + responder.droppedTotal(), c.requests);
  });

  it('does not answer requests sent to a broadcast address', () => {
    const { client, server, iface, responder, options } = setup();
    const generator = new UdpGenerator(client, options({ count: 10, destinationAddress: 0xc61200ff, destinationMac: 0xffffffffffff }));
    pump(generator, client, server, iface, 10);
    assert.equal(responder.counters.replies, 0);
    assert.equal(responder.counters.dropped.broadcastRequest, 10);
  });

  it('refuses a port bound twice and bad ports with clear errors', () => {
    const { iface } = setup();
    assert.throws(() => new Responder(iface, { ports: [9000] }), /EADDRINUSE/);
    assert.throws(() => new Responder(iface, { ports: [0] }), /port must be an integer from 1 to 65535/);
    assert.throws(() => new Responder(iface, { ports: [7, 7] }), /repeat/);
  });

  it('answers 1,000,000 requests with zero GC events', async function () {
    this.timeout(120000);
    const { client, server, iface, responder, options } = setup();
    const generator = new UdpGenerator(client, options());
    pump(generator, client, server, iface, 50_000);
    const events = await countGcEvents(() => pump(generator, client, server, iface, 1_000_000));
    assert.equal(responder.counters.replies, 1_050_000);
    assert.equal(events, 0, `${events} GC events`);
  });

  it('answers 1,000,000 partial-checksum requests with full checksums and zero GC events', async function () {
    this.timeout(120000);
    const { client, server, iface, responder, options } = setup(undefined, false, 'partial');
    const generator = new UdpGenerator(client, options({ payloadSize: 100 }));
    const { input, unchanged } = asPartial(server, iface);
    pump(generator, client, server, iface, 50_000, input);
    const events = await countGcEvents(() => pump(generator, client, server, iface, 1_000_000, input));
    assert.equal(responder.counters.replies, 1_050_000);
    assert.equal(iface.counters().udpChecksumPartial, 1_050_000 - unchanged());
    assert.equal(iface.counters().udpBadChecksum, 0);
    assert.equal(events, 0, `${events} GC events`);
    // The last replies, still in the client's buffers, verify in full.
    const ip = new Ipv4Packet();
    const udp = new UdpPacket();
    let verified = 0;
    gen(generator).sendOne(0, 0);
    client.flush();
    server.receive(64, input);
    server.flush();
    client.receive(64, (offset, length) => {
      assert.ok(ip.reset(client.memory, offset + 14, length - 14));
      assert.ok(udp.reset(client.memory, ip.payloadOffset, ip.payloadLength));
      assert.ok(udp.checksum !== 0 && udp.verifyChecksum(ip.source, ip.destination));
      verified++;
    });
    assert.equal(verified, 1);
  });
});

function gen(generator: UdpGenerator): { sendOne(sequence: number, nowUs: number): boolean } {
  return generator as unknown as { sendOne(sequence: number, nowUs: number): boolean };
}
