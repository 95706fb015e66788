// The spine over real AF_XDP on a veth pair: receive, transmit, reply in
// place, native and generic mode, queues, and safety.

import { strict as assert } from 'node:assert';
import { execIn } from '../../src/lab';
import { labName, startAgent, useLab, xdpAttached } from './harness';

const COUNT = 100_000;

/** The UDP error counters of a namespace's kernel (/proc/net/snmp), to explain a loss. */
function udpErrors(netns: string): string {
  const rows = execIn(netns, ['cat', '/proc/net/snmp']).split('\n').filter((row) => row.startsWith('Udp:'));
  const names = rows[0].split(/\s+/).slice(1);
  const values = rows[1].split(/\s+/).slice(1);
  return names.map((name, i) => `${name} ${values[i]}`).filter((pair) => /Errors/.test(pair)).join(', ');
}
const SIZE = 200;

for (const mode of ['native', 'generic'] as const) {
  describe(`AF_XDP on veth, ${mode} mode`, function () {
    this.timeout(120000);
    const { lab } = useLab({ name: labName(`x${mode[0]}`) });

    it(`receives ${COUNT} paced datagrams from a kernel socket in the peer, all byte-exact`, async () => {
      const l = lab();
      const rx = startAgent(l.nicring.netns, 'rx', { iface: l.nicring.ifname, mode, count: COUNT, size: SIZE, timeoutMs: 60000 });
      await rx.ready;
      const sender = startAgent(l.peer.netns, 'udp-send', { target: `${l.nicring.ip}:7000`, count: COUNT, size: SIZE, rate: 40000, lingerMs: 0 });
      const sent = await sender.result;
      const got = await rx.result;
      assert.equal(sent.sent, COUNT);
      assert.equal(got.good, COUNT, JSON.stringify(got));
      assert.equal(got.bad, 0);
      assert.equal(got.mode, `${mode}/copy`);
      // Receive makes no native call per batch in copy mode (no fill-ring wake-ups needed): far below one per batch.
      assert.ok((got.nativeCalls as number) <= COUNT / 64 + 10, `native calls ${got.nativeCalls}`);
    });

    it(`sends ${COUNT} frames built in JS that all reach a kernel socket in the peer, byte-exact`, async () => {
      const l = lab();
      const sink = startAgent(l.peer.netns, 'udp-sink', { port: 7001, bind: l.peer.ip, count: COUNT, size: SIZE, timeoutMs: 60000 });
      await sink.ready;
      // 20,000 a second: the peer keeps its default settings (no GRO on veth), so its kernel receives each
      // frame inside nicring's transmit call, and a Node socket reading 40,000 a second on two shared CPUs
      // falls behind its receive buffer (RcvbufErrors in the peer) now and then; nothing is lost on the way.
      const tx = startAgent(l.nicring.netns, 'tx', {
        iface: l.nicring.ifname, mode, count: COUNT, size: SIZE, rate: 20000,
        dstMac: l.peer.mac, src: l.nicring.ip, dst: l.peer.ip, port: 7001,
      });
      const sent = await tx.result;
      const got = await sink.result;
      assert.equal(sent.sent, COUNT, JSON.stringify(sent));
      assert.equal(got.good, COUNT, `${JSON.stringify(got)}; peer kernel ${udpErrors(l.peer.netns)}`);
      assert.equal(got.bad, 0);
    });

    it('replies in place from the UMEM address the request arrived in, and the reply arrives intact', async () => {
      const l = lab();
      const echo = startAgent(l.nicring.netns, 'echo', { iface: l.nicring.ifname, mode });
      await echo.ready;
      const client = await startAgent(l.peer.netns, 'udp-send', { target: `${l.nicring.ip}:7002`, count: 2000, size: 100, rate: 5000, lingerMs: 500 }).result;
      echo.stop();
      const served = await echo.result;
      assert.equal(client.sent, 2000);
      assert.equal(client.echoes, 2000);
      assert.equal(client.echoesIntact, 2000);
      assert.equal(served.replies, 2000);
      assert.equal(served.sameAddress, 2000);
    });

    it('uses about no CPU while open and idle', async () => {
      const l = lab();
      const hold = startAgent(l.nicring.netns, 'hold', { iface: l.nicring.ifname, mode, idle: 1 });
      await hold.ready;
      hold.stop();
      const result = await hold.result;
      assert.equal(result.closed, true);
      // The only frames are the peer kernel's own (IPv6 router solicitations, MLD): a turn for each at most, none without.
      assert.ok((result.turns as number) <= (result.frames as number), `${result.turns} loop turns for ${result.frames} frames`);
      assert.ok((result.cpuMs as number) < 100, `${result.cpuMs} ms of CPU in 2 s idle`);
    });

    it('is safe to close inside a receive callback; afterwards memory access throws instead of faulting', async () => {
      const l = lab();
      const agent = startAgent(l.nicring.netns, 'close-in-callback', { iface: l.nicring.ifname, mode });
      await agent.ready;
      await startAgent(l.peer.netns, 'udp-send', { target: `${l.nicring.ip}:7003`, count: 50, size: 64, rate: 1000, lingerMs: 0 }).result;
      const result = await agent.result;
      assert.deepEqual(result, { frames: 1, closed: true, dataViewThrows: true, byteRead: 'undefined' });
    });

    it('leaves no XDP program behind after SIGKILL, and the interface passes kernel traffic again', async () => {
      const l = lab();
      const hold = startAgent(l.nicring.netns, 'hold', { iface: l.nicring.ifname, mode });
      await hold.ready;
      assert.ok(xdpAttached(l.nicring.netns, l.nicring.ifname), 'attached while open');
      hold.stop('SIGKILL');
      await hold.result.catch(() => undefined);
      let attached = true;
      for (let i = 0; i < 50 && attached; i++) {
        attached = xdpAttached(l.nicring.netns, l.nicring.ifname);
        if (attached) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(attached, false, 'detached after kill');
      // The kernel on nicring's side holds an address for this check only.
      execIn(l.nicring.netns, ['ip', 'addr', 'add', l.nicring.address, 'dev', l.nicring.ifname]);
      try {
        execIn(l.peer.netns, ['ip', 'neigh', 'del', l.nicring.ip, 'dev', l.peer.ifname]);
        const out = execIn(l.peer.netns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', l.nicring.ip]);
        assert.match(out, /3 received/);
      } finally {
        execIn(l.nicring.netns, ['ip', 'addr', 'del', l.nicring.address, 'dev', l.nicring.ifname]);
        execIn(l.peer.netns, ['ip', 'neigh', 'replace', l.nicring.ip, 'lladdr', l.nicring.mac, 'dev', l.peer.ifname, 'nud', 'permanent']);
      }
    });
  });
}

describe('AF_XDP ports on two queues of one interface', function () {
  this.timeout(120000);
  const { lab } = useLab({ name: labName('xq'), queues: 2 });

  it('coexist and share the interface program; both receive; a second port on a queue is refused', async () => {
    const l = lab();
    const agent = startAgent(l.nicring.netns, 'queues', { iface: l.nicring.ifname, mode: 'native', queues: '0,1,1' });
    await agent.ready;
    await startAgent(l.peer.netns, 'udp-send', { target: `${l.nicring.ip}:7004`, count: 4000, size: 64, rate: 4000, flows: 64, lingerMs: 200 }).result;
    agent.stop();
    const { results } = (await agent.result) as { results: { queue: number; opened: boolean; code?: string; message?: string; frames: number }[] };
    assert.equal(results[0].opened, true);
    assert.equal(results[1].opened, true);
    assert.equal(results[2].opened, false);
    assert.equal(results[2].code, 'EBUSY');
    assert.match(results[2].message ?? '', /queue 1 of veth-nr/i);
    assert.ok(results[0].frames > 0 && results[1].frames > 0, `frames per queue: ${results[0].frames}, ${results[1].frames}`);
    assert.equal(results[0].frames + results[1].frames, 4000);
  });
});
