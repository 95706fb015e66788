// 802.1Q against a real VLAN sub-interface on the peer (ip link add ... type
// vlan id 10), which needs the 8021q module: this runs inside the VM of
// ../shared/netmap-vm (Debian 6.1, which loads it), through test/vm/run.sh.
// `nicring respond --vlan 10` answers ping (56, 1400 and 4000 bytes) and UDP
// from a kernel socket through the peer's VLAN 10 device, once that device
// puts its tag in the frame; with the veth's VLAN offload on (its default)
// the tag travels beside the frame, XDP sees the frame untagged, and nicring
// counts it as ethernetVlanUntagged.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { execIn } from '../../src/lab';
import { labName, useLab } from '../lab/harness';
import { type Json, type RunningResponder, runClient, runInAsync, startResponder } from '../lab/respond-harness';

const VLAN = 10;
const PORT = 9000;
const VLAN_IFNAME = 'vlan10';

function canLoad8021q(): boolean {
  return process.getuid?.() === 0 && spawnSync('modprobe', ['8021q']).status === 0;
}

for (const xdpMode of ['native', 'generic'] as const) describe(`a VLAN 10 sub-interface on the peer (8021q), XDP in ${xdpMode} mode`, function () {
  this.timeout(300000);
  before(function () {
    if (!canLoad8021q()) {
      console.log('    (needs root and the 8021q module: run it in the VM, npm run test:vm; skipped)');
      this.skip();
    }
  });
  const { lab } = useLab({ name: labName(`q${xdpMode[0]}`), staticNeighbor: false });
  let responder: RunningResponder | null = null;

  before(async function () {
    this.timeout(120000);
    const l = lab();
    // The peer's address moves to its VLAN 10 device: nicring answers for its own on VLAN 10.
    execIn(l.peer.netns, ['ip', 'link', 'add', 'link', l.peer.ifname, 'name', VLAN_IFNAME, 'type', 'vlan', 'id', String(VLAN)]);
    execIn(l.peer.netns, ['ip', 'addr', 'del', l.peer.address, 'dev', l.peer.ifname]);
    execIn(l.peer.netns, ['ip', 'addr', 'add', l.peer.address, 'dev', VLAN_IFNAME]);
    execIn(l.peer.netns, ['ip', 'link', 'set', VLAN_IFNAME, 'up']);
    responder = startResponder(l, ['--port', String(PORT), '--vlan', String(VLAN), '--xdp-mode', xdpMode], { untaggedPeer: false });
    const ready = await responder.ready;
    assert.equal(ready.vlan, VLAN);
    assert.match(String(ready.mode), new RegExp(`^${xdpMode}/`));
  });

  after(() => responder?.agent.stop('SIGKILL'));

  it("with the peer veth's VLAN offload on (its default), sees the peer's frames untagged and counts them as ethernetVlanUntagged", async () => {
    const l = lab();
    assert.match(execIn(l.peer.netns, ['ethtool', '-k', l.peer.ifname]), /^tx-vlan-offload: on/m);
    const before = drops().ethernetVlanUntagged ?? 0;
    const ping = await runInAsync(l.peer.netns, ['ping', '-c', '2', '-i', '0.5', '-W', '1', l.nicring.ip]);
    assert.match(ping.stdout, /2 packets transmitted, 0 received/, ping.stdout);
    await waitForLine();
    assert.ok((drops().ethernetVlanUntagged ?? 0) - before >= 2, JSON.stringify(drops()));
  });

  describe('with the tag in the frame (tx-vlan-offload off on the peer veth)', function () {
    before(() => {
      const l = lab();
      execIn(l.peer.netns, ['ethtool', '-K', l.peer.ifname, 'txvlan', 'off']);
      execIn(l.peer.netns, ['ip', 'neigh', 'flush', 'dev', VLAN_IFNAME]);
    });

    for (const size of [56, 1400, 4000]) {
      it(`answers ping -s ${size} through the VLAN device${size > 1472 ? ' (fragmented both ways)' : ''}`, async () => {
        const l = lab();
        const ping = await runInAsync(l.peer.netns, ['ping', '-c', '3', '-i', '0.3', '-W', '3', '-s', String(size), l.nicring.ip], 60000);
        assert.match(ping.stdout, /3 packets transmitted, 3 received/, ping.stdout);
        assert.doesNotMatch(ping.stdout, /wrong data|DUP!/);
      });
    }

    it('echoes UDP from a kernel socket through the VLAN device, 1 to 1472 bytes, byte-exact', async () => {
      const l = lab();
      const count = 3000;
      const result = await runClient(l.peer.netns, 'every-size-client', { target: `${l.nicring.ip}:${PORT}`, count, maxSize: 1472, window: 64, waitMs: 5000 });
      assert.deepEqual(result, { sent: count, sendErrors: 0, replies: count, intact: count, corrupt: 0, duplicates: 0, strangers: 0, missing: 0, smallest: 1, largest: 1472 });
    });

    it('answered on VLAN 10 only: the replies and the ARP exchange counted, nothing dropped on the UDP path', async () => {
      const final = await (responder as RunningResponder).stop() as Json & { drops: Record<string, number> };
      responder = null;
      assert.equal(final.replies, 3000);
      assert.equal(final.drops.udpBadChecksum, undefined, JSON.stringify(final.drops));
      assert.ok((final.pings as number) >= 9, `pings ${final.pings}`);
    });
  });

  /** The drop counters on the responder's latest line. */
  function drops(): Record<string, number> {
    const lines = (responder as RunningResponder).lines;
    return (lines[lines.length - 1].drops ?? {}) as Record<string, number>;
  }

  /** Wait for the responder's next stats line. */
  async function waitForLine(): Promise<void> {
    const lines = (responder as RunningResponder).lines;
    const count = lines.length;
    for (let i = 0; i < 100 && lines.length === count; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  }
});
