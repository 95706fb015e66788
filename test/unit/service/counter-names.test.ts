// Counter names are unique across the device (its own counts and the
// kernel's), the stack, its cache sizes, the loop and the responder, so that
// every output that puts them side by side (respond's --json `drops`, the
// live line, the metrics) shows each one under its own name.

import { strict as assert } from 'node:assert';
import { newCounters } from '../../../examples/dns/server';
import { Interface } from '../../../src/iface/interface';
import { FakeClock } from '../../../src/loop';
import { NetmapDevice } from '../../../src/phy/netmap';
import { createPair } from '../../../src/phy/pair';
import { XdpDevice } from '../../../src/phy/xdp';
import { Responder, responderCounterGroups } from '../../../src/service/responder';
import { FakeNetmap } from '../phy/fake-netmap';
import { FakeXdpKernel } from '../phy/fake-xdp-kernel';

describe('counter names', () => {
  it("are unique across device, kernel (AF_XDP and netmap), stack, caches, loop, responder and the handler (the DNS example's counters)", () => {
    const [, device] = createPair({ frameCount: 64 });
    const iface = new Interface(device, { address: '198.18.0.1/24', clock: new FakeClock(0) });
    const responder = new Responder(iface, { ports: [9000] });
    try {
      const groups: Record<string, object> = {};
      for (const [group, values] of Object.entries(responderCounterGroups(responder))) if (values !== null) groups[group] = values;
      // The kernel group as each real backend fills it, instead of the pair's (one backend at a time: they may share names).
      delete groups.kernel;
      const xdp = new XdpDevice(new FakeXdpKernel({ ringSize: 64, frameCount: 128 }).port, 2048, 128, 'fake0', { macAddress: '02:00:00:00:00:09' });
      groups.xdpKernel = xdp.stats().kernel;
      xdp.close();
      const netmap = new NetmapDevice(new FakeNetmap({}), { name: 'fake1', macAddress: '02:00:00:00:00:0a' });
      groups.netmapKernel = netmap.stats().kernel;
      netmap.close();
      // The handler group as the DNS example fills it (UDP and TCP).
      groups.handler = newCounters();
      const owners = new Map<string, string[]>();
      for (const [group, values] of Object.entries(groups)) {
        for (const key of Object.keys(values)) owners.set(key, [...(owners.get(key) ?? []), group]);
      }
      const shared = [...owners].filter(([, where]) => where.length > 1 && !(where.length === 2 && where.includes('xdpKernel') && where.includes('netmapKernel')));
      assert.deepEqual(shared, [], 'the same name in two groups');
      assert.ok(owners.has('txRingFull') && owners.has('txDeviceFull') && owners.has('replyNotSent'));
      assert.ok(owners.has('arpEntries') && owners.has('arpEntriesExpired'));
    } finally {
      iface.close();
    }
  });
});
