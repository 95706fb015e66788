import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Interface } from '../../../src/iface/interface';
import { FakeClock } from '../../../src/loop';
import { createPair } from '../../../src/phy/pair';
import { MetricsServer, metricName, snakeCase } from '../../../src/service/metrics';
import { Responder, loadHandlerModule, responderCounterGroups, setupHandler } from '../../../src/service/responder';

const ROOT = path.join(__dirname, '..', '..', '..');

/** The sample lines (no comments) of an exposition text, by metric name and labels. */
function samples(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    map.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return map;
}

/** GET `url` without keep-alive (no client timers left running for later tests): status, content type and body. */
function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type'] ?? ''), body }));
    }).on('error', reject);
  });
}

/** A responder with the DNS example over the device pair. */
async function dnsResponder(): Promise<{ responder: Responder; close(): void }> {
  const [, device] = createPair({ frameCount: 64 });
  const iface = new Interface(device, { address: '198.18.0.1/24', clock: new FakeClock(0) });
  const loaded = loadHandlerModule(path.join(ROOT, 'examples', 'dns', 'index.js'));
  const handler = await setupHandler(loaded, { options: { zone: path.join(ROOT, 'examples', 'dns', 'example.zone'), 'rrl-rate': 0, 'edns-size': 1232 }, iface, queue: 0 });
  return { responder: new Responder(iface, { ports: [53], handler }), close: () => iface.close() };
}

describe('metrics (Prometheus text format)', () => {
  it('names each counter after its group and key', () => {
    assert.equal(snakeCase('udpBadChecksum'), 'udp_bad_checksum');
    assert.equal(snakeCase('ipv4FragmentsReceived'), 'ipv4_fragments_received');
    assert.equal(snakeCase('nxDomain'), 'nx_domain');
    assert.equal(snakeCase('weird-name.x'), 'weird_name_x');
    assert.equal(snakeCase('ipv4NotForUs'), 'ipv4_not_forus');
    assert.equal(metricName('responderDropped', 'replyNotSent'), 'nicring_responder_dropped_reply_not_sent_total');
    assert.equal(metricName('device', 'txInFlight'), 'nicring_device_tx_in_flight');
  });

  it('serves every counter as read at scrape time, and prom-client\'s process metrics, at /metrics', async () => {
    const groups = { stack: { udpReceived: 0, udpBadChecksum: 0 }, device: { rxFrames: 0, txInFlight: 0, backendName: 'xdp' }, handler: null as null | { queries: number } };
    let reads = 0;
    const metrics = await MetricsServer.start({ host: '127.0.0.1', port: 0, read: () => { reads++; return groups; }, info: { backend: 'pair', service: 'test' } });
    try {
      assert.deepEqual(metrics.names, ['nicring_stack_udp_received_total', 'nicring_stack_udp_bad_checksum_total', 'nicring_device_rx_frames_total', 'nicring_device_tx_in_flight']);
      const readsAtStart = reads;
      groups.stack.udpReceived = 41;
      groups.stack.udpBadChecksum = 2;
      groups.device.txInFlight = 7;
      const url = `http://127.0.0.1:${metrics.address.port}/metrics`;
      const response = await get(url);
      assert.equal(response.status, 200);
      assert.match(response.type, /^text\/plain; version=0\.0\.4/);
      const text = response.body;
      assert.equal(reads, readsAtStart + 1, 'read once per scrape');
      const values = samples(text);
      assert.equal(values.get('nicring_stack_udp_received_total'), 41);
      assert.equal(values.get('nicring_stack_udp_bad_checksum_total'), 2);
      assert.equal(values.get('nicring_device_tx_in_flight'), 7);
      assert.equal(values.get('nicring_info{backend="pair",service="test"}'), 1);
      assert.match(text, /# TYPE nicring_stack_udp_received_total counter/);
      assert.match(text, /# TYPE nicring_device_tx_in_flight gauge/);
      assert.ok(values.has('process_resident_memory_bytes'));
      groups.stack.udpReceived = 50;
      assert.equal(samples((await get(url)).body).get('nicring_stack_udp_received_total'), 50);
      assert.equal((await get(`http://127.0.0.1:${metrics.address.port}/other`)).status, 404);
    } finally {
      await metrics.close();
    }
  });

  it('writes text that promtool accepts', async function () {
    if (spawnSync('promtool', ['--version']).status !== 0) {
      console.log('    (promtool not installed: apt-get install prometheus; the lab test checks a live scrape with it too)');
      this.skip();
    }
    const { responder, close } = await dnsResponder();
    const metrics = await MetricsServer.start({
      host: '127.0.0.1', port: 0, read: () => ({ ...responderCounterGroups(responder), extra: { timeS: 3, sizeMb: 1 } }), info: { iface: 'veth0' },
    });
    try {
      const text = await metrics.scrape();
      const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
      assert.match(text, /^nicring_stack_ipv4_not_forus_total 0$/m);
      assert.match(text, /^nicring_handler_nx_domain_total 0$/m);
    } finally {
      await metrics.close();
      close();
    }
  });

  it('has every counter of a responder (the DNS example\'s too) listed in docs/metrics.md', async () => {
    const { responder, close } = await dnsResponder();
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'metrics.md'), 'utf8');
    const { kernel: _kernel, ...groups } = responderCounterGroups(responder);
    const missing: string[] = [];
    for (const [group, values] of Object.entries({ ...groups, gc: { events: 0, eventsAfterWarmup: 0 } })) {
      for (const key of Object.keys(values ?? {})) {
        const name = metricName(group, key);
        if (!doc.includes(name) && !doc.includes(`\`${snakeCase(key)}\``)) missing.push(name);
      }
    }
    assert.deepEqual(missing, []);
    close();
  });

  it('fails to start with the listen error when the port is taken', async () => {
    const first = await MetricsServer.start({ host: '127.0.0.1', port: 0, read: () => ({}) });
    try {
      await assert.rejects(MetricsServer.start({ host: '127.0.0.1', port: first.address.port, read: () => ({}) }), /EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});
