// The link-state reader a device polls twice a second keeps its sysfs file
// open: it must still see the link go down and up, the interface vanish, and
// an interface created again under the same name.

import { strict as assert } from 'node:assert';
import { execIn } from '../../src/lab';
import { labName, startAgent, useLab } from './harness';

describe('the link-state reader on a real veth', function () {
  this.timeout(60000);
  const { lab } = useLab({ name: labName('link') });

  it('follows ip link set down and up, the interface deleted, and one created again under its name', async () => {
    const { netns, ifname } = lab().nicring;
    const watch = startAgent(netns, 'link-watch', { iface: ifname });
    let output = '';
    watch.child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    await watch.ready;
    const seen = (): string[] => [...output.matchAll(/\{"state":"(\w+)"\}/g)].map((m) => m[1]);
    // The kernel reports some operstate changes up to a second late (linkwatch): wait for each.
    const step = async (args: string[] | null, expected: string): Promise<void> => {
      if (args !== null) execIn(netns, args);
      const deadline = Date.now() + 10000;
      while (seen()[seen().length - 1] !== expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(seen()[seen().length - 1], expected, `after ${args?.join(' ') ?? 'start'}: ${seen().join(' ')}`);
    };
    await step(null, 'up');
    await step(['ip', 'link', 'set', ifname, 'down'], 'down');
    await step(['ip', 'link', 'set', ifname, 'up'], 'up');
    // Deleting one end of a veth pair deletes both; the lab's teardown removes what is left with the namespaces.
    await step(['ip', 'link', 'del', ifname], 'absent');
    await step(['ip', 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', 'relinked'], 'down');
    execIn(netns, ['ip', 'link', 'set', 'relinked', 'up']);
    await step(['ip', 'link', 'set', ifname, 'up'], 'up');
    watch.stop();
    // Each step's state in order; deleting a link takes it down first, which the reader may see on the way.
    const { states } = (await watch.result) as { states: string[] };
    const expected = ['up', 'down', 'up', 'absent', 'down', 'up'];
    let at = 0;
    for (const state of states) if (state === expected[at]) at++;
    assert.equal(at, expected.length, states.join(' '));
  });
});
