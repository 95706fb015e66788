// nicring against the real netmap module: its emulated adapter on veth pairs,
// a peer kernel with its default settings on the other end. Runs inside the
// netmap VM (test/netmap-vm/run.sh boots it; `npm run test:netmap`).

import { strict as assert } from 'node:assert';
import { Interface } from '../../src/iface/interface';
import { OpenError, open } from '../../src/index';
import type { Device } from '../../src/phy/device';
import { NS_BUF_CHANGED, NetmapDevice, openNetmapDevice } from '../../src/phy/netmap';
import {
  addLink, bufferIndexAt, captureAtPeer, inPeer, makePeerNamespace, peerNeighbor, pingFromPeer, pingFromPeerAsync, pinNeighbor,
  removeLink, removePeerNamespace, ringHeader, ringSlot, run, sleep, startResponder, tryInPeer, tryRun, udpFromPeer, unpinNeighbor,
  type RunningResponder, type VethLink,
} from './vm-lab';

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
/** An ethertype for frames the tests make up (IEEE local experimental). */
const ETHERTYPE_TEST = 0x88b5;
const ECHO_PORT = 9000;

/** A frame a device lent, copied out of its buffer. */
interface Lent {
  bytes: Uint8Array;
  ringOffset: number;
  slot: number;
  bufIdx: number;
}

/**
 * Receive from `device` until `count` frames that `wanted` accepts have come (others are dropped), or give up
 * after `boundMs` (a failure bound: the frames are sent before this is called, or alongside).
 */
async function receiveFrames(device: NetmapDevice, wanted: (bytes: Uint8Array) => boolean, count: number, boundMs = 20_000): Promise<Lent[]> {
  const got: Lent[] = [];
  const rxRings = device.ringOffsets().rx;
  const giveUpAt = Date.now() + boundMs;
  while (got.length < count && Date.now() < giveUpAt) {
    const taken = device.receive(64, (offset, length, token) => {
      const bytes = device.bytes.slice(offset, offset + length);
      if (got.length >= count || !wanted(bytes)) return;
      const bufIdx = bufferIndexAt(device, offset);
      const ringOffset = rxRings.find((ring) => ringSlot(device, ring, token).bufIdx === bufIdx) ?? -1;
      got.push({ bytes, ringOffset, slot: token, bufIdx });
    });
    if (taken === 0) await sleep(20);
  }
  return got;
}

const etherType = (bytes: Uint8Array): number => (bytes[12] << 8) | bytes[13];
const isIpv4Udp = (bytes: Uint8Array): boolean => etherType(bytes) === ETHERTYPE_IPV4 && bytes[23] === 17;
const isTestFrame = (bytes: Uint8Array): boolean => etherType(bytes) === ETHERTYPE_TEST;

/** Put a made-up broadcast frame carrying `tag` in a TX buffer and send it. */
function sendTestFrame(device: NetmapDevice, tag: number): void {
  const offset = device.allocTx();
  assert.notEqual(offset, -1, 'a free TX slot');
  const bytes = device.bytes;
  bytes.fill(0xff, offset, offset + 6);
  bytes.fill(0x02, offset + 6, offset + 12);
  bytes[offset + 12] = ETHERTYPE_TEST >> 8;
  bytes[offset + 13] = ETHERTYPE_TEST & 0xff;
  bytes.fill(tag, offset + 14, offset + 60);
  assert.equal(device.transmit(offset, 60), true);
  device.flush();
}

