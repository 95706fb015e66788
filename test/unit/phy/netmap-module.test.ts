// Port names, host rings, exclusive ports, ring pairs and the errors of
// registration, over the fake module: the same facts test/netmap-vm/ checks
// against the real module with its emulated adapter on a veth.

import { strict as assert } from 'node:assert';
import type { NetmapPortOptions } from '../../../src/native';
import { NetmapDevice, explainRegisterError, netmapPortOptions, type NetmapSystemView } from '../../../src/phy/netmap';
import { FakeNetmap, FakeNetmapModule, NS_BUF_CHANGED } from './fake-netmap';

const MAC = '02:00:00:00:00:01';

/** Register `name` (netmap port syntax) on `module` and wrap it as a device. */
function openPort(module: FakeNetmapModule, name: string): { port: FakeNetmap; device: NetmapDevice } {
  const request = netmapPortOptions(name);
  const port = module.register(request);
  return { port, device: new NetmapDevice(port, { name: request.name, registerMode: request.mode, macAddress: MAC }) };
}

/** What the module's interfaces and buffer size look like to explainRegisterError. */
function systemOf(module: FakeNetmapModule): NetmapSystemView {
  return {
    mtu: (ifname) => module.interfaces.get(ifname)?.mtu ?? null,
    queues: (ifname) => {
      const iface = module.interfaces.get(ifname);
      return iface === undefined ? null : { rx: iface.queues, tx: iface.queues };
    },
    bufferSize: () => module.bufferSize,
  };
}

/** The error registering `name` fails with, explained. */
function registerError(module: FakeNetmapModule, name: string): Error & { code?: string } {
  const request: NetmapPortOptions = netmapPortOptions(name);
  try {
    module.register(request);
  } catch (error) {
    return explainRegisterError(error, request, systemOf(module)) as Error & { code?: string };
  }
  throw new Error(`${name} registered`);
}

/** The first bytes of every frame the device lends now. */
function received(device: NetmapDevice): number[] {
  const firsts: number[] = [];
  while (device.receive(64, (offset) => { firsts.push(device.bytes[offset]); }) > 0);
  return firsts;
}

