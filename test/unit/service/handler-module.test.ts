import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { commandRespond } from '../../../bin/respond';
import { Interface } from '../../../src/iface/interface';
import { FakeClock } from '../../../src/loop';
import { createPair } from '../../../src/phy/pair';
import { Responder, loadHandlerModule, setupHandler } from '../../../src/service/responder';
import { connect } from '../../../src/socket/tcp';
import { parseMac } from '../../../src/wire/ethernet';
import { TwoHosts } from '../tcp/harness';
import { UdpGenerator } from '../../../src/service/generator';
import { Ipv4Packet } from '../../../src/wire/ipv4';
import { UdpPacket } from '../../../src/wire/udp';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'handlers');
const fixture = (name: string): string => path.join(FIXTURES, name);

/** Run `nicring respond ARGS` and catch what it prints on stdout. */
async function respondOutput(args: string[]): Promise<string> {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...items: unknown[]) => { lines.push(items.join(' ')); };
  try {
    await commandRespond(args);
  } finally {
    console.log = original;
  }
  return lines.join('\n');
}

describe('handler modules', () => {
  it('loads handle, allowLargerReplies, options and setup, and checks their shape', () => {
    const loaded = loadHandlerModule(fixture('with-options.js'));
    assert.equal(loaded.allowLargerReplies, true);
    assert.deepEqual(Object.keys(loaded.options), ['greeting', 'times']);
    assert.equal(typeof loaded.setup, 'function');
    assert.equal(loaded.handler, undefined);
    assert.throws(() => loadHandlerModule(fixture('bad-option.js')), /option --zone needs a kind/);
  });

  it('runs setup with the parsed options and uses the handler it returns, with its counters', async () => {
    const [client, server] = createPair({ frameCount: 256 });
    const iface = new Interface(server, { address: '198.18.0.1/24', clock: new FakeClock(1000), arp: { gratuitous: false } });
    const loaded = loadHandlerModule(fixture('with-options.js'));
    const handler = await setupHandler(loaded, { options: { greeting: 'hello', times: 3 }, iface, queue: 2 });
    const responder = new Responder(iface, { ports: [9000], handler, allowLargerReplies: loaded.allowLargerReplies });
    assert.deepEqual(responder.handlerCounters, { answered: 0, setupQueue: 2 });

    const generator = new UdpGenerator(client, {
      sourceMac: parseMac(client.macAddress)!, destinationMac: parseMac(server.macAddress)!, sourceAddress: 0xc6120002,
      destinationAddress: 0xc6120001, destinationPort: 9000, sourcePortBase: 40000, sourcePorts: 1, payloadSize: 12,
      count: 1, durationMs: 1000, rate: 0, batchSize: 1,
    });
    (generator as unknown as { sendOne(sequence: number, nowUs: number): boolean }).sendOne(0, 0);
    client.flush();
    server.receive(8, iface.frameHandler);
    server.flush();
    const ip = new Ipv4Packet();
    const udp = new UdpPacket();
    let reply = '';
    client.receive(8, (offset, length) => {
      assert.ok(ip.reset(client.memory, offset + 14, length - 14));
      assert.ok(udp.reset(client.memory, ip.payloadOffset, ip.payloadLength) && udp.verifyChecksum(ip.source, ip.destination));
      reply = Buffer.from(client.bytes.subarray(udp.payloadOffset, udp.payloadOffset + udp.payloadLength)).toString();
    });
    assert.equal(reply, 'hellohellohello');
    assert.equal(responder.handlerCounters?.answered, 1);
    iface.close();
  });

  it('gives setup the responder\'s ports and nicring\'s TCP sockets, and the handler\'s close stops what setup started', async () => {
    const net = new TwoHosts({ impairment: { delayMs: 1 } });
    try {
      const handler = await setupHandler(loadHandlerModule(fixture('tcp-banner.js')), { options: {}, iface: net.b, queue: 0, ports: [53, 5353] });
      assert.deepEqual(handler.counters, { ports: 2, accepted: 0 });
      let banner = '';
      const client = connect(net.a, { host: '198.18.0.2', port: 5353 });
      client.on('data', (chunk: Buffer) => { banner += chunk.toString(); });
      assert.ok(await net.settle(() => banner.endsWith('\n')));
      assert.equal(banner, 'banner on 5353\n');
      handler.close?.();
      assert.equal(net.b.tcp.listenerOn(53), null);
      assert.equal(net.b.tcp.listenerOn(5353), null);
      client.destroy();
    } finally {
      net.close();
    }
  });

  it('fails set-up clearly when neither setup nor the module gives a handler', async () => {
    const loaded = loadHandlerModule(fixture('setup-only-none.js'));
    await assert.rejects(setupHandler(loaded, { options: {}, iface: {} as Interface, queue: 0 }), /setup returned no handler and the module exports no handle/);
  });

  it('parses a module\'s options with respond\'s own, and refuses unknown ones and clashes in one line', async () => {
    const base = ['--iface', 'nothere0', '--address', '198.18.0.1/24', '--port', '9000'];
    await assert.rejects(commandRespond([...base, '--handler', fixture('with-options.js'), '--times', '9']), /^UsageError: --times must be at most 4, got 9$/);
    await assert.rejects(commandRespond([...base, '--handler', fixture('with-options.js'), '--colour', 'red']), /unknown option --colour/);
    await assert.rejects(commandRespond([...base, '--greeting', 'x']), /unknown option --greeting/);
    await assert.rejects(commandRespond([...base, `--handler=${fixture('clash.js')}`]), /its option --port clashes with nicring respond's own --port$/);
  });

  it('lists a module\'s options in --help when --handler names it', async () => {
    const text = await respondOutput(['--handler', fixture('with-options.js'), '--help']);
    assert.match(text, /Options of with-options\.js:\n {2}--greeting TEXT +the reply text \[default: hi\]\n {2}--times INTEGER +repeat/);
    assert.doesNotMatch(await respondOutput(['--help']), /Options of/);
  });
});
