import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { captureDevice } from '../../../src/phy/capture';
import { detectChecksumCapabilities } from '../../../src/phy/checksum-capabilities';
import { createPair } from '../../../src/phy/pair';

describe('phy/checksum-capabilities', () => {
  let net: string;
  beforeEach(() => { net = fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-sysfs-')); });
  afterEach(() => fs.rmSync(net, { recursive: true, force: true }));

  /** A /sys/class/net entry: virtual (no device), or a device bound to `driver`. */
  function addInterface(name: string, driver?: string | null): void {
    fs.mkdirSync(path.join(net, name));
    if (driver === undefined) return;
    const device = path.join(net, `${name}-pci`);
    fs.mkdirSync(device);
    fs.symlinkSync(device, path.join(net, name, 'device'));
    if (driver !== null) fs.symlinkSync(path.join(net, 'drivers', driver), path.join(device, 'driver'));
  }

  it('says a virtual interface (no device behind it: veth, tap, macvlan) may carry partial checksums', () => {
    addInterface('veth0');
    const capabilities = detectChecksumCapabilities('veth0', { sysfsNet: net });
    assert.equal(capabilities.rx, 'partial');
    assert.equal(capabilities.tx, 'full');
    assert.match(capabilities.reason, /veth0 is a virtual interface/);
  });

  it('says a physical NIC carries full checksums, and names its driver', () => {
    addInterface('eth0', 'ixgbe');
    assert.deepEqual(detectChecksumCapabilities('eth0', { sysfsNet: net, xdpMode: 'generic' }), { rx: 'full', tx: 'full', reason: 'eth0 is a physical NIC (ixgbe)' });
    addInterface('eth1', null);
    assert.equal(detectChecksumCapabilities('eth1', { sysfsNet: net }).rx, 'full');
  });

  it("says virtio-net may carry the host's partial checksums, except under a native XDP program", () => {
    addInterface('ens3', 'virtio_net');
    assert.equal(detectChecksumCapabilities('ens3', { sysfsNet: net, xdpMode: 'generic' }).rx, 'partial');
    assert.equal(detectChecksumCapabilities('ens3', { sysfsNet: net }).rx, 'partial');
    assert.equal(detectChecksumCapabilities('ens3', { sysfsNet: net, xdpMode: 'native' }).rx, 'full');
    addInterface('eth9', 'xen-netfront');
    assert.equal(detectChecksumCapabilities('eth9', { sysfsNet: net, xdpMode: 'native' }).rx, 'partial');
  });

  it('says a netmap switch port or pipe (no kernel interface) may carry partial checksums', () => {
    assert.equal(detectChecksumCapabilities('vale0:p1', { sysfsNet: net }).rx, 'partial');
  });

  it("takes netmap's host rings of a physical NIC as partial only when netmap lets partial frames through", () => {
    addInterface('eth0', 'ixgbe');
    assert.equal(detectChecksumCapabilities('eth0', { sysfsNet: net, hostRings: true, netmapHostPartial: false }).rx, 'full');
    const capabilities = detectChecksumCapabilities('eth0', { sysfsNet: net, hostRings: true, netmapHostPartial: true });
    assert.equal(capabilities.rx, 'partial');
    assert.match(capabilities.reason, /host-stack rings/);
  });

  it('lets the pair device be set either way, full by default, and the capture device forward what it wraps', () => {
    const [fullA, fullB] = createPair();
    assert.equal(fullA.checksums.rx, 'full');
    assert.equal(fullB.checksums.rx, 'full');
    const [partial] = createPair({ rxChecksums: 'partial' });
    assert.equal(partial.checksums.rx, 'partial');
    const file = path.join(net, 'capture.pcap');
    const captured = captureDevice(partial, file);
    assert.equal(captured.checksums, partial.checksums);
    captured.close();
    assert.throws(() => createPair({ rxChecksums: 'none' as 'full' }), /rxChecksums must be 'full' or 'partial'/);
  });
});
