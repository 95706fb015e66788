// Every queue of one interface, one worker thread each, over real AF_XDP on
// a multi-queue veth: the interface's XDP program is shared by the threads'
// ports and stays exactly as long as one of them is open, whatever order
// they close, crash or are terminated in, and goes with a killed process.

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { labName, startInNetns, useLab, xdpAttached } from './harness';

const QUEUES_AGENT = path.join(__dirname, 'queues-agent.ts');

function queuesAgent(netns: string, job: string, args: Record<string, string>) {
  return startInNetns(netns, [process.execPath, '--import', 'tsx', QUEUES_AGENT, job, ...Object.entries(args).flatMap(([k, v]) => [`--${k}`, v])]);
}

async function untilDetached(netns: string, ifname: string): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (!xdpAttached(netns, ifname)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

describe('AF_XDP ports on every queue, one worker thread each', function () {
  this.timeout(120000);
  const { lab } = useLab({ name: labName('qp'), queues: 4 });

  for (const mode of ['native', 'generic'] as const) {
    it(`${mode}: open together and share the program until the last one goes, closed, crashed or terminated in any order`, async () => {
      const l = lab();
      for (const steps of ['close:2,crash:0,terminate:3,close:1', 'crash:3,crash:1,close:0,terminate:2']) {
        const agent = queuesAgent(l.nicring.netns, 'ports', { iface: l.nicring.ifname, mode, queues: '0,1,2,3', steps });
        const result = await agent.result as { opened: { queue: number; mode?: string; error?: string }[]; attachedWhenOpen: boolean; steps: { step: string; exitCode: number; attached: boolean }[] };
        assert.deepEqual(result.opened.map((o) => [o.queue, o.mode]), [0, 1, 2, 3].map((q) => [q, `${mode}/copy`]), JSON.stringify(result.opened));
        assert.equal(result.attachedWhenOpen, true);
        assert.deepEqual(result.steps.map((s) => s.attached), [true, true, true, false], JSON.stringify(result.steps));
        assert.deepEqual(result.steps.map((s) => s.exitCode), steps.split(',').map((s) => (s.startsWith('close') ? 0 : 1)));
        assert.equal(xdpAttached(l.nicring.netns, l.nicring.ifname), false);
      }
    });
  }

  it('leaves no program attached when the process holding every queue is killed', async () => {
    const l = lab();
    const agent = queuesAgent(l.nicring.netns, 'hold', { iface: l.nicring.ifname, mode: 'native', queues: '0,1,2,3' });
    await agent.ready;
    assert.equal(xdpAttached(l.nicring.netns, l.nicring.ifname), true);
    agent.stop('SIGKILL');
    await agent.result.catch(() => undefined);
    assert.equal(await untilDetached(l.nicring.netns, l.nicring.ifname), true, 'detached after SIGKILL');
  });
});
