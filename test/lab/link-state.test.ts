// The link-state reader a device polls twice a second keeps its sysfs file
// open: it must still see the link go down and up, the interface vanish, and
// an interface created again under the same name.

import { strict as assert } from 'node:assert';
import { execIn } from '../../src/lab';
import { labName, startAgent, useLab } from './harness';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('the link-state reader on a real veth', function () {
  this.timeout(30000);
  const { lab } = useLab({ name: labName('link') });

  it('follows ip link set down and up, the interface deleted, and one created again under its name', async () => {
    const { netns, ifname } = lab().nicring;
    const watch = startAgent(netns, 'link-watch', { iface: ifname });
    await watch.ready;
    const step = async (args: string[]): Promise<void> => {
      execIn(netns, args);
      await sleep(300);
    };
    await step(['ip', 'link', 'set', ifname, 'down']);
    await step(['ip', 'link', 'set', ifname, 'up']);
    // Deleting one end of a veth pair deletes both; the lab's teardown removes what is left with the namespaces.
    await step(['ip', 'link', 'del', ifname]);
    await step(['ip', 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', 'relinked']);
    await step(['ip', 'link', 'set', 'relinked', 'up']);
    await step(['ip', 'link', 'set', ifname, 'up']);
    watch.stop();
    const { states } = (await watch.result) as { states: string[] };
    assert.deepEqual(states, ['up', 'down', 'up', 'absent', 'down', 'up']);
  });
});
