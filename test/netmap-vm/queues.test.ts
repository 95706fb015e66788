// nicring respond on every queue of a veth under the real netmap module: one
// worker thread per NIC ring pair (netmap:IF-q), side by side on the
// emulated adapter. Runs inside the netmap VM (npm run test:netmap).

import { strict as assert } from 'node:assert';
import { addLink, inPeer, makePeerNamespace, pingFromPeer, removeLink, removePeerNamespace, startResponder, type VethLink } from './vm-lab';

describe('nicring respond on every ring pair of the real netmap module, one worker each', function () {
  let link: VethLink | undefined;

  before(function () {
    if (process.env.NMVM !== '1' && process.env.NETMAP_COMMIT === undefined) {
      console.log('    (these tests run inside the netmap VM: npm run test:netmap)');
      this.skip();
    }
    makePeerNamespace();
    // The peer has a third TX queue: veth hands its TX queue q to nicring's side as RX queue q - 1 (0 for q = 0).
    link = addLink('nmq0', 12, { queues: 2, peerQueues: 3 });
  });

  after(() => {
    removeLink(link);
    removePeerNamespace();
  });

  it('binds one ring pair per worker and answers on both, each datagram on the ring its queue maps to', async () => {
    const l = link as VethLink;
    const responder = startResponder(l, ['--port', '9000']);
    try {
      const ready = await responder.ready;
      assert.deepEqual([ready.backend, ready.mode, ready.queues, ready.fallback], ['netmap', 'one-nic', [0, 1], null]);
      assert.equal(pingFromPeer(l, 56, 2), 2);
      // Datagrams of 2000 bytes (fragmented by the peer's kernel, so their checksums are full), steered to one
      // of the peer's TX queues at a time (XPS on the CPU the sender runs on).
      const script = [
        'import json, socket',
        'answered = {}',
        'for q in (0, 1, 2):',
        `    for k in (0, 1, 2): open('/sys/class/net/${l.peerIfname}/queues/tx-%d/xps_cpus' % k, 'w').write('1' if k == q else '0')`,
        '    answered[q] = 0',
        '    for i in range(3):',
        '        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
        '        s.settimeout(10)',
        '        message = bytes([q, i]) * 1000',
        `        s.sendto(message, ('${l.ip}', 9000))`,
        '        try:',
        '            answered[q] += s.recvfrom(4096)[0] == message',
        '        except socket.timeout:',
        '            pass',
        'print(json.dumps(answered))',
      ].join('\n');
      const answered = JSON.parse(inPeer(['taskset', '-c', '0', 'python3', '-c', script])) as Record<string, number>;
      assert.deepEqual(answered, { 0: 3, 1: 3, 2: 3 });
      responder.child.kill('SIGTERM');
      assert.equal((await responder.exited).code, 0);
      const final = responder.lines[responder.lines.length - 1];
      assert.equal(final.event, 'final');
      const perQueue = final.perQueue as { queue: number; requests: number; replies: number; pings: number }[];
      assert.deepEqual(perQueue.map((q) => [q.queue, q.requests, q.replies]), [[0, 6, 6], [1, 3, 3]]);
      console.log(`      per ring pair: ${JSON.stringify(perQueue.map((q) => ({ queue: q.queue, requests: q.requests, pings: q.pings })))}`);
    } finally {
      responder.child.kill('SIGKILL');
    }
  });
});