describe('netmap registration over a fake module', () => {
  it('a fresh port: TX rings free but for one slot, RX rings empty, every slot holding its own nr_buf_size buffer', () => {
    const module = new FakeNetmapModule();
    module.addInterface('nm0');
    const { port } = openPort(module, 'netmap:nm0*');
    assert.deepEqual(port.indices(port.tx[0]), { head: 0, cur: 0, tail: 1023 });
    assert.deepEqual(port.indices(port.rx[0]), { head: 0, cur: 0, tail: 0 });
    assert.deepEqual(port.header(port.tx[0]), { numSlots: 1024, bufSize: 2048, ringid: 0, dir: 1 });
    assert.deepEqual(port.header(port.rx[1]), { numSlots: 1024, bufSize: 2048, ringid: 1, dir: 0 }, 'the host ring follows the NIC rings');
    assert.deepEqual(port.slot(port.rx[0], 0), { bufIdx: 2, len: 2048, flags: 0 });
    assert.deepEqual(port.bufferCensus(), port.expectedCensus());
  });

  it('IF and netmap:IF bind every NIC ring pair, netmap:IF-0 one, IF* adds the host ring pair, IF^ binds only that', () => {
    const module = new FakeNetmapModule();
    module.addInterface('nm1', { queues: 2 });
    const ringIds = (name: string): { rx: number[]; tx: number[] } => {
      const { port, device } = openPort(module, name);
      const offsets = device.ringOffsets();
      const ids = {
        rx: offsets.rx.map((offset) => port.header(port.rx.find((r) => r.offset === offset)!).ringid),
        tx: offsets.tx.map((offset) => port.header(port.tx.find((r) => r.offset === offset)!).ringid),
      };
      device.close();
      return ids;
    };
    assert.deepEqual(ringIds('nm1'), { rx: [0, 1], tx: [0, 1] });
    assert.deepEqual(ringIds('netmap:nm1'), { rx: [0, 1], tx: [0, 1] });
    assert.deepEqual(ringIds('netmap:nm1-0'), { rx: [0], tx: [0] });
    assert.deepEqual(ringIds('netmap:nm1-1'), { rx: [1], tx: [1] });
    assert.deepEqual(ringIds('netmap:nm1*'), { rx: [0, 1, 2], tx: [0, 1, 2] });
    assert.deepEqual(ringIds('netmap:nm1^'), { rx: [2], tx: [2] });
  });

  it("IF* lends the host stack's frames from its host RX ring and the peer's from its NIC RX ring", () => {
    const module = new FakeNetmapModule();
    const nm0 = module.addInterface('nm0');
    const { port, device } = openPort(module, 'netmap:nm0*');
    nm0.peerSend(Uint8Array.of(0xa1, 1, 2, 3));
    nm0.hostSend(Uint8Array.of(0xb1, 1, 2, 3));
    nm0.hostSend(Uint8Array.of(0xb2, 1, 2, 3), { partialChecksum: true });
    assert.deepEqual(received(device).sort(), [0xa1, 0xb1]);
    assert.equal(nm0.hostDropped, 1, 'a host frame that leaves its checksum to the device is dropped');
    assert.deepEqual(nm0.wire, [], "the host stack's frames no longer reach the wire");
    assert.equal(port.ifOffset, 0);
  });

  it("IF^ alone sees none of the host stack's frames, which leave on the wire; beside a port on the NIC rings it lends them", () => {
    const module = new FakeNetmapModule();
    const nm0 = module.addInterface('nm0');
    const host = openPort(module, 'netmap:nm0^');
    nm0.hostSend(Uint8Array.of(0xb1));
    assert.deepEqual(received(host.device), []);
    assert.equal(nm0.wire.length, 1);
    const nic = openPort(module, 'nm0');
    nm0.hostSend(Uint8Array.of(0xb2));
    nm0.peerSend(Uint8Array.of(0xa1));
    assert.deepEqual(received(host.device), [0xb2]);
    assert.deepEqual(received(nic.device), [0xa1]);
    // What the host port sends goes up the host stack.
    host.device.transmit(host.device.allocTx(), 60);
    host.device.flush();
    assert.equal(nm0.hostStack.length, 1);
  });

  it('/x: rings another port holds are EBUSY to it, rings held with /x are EBUSY to any port, until that port closes', () => {
    const module = new FakeNetmapModule();
    module.addInterface('nm0');
    const first = openPort(module, 'nm0');
    assert.equal(registerError(module, 'netmap:nm0/x').code, 'EBUSY');
    first.device.close();
    const exclusive = openPort(module, 'netmap:nm0/x');
    assert.equal(registerError(module, 'nm0').code, 'EBUSY');
    assert.equal(registerError(module, 'netmap:nm0-0').code, 'EBUSY');
    const host = openPort(module, 'netmap:nm0^');
    host.device.close();
    exclusive.device.close();
    openPort(module, 'nm0').device.close();
  });

  it('a ring the interface does not have is EINVAL, explained with the ring pairs it has', () => {
    const module = new FakeNetmapModule();
    module.addInterface('nm0');
    module.addInterface('nm1', { queues: 2 });
    const one = registerError(module, 'netmap:nm0-1');
    assert.equal(one.code, 'EINVAL');
    assert.match(one.message, /nm0 has 1 ring pair \(netmap:nm0-0\): there is no ring 1/);
    assert.match(registerError(module, 'netmap:nm1-2').message, /nm1 has 2 ring pairs \(netmap:nm1-0 to -1\): there is no ring 2/);
    assert.match(registerError(module, 'netmap:nm0^1').message, /one host ring pair .*there is no host ring 1/);
  });

  it("an MTU larger than netmap's buffers is EINVAL, explained with both sizes and both fixes, each of which then opens", () => {
    const module = new FakeNetmapModule();
    const nm0 = module.addInterface('nm0', { mtu: 4000 });
    const error = registerError(module, 'nm0');
    assert.equal(error.code, 'EINVAL');
    assert.equal(error.message, "ioctl(NIOCCTRL) nm0: Invalid argument (EINVAL). nm0's MTU (4000) is larger than netmap's 2048-byte buffers, "
      + 'and netmap refuses an interface whose frames would not fit one. Lower the MTU to 2034 or less (ip link set dev nm0 mtu 1500), '
      + "or raise netmap's buffer size while no netmap port is open (echo 4096 > /sys/module/netmap/parameters/buf_size, "
      + 'or load netmap with buf_size=4096).');
    // A TX-only port is not checked.
    openPort(module, 'netmap:nm0/T').device.close();
    module.bufferSize = 4096;
    const raised = openPort(module, 'nm0');
    assert.equal(raised.device.frameCapacity, 4096);
    raised.device.close();
    module.bufferSize = 2048;
    nm0.mtu = 1500;
    openPort(module, 'nm0').device.close();
  });

  it("leaves other errors as they are", () => {
    const module = new FakeNetmapModule();
    const error = registerError(module, 'nosuch0');
    assert.equal(error.code, 'ENXIO');
    assert.equal(error.message, 'ioctl(NIOCCTRL) nosuch0: No such device or address (ENXIO)');
  });

  it("a 2-queue veth: one port per ring pair; the peer's TX queue q lands on RX ring q - 1, so a 2-queue peer reaches ring 0 only", () => {
    const module = new FakeNetmapModule();
    const nm1 = module.addInterface('nm1', { queues: 2 });
    const ring0 = openPort(module, 'netmap:nm1-0');
    const ring1 = openPort(module, 'netmap:nm1-1');
    for (const txQueue of [0, 1, 2, 3]) nm1.peerSend(Uint8Array.of(0x10 + txQueue), txQueue);
    assert.deepEqual(received(ring0.device), [0x10, 0x11, 0x13]);
    assert.deepEqual(received(ring1.device), [0x12]);
    for (const { device } of [ring0, ring1]) {
      device.transmit(device.allocTx(), 60);
      device.flush();
    }
    assert.equal(nm1.wire.length, 2);
    assert.deepEqual([ring0.port.sent[0].ring, ring1.port.sent[0].ring], [0, 1]);
  });

  it('the kernel clears NS_BUF_CHANGED on a TX slot when it sends it and on an RX slot when it takes it back', () => {
    const module = new FakeNetmapModule();
    const nm0 = module.addInterface('nm0');
    const { port, device } = openPort(module, 'nm0');
    nm0.peerSend(Uint8Array.of(1, 2, 3));
    const rxBuffer = (() => { port.rxSync(); return port.slot(port.rx[0], 0).bufIdx; })();
    const txBuffer = port.slot(port.tx[0], 0).bufIdx;
    device.receive(1, (_offset, length, token) => { device.replyInPlace(token, length); });
    assert.deepEqual(port.slot(port.tx[0], 0), { bufIdx: rxBuffer, len: 3, flags: NS_BUF_CHANGED });
    assert.deepEqual(port.slot(port.rx[0], 0).bufIdx, txBuffer);
    device.flush();
    assert.equal(port.slot(port.tx[0], 0).flags, 0);
    assert.equal(port.slot(port.rx[0], 0).flags, NS_BUF_CHANGED);
    device.receive(1, () => undefined);
    assert.equal(port.slot(port.rx[0], 0).flags, 0);
    assert.deepEqual(nm0.wire.map((frame) => Array.from(frame)), [[1, 2, 3]]);
  });
});
