// What a device's receive path may carry in transport (UDP, TCP) checksums
// and what its transmit path needs, in the spirit of smoltcp's
// ChecksumCapabilities, and how it is found for an interface.
//
// A same-host kernel that sends over a virtual link (veth, tap, macvlan,
// ipvlan, ...) leaves its UDP and TCP checksums to "hardware" that never
// computes them (Linux's CHECKSUM_PARTIAL): the field holds only the sum of
// the pseudo-header, and the kernel at the other end of the link trusts it.
// XDP and netmap's emulated adapter hand such frames over as they are. A
// frame from a physical NIC carries what its sender put on the wire.
//
// The stack decides from these capabilities, never from a backend's name.

import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';

/** The device's checksum capabilities. */
export interface ChecksumCapabilities {
  /**
   * Received UDP/TCP checksums: 'full' (as a sender computes them for a
   * wire) or 'partial' (a same-host sender may have left only the
   * pseudo-header sum in the field).
   */
  readonly rx: 'full' | 'partial';
  /** What the transmit path needs: 'full' checksums, written by the stack (no backend computes them). */
  readonly tx: 'full';
  /** Why, in a few words, e.g. "veth0 is a virtual interface". */
  readonly reason: string;
}

/** Capabilities of a device whose frames always carry full checksums. */
export const FULL_CHECKSUMS: ChecksumCapabilities = Object.freeze({ rx: 'full', tx: 'full', reason: 'full checksums' });

/** Drivers of devices with a `device` in sysfs that still deliver the host's partial checksums. */
const PARTIAL_CHECKSUM_DRIVERS: ReadonlySet<string> = new Set([
  // A guest's virtio-net receives the host's frames with "needs checksum" set
  // (VIRTIO_NET_F_GUEST_CSUM); a native XDP program makes the driver turn that off.
  'virtio_net',
  // Xen's paravirtual NIC passes partial checksums from the backend likewise.
  'xen-netfront',
]);

/** What detectChecksumCapabilities needs to know besides the interface's name. */
export interface ChecksumDetectOptions {
  /** The XDP program's attach mode, for AF_XDP ports. */
  xdpMode?: 'native' | 'generic';
  /** The port holds netmap host-stack rings: frames the host stack sends. */
  hostRings?: boolean;
  /** netmap passes partial checksums to host rings (its generic_hwcsum parameter); default: read from sysfs. */
  netmapHostPartial?: boolean;
  /** Where /sys/class/net is (tests point it elsewhere). */
  sysfsNet?: string;
}

/**
 * The capabilities of a port on `ifname`, from sysfs: an interface with no
 * `device` behind it (veth, tap, bridge, macvlan, a netmap VALE port or pipe)
 * is virtual and may carry partial checksums; so may a paravirtual NIC
 * (virtio-net, except under a native XDP program; Xen's netfront); netmap's
 * host rings carry them when netmap lets them through; anything else is a
 * physical NIC.
 */
export function detectChecksumCapabilities(ifname: string, options: ChecksumDetectOptions = {}): ChecksumCapabilities {
  const net = options.sysfsNet ?? '/sys/class/net';
  if (options.hostRings === true) {
    const partial = options.netmapHostPartial ?? readNetmapHostPartial();
    if (partial) return { rx: 'partial', tx: 'full', reason: `host-stack rings of ${ifname} (netmap generic_hwcsum on)` };
  }
  const interfaceDirectory = path.join(net, ifname);
  if (!existsSync(interfaceDirectory)) return { rx: 'partial', tx: 'full', reason: `${ifname} is not a kernel interface (a switch port or pipe)` };
  if (!existsSync(path.join(interfaceDirectory, 'device'))) return { rx: 'partial', tx: 'full', reason: `${ifname} is a virtual interface` };
  let driver = '';
  try {
    driver = path.basename(readlinkSync(path.join(interfaceDirectory, 'device', 'driver')));
  } catch {
    // a device without a bound driver: treated as physical
  }
  if (PARTIAL_CHECKSUM_DRIVERS.has(driver) && !(driver === 'virtio_net' && options.xdpMode === 'native')) {
    return { rx: 'partial', tx: 'full', reason: `${ifname} is a paravirtual NIC (${driver})` };
  }
  return { rx: 'full', tx: 'full', reason: `${ifname} is a physical NIC${driver === '' ? '' : ` (${driver})`}` };
}

/** netmap's generic_hwcsum: host-stack frames that need checksum offload reach the host rings instead of being dropped. */
function readNetmapHostPartial(): boolean {
  try {
    return readFileSync('/sys/module/netmap/parameters/generic_hwcsum', 'utf8').trim() !== '0';
  } catch {
    return false;
  }
}
