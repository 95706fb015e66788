import { strict as assert } from 'node:assert';
import { Endpoint, TwoHosts, randomBytes, type Impairment } from './harness';
import { parseIpv4 } from '../../../src/wire/ipv4';

function transfer(impairment: Impairment, size: number, tcp = {}) {
  const net = new TwoHosts({ impairment, tcp });
  const listener = net.b.tcp.listen(80);
  const server = new Endpoint(() => net.clock.timeMs);
  listener.onAcceptable = () => { const c = listener.accept(); if (c) server.attach(c); };
  const client = new Endpoint(() => net.clock.timeMs);
  client.attach(net.a.tcp.connect(parseIpv4('198.18.0.2') as number, 80));
  const data = randomBytes(size);
  client.send(data, true);
  const ok = net.run(() => server.endedCount > 0 || server.errors.length > 0 || client.errors.length > 0, 600000);
  const pick = (c: object) => JSON.stringify(Object.fromEntries(Object.entries(c).filter(([k, v]) => k.startsWith('tcp') && v && !/Segments|Connections|Opens/.test(k))));
  console.log(JSON.stringify(impairment), ok, server.received.length, 'ms', net.clock.timeMs - 1_000_000, client.errors, server.errors, JSON.stringify(net.relayed));
  console.log('  A', pick(net.a.counters()));
  console.log('  B', pick(net.b.counters()));
  assert.ok(Buffer.from(data).equals(server.received));
  net.close();
}

describe('smoke', () => {
  it('clean', () => transfer({ delayMs: 1 }, 1 << 20));
  it('loss 1%', () => transfer({ delayMs: 5, loss: 0.01 }, 4 << 20));
  it('loss 1% newreno', () => transfer({ delayMs: 5, loss: 0.01 }, 4 << 20, { congestionControl: 'newreno' }));
  it('loss 1% no sack', () => transfer({ delayMs: 5, loss: 0.01 }, 4 << 20, { sack: false }));
  it('reorder', () => transfer({ delayMs: 10, reorder: 0.25, reorderMs: 3 }, 4 << 20));
  it('dup', () => transfer({ delayMs: 2, duplicate: 0.01 }, 4 << 20));
  it('corrupt', () => transfer({ delayMs: 2, corrupt: 0.001 }, 4 << 20));
  it('all', () => transfer({ delayMs: 10, loss: 0.01, reorder: 0.25, reorderMs: 3, duplicate: 0.01, corrupt: 0.001 }, 4 << 20));
  it('loss 10%', () => transfer({ delayMs: 5, loss: 0.1 }, 1 << 20));
});
