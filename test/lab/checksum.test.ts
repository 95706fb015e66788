// A peer with its kernel's default offloads, as users' peers are: on veth the
// peer's kernel leaves UDP checksums to offload (only the pseudo-header sum
// in the field), and checks in full what comes back. `nicring respond`
// accepts and counts those partial checksums, answers each with a full one
// (tshark on a capture taken on the peer's side agrees, datagram by
// datagram), and still drops a wrong checksum as Linux does.

import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execIn } from '../../src/lab';
import { labName, useLab } from './harness';
import { type RunningResponder, latestFigures, runClient, runInAsync, sleep, startResponder, udpErrors } from './respond-harness';

/** A tcpdump run: its process, and all it said on stderr so far (its counts at the end). */
interface Tcpdump {
  child: ChildProcess;
  /** Resolves once it has exited and its output has been read to the end. */
  closed: Promise<void>;
  said(): string;
}

/** Start tcpdump in `netns`, to stop by itself after `count` packets; resolves once it listens. */
async function startTcpdump(netns: string, ifname: string, file: string, filter: string, count: number): Promise<Tcpdump> {
  const child = spawn('ip', ['netns', 'exec', netns, 'tcpdump', '-i', ifname, '-U', '-n', '-s', '0', '-B', '65536', '-c', String(count), '-w', file, filter],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  child.stderr?.on('data', (chunk: Buffer) => { said += chunk.toString(); });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  for (let i = 0; i < 100 && !/listening on/.test(said); i++) await sleep(100);
  assert.match(said, /listening on/, `tcpdump did not start: ${said}`);
  return { child, closed, said: () => said };
}

/**
 * Wait for tcpdump to end by itself (it has its count), for at most `limitMs`
 * (it may still be reading its ring), then stop it; returns what it said (its counts).
 */
async function stopTcpdump(tcpdump: Tcpdump, limitMs: number): Promise<string> {
  const timer = setTimeout(() => tcpdump.child.kill('SIGINT'), limitMs);
  await tcpdump.closed;
  clearTimeout(timer);
  return tcpdump.said();
}

/** tshark's UDP checksum verdicts, with checksum verification on, for the UDP datagrams in `file`. */
function udpChecksumVerdicts(file: string): Record<string, number> {
  const result = spawnSync('tshark', ['-r', file, '-n', '-o', 'udp.check_checksum:TRUE', '-Y', 'udp', '-T', 'fields', '-e', 'udp.checksum.status'],
    { encoding: 'utf8', timeout: 300000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(result.status, 0, result.stderr);
  const names: Record<string, string> = { '0': 'bad', '1': 'good', '2': 'unverified' };
  const verdicts: Record<string, number> = {};
  for (const row of result.stdout.split('\n')) {
    if (row === '') continue;
    const name = names[row] ?? row;
    verdicts[name] = (verdicts[name] ?? 0) + 1;
  }
  return verdicts;
}

/**
 * Python on the peer: `count` datagrams of `size` bytes from a raw socket to
 * nicring's port, from source port `sourcePort` (where a kernel UDP socket
 * waits for any reply), each with `checksum` ('good', or a fixed wrong
 * value); prints the replies the socket got.
 */
function rawSender(target: string, port: number, sourcePort: number, count: number, size: number, checksum: 'good' | number): string {
  return `
import socket, struct, time
target, port, sport, count, size = ${JSON.stringify(target)}, ${port}, ${sourcePort}, ${count}, ${size}
listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.bind(('0.0.0.0', sport))
listener.settimeout(0.05)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
raw.connect((target, port))
source = raw.getsockname()[0]
def fold(total):
    while total > 0xffff: total = (total & 0xffff) + (total >> 16)
    return total
def checksum(segment):
    data = socket.inet_aton(source) + socket.inet_aton(target) + struct.pack('!HH', 17, len(segment)) + segment
    if len(data) % 2: data += b'\\0'
    return (~fold(sum(struct.unpack('!%dH' % (len(data) // 2), data))) & 0xffff) or 0xffff
replies = 0
for i in range(count):
    payload = bytes((i * 37 + j) & 0xff for j in range(size))
    header = struct.pack('!HHHH', sport, port, 8 + size, 0)
    field = checksum(header + payload) if ${JSON.stringify(checksum)} == 'good' else ${typeof checksum === 'number' ? checksum : 0}
    raw.send(struct.pack('!HHHH', sport, port, 8 + size, field) + payload)
    try:
        while True:
            listener.recv(4096)
            replies += 1
    except socket.timeout:
        pass
deadline = time.time() + 1
while time.time() < deadline:
    try:
        listener.recv(4096)
        replies += 1
    except socket.timeout:
        pass
print(replies)
`;
}

describe('a peer with its kernel defaults: checksum offload on (partial UDP checksums on veth), IPv6 on', function () {
  this.timeout(600000);
  const { lab } = useLab({ name: labName('c'), staticNeighbor: false });
  let directory = '';
  let responder: RunningResponder | null = null;
  const port = 9000;

  before(async function () {
    this.timeout(60000);
    for (const tool of ['tcpdump', 'tshark', 'python3', 'ethtool']) {
      if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is not installed (.ci/run installs tcpdump, tshark, python3 and ethtool)`);
    }
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-checksum-'));
    const l = lab();
    // The lab leaves the peer's offloads as its kernel set them: checksum offload on.
    assert.match(execIn(l.peer.netns, ['ethtool', '-k', l.peer.ifname]), /^tx-checksumming: on/m);
    responder = startResponder(l, ['--port', String(port)]);
    const ready = await responder.ready;
    assert.match(String(ready.checksums), /^partial accepted \(veth-nr is a virtual interface\)$/);
  });

  after(function () {
    responder?.agent.stop('SIGKILL');
    if (directory !== '') fs.rmSync(directory, { recursive: true, force: true });
  });

  it('echoes 100,000 datagrams of 1 to 1472 bytes from a kernel socket byte-exact, every reply with a good checksum in tshark on the peer side', async () => {
    const l = lab();
    const count = 100_000;
    const file = path.join(directory, 'peer.pcap');
    const tcpdump = await startTcpdump(l.peer.netns, l.peer.ifname, file, `udp and src host ${l.nicring.ip} and src port ${port}`, count);
    let result: Record<string, unknown>;
    try {
      result = await runClient(l.peer.netns, 'every-size-client', { target: `${l.nicring.ip}:${port}`, count, maxSize: 1472, window: 256 });
    } finally {
      const said = await stopTcpdump(tcpdump, 30000);
      assert.match(said, /^0 packets dropped by kernel/m, said);
    }
    assert.deepEqual(result, { sent: count, sendErrors: 0, replies: count, intact: count, corrupt: 0, duplicates: 0, strangers: 0, missing: 0, smallest: 1, largest: 1472 },
      `peer kernel ${udpErrors(l.peer.netns)}; responder ${latestFigures(responder as RunningResponder)}`);
    // tshark checks UDP checksums only when asked to.
    assert.deepEqual(udpChecksumVerdicts(file), { good: count });
    const figures = (responder as RunningResponder).lines[(responder as RunningResponder).lines.length - 1];
    assert.equal((figures.drops as Record<string, number>).udpBadChecksum, undefined, JSON.stringify(figures.drops));
  });

  it('drops datagrams with a corrupted checksum from a raw socket, counted as udpBadChecksum, with no reply', async () => {
    const l = lab();
    // A control first: the same raw datagrams with correct checksums are answered.
    const answered = await runInAsync(l.peer.netns, ['python3', '-c', rawSender(l.nicring.ip, port, 41000, 20, 100, 'good')]);
    assert.equal(answered.stdout.trim(), '20', answered.stdout);
    const before = latestDrops(responder as RunningResponder);
    const dropped = await runInAsync(l.peer.netns, ['python3', '-c', rawSender(l.nicring.ip, port, 41001, 50, 100, 0x1234)]);
    assert.equal(dropped.stdout.trim(), '0', dropped.stdout);
    await sleep(1500);
    const after = latestDrops(responder as RunningResponder);
    assert.equal((after.udpBadChecksum ?? 0) - (before.udpBadChecksum ?? 0), 50, JSON.stringify(after));
  });

  it('with the peer\'s checksum offload switched off (full checksums on the wire), verifies them in full and counts none as partial', async () => {
    const l = lab();
    const partialBefore = latestFigure(responder as RunningResponder, 'udpChecksumPartial');
    execIn(l.peer.netns, ['ethtool', '-K', l.peer.ifname, 'tx', 'off']);
    try {
      const count = 5000;
      const result = await runClient(l.peer.netns, 'every-size-client', { target: `${l.nicring.ip}:${port}`, count, maxSize: 1472, window: 256 });
      assert.equal(result.intact, count, JSON.stringify(result));
      await sleep(1500);
      assert.equal(latestFigure(responder as RunningResponder, 'udpChecksumPartial'), partialBefore);
    } finally {
      execIn(l.peer.netns, ['ethtool', '-K', l.peer.ifname, 'tx', 'on']);
    }
  });

  it("holds an IPv6 link-local on the peer's side only; the peer's IPv6 reaches nicring, counted as ethernetIpv6, none answered", async () => {
    const l = lab();
    assert.match(execIn(l.peer.netns, ['ip', '-6', 'addr', 'show', 'dev', l.peer.ifname]), /inet6 fe80::/);
    assert.equal(execIn(l.nicring.netns, ['ip', '-6', 'addr', 'show', 'dev', l.nicring.ifname]).trim(), '');
    const before = latestDrops(responder as RunningResponder).ethernetIpv6 ?? 0;
    // Echo requests to all nodes (ff02::1): multicast frames nicring takes in and cannot answer.
    const ping = await runInAsync(l.peer.netns, ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '1', `ff02::1%${l.peer.ifname}`]);
    assert.doesNotMatch(ping.stdout, new RegExp(`from ${linkLocalOf(l.nicring.mac)}%`), ping.stdout);
    await sleep(1500);
    assert.ok((latestDrops(responder as RunningResponder).ethernetIpv6 ?? 0) - before >= 3, JSON.stringify(latestDrops(responder as RunningResponder)));
  });

  it('counted the partial checksums as traffic, never as drops: one per datagram from the peer\'s kernel', async () => {
    const final = await (responder as RunningResponder).stop();
    responder = null;
    // The 100,000 datagrams with their checksum left to offload, less the few whose full checksum
    // happens to equal the pseudo-header sum (about 1 in 65,535: those verify in full).
    const partial = final.udpChecksumPartial as number;
    assert.ok(partial >= 99_900 && partial <= 100_000, `udpChecksumPartial ${partial}`);
    // The peer's own IPv6 (router solicitations, MLD, the pings above) is dropped and counted too.
    const { ethernetIpv6, ...drops } = final.drops as Record<string, number>;
    assert.deepEqual(drops, { udpBadChecksum: 50 });
    assert.ok(ethernetIpv6 >= 3, `ethernetIpv6 ${ethernetIpv6}`);
    assert.equal(final.requests, 100_000 + 20 + 5000);
    assert.equal(final.replies, final.requests);
  });
});

/** The IPv6 link-local address a kernel would give `mac` (modified EUI-64), as ping prints it. */
function linkLocalOf(mac: string): string {
  const b = mac.split(':').map((part) => parseInt(part, 16));
  const word = (high: number, low: number): string => ((high << 8) | low).toString(16);
  return `fe80::${word(b[0] ^ 0x02, b[1])}:${word(b[2], 0xff)}:${word(0xfe, b[3])}:${word(b[4], b[5])}`;
}

/** The drop counters on the responder's latest line. */
function latestDrops(responder: RunningResponder): Record<string, number> {
  return (responder.lines[responder.lines.length - 1].drops ?? {}) as Record<string, number>;
}

/** A number on the responder's latest line. */
function latestFigure(responder: RunningResponder, name: string): number {
  return responder.lines[responder.lines.length - 1][name] as number;
}
