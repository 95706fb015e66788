// 1,000,000 frames mutated from valid ones (UDP requests, pings, fragments,
// IPv4 options, ARP, a VLAN tag), sent as raw frames from the peer
// namespace at a bounded rate, at `nicring respond`: afterwards it still
// answers ping and UDP, and its JSON accounts for every frame it received,
// each ending in exactly one counter.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { labName, useLab } from './harness';
import { latestFigures, runClient, runToEnd, startResponder, type Json, type RunningResponder } from './respond-harness';

const RAW_FRAMES = path.join(__dirname, 'raw-frames.py');
const FRAMES = 1_000_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('a 1,000,000-frame mutation fuzz against nicring respond over AF_XDP on veth', function () {
  this.timeout(300000);
  const { lab } = useLab({ name: labName('z'), staticNeighbor: false });
  let responder: RunningResponder;

  before(async function () {
    this.timeout(60000);
    if (spawnSync('which', ['python3']).status !== 0) throw new Error('python3 is not installed');
    responder = startResponder(lab(), ['--port', '9000']);
    await responder.ready;
  });

  after(async function () {
    this.timeout(30000);
    await responder?.stop();
  });

  it('keeps answering ping and UDP, and counts every frame it received in exactly one place', async () => {
    const l = lab();
    const fuzz = await runToEnd(l.peer.netns, ['python3', RAW_FRAMES, 'fuzz', '--iface', l.peer.ifname,
      '--dst-mac', l.nicring.mac, '--src-mac', l.peer.mac, '--dst-ip', l.nicring.ip, '--src-ip', l.peer.ip,
      '--port', '9000', '--count', String(FRAMES), '--rate', '50000', '--duration', '120']).result;
    const ping = spawnSync('ip', ['netns', 'exec', l.peer.netns, 'ping', '-c', '3', '-i', '0.2', '-W', '2', l.nicring.ip], { encoding: 'utf8', timeout: 30000 });
    assert.match(ping.stdout, /3 packets transmitted, 3 received/, ping.stdout + ping.stderr);
    const echo = await runClient(l.peer.netns, 'echo-client', { target: `${l.nicring.ip}:9000`, count: 1000, rate: 2000, minSize: 16, maxSize: 256 });
    await sleep(1500);
    const final: Json = await responder.stop();
    const device = final.device as Record<string, number>;
    const stack = final.stack as Record<string, number>;
    const context = JSON.stringify({ fuzz, echo, device, figures: latestFigures(responder) });
    assert.equal(fuzz.sent, FRAMES, context);
    assert.equal(stack.framesReceived, device.rxFrames, `every frame the port took reached the stack ${context}`);
    assert.ok(stack.framesReceived >= FRAMES, context);
    assert.deepEqual(final.unaccounted, { frames: 0, datagrams: 0, icmp: 0, tcp: 0 }, context);
    assert.equal(echo.intact, 1000, context);
  });
});
