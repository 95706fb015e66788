// The benchmark's C AF_XDP echo (bench/baselines/xsk-echo.c) and its
// kernel-socket load (`nicring gen --engine socket`) in the lab: the echo
// answers ARP, and a kernel UDP client in the peer gets every datagram back
// byte-exact although the peer's kernel leaves each checksum partial (the
// peer's kernel verifies the full one the echo writes); the socket load's
// reply count agrees with the echo's own.

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { buildXskEcho } from '../../bench/pps';
import { labName, startInNetns, useLab, type Agent } from './harness';
import { type Json, runClient, runToEnd, udpErrors } from './respond-harness';

const CLI = path.join(__dirname, '..', '..', 'bin', 'nicring.ts');
const PORT = 9000;

for (const mode of ['native', 'generic'] as const) {
  describe(`the C AF_XDP echo of the benchmark (${mode} XDP) in the lab`, function () {
    this.timeout(120000);
    const { lab } = useLab({ name: labName(mode === 'native' ? 'xn' : 'xg'), staticNeighbor: false });
    let echo: Agent | null = null;
    let totals: Promise<Json> = Promise.resolve({});

    before(async function () {
      this.timeout(60000);
      const l = lab();
      echo = startInNetns(l.nicring.netns, [buildXskEcho(), '--iface', l.nicring.ifname, '--mode', mode, '--address', l.nicring.ip, '--port', String(PORT),
        '--ring-size', '4096', '--tx-budget', '4096', '--need-wakeup']);
      totals = echo.result as Promise<Json>;
      await echo.ready;
    });

    after(() => echo?.stop('SIGKILL'));

    it('answers a kernel UDP client (partial checksums) byte-exact, then a socket load, and its totals agree', async () => {
      const l = lab();
      const count = 10_000;
      const served = await runClient(l.peer.netns, 'echo-client', { target: `${l.nicring.ip}:${PORT}`, count, rate: 5000, minSize: 4, maxSize: 1472, lingerMs: 3000 });
      assert.deepEqual(served, { sent: count, sendErrors: 0, replies: count, intact: count, corrupt: 0, duplicates: 0, strangers: 0, missing: [] },
        `${JSON.stringify(served)}; peer kernel ${udpErrors(l.peer.netns)}`);
      const gen = await runToEnd(l.peer.netns, [process.execPath, '--import', 'tsx', CLI, 'gen', '--iface', l.peer.ifname, '--address', l.peer.address,
        '--target', `${l.nicring.ip}:${PORT}`, '--engine', 'socket', '--xdp-mode', mode, '--count', '50000', '--duration', '5', '--rate', '50000',
        '--size', '64', '--json']).result;
      assert.equal(gen.event, 'final', JSON.stringify(gen));
      assert.equal(gen.sent, 50_000, JSON.stringify(gen));
      assert.equal(gen.received, 50_000, JSON.stringify(gen));
      echo?.stop('SIGTERM');
      const echoed = await totals;
      assert.equal(echoed.replies, count + 50_000, JSON.stringify(echoed));
      // Every datagram came with its checksum left partial; the few whose pseudo-header sum happens
      // to be a valid full checksum too (about 1 in 65,535) verify in full.
      assert.equal(Number(echoed.partialChecksum) + Number(echoed.fullChecksum), count + 50_000, JSON.stringify(echoed));
      assert.ok(Number(echoed.partialChecksum) >= count + 50_000 - 100, JSON.stringify(echoed));
      assert.equal(echoed.badChecksum, 0, JSON.stringify(echoed));
      assert.ok(Number(echoed.arpReplies) >= 1, JSON.stringify(echoed));
    });
  });
}
