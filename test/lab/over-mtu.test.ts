// Requests larger than nicring's MTU that the link lets in: both veth ends
// take 9000-byte frames, the peer kernel's MTU is 9000, nicring's IP MTU
// stays 1500. The peer's iputils ping -s 1700 and kernel UDP sockets send
// 1728-byte datagrams in one frame; nicring answers them as Linux would with
// an MTU of 1500, in fragments, and the peer kernel puts the replies back
// together (its ReasmOKs counts them).

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { execIn } from '../../src/lab';
import { labName, startAgent, startInNetns, useLab, type Agent } from './harness';

const STACK_AGENT = path.join(__dirname, 'stack-agent.ts');
const LINK_MTU = 9000;

/** The peer kernel's IPv4 counters (/proc/net/snmp "Ip:" rows) by name. */
function ipCounters(netns: string): Record<string, number> {
  const rows = execIn(netns, ['cat', '/proc/net/snmp']).split('\n').filter((row) => row.startsWith('Ip: '));
  const names = rows[0].split(' ').slice(1);
  const values = rows[1].split(' ').slice(1).map(Number);
  return Object.fromEntries(names.map((name, i) => [name, values[i]]));
}

describe('requests larger than the MTU, the link allowing them, over AF_XDP on veth', function () {
  this.timeout(120000);
  const { lab } = useLab({ name: labName('m'), staticNeighbor: false });
  let stack: Agent;
  let mode = '';

  before(async function () {
    this.timeout(60000);
    const l = lab();
    if (spawnSync('which', ['ping']).status !== 0) throw new Error('ping is not installed (.ci/run installs iputils-ping)');
    execIn(l.peer.netns, ['ip', 'link', 'set', 'dev', l.peer.ifname, 'mtu', String(LINK_MTU)]);
    execIn(l.nicring.netns, ['ip', 'link', 'set', 'dev', l.nicring.ifname, 'mtu', String(LINK_MTU)]);
    stack = startInNetns(l.nicring.netns, [process.execPath, '--import', 'tsx', STACK_AGENT, 'stack', '--iface', l.nicring.ifname, '--address', l.nicring.address]);
    stack.child.stdout?.on('data', (chunk: Buffer) => {
      const match = /"mode":"([\w/]+)"/.exec(chunk.toString());
      if (match !== null) mode = match[1];
    });
    await stack.ready;
  });

  after(function () {
    stack?.stop('SIGKILL');
  });

  it('answers iputils ping -s 1700 (one 1742-byte frame each) with identical data in two fragments, which the peer kernel reassembles', () => {
    const l = lab();
    const before = ipCounters(l.peer.netns);
    const result = spawnSync('ip', ['netns', 'exec', l.peer.netns, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '-M', 'do', '-s', '1700', l.nicring.ip], { encoding: 'utf8', timeout: 30000 });
    assert.match(result.stdout, /3 packets transmitted, 3 received/, `${mode}: ${result.stdout}${result.stderr}`);
    assert.doesNotMatch(result.stdout, /wrong data|DUP!/);
    assert.match(result.stdout, /1708 bytes from/);
    const after = ipCounters(l.peer.netns);
    assert.equal(after.FragCreates - before.FragCreates, 0, 'the peer sent its requests whole');
    assert.ok(after.ReasmOKs - before.ReasmOKs >= 3, `the peer reassembled ${after.ReasmOKs - before.ReasmOKs} replies`);
  });

  it('answers 200 1700-byte datagrams from a kernel UDP socket through the reply-in-place path, each in fragments, all intact', async () => {
    const l = lab();
    const before = ipCounters(l.peer.netns);
    const echoed = await startAgent(l.peer.netns, 'udp-send', { target: `${l.nicring.ip}:8`, count: 200, size: 1700, rate: 1000, lingerMs: 1000 }).result;
    assert.deepEqual(echoed, { sent: 200, echoes: 200, echoesIntact: 200 });
    const after = ipCounters(l.peer.netns);
    assert.equal(after.FragCreates - before.FragCreates, 0, 'the peer sent its datagrams whole');
    assert.ok(after.ReasmOKs - before.ReasmOKs >= 200, `the peer reassembled ${after.ReasmOKs - before.ReasmOKs} replies`);
  });

  it("counts them on nicring's side: nothing reassembled, every reply fragmented", async () => {
    stack.stop('SIGTERM');
    const { counters } = await stack.result as { counters: Record<string, number> };
    assert.match(mode, /^(native|generic)\//, 'the port said its mode');
    assert.equal(counters.ipv4FragmentsReceived, 0, `every request came in one frame (${mode})`);
    assert.ok(counters.icmpEchoRepliesSent >= 3);
    assert.ok(counters.ipv4Fragmented >= 203, `${counters.ipv4Fragmented} datagrams fragmented`);
    assert.equal(counters.ipv4FragmentsSent, 2 * counters.ipv4Fragmented);
    assert.equal(counters.txDeviceFull, 0);
  });
});
