// The AF_XDP half of the addon (native/xdp.cc, native/attachment.cc) on a
// two-queue veth pair between two namespaces: ports and their mapped rings,
// the XDP program shared per interface, errors, teardown and live frames.
// Each case runs a small script with the addon inside nicring's namespace and
// reads the rings by hand; the ring logic proper is src/phy/xdp-ring.ts.

import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const NICRING_NETNS = 'nrn-ta';
const PEER_NETNS = 'nrn-tb';
const NICRING_IFNAME = 'nrn-va';
const PEER_IFNAME = 'nrn-vb';
const NICRING_IP = '198.18.99.2';
const PEER_ADDRESS = '198.18.99.1/24';
const FRAME_SIZE = 2048;
const FRAME_COUNT = 256;
const RING_SIZE = 64;
// Datagram payloads start after Ethernet (14), IPv4 (20) and UDP (8) headers.
const UDP_PAYLOAD_OFFSET = 42;

function run(args: string[]): string {
  const result = spawnSync(args[0], args.slice(1), { encoding: 'utf8', timeout: 30000 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${args.join(' ')}: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}

function removeNamespaces(): void {
  for (const netns of [NICRING_NETNS, PEER_NETNS]) spawnSync('ip', ['netns', 'del', netns]);
}

function makeLab(): void {
  removeNamespaces();
  run(['ip', 'netns', 'add', NICRING_NETNS]);
  run(['ip', 'netns', 'add', PEER_NETNS]);
  run(['ip', 'link', 'add', NICRING_IFNAME, 'numtxqueues', '2', 'numrxqueues', '2', 'netns', NICRING_NETNS,
    'type', 'veth', 'peer', 'name', PEER_IFNAME, 'numtxqueues', '2', 'numrxqueues', '2', 'netns', PEER_NETNS]);
  run(['ip', '-n', PEER_NETNS, 'addr', 'add', PEER_ADDRESS, 'dev', PEER_IFNAME]);
  // nicring's side holds no address, IPv6 link-local included; the peer keeps its kernel's defaults.
  run(['ip', 'netns', 'exec', NICRING_NETNS, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
  for (const [netns, ifname] of [[NICRING_NETNS, NICRING_IFNAME], [PEER_NETNS, PEER_IFNAME]]) {
    run(['ip', '-n', netns, 'link', 'set', ifname, 'up']);
    run(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
  }
  // Frames that XDP sends into a veth (ndo_xdp_xmit) are dropped unless the receiving end has a NAPI:
  // a native XDP program or GRO. nicring's end gets GRO, as the lab gives it; the peer keeps its defaults.
  run(['ip', 'netns', 'exec', NICRING_NETNS, 'ethtool', '-K', NICRING_IFNAME, 'gro', 'on']);
  const mac = (JSON.parse(run(['ip', '-n', NICRING_NETNS, '-j', 'link', 'show', NICRING_IFNAME])) as { address: string }[])[0].address;
  // No stack runs on nicring's side here: give the peer its MAC by hand.
  run(['ip', '-n', PEER_NETNS, 'neigh', 'add', NICRING_IP, 'lladdr', mac, 'dev', PEER_IFNAME, 'nud', 'permanent']);
}

function canMakeLab(): boolean {
  return process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0 && spawnSync('ethtool', ['--version']).status === 0;
}

// Sends `count` datagrams "<tag>-<i>" to nicring's address, port 9000 + i.
const SENDER = `
const [count, tag] = process.argv.slice(1);
const socket = require('node:dgram').createSocket('udp4');
let left = Number(count);
for (let i = 0; i < Number(count); i++) socket.send(tag + '-' + i, 9000 + i, '${NICRING_IP}', () => { if (--left === 0) socket.close(); });
`;

// What every script gets: the addon, a port opener, hand-made ring walks.
const PRELUDE = `
const addon = require(require.resolve('node-gyp-build', { paths: [${JSON.stringify(ROOT)}] }))(${JSON.stringify(ROOT)});
const { execFileSync } = require('node:child_process');
const IFNAME = ${JSON.stringify(NICRING_IFNAME)};
const base = { ifname: IFNAME, queue: 0, mode: 'native', frameSize: ${FRAME_SIZE}, frameCount: ${FRAME_COUNT},
  rxSize: ${RING_SIZE}, txSize: ${RING_SIZE}, fillSize: ${RING_SIZE}, completionSize: ${RING_SIZE},
  needWakeup: true, zeroCopy: 'auto', txBudget: 0 };
const open = (options) => addon.xdpOpen({ ...base, ...options });
const out = (value) => process.stdout.write(JSON.stringify(value) + '\\n');
const errorOf = (fn) => {
  try { fn(); return null; } catch (e) { return { name: e.name, message: e.message, errno: e.errno, code: e.code, syscall: e.syscall, ifname: e.ifname }; }
};
const attached = () => /prog\\/xdp/.test(execFileSync('ip', ['-d', 'link', 'show', 'dev', IFNAME]).toString());
const fillRing = (port) => {
  const ring = port.fill, words = new Uint32Array(ring.buffer);
  let producer = Atomics.load(words, ring.producer / 4);
  for (let i = 0; i < ring.size; i++, producer = (producer + 1) >>> 0) {
    const word = (ring.desc + (producer & (ring.size - 1)) * 8) / 4;
    words[word] = i * ${FRAME_SIZE};
    words[word + 1] = 0;
  }
  Atomics.store(words, ring.producer / 4, producer);
};
const drainRx = (port) => {
  const ring = port.rx, words = new Uint32Array(ring.buffer);
  const producer = Atomics.load(words, ring.producer / 4);
  let consumer = Atomics.load(words, ring.consumer / 4);
  const frames = [];
  for (; consumer !== producer; consumer = (consumer + 1) >>> 0) {
    const word = (ring.desc + (consumer & (ring.size - 1)) * 16) / 4;
    const addr = words[word] + words[word + 1] * 2 ** 32, len = words[word + 2];
    const bytes = new Uint8Array(port.umem, addr, len);
    const udp = len > ${UDP_PAYLOAD_OFFSET} && bytes[12] === 0x08 && bytes[13] === 0x00 && bytes[23] === 17;
    const payload = udp ? Buffer.from(bytes.subarray(${UDP_PAYLOAD_OFFSET})).toString() : null;
    frames.push({ queue: port.queue, addr, len, payload });
  }
  Atomics.store(words, ring.consumer / 4, consumer);
  return frames;
};
const sendFromPeer = (count, tag) => execFileSync('ip',
  ['netns', 'exec', ${JSON.stringify(PEER_NETNS)}, process.execPath, '-e', ${JSON.stringify(SENDER)}, String(count), tag]);
const receive = (ports, expected, timeoutMs) => new Promise((resolve) => {
  const frames = [];
  const finish = () => { clearTimeout(timer); for (const port of ports) port.unwatch(); resolve(frames); };
  const timer = setTimeout(finish, timeoutMs);
  for (const port of ports) port.watch(() => {
    frames.push(...drainRx(port).filter((frame) => frame.payload !== null));
    if (frames.length >= expected) finish();
  });
});
`;

interface ScriptOptions {
  /** Command prefix, e.g. setpriv, run inside the namespace before node. */
  wrapper?: string[];
  nodeFlags?: string[];
}

/** Run `body` (after PRELUDE) with node in nicring's namespace; returns its last JSON line. */
function runScript(body: string, options: ScriptOptions = {}): Record<string, any> {
  const args = ['netns', 'exec', NICRING_NETNS, ...(options.wrapper ?? []), process.execPath, ...(options.nodeFlags ?? []), '-e', PRELUDE + body];
  const result = spawnSync('ip', args, { encoding: 'utf8', timeout: 30000 });
  const lines = (result.stdout ?? '').trim().split('\n').filter((line) => line.startsWith('{'));
  if (result.status !== 0 || lines.length === 0) {
    throw new Error(`script exited with ${result.status ?? result.signal}: ${result.stderr || result.stdout}`);
  }
  return JSON.parse(lines[lines.length - 1]);
}

function xdpAttached(): boolean {
  return /prog\/xdp/.test(run(['ip', '-n', NICRING_NETNS, '-d', 'link', 'show', 'dev', NICRING_IFNAME]));
}

function peerReceivedPackets(): number {
  return Number(run(['ip', 'netns', 'exec', PEER_NETNS, 'cat', `/sys/class/net/${PEER_IFNAME}/statistics/rx_packets`]).trim());
}

describe('AF_XDP addon on a veth pair (native/xdp.cc)', function () {
  this.timeout(60000);

  before(function () {
    if (!canMakeLab()) {
      console.log('    (needs root, iproute2 and ethtool: skipped)');
      this.skip();
    }
    makeLab();
  });

  after(() => {
    removeNamespaces();
  });

  it('opens a port whose UMEM and four rings are external ArrayBuffers, with the ring offsets', () => {
    const port = runScript(`
      const port = open({ queue: 0 });
      const ring = (r) => ({ bytes: r.buffer.byteLength, producer: r.producer, consumer: r.consumer, flags: r.flags, desc: r.desc, size: r.size,
        external: r.buffer instanceof ArrayBuffer });
      out({ fd: port.fd, ifindex: port.ifindex, queue: port.queue, mode: port.mode, zeroCopy: port.zeroCopy,
        needWakeup: port.needWakeup, txBudget: port.txBudget, umemBytes: port.umem.byteLength, attached: attached(),
        rx: ring(port.rx), tx: ring(port.tx), fill: ring(port.fill), completion: ring(port.completion) });
    `);
    assert.ok(port.fd > 2);
    assert.ok(port.ifindex > 0);
    assert.equal(port.queue, 0);
    assert.equal(port.mode, 'native');
    assert.equal(port.zeroCopy, false, 'veth has copy mode only');
    assert.equal(port.needWakeup, true);
    assert.equal(port.txBudget, 0);
    assert.equal(port.umemBytes, FRAME_SIZE * FRAME_COUNT);
    assert.equal(port.attached, true);
    for (const [name, entryBytes] of [['rx', 16], ['tx', 16], ['fill', 8], ['completion', 8]] as const) {
      const ring = port[name];
      assert.equal(ring.size, RING_SIZE, name);
      assert.equal(ring.bytes, ring.desc + RING_SIZE * entryBytes, name);
      for (const field of ['producer', 'consumer', 'flags']) assert.ok(ring[field] % 4 === 0 && ring[field] < ring.desc, `${name}.${field}`);
    }
  });

  for (const mode of ['native', 'generic'] as const) {
    it(`lands datagrams from the peer's kernel in the UMEM through ports on queues 0 and 1 (${mode} mode)`, () => {
      const result = runScript(`
        const ports = [open({ queue: 0, mode: '${mode}' }), open({ queue: 1, mode: '${mode}' })];
        for (const port of ports) fillRing(port);
        sendFromPeer(8, 'hello');
        receive(ports, 8, 5000).then((frames) => {
          const statistics = ports.map((port) => port.statistics());
          const wakeups = ports.map((port) => port.wakeup());
          const kicks = ports.map((port) => port.kick());
          for (const port of ports) port.close();
          out({ frames, statistics, wakeups, kicks, attachedAfterClose: attached() });
        });
      `);
      const payloads = (result.frames as { payload: string }[]).map((frame) => frame.payload).sort();
      assert.deepEqual(payloads, ['hello-0', 'hello-1', 'hello-2', 'hello-3', 'hello-4', 'hello-5', 'hello-6', 'hello-7']);
      for (const frame of result.frames as { addr: number; len: number }[]) {
        assert.ok(frame.addr + frame.len <= FRAME_SIZE * FRAME_COUNT);
        assert.equal(frame.len, UDP_PAYLOAD_OFFSET + 'hello-0'.length);
      }
      for (const statistics of result.statistics) {
        assert.deepEqual(Object.keys(statistics), ['rxDropped', 'rxInvalidDescs', 'txInvalidDescs', 'rxRingFull', 'rxFillRingEmptyDescs', 'txRingEmptyDescs']);
        assert.equal(statistics.rxDropped, 0);
      }
      assert.deepEqual(result.wakeups, [0, 0]);
      assert.deepEqual(result.kicks, [0, 0]);
      assert.equal(result.attachedAfterClose, false);
    });
  }

  it('refuses a second port on a taken queue, and a second attach mode on the interface, with EBUSY', () => {
    const result = runScript(`
      const first = open({ queue: 0, mode: 'native' });
      const sameQueue = errorOf(() => open({ queue: 0, mode: 'native' }));
      const otherMode = errorOf(() => open({ queue: 1, mode: 'generic' }));
      const otherQueue = open({ queue: 1, mode: 'native' });
      out({ sameQueue, otherMode, otherQueue: otherQueue.queue });
    `);
    assert.equal(result.sameQueue.code, 'EBUSY');
    assert.equal(result.sameQueue.errno, 16);
    assert.equal(result.sameQueue.syscall, 'bind');
    assert.equal(result.sameQueue.ifname, NICRING_IFNAME);
    assert.match(result.sameQueue.message, /Queue 0 of nrn-va already has an AF_XDP port in this process/);
    assert.equal(result.otherMode.code, 'EBUSY');
    assert.equal(result.otherMode.syscall, 'bpf(BPF_LINK_CREATE)');
    assert.match(result.otherMode.message, /attached to nrn-va in native mode .*open with xdpMode 'native'/);
    assert.equal(result.otherQueue, 1);
  });

  it('says what to do when the interface, the queue, the mode or zero-copy is wrong', () => {
    const result = runScript(`
      out({
        missing: errorOf(() => open({ ifname: 'nrn-none' })),
        queue: errorOf(() => open({ queue: 7 })),
        zeroCopy: errorOf(() => open({ zeroCopy: 'on' })),
        nativeOnLoopback: errorOf(() => open({ ifname: 'lo' })),
        txBudget: errorOf(() => open({ txBudget: 4096 })),
      });
    `);
    assert.deepEqual(
      { code: result.missing.code, errno: result.missing.errno, syscall: result.missing.syscall, ifname: result.missing.ifname },
      { code: 'ENODEV', errno: 19, syscall: 'if_nametoindex', ifname: 'nrn-none' });
    assert.match(result.missing.message, /No such interface in this network namespace/);
    assert.equal(result.queue.code, 'EINVAL');
    assert.match(result.queue.message, /Queue 7 may not exist on nrn-va/);
    assert.equal(result.zeroCopy.code, 'EOPNOTSUPP');
    assert.equal(result.zeroCopy.syscall, 'bind(XDP_ZEROCOPY)');
    assert.match(result.zeroCopy.message, /use zeroCopy 'auto' or 'off'/);
    assert.equal(result.nativeOnLoopback.code, 'EOPNOTSUPP');
    assert.equal(result.nativeOnLoopback.syscall, 'bpf(BPF_LINK_CREATE)');
    assert.match(result.nativeOnLoopback.message, /lacks native XDP.*use xdpMode 'generic'/);
    assert.equal(result.txBudget.syscall, 'setsockopt(XDP_MAX_TX_SKB_BUDGET)');
  });

  it('names the missing privilege: capabilities, then locked memory', () => {
    const unprivileged = runScript(`out({ error: errorOf(() => open({})) });`,
      // Root's uid without a single capability: the checkout may not be readable by another user.
      { wrapper: ['setpriv', '--bounding-set=-all', '--inh-caps=-all'] });
    assert.equal(unprivileged.error.code, 'EPERM');
    assert.equal(unprivileged.error.syscall, 'bpf(BPF_MAP_CREATE)');
    assert.match(unprivileged.error.message, /CAP_NET_ADMIN and CAP_BPF/);
    const noRawSockets = runScript(`out({ error: errorOf(() => open({})) });`, { wrapper: ['setpriv', '--bounding-set=-net_raw'] });
    assert.equal(noRawSockets.error.code, 'EPERM');
    assert.equal(noRawSockets.error.syscall, 'socket');
    assert.match(noRawSockets.error.message, /CAP_NET_RAW/);
    const lowMemlock = runScript(`out({ error: errorOf(() => open({})) });`,
      { wrapper: ['prlimit', '--memlock=65536:65536', 'setpriv', '--bounding-set=-ipc_lock'] });
    assert.equal(lowMemlock.error.code, 'ENOBUFS');
    assert.equal(lowMemlock.error.syscall, 'setsockopt(XDP_UMEM_REG)');
    assert.match(lowMemlock.error.message, /CAP_IPC_LOCK, raise the memlock limit/);
  });

  it('close() detaches every ArrayBuffer and frees the queue; it is idempotent and later calls throw EBADF', () => {
    const result = runScript(`
      const port = open({ queue: 0, txBudget: 32 });
      const umem = new DataView(port.umem);
      umem.setUint32(0, 0xa5a5a5a5);
      port.close();
      port.close();
      const reopened = open({ queue: 0 });
      out({
        txBudget: port.txBudget,
        byteLengths: [port.umem, port.rx.buffer, port.tx.buffer, port.fill.buffer, port.completion.buffer].map((b) => b.byteLength),
        fd: port.fd,
        viewAfterClose: errorOf(() => umem.getUint32(0)),
        kick: errorOf(() => port.kick()),
        wakeup: errorOf(() => port.wakeup()),
        statistics: errorOf(() => port.statistics()),
        watch: errorOf(() => port.watch(() => {})),
        unwatch: errorOf(() => port.unwatch()),
        reopenedQueue: reopened.queue,
      });
    `);
    assert.ok(result.txBudget === 32 || result.txBudget === 0, 'XDP_MAX_TX_SKB_BUDGET is in force, or the kernel lacks it');
    assert.deepEqual(result.byteLengths, [0, 0, 0, 0, 0]);
    assert.equal(result.fd, -1);
    assert.equal(result.viewAfterClose.name, 'TypeError');
    for (const [call, syscall] of [['kick', 'sendto'], ['wakeup', 'recvfrom'], ['statistics', 'getsockopt(XDP_STATISTICS)'], ['watch', 'uv_poll_start']]) {
      assert.equal(result[call].code, 'EBADF', call);
      assert.equal(result[call].syscall, syscall, call);
      assert.match(result[call].message, /The port is closed/, call);
    }
    assert.equal(result.unwatch, null);
    assert.equal(result.reopenedQueue, 0);
  });

  it('keeps the XDP program while any port is open and detaches it with the last one', () => {
    const result = runScript(`
      const first = open({ queue: 0 }), second = open({ queue: 1 });
      first.close();
      const afterFirst = attached();
      second.close();
      out({ afterFirst, afterSecond: attached() });
    `);
    assert.deepEqual(result, { afterFirst: true, afterSecond: false });
  });

  it('leaves no XDP program behind when the process is killed with SIGKILL', async () => {
    const child = spawn('ip', ['netns', 'exec', NICRING_NETNS, process.execPath, '-e',
      `${PRELUDE} open({ queue: 0 }); open({ queue: 1 }); out({ ready: true }); setTimeout(() => {}, 20000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) resolve(); });
      child.on('exit', () => reject(new Error('the port process exited early')));
    });
    assert.equal(xdpAttached(), true);
    child.kill('SIGKILL');
    await exited;
    assert.equal(xdpAttached(), false);
  });

  it('closes the ports of a worker when it exits, and the ports of collected port objects', () => {
    const result = runScript(`
      const { Worker } = require('node:worker_threads');
      // The worker exits with its port open and watched.
      const worker = new Worker(PRELUDE_SOURCE + "const p = open({ queue: 0 }); p.watch(() => {});" +
        "require('node:worker_threads').parentPort.postMessage(attached()); setTimeout(() => process.exit(0), 50);", { eval: true });
      let workerSaw = null;
      worker.on('message', (value) => { workerSaw = value; });
      worker.on('exit', () => {
        const afterWorker = attached();
        let ports = [open({ queue: 0 }), open({ queue: 1 })];
        const whileReferenced = attached();
        ports = null;
        const collect = (rounds) => {
          global.gc();
          if (attached() && rounds > 0) return setTimeout(() => collect(rounds - 1), 20);
          out({ workerSaw, afterWorker, whileReferenced, afterCollection: attached(), reopened: open({ queue: 1 }).queue });
        };
        setTimeout(() => collect(50), 0);
      });
    `.replace('PRELUDE_SOURCE', () => JSON.stringify(PRELUDE)), { nodeFlags: ['--expose-gc'] });
    assert.deepEqual(result, { workerSaw: true, afterWorker: false, whileReferenced: true, afterCollection: false, reopened: 1 });
  });

  it('sends copies of one frame out of the interface with xdpTestRunLive (to a receiver with GRO on, as it needs)', () => {
    const peerMac = (JSON.parse(run(['ip', '-n', PEER_NETNS, '-j', 'link', 'show', PEER_IFNAME])) as { address: string }[])[0].address;
    // The live frames are XDP_TX'd into the veth: its receiving end needs a NAPI, which GRO gives it.
    run(['ip', 'netns', 'exec', PEER_NETNS, 'ethtool', '-K', PEER_IFNAME, 'gro', 'on']);
    const before = peerReceivedPackets();
    const result = runScript(`
      const frame = new Uint8Array(60);
      frame.set(${JSON.stringify(peerMac)}.split(':').map((byte) => parseInt(byte, 16)), 0);
      frame.set([0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5], 6); // local MAC, local experimental EtherType
      const run = addon.xdpTestRunLive({ ifname: IFNAME, frame, count: 1000, batchSize: 64 });
      out({ run, tooMany: errorOf(() => addon.xdpTestRunLive({ ifname: IFNAME, frame, count: 100000001 })) });
    `);
    assert.equal(result.run.count, 1000);
    assert.ok(result.run.durationNs > 0);
    assert.ok(peerReceivedPackets() - before >= 1000);
    assert.equal(result.tooMany.name, 'RangeError');
  });
});