/** The ones' complement sum of the IPv4 pseudo-header of a UDP datagram, folded to 16 bits (what a partial checksum holds). */
function pseudoHeaderSum(frame: Uint8Array): number {
  const view = new DataView(frame.buffer, frame.byteOffset);
  let sum = 0;
  for (let at = 26; at < 34; at += 2) sum += view.getUint16(at);
  sum += 17 + view.getUint16(14 + (frame[14] & 0x0f) * 4 + 4);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Proxies `device`, recording for every reply in place which buffers the RX and TX slots held. */
function watchReplies(device: NetmapDevice): { device: Device; replies: { rxSlot: number; rxBuffer: number; rxSlotAfter: number; txSlot: number }[] } {
  const replies: { rxSlot: number; rxBuffer: number; rxSlotAfter: number; txSlot: number }[] = [];
  const [rxRing] = device.ringOffsets().rx;
  const [txRing] = device.ringOffsets().tx;
  const slots = ringHeader(device, txRing).numSlots;
  let lentOffset = -1;
  const proxy = new Proxy(device, {
    get(target, key) {
      if (key === 'receive') {
        return (budget: number, onFrame: (offset: number, length: number, token: number) => void) =>
          target.receive(budget, (offset, length, token) => {
            lentOffset = offset;
            onFrame(offset, length, token);
          });
      }
      if (key === 'replyInPlace') {
        return (token: number, length: number): boolean => {
          const rxBuffer = bufferIndexAt(target, lentOffset);
          if (!target.replyInPlace(token, length)) return false;
          let txSlot = -1;
          for (let i = 0; i < slots && txSlot < 0; i++) if (ringSlot(target, txRing, i).bufIdx === rxBuffer) txSlot = i;
          replies.push({ rxSlot: token, rxBuffer, rxSlotAfter: ringSlot(target, rxRing, token).bufIdx, txSlot });
          return true;
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { device: proxy as Device, replies };
}

describe(`nicring on the real netmap module (kernel ${process.env.NETMAP_KERNEL ?? '?'}, netmap ${process.env.NETMAP_COMMIT ?? '?'}, emulated adapter)`, function () {
  let link: VethLink | undefined;

  before(function () {
    if (process.env.NMVM !== '1' && process.env.NETMAP_COMMIT === undefined) {
      console.log('    (these tests run inside the netmap VM: npm run test:netmap)');
      this.skip();
    }
    makePeerNamespace();
    link = addLink('nmv0', 10);
  });

  after(() => {
    removeLink(link);
    removePeerNamespace();
  });

  const nm0 = (): VethLink => link as VethLink;

  describe('the region the module maps', () => {
    it('binds one ring pair on a 1-queue veth: dir 1 on the TX ring and 0 on the RX ring, 1024 slots of 2048 bytes, TX free but for one slot', () => {
      const device = openNetmapDevice(nm0().ifname);
      try {
        const { rx, tx } = device.ringOffsets();
        assert.equal(rx.length, 1);
        assert.equal(tx.length, 1);
        assert.deepEqual(ringHeader(device, tx[0]), { numSlots: 1024, bufSize: 2048, ringid: 0, dir: 1, head: 0, cur: 0, tail: 1023 });
        assert.deepEqual(ringHeader(device, rx[0]), { numSlots: 1024, bufSize: 2048, ringid: 0, dir: 0, head: 0, cur: 0, tail: 0 });
        const first = ringSlot(device, rx[0], 0);
        assert.ok(first.bufIdx >= 2, 'buffers 0 and 1 are netmap\'s own');
        assert.deepEqual({ len: first.len, flags: first.flags }, { len: 2048, flags: 0 });
        assert.equal(device.frameCapacity, 2048);
        assert.equal(device.mode, 'all-nic');
      } finally {
        device.close();
      }
    });

    it("lends a peer's frames and sends frames that reach the peer; the kernel completes them within the sync", async () => {
      const device = openNetmapDevice(nm0().ifname);
      try {
        const capture = captureAtPeer(nm0(), ETHERTYPE_TEST, 3);
        await capture.listening;
        for (const tag of [1, 2, 3]) sendTestFrame(device, tag);
        const frames = await capture.frames;
        assert.deepEqual(frames.map((hex) => hex.slice(28, 30)), ['01', '02', '03']);
        const [tx] = device.ringOffsets().tx;
        assert.deepEqual([ringHeader(device, tx).head, ringHeader(device, tx).tail], [3, 2]);
        assert.equal(device.txPending(), false);

        pinNeighbor(nm0());
        inPeer(['python3', '-c', `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x' * 20, ('${nm0().ip}', ${ECHO_PORT}))`]);
        const [datagram] = await receiveFrames(device, isIpv4Udp, 1);
        assert.ok(datagram !== undefined, 'the datagram arrived');
        assert.equal(datagram.bytes.length, 62);
        assert.equal(datagram.ringOffset, device.ringOffsets().rx[0]);
      } finally {
        unpinNeighbor(nm0());
        device.close();
      }
    });

    it('after close the memory is detached, and the same port opens again, exclusively too', () => {
      const first = openNetmapDevice(nm0().ifname);
      first.close();
      assert.throws(() => first.memory.getUint8(0), TypeError);
      const again = openNetmapDevice(`netmap:${nm0().ifname}/x`);
      assert.deepEqual(ringHeader(again, again.ringOffsets().tx[0]).tail, 1023);
      again.close();
    });

    it("open() with backend 'auto' chooses netmap when /dev/netmap is there, with no fallback", () => {
      const device = open(nm0().ifname);
      try {
        assert.equal(device.backend, 'netmap');
        assert.equal(device.fallback, undefined);
      } finally {
        device.close();
      }
    });
  });

  describe('reply in place', () => {
    it("answers the peer kernel's ARP and ping from the request's own buffer: it moves to the TX ring, the RX slot takes a free one", async () => {
      const device = openNetmapDevice(nm0().ifname);
      const watched = watchReplies(device);
      const iface = new Interface(watched.device, { address: nm0().address, arp: { gratuitous: false } });
      iface.start();
      try {
        // The stack's loop runs on this process's event loop: ping from a child without blocking it.
        assert.equal(await pingFromPeerAsync(nm0(), 56, 2), 2, 'both echo requests answered');
        iface.flush();
        const [txRing] = device.ringOffsets().tx;
        const replies = watched.replies;
        assert.ok(replies.length >= 3, `an ARP reply and two echo replies (${replies.length})`);
        for (const reply of replies) {
          assert.notEqual(reply.txSlot, -1, `buffer ${reply.rxBuffer} sits in a TX slot: the reply was not copied`);
          assert.notEqual(reply.rxSlotAfter, reply.rxBuffer, 'the RX slot holds another buffer now');
          assert.equal(ringSlot(device, txRing, reply.txSlot).flags & NS_BUF_CHANGED, 0, 'the kernel sent the slot and cleared NS_BUF_CHANGED');
          assert.equal(ringSlot(device, device.ringOffsets().rx[0], reply.rxSlot).flags & NS_BUF_CHANGED, 0, 'the kernel took the RX slot back and cleared NS_BUF_CHANGED');
        }
        assert.equal(peerNeighbor(nm0())?.mac, device.macAddress);
        const counters = iface.counters();
        console.log(`      replies in place: ${replies.length} (ARP ${counters.arpRepliesSent}, echo ${counters.icmpEchoRepliesSent})`);
      } finally {
        iface.close();
      }
    });
  });

  describe('port names', () => {
    it('IF and netmap:IF bind the NIC ring pair, netmap:IF-0 the same pair, netmap:IF-1 is a ring the veth lacks', () => {
      for (const name of [nm0().ifname, `netmap:${nm0().ifname}`, `netmap:${nm0().ifname}-0`]) {
        const device = openNetmapDevice(name);
        const { rx, tx } = device.ringOffsets();
        assert.deepEqual([rx.length, tx.length, ringHeader(device, rx[0]).ringid, ringHeader(device, tx[0]).ringid], [1, 1, 0, 0], name);
        device.close();
      }
      assert.throws(() => openNetmapDevice(`netmap:${nm0().ifname}-1`),
        (error: Error & { code?: string }) => error.code === 'EINVAL' && /nmv0 has 1 ring pair \(netmap:nmv0-0\): there is no ring 1/.test(error.message));
    });

    it('/R binds the RX rings only, /T the TX rings only; netmap:IF^0 is the host ring pair, ^1 one the veth lacks', () => {
      const bound = (name: string): number[][] => {
        const device = openNetmapDevice(name);
        const { rx, tx } = device.ringOffsets();
        const ids = [rx.map((ring) => ringHeader(device, ring).ringid), tx.map((ring) => ringHeader(device, ring).ringid)];
        device.close();
        return ids;
      };
      assert.deepEqual(bound(`netmap:${nm0().ifname}/R`), [[0], []]);
      assert.deepEqual(bound(`netmap:${nm0().ifname}/T`), [[], [0]]);
      assert.deepEqual(bound(`netmap:${nm0().ifname}^0`), [[1], [1]]);
      assert.throws(() => openNetmapDevice(`netmap:${nm0().ifname}^1`),
        (error: Error & { code?: string }) => error.code === 'EINVAL' && /one host ring pair .*there is no host ring 1/.test(error.message));
    });

    it("IF* binds the NIC and host ring pairs: the host stack's ARP request arrives on the host RX ring, the peer's ping on the NIC RX ring", async () => {
      const hostIp = '198.18.10.3';
      const device = openNetmapDevice(`netmap:${nm0().ifname}*`);
      // The host stack needs an address of its own to speak: for this test only.
      run(['ip', 'addr', 'add', `${hostIp}/24`, 'dev', nm0().ifname]);
      pinNeighbor(nm0(), hostIp);
      try {
        const { rx, tx } = device.ringOffsets();
        assert.deepEqual(rx.map((ring) => ringHeader(device, ring).ringid), [0, 1]);
        assert.deepEqual(tx.map((ring) => ringHeader(device, ring).ringid), [0, 1]);
        // The kernel's ping goes nowhere: its ARP request goes to the host RX ring.
        assert.notEqual(tryRun(['ping', '-n', '-q', '-c', '1', '-W', '1', nm0().peerIp]).status, 0);
        tryInPeer(['ping', '-n', '-q', '-c', '1', '-W', '1', hostIp]);
        const fromHost = (bytes: Uint8Array): boolean => etherType(bytes) === ETHERTYPE_ARP && bytes.slice(28, 32).join('.') === hostIp;
        const fromPeer = (bytes: Uint8Array): boolean => etherType(bytes) === ETHERTYPE_IPV4 && bytes[23] === 1;
        const frames = await receiveFrames(device, (bytes) => fromHost(bytes) || fromPeer(bytes), 2);
        const [nicRx, hostRx] = rx;
        assert.deepEqual(frames.map((frame) => [fromHost(frame.bytes) ? 'host ARP' : 'peer ICMP', frame.ringOffset === hostRx ? 'host ring' : frame.ringOffset === nicRx ? 'NIC ring' : '?']).sort(),
          [['host ARP', 'host ring'], ['peer ICMP', 'NIC ring']]);

        // The host stack's UDP leaves its checksum to the device (tx checksum offload, on by default):
        // netmap drops such frames on their way to the host ring, unless the offload is off on this interface.
        run(['ip', 'neigh', 'replace', nm0().peerIp, 'lladdr', nm0().peerMac, 'dev', nm0().ifname, 'nud', 'permanent']);
        tryRun(['ping', '-n', '-q', '-c', '1', '-W', '1', nm0().peerIp]);
        const hostPing = await receiveFrames(device, (bytes) => etherType(bytes) === ETHERTYPE_IPV4 && bytes[23] === 1 && bytes.slice(26, 30).join('.') === hostIp, 1);
        assert.equal(hostPing[0]?.ringOffset, hostRx, "the host stack's echo request, on the host ring");
        const hostUdp = (): void => { run(['python3', '-c', `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'host', ('${nm0().peerIp}', 9))`]); };
        const isHostUdp = (bytes: Uint8Array): boolean => isIpv4Udp(bytes) && bytes.slice(26, 30).join('.') === hostIp;
        hostUdp();
        // A frame the host stack sends after it, through a packet socket, does reach the host ring: the datagram would be ahead of it.
        run(['python3', '-c', `import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('${nm0().ifname}', 0)); s.send(b'\\xff' * 6 + b'\\x02' * 6 + b'\\x88\\xb5' + bytes(46))`]);
        const withOffload = await receiveFrames(device, (bytes) => isHostUdp(bytes) || isTestFrame(bytes), 1);
        assert.deepEqual(withOffload.map((frame) => (isHostUdp(frame.bytes) ? 'UDP' : 'marker')), ['marker'], 'tx checksum offload on: the datagram never reaches the host ring');
        assert.equal(withOffload[0].ringOffset, hostRx);
        run(['ethtool', '-K', nm0().ifname, 'tx', 'off']);
        hostUdp();
        const withoutOffload = await receiveFrames(device, isHostUdp, 1);
        assert.equal(withoutOffload[0]?.ringOffset, hostRx, 'tx checksum offload off: the datagram arrives on the host ring');
      } finally {
        run(['ethtool', '-K', nm0().ifname, 'tx', 'on']);
        unpinNeighbor(nm0(), hostIp);
        run(['ip', 'neigh', 'flush', 'dev', nm0().ifname]);
        run(['ip', 'addr', 'flush', 'dev', nm0().ifname]);
        device.close();
      }
    });

    it("IF^ alone leaves the host stack's traffic on the wire; beside a port on the NIC rings it takes it", async () => {
      const hostIp = '198.18.10.3';
      run(['ip', 'addr', 'add', `${hostIp}/24`, 'dev', nm0().ifname]);
      const host = openNetmapDevice(`netmap:${nm0().ifname}^`);
      let nic: NetmapDevice | null = null;
      try {
        assert.deepEqual(host.ringOffsets().rx.map((ring) => ringHeader(host, ring).ringid), [1]);
        assert.equal(tryInPeer(['ping', '-n', '-q', '-c', '1', '-W', '5', hostIp]).status, 0, 'the two kernels still reach each other');
        run(['ip', 'neigh', 'flush', 'dev', nm0().ifname]);
        nic = openNetmapDevice(nm0().ifname);
        assert.notEqual(tryRun(['ping', '-n', '-q', '-c', '1', '-W', '1', nm0().peerIp]).status, 0, "the host stack's frames no longer reach the peer");
        const arp = await receiveFrames(host, (bytes) => etherType(bytes) === ETHERTYPE_ARP && bytes.slice(28, 32).join('.') === hostIp, 1);
        assert.equal(arp.length, 1, "the host stack's ARP request, on the host port");
      } finally {
        nic?.close();
        host.close();
        run(['ip', 'addr', 'flush', 'dev', nm0().ifname]);
        run(['ip', 'neigh', 'flush', 'dev', nm0().ifname]);
      }
    });

    it('/x: rings held with /x are EBUSY to another port, explained as netmap\'s; the host rings stay free; closing frees them', () => {
      const exclusive = openNetmapDevice(`netmap:${nm0().ifname}/x`);
      try {
        for (const name of [nm0().ifname, `netmap:${nm0().ifname}-0`]) {
          assert.throws(() => openNetmapDevice(name), (error: Error & { code?: string }) => {
            assert.equal(error.code, 'EBUSY', name);
            assert.match(error.message, /another port holds them exclusively \(a name ending in \/x\)/);
            assert.doesNotMatch(error.message, /XDP/);
            return true;
          });
        }
        openNetmapDevice(`netmap:${nm0().ifname}^`).close();
      } finally {
        exclusive.close();
      }
      const shared = openNetmapDevice(nm0().ifname);
      assert.throws(() => openNetmapDevice(`netmap:${nm0().ifname}/x`), (error: Error & { code?: string }) => error.code === 'EBUSY');
      shared.close();
    });
  });

  describe('a 2-queue veth', () => {
    let pair: VethLink | undefined;
    before(() => {
      // The peer has a third TX queue: veth hands its TX queue q to nicring's side as RX queue q - 1 (0 for q = 0).
      pair = addLink('nmv1', 11, { queues: 2, peerQueues: 3 });
      inPeer(['ip', 'neigh', 'replace', pair.ip, 'lladdr', pair.mac, 'dev', pair.peerIfname, 'nud', 'permanent']);
    });
    after(() => removeLink(pair));

    it('netmap:IF-0 and netmap:IF-1 bind one ring pair each, side by side; each sends to the peer and receives its own queue', async () => {
      const p = pair as VethLink;
      const ring0 = openNetmapDevice(`netmap:${p.ifname}-0`);
      const ring1 = openNetmapDevice(`netmap:${p.ifname}-1`);
      try {
        for (const [device, id] of [[ring0, 0], [ring1, 1]] as const) {
          const { rx, tx } = device.ringOffsets();
          assert.deepEqual([rx.length, tx.length, ringHeader(device, rx[0]).ringid, ringHeader(device, tx[0]).ringid], [1, 1, id, id]);
        }
        const capture = captureAtPeer(p, ETHERTYPE_TEST, 2);
        await capture.listening;
        sendTestFrame(ring0, 0xa0);
        sendTestFrame(ring1, 0xa1);
        assert.deepEqual((await capture.frames).map((hex) => hex.slice(28, 30)).sort(), ['a0', 'a1']);

        // The peer's datagrams, steered to one TX queue at a time (XPS on the CPU the sender runs on), each carrying its queue's number.
        inPeer(['taskset', '-c', '0', 'python3', '-c', [
          'import socket',
          'for q in (0, 1, 2):',
          `    for k in (0, 1, 2): open('/sys/class/net/${p.peerIfname}/queues/tx-%d/xps_cpus' % k, 'w').write('1' if k == q else '0')`,
          `    for port in range(9000, 9004): socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'q%d' % q, ('${p.ip}', port))`,
        ].join('\n')]);
        const seen: Record<string, number[]> = { 'peer TX queue 0': [0, 0], 'peer TX queue 1': [0, 0], 'peer TX queue 2': [0, 0] };
        let total = 0;
        const giveUpAt = Date.now() + 20_000;
        while (total < 12 && Date.now() < giveUpAt) {
          [ring0, ring1].forEach((device, ring) => {
            device.receive(64, (offset, length) => {
              if (!isIpv4Udp(device.bytes.subarray(offset, offset + length))) return;
              seen[`peer TX queue ${String.fromCharCode(device.bytes[offset + length - 1])}`][ring]++;
              total++;
            });
          });
          await sleep(20);
        }
        assert.deepEqual(seen, { 'peer TX queue 0': [4, 0], 'peer TX queue 1': [4, 0], 'peer TX queue 2': [0, 4] });
        console.log(`      datagrams on RX rings 0 and 1: ${JSON.stringify(seen)}`);
      } finally {
        ring0.close();
        ring1.close();
      }
      const all = openNetmapDevice(p.ifname);
      assert.deepEqual(all.ringOffsets().rx.map((ring) => ringHeader(all, ring).ringid), [0, 1]);
      all.close();
    });
  });

  describe("an MTU larger than netmap's buffers", () => {
    after(() => {
      run(['sh', '-c', 'echo 2048 > /sys/module/netmap/parameters/buf_size']);
      run(['ip', 'link', 'set', 'dev', nm0().ifname, 'mtu', '1500']);
      inPeer(['ip', 'link', 'set', 'dev', nm0().peerIfname, 'mtu', '1500']);
    });

    it('is refused with both sizes and both fixes; raising buf_size while no port is open lets it open', () => {
      run(['ip', 'link', 'set', 'dev', nm0().ifname, 'mtu', '4000']);
      assert.throws(() => open(nm0().ifname, { backend: 'netmap' }), (error: OpenError) => {
        assert.ok(error instanceof OpenError);
        assert.equal(error.code, 'EINVAL');
        assert.match(error.message, /nmv0's MTU \(4000\) is larger than netmap's 2048-byte buffers/);
        assert.match(error.message, /ip link set dev nmv0 mtu 1500/);
        assert.match(error.message, /echo 4096 > \/sys\/module\/netmap\/parameters\/buf_size/);
        return true;
      });
      run(['sh', '-c', 'echo 4096 > /sys/module/netmap/parameters/buf_size']);
      const device = openNetmapDevice(nm0().ifname);
      assert.equal(device.frameCapacity, 4096);
      device.close();
      run(['sh', '-c', 'echo 2048 > /sys/module/netmap/parameters/buf_size']);
      run(['ip', 'link', 'set', 'dev', nm0().ifname, 'mtu', '1500']);
      openNetmapDevice(nm0().ifname).close();
    });

    it('at an MTU equal to the buffer size it opens, and a full frame (14 bytes more) comes in two slots, which nicring drops and counts', async () => {
      run(['ip', 'link', 'set', 'dev', nm0().ifname, 'mtu', '2048']);
      inPeer(['ip', 'link', 'set', 'dev', nm0().peerIfname, 'mtu', '2048']);
      const device = openNetmapDevice(nm0().ifname);
      try {
        pinNeighbor(nm0());
        inPeer(['python3', '-c', `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(bytes(2020), ('${nm0().ip}', ${ECHO_PORT})); s.sendto(bytes(20), ('${nm0().ip}', ${ECHO_PORT}))`]);
        const [datagram] = await receiveFrames(device, isIpv4Udp, 1);
        assert.equal(datagram?.bytes.length, 62, 'the small datagram, after the big one');
        assert.equal(device.stats().rxDropped, 1, 'the 2062-byte frame, spread over two slots (NS_MOREFRAG)');
      } finally {
        unpinNeighbor(nm0());
        device.close();
        inPeer(['ip', 'link', 'set', 'dev', nm0().peerIfname, 'mtu', '1500']);
        run(['ip', 'link', 'set', 'dev', nm0().ifname, 'mtu', '1500']);
      }
    });

    it("nicring respond with backend 'auto' falls back to AF_XDP, says so in its ready event and with one warning on stderr, and answers", async () => {
      run(['ip', 'link', 'set', 'dev', nm0().ifname, 'mtu', '4000']);
      const responder = startResponder(nm0(), ['--port', '7']);
      try {
        const ready = await responder.ready;
        assert.equal(ready.backend, 'xdp');
        const fallback = ready.fallback as { backend: string; code: string; message: string };
        assert.equal(fallback.backend, 'netmap');
        assert.equal(fallback.code, 'EINVAL');
        assert.match(fallback.message, /MTU \(4000\) is larger than netmap's 2048-byte buffers/);
        assert.equal(pingFromPeer(nm0(), 56, 2), 2);
      } finally {
        responder.child.kill('SIGTERM');
        await responder.exited;
      }
      const warnings = responder.stderr().split('\n').filter((line) => line !== '');
      assert.equal(warnings.length, 1, responder.stderr());
      assert.match(warnings[0], /^nicring: warning: netmap could not open nmv0 \(EINVAL\), so this runs on xdp \([\w/]+\) instead: .*MTU \(4000\)/);
    });
  });

  describe('what the emulated adapter hands over from a same-host peer', () => {
    it('a datagram that fits one frame, as the peer kernel left it: only the pseudo-header sum in the checksum field', async () => {
      const device = openNetmapDevice(nm0().ifname);
      try {
        pinNeighbor(nm0());
        inPeer(['python3', '-c', `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'partial', ('${nm0().ip}', ${ECHO_PORT}))`]);
        inPeer(['python3', '-c', `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes(2000), ('${nm0().ip}', ${ECHO_PORT}))`]);
        const [small, first] = await receiveFrames(device, isIpv4Udp, 2);
        assert.ok(small !== undefined && first !== undefined);
        const field = (frame: Uint8Array): number => (frame[40] << 8) | frame[41];
        assert.equal(field(small.bytes), pseudoHeaderSum(small.bytes), 'checksum field = folded pseudo-header sum (CHECKSUM_PARTIAL)');
        assert.notEqual(field(first.bytes), pseudoHeaderSum(first.bytes), 'a datagram the kernel fragments carries its full checksum');
      } finally {
        unpinNeighbor(nm0());
        device.close();
      }
    });
  });

  describe('nicring respond on netmap', () => {
    let responder: RunningResponder | undefined;

    before(async function () {
      this.timeout(60_000);
      // The peer learns nicring's address afresh, through ARP.
      inPeer(['ip', 'neigh', 'flush', 'dev', nm0().peerIfname]);
      responder = startResponder(nm0(), ['--port', `7,${ECHO_PORT}`]);
      await responder.ready;
    });

    after(() => responder?.child.kill('SIGKILL'));

    it("chooses netmap itself: the ready event names netmap, the veth's one ring pair (one worker per pair), and no fallback; stderr stays empty", async () => {
      const ready = await (responder as RunningResponder).ready;
      assert.deepEqual([ready.backend, ready.mode, ready.queues, ready.fallback], ['netmap', 'one-nic', [0], null]);
      assert.match(String(ready.checksums), /^partial accepted \(nmv?\w* is a virtual interface\)$/);
      assert.equal((responder as RunningResponder).stderr(), '');
    });

    it('answers ping of 56, 1400 and 4000 bytes (the last in fragments both ways)', () => {
      const answered = [56, 1400, 4000].map((size) => pingFromPeer(nm0(), size));
      assert.deepEqual(answered, [3, 3, 3]);
    });

    it("answers the peer kernel's ARP: its neighbour entry holds nicring's MAC", () => {
      const mac = (JSON.parse(run(['ip', '-j', 'link', 'show', 'dev', nm0().ifname])) as { address: string }[])[0].address;
      assert.equal(peerNeighbor(nm0())?.mac, mac);
    });

    it("echoes a kernel UDP client's datagrams byte-exact when its kernel checksums them in full (datagrams it fragments)", () => {
      assert.deepEqual(udpFromPeer(nm0(), ECHO_PORT, [1473, 2000, 4000, 8000]), ['exact', 'exact', 'exact', 'exact']);
    });

    it('answers a datagram to a closed port with ICMP port unreachable, partial checksum or full: the client sees ECONNREFUSED', () => {
      assert.deepEqual(udpFromPeer(nm0(), 9999, [100, 2000]), ['refused', 'refused']);
    });

    // The emulated adapter on a veth carries partial checksums: the device says so, the stack takes them
    // and sends the replies with full ones, which the peer's kernel verifies.
    it("echoes a kernel UDP client's datagrams that fit one frame, partial checksums and all, byte-exact (1 to 1472 bytes)", () => {
      assert.deepEqual(udpFromPeer(nm0(), ECHO_PORT, [1, 18, 100, 512, 1472]), ['exact', 'exact', 'exact', 'exact', 'exact']);
    });

    it('stops on SIGTERM with final figures that add up', async () => {
      const r = responder as RunningResponder;
      r.child.kill('SIGTERM');
      const { code } = await r.exited;
      assert.equal(code, 0);
      const final = r.lines[r.lines.length - 1];
      assert.equal(final.event, 'final');
      // What the tests above sent: nine pings, nine datagrams to the echo port (five with partial checksums),
      // and one partial-checksum datagram to a closed port.
      assert.deepEqual([final.pings, final.requests, final.replies, final.requestsDropped], [9, 9, 9, 0]);
      assert.equal(final.udpChecksumPartial, 6);
      assert.equal((final.drops as Record<string, number>).udpBadChecksum, undefined);
      console.log(`      final: rx ${final.rx}, tx ${final.tx}, requests ${final.requests}, replies ${final.replies}, pings ${final.pings}, drops ${JSON.stringify(final.drops)}`);
    });
  });

  describe('signals and restarts', () => {
    it('with --busy-poll it answers ping, and stops on SIGINT and on SIGTERM', async () => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        const responder = startResponder(nm0(), ['--port', '7', '--busy-poll']);
        try {
          await responder.ready;
          assert.equal(pingFromPeer(nm0(), 56, 2), 2);
          responder.child.kill(signal);
          // A failure bound: a loop that never lets Node see the signal is still running after it.
          const stopped = await Promise.race([responder.exited.then(() => true), sleep(30_000).then(() => false)]);
          assert.equal(stopped, true, `stopped on ${signal}`);
          assert.equal((await responder.exited).code, 0);
          assert.equal(responder.lines[responder.lines.length - 1].event, 'final');
        } finally {
          responder.child.kill('SIGKILL');
        }
      }
    });

    it('after SIGKILL the port opens again at once: a new responder answers, and nothing holds the rings', async () => {
      const killed = startResponder(nm0(), ['--port', '7']);
      await killed.ready;
      killed.child.kill('SIGKILL');
      assert.equal((await killed.exited).signal, 'SIGKILL');
      const again = startResponder(nm0(), ['--port', '7']);
      try {
        const ready = await again.ready;
        assert.equal(ready.backend, 'netmap');
        assert.equal(pingFromPeer(nm0(), 56, 2), 2);
      } finally {
        again.child.kill('SIGKILL');
        await again.exited;
      }
      openNetmapDevice(`netmap:${nm0().ifname}/x`).close();
    });
  });
});
