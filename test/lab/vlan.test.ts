// 802.1Q against `nicring respond` in the lab, with raw tagged frames from
// the peer's side (this kernel has no 8021q module: no VLAN sub-interface
// here; test/netmap-vm/vlan.sh runs the same against a real one): a
// priority-tagged request (VLAN 0) is answered with its tag; `--vlan 10`
// answers VLAN 10 tagged and tags everything it sends; frames for another
// VLAN, or untagged ones on a VLAN, are dropped and counted.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Lab } from '../../src/lab';
import { labName, useLab } from './harness';
import { type Json, startResponder } from './respond-harness';

const FRAMES_SCRIPT = path.join(__dirname, 'vlan-frames.py');
const PORT = 9000;

interface FrameSpec {
  kind: 'ping' | 'udp';
  seq: number;
  size: number;
  /** The 802.1Q tag control information (priority << 13 | VLAN ID), or null: untagged. */
  tci: number | null;
  port?: number;
}

interface SeenFrame {
  tci: number | null;
  etherType: number;
  length: number;
  kind?: 'arp' | 'icmp' | 'udp';
  operation?: number;
  type?: number;
  seq?: number;
  size?: number;
  ipOk?: boolean;
  icmpOk?: boolean;
  udpOk?: boolean;
  dataOk?: boolean;
}

/** Send `frames` from the peer's interface to nicring's MAC; what came back from nicring within `listen` seconds. */
function exchange(l: Lab, frames: FrameSpec[], listen = 1.5): SeenFrame[] {
  const config = { iface: l.peer.ifname, srcmac: l.peer.mac, dstmac: l.nicring.mac, src: l.peer.ip, dst: l.nicring.ip, port: PORT, listen, frames };
  const result = spawnSync('ip', ['netns', 'exec', l.peer.netns, 'python3', FRAMES_SCRIPT, JSON.stringify(config)], { encoding: 'utf8', timeout: 30000 });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as SeenFrame[];
}

const bySeq = (frames: SeenFrame[], kind: 'icmp' | 'udp', seq: number): SeenFrame[] => frames.filter((frame) => frame.kind === kind && frame.seq === seq);

describe('802.1Q tags in raw frames from the peer', function () {
  this.timeout(60000);
  const { lab } = useLab({ name: labName('v'), staticNeighbor: false });

  it('answers priority-tagged (VLAN 0) ping and UDP with the tag and priority kept, and drops frames tagged for VLAN 10, counted', async () => {
    const l = lab();
    const responder = startResponder(l, ['--port', String(PORT)]);
    try {
      await responder.ready;
      const priority3 = 3 << 13;
      const seen = exchange(l, [
        { kind: 'ping', seq: 1, size: 56, tci: priority3 },
        { kind: 'udp', seq: 2, size: 100, tci: priority3 },
        { kind: 'udp', seq: 3, size: 1472, tci: priority3 | 0x1000 },
        { kind: 'ping', seq: 4, size: 56, tci: 10 },
        { kind: 'udp', seq: 5, size: 100, tci: priority3 | 10 },
      ]);
      assert.deepEqual(bySeq(seen, 'icmp', 1).map((f) => [f.tci, f.type, f.dataOk, f.ipOk, f.icmpOk]), [[priority3, 0, true, true, true]], JSON.stringify(seen));
      assert.deepEqual(bySeq(seen, 'udp', 2).map((f) => [f.tci, f.size, f.dataOk, f.udpOk]), [[priority3, 100, true, true]]);
      assert.deepEqual(bySeq(seen, 'udp', 3).map((f) => [f.tci, f.size, f.dataOk, f.udpOk]), [[priority3 | 0x1000, 1472, true, true]]);
      assert.deepEqual([...bySeq(seen, 'icmp', 4), ...bySeq(seen, 'udp', 5)], []);
      const final = await responder.stop();
      assert.equal((final.drops as Record<string, number>).ethernetVlanNotServed, 2, JSON.stringify(final.drops));
      assert.equal(final.replies, 2);
    } finally {
      responder.agent.stop('SIGKILL');
    }
  });

  it('with --vlan 10: answers VLAN 10, tags every frame it sends, drops other VLANs and untagged frames, and warns about tags beside the frame', async () => {
    const l = lab();
    const responder = startResponder(l, ['--port', String(PORT), '--vlan', '10'], { untaggedPeer: false });
    let stderr = '';
    responder.agent.child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    try {
      const ready = await responder.ready;
      assert.equal(ready.vlan, 10);
      const seen = exchange(l, [
        { kind: 'ping', seq: 1, size: 56, tci: 10 },
        { kind: 'ping', seq: 2, size: 1400, tci: 10 },
        { kind: 'udp', seq: 3, size: 1, tci: 10 },
        { kind: 'udp', seq: 4, size: 1472, tci: (5 << 13) | 10 },
        // To a closed port: the port unreachable is built, and ARP for the peer goes out first (the peer
        // has no VLAN 10 interface, so it never answers): both tagged.
        { kind: 'udp', seq: 5, size: 20, tci: 10, port: 4444 },
        { kind: 'ping', seq: 6, size: 56, tci: 20 },
        { kind: 'ping', seq: 7, size: 56, tci: null },
        { kind: 'udp', seq: 8, size: 20, tci: 5 << 13 },
      ], 2.5);
      assert.deepEqual(bySeq(seen, 'icmp', 1).map((f) => [f.tci, f.type, f.dataOk]), [[10, 0, true]], JSON.stringify(seen));
      // The peer's kernel takes the tag out of the frame it receives (the script reads it back): 14 + 20 + 8 + 1400 bytes remain.
      assert.deepEqual(bySeq(seen, 'icmp', 2).map((f) => [f.tci, f.type, f.dataOk, f.length]), [[10, 0, true, 14 + 20 + 8 + 1400]]);
      assert.deepEqual(bySeq(seen, 'udp', 3).map((f) => [f.tci, f.size, f.dataOk, f.udpOk]), [[10, 1, true, true]]);
      assert.deepEqual(bySeq(seen, 'udp', 4).map((f) => [f.tci, f.size, f.dataOk, f.udpOk]), [[(5 << 13) | 10, 1472, true, true]]);
      const arp = seen.filter((frame) => frame.kind === 'arp');
      assert.ok(arp.length >= 1, JSON.stringify(seen));
      for (const frame of seen) assert.equal((frame.tci ?? 0) & 0x0fff, 10, `untagged or wrongly tagged: ${JSON.stringify(frame)}`);
      assert.deepEqual([...bySeq(seen, 'icmp', 6), ...bySeq(seen, 'icmp', 7), ...bySeq(seen, 'udp', 8)], []);
      const final = await responder.stop() as Json & { drops: Record<string, number> };
      assert.equal(final.drops.ethernetVlanNotServed, 1, JSON.stringify(final.drops));
      // The two untagged frames above, and whatever the peer's kernel sends on its own (IPv6 router solicitations, ...).
      assert.ok(final.drops.ethernetVlanUntagged >= 2, JSON.stringify(final.drops));
      assert.equal(final.replies, 2);
      assert.match(stderr, /warning: --vlan 10: XDP sees an 802\.1Q tag only when it is in the frame/);
    } finally {
      responder.agent.stop('SIGKILL');
    }
  });
});
