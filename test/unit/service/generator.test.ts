import { strict as assert } from 'node:assert';
import { Loop } from '../../../src/loop';
import { createPair } from '../../../src/phy/pair';
import { UdpGenerator, nowMicros, type GeneratorOptions } from '../../../src/service/generator';
import { Ipv4Packet } from '../../../src/wire/ipv4';
import { UdpPacket } from '../../../src/wire/udp';

const options = (overrides: Partial<GeneratorOptions> = {}): GeneratorOptions => ({
  sourceMac: 0x020000000001, destinationMac: 0x020000000002,
  sourceAddress: 0xc6120002, destinationAddress: 0xc6120001, destinationPort: 9000,
  sourcePortBase: 40000, sourcePorts: 16, payloadSize: 64,
  count: 5000, durationMs: 10000, rate: 0, batchSize: 32, lingerMs: 200,
  ...overrides,
});

/** Echo every UDP frame back in place on `device`, checking its checksums first. */
function startEcho(device: ReturnType<typeof createPair>[1]): { loop: Loop; badChecksums: () => number } {
  const ip = new Ipv4Packet();
  const udp = new UdpPacket();
  let bad = 0;
  const view = device.memory;
  const bytes = device.bytes;
  const swap = (a: number, b: number, n: number): void => {
    for (let i = 0; i < n; i++) {
      const t = bytes[a + i];
      bytes[a + i] = bytes[b + i];
      bytes[b + i] = t;
    }
  };
  const loop = new Loop(device, (offset, length, token) => {
    if (!ip.reset(view, offset + 14, length - 14) || !ip.verifyChecksum()) { bad++; return; }
    if (!udp.reset(view, ip.payloadOffset, ip.payloadLength) || !udp.verifyChecksum(ip.source, ip.destination)) { bad++; return; }
    swap(offset, offset + 6, 6);
    swap(offset + 26, offset + 30, 4);
    swap(offset + 34, offset + 36, 2);
    device.replyInPlace(token, length);
  });
  loop.start();
  return { loop, badChecksums: () => bad };
}

describe('UDP load generator', () => {
  it('sends a bounded count flat out and counts every echoed reply, with valid checksums on every request', async () => {
    const [a, b] = createPair({ frameCount: 2048 });
    const echo = startEcho(b);
    const generator = new UdpGenerator(a, options());
    const loop = new Loop(a, (offset, length) => { generator.observe(offset, length, nowMicros()); });
    loop.start();
    const report = await generator.run();
    loop.stop();
    echo.loop.stop();
    assert.equal(echo.badChecksums(), 0);
    assert.equal(report.sent, 5000);
    assert.equal(report.received, 5000);
    assert.equal(report.lost, 0);
    assert.equal(report.unexpected, 0);
    assert.ok(report.latency.samples > 0);
    assert.equal(report.latency.histogram.reduce((sum, bucket) => sum + bucket.count, 0), 5000);
  });

  it('paces to a fixed rate and stops at the duration', async () => {
    const [a, b] = createPair({ frameCount: 2048 });
    const echo = startEcho(b);
    const generator = new UdpGenerator(a, options({ rate: 2000, count: 1_000_000, durationMs: 500 }));
    const loop = new Loop(a, (offset, length) => { generator.observe(offset, length, nowMicros()); });
    loop.start();
    const report = await generator.run();
    loop.stop();
    echo.loop.stop();
    // Never ahead of the schedule: at most rate × duration (+1 for the first request).
    assert.ok(report.sent > 0 && report.sent <= 1001, `sent ${report.sent} in 0.5 s at 2000/s`);
    assert.equal(report.received, report.sent);
  });

  it('counts what never came back as lost', async () => {
    const [a] = createPair({ frameCount: 2048 });
    const generator = new UdpGenerator(a, options({ count: 300, lingerMs: 50 }));
    const report = await generator.run();
    assert.equal(report.sent, 300);
    assert.equal(report.received, 0);
    assert.equal(report.lost, 300);
  });

  it('rejects a payload too small to carry its sequence number', () => {
    const [a] = createPair();
    assert.throws(() => new UdpGenerator(a, options({ payloadSize: 8 })), /payload size must be 12/);
  });
});
