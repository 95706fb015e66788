// The host stack over real AF_XDP on a veth pair, against the peer
// namespace's kernel and real tools: iputils ping, the kernel's ARP cache,
// kernel UDP sockets, tcpdump and tshark. The peer learns nicring's MAC
// through ARP like any host would (no static neighbor entry).

import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execIn } from '../../src/lab';
import { labName, startAgent, startInNetns, useLab, type Agent } from './harness';

const STACK_AGENT = path.join(__dirname, 'stack-agent.ts');

function startStackJob(netns: string, job: string, args: Record<string, string | number>): Agent {
  const flat = Object.entries(args).flatMap(([key, value]) => [`--${key}`, String(value)]);
  return startInNetns(netns, [process.execPath, '--import', 'tsx', STACK_AGENT, job, ...flat]);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Run a command in a namespace without throwing; stdout, stderr and status. */
function runIn(netns: string, args: string[], timeoutMs = 30000): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync('ip', ['netns', 'exec', netns, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { stdout: result.stdout ?? '', stderr: result.stderr ?? '', status: result.status };
}

/** Wait until `check` holds, looking every 100 ms, for at most `limitMs`. */
async function waitFor(check: () => boolean, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(100);
  }
  return check();
}

/** tshark's checksum verdicts (good, bad, unverified: counts) on `field` of the frames matching `filter` in `file`. */
function tsharkVerdicts(file: string, filter: string, field: string): Record<string, number> {
  const result = spawnSync('tshark', [
    '-r', file, '-n',
    '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
    '-Y', filter, '-T', 'fields', '-E', 'occurrence=f', '-e', field,
  ], { encoding: 'utf8', timeout: 60000 });
  if (result.status !== 0) throw new Error(`tshark failed: ${result.stderr}`);
  const names: Record<string, string> = { '0': 'bad', '1': 'good', '2': 'unverified' };
  const verdicts: Record<string, number> = {};
  for (const row of result.stdout.split('\n')) {
    if (row === '') continue;
    const name = names[row] ?? row;
    verdicts[name] = (verdicts[name] ?? 0) + 1;
  }
  return verdicts;
}

describe('host stack over AF_XDP on veth, against the peer kernel and its tools', function () {
  this.timeout(120000);
  const { lab } = useLab({ name: labName('s'), staticNeighbor: false });
  let directory = '';
  let stack: Agent;
  let tcpdump: ChildProcess | null = null;
  const linkEvents: string[] = [];

  before(async function () {
    this.timeout(60000);
    const l = lab();
    for (const tool of ['ping', 'tcpdump', 'tshark']) {
      if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is not installed (.ci/run installs iputils-ping, tcpdump and tshark)`);
    }
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-stack-'));
    tcpdump = spawn('ip', ['netns', 'exec', l.peer.netns, 'tcpdump', '-i', l.peer.ifname, '-U', '-n', '-s', '0', '-w', path.join(directory, 'peer.pcap')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let tcpdumpSaid = '';
    tcpdump.stderr?.on('data', (chunk: Buffer) => { tcpdumpSaid += chunk.toString(); });
    assert.ok(await waitFor(() => /listening on/.test(tcpdumpSaid), 10000), `tcpdump did not start: ${tcpdumpSaid}`);
    stack = startStackJob(l.nicring.netns, 'stack', { iface: l.nicring.ifname, address: l.nicring.address, pcap: path.join(directory, 'nicring.pcap') });
    stack.child.stdout?.on('data', (chunk: Buffer) => {
      for (const match of chunk.toString().matchAll(/"event":"link","state":"(\w+)"/g)) linkEvents.push(match[1]);
    });
    await stack.ready;
  });

  after(function () {
    this.timeout(30000);
    stack?.stop('SIGKILL');
    if (tcpdump !== null && tcpdump.exitCode === null) tcpdump.kill('SIGKILL');
    if (directory !== '') fs.rmSync(directory, { recursive: true, force: true });
  });

  for (const size of [56, 1400, 4000]) {
    it(`answers iputils ping -s ${size} with identical data${size > 1472 ? ' (fragmented both ways)' : ''}`, () => {
      const l = lab();
      const result = runIn(l.peer.netns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '-s', String(size), l.nicring.ip]);
      assert.match(result.stdout, /3 packets transmitted, 3 received/, result.stdout + result.stderr);
      assert.doesNotMatch(result.stdout, /wrong data|DUP!/);
    });
  }

  it("leaves nicring's MAC in the peer kernel's ARP entry for its address", () => {
    const l = lab();
    const entry = execIn(l.peer.netns, ['ip', 'neigh', 'show', l.nicring.ip, 'dev', l.peer.ifname]).trim();
    assert.match(entry, new RegExp(`lladdr ${l.nicring.mac} (REACHABLE|STALE|DELAY|PROBE)`), entry);
  });

  it('exchanges 10,000 datagrams each way with a kernel UDP socket, all intact', async () => {
    const l = lab();
    const echoed = await startAgent(l.peer.netns, 'udp-send', { target: `${l.nicring.ip}:7`, count: 10000, size: 200, rate: 5000, lingerMs: 1000 }).result;
    assert.deepEqual(echoed, { sent: 10000, echoes: 10000, echoesIntact: 10000 });
    const pulled = await startStackJob(l.peer.netns, 'udp-pull', { target: `${l.nicring.ip}:9`, count: 10000, size: 300, timeoutMs: 30000 }).result;
    assert.deepEqual(pulled, { good: 10000, bad: 0 });
  });

  it('answers 10,000 datagrams through the reply-in-place path, all intact', async () => {
    const l = lab();
    const echoed = await startAgent(l.peer.netns, 'udp-send', { target: `${l.nicring.ip}:8`, count: 10000, size: 100, rate: 5000, lingerMs: 1000 }).result;
    assert.deepEqual(echoed, { sent: 10000, echoes: 10000, echoesIntact: 10000 });
  });

  it('makes a connected kernel UDP socket get ECONNREFUSED from a closed port', async () => {
    const l = lab();
    const refused = await startStackJob(l.peer.netns, 'udp-refused', { target: `${l.nicring.ip}:4444` }).result;
    assert.equal(refused.code, 'ECONNREFUSED', JSON.stringify(refused));
  });

  it('reports ip link set down and up during traffic as link events, and traffic resumes', async () => {
    const l = lab();
    const traffic = startAgent(l.peer.netns, 'udp-send', { target: `${l.nicring.ip}:7`, count: 4000, size: 100, rate: 1000, lingerMs: 1500 });
    await sleep(1000);
    execIn(l.nicring.netns, ['ip', 'link', 'set', l.nicring.ifname, 'down']);
    assert.ok(await waitFor(() => linkEvents.includes('down'), 5000), `events: ${linkEvents.join(',')}`);
    await sleep(1000);
    execIn(l.nicring.netns, ['ip', 'link', 'set', l.nicring.ifname, 'up']);
    assert.ok(await waitFor(() => linkEvents.includes('up'), 5000), `events: ${linkEvents.join(',')}`);
    const during = await traffic.result;
    assert.equal(during.sent, 4000);
    // What the outage cost depends on the peer kernel's queues; what came back is intact.
    assert.ok((during.echoes as number) > 0, JSON.stringify(during));
    assert.equal(during.echoes, during.echoesIntact);
    // Traffic resumes: ping gets through again, then a fresh batch is answered in full.
    assert.ok(await waitFor(() => runIn(l.peer.netns, ['ping', '-c', '1', '-W', '1', l.nicring.ip]).status === 0, 15000), 'ping after link up');
    const after = await startAgent(l.peer.netns, 'udp-send', { target: `${l.nicring.ip}:7`, count: 1000, size: 100, rate: 2000, lingerMs: 1000 }).result;
    assert.deepEqual(after, { sent: 1000, echoes: 1000, echoesIntact: 1000 });
    assert.deepEqual(linkEvents, ['down', 'up']);
  });

  it('sent only valid IPv4, UDP and ICMP checksums, as tshark sees them in tcpdump\'s capture and in its own', async () => {
    const l = lab();
    stack.stop('SIGTERM');
    const final = await stack.result;
    const counters = final.counters as Record<string, number>;
    if (tcpdump !== null) {
      tcpdump.kill('SIGINT');
      await waitFor(() => tcpdump?.exitCode !== null, 5000);
    }
    const fromNicring = `eth.src == ${l.nicring.mac}`;
    for (const file of ['peer.pcap', 'nicring.pcap'].map((name) => path.join(directory, name))) {
      // The outer headers only: an ICMP error quotes the peer's own datagram, which is the peer's business.
      const ip = tsharkVerdicts(file, `${fromNicring} && ip`, 'ip.checksum.status');
      const udp = tsharkVerdicts(file, `${fromNicring} && udp && !icmp`, 'udp.checksum.status');
      const icmp = tsharkVerdicts(file, `${fromNicring} && icmp`, 'icmp.checksum.status');
      assert.deepEqual(Object.keys(ip), ['good'], `${file} IPv4: ${JSON.stringify(ip)}`);
      assert.ok(ip.good > 30000, `${file}: ${ip.good} IPv4 frames from nicring`);
      assert.deepEqual(Object.keys(udp), ['good'], `${file} UDP: ${JSON.stringify(udp)}`);
      assert.ok(udp.good >= 30000, `${file}: ${udp.good} UDP datagrams from nicring`);
      assert.deepEqual(Object.keys(icmp), ['good'], `${file} ICMP: ${JSON.stringify(icmp)}`);
    }
    // The stack saw nothing malformed from the kernel either.
    for (const name of ['ipv4BadChecksum', 'udpBadChecksum', 'icmpBadChecksum', 'ipv4BadTotalLength', 'reassemblyTimeout', 'reassemblyOverlap']) {
      assert.equal(counters[name], 0, `${name}: ${JSON.stringify(counters)}`);
    }
    assert.ok(counters.ipv4Reassembled >= 3, 'the 4000-byte pings were reassembled');
    assert.ok(counters.udpRepliesInPlace >= 10000);
    assert.ok(counters.arpRepliesSent >= 1);
    assert.deepEqual(final.linkEvents, ['down', 'up']);
  });
});
