// What the kernel says about an interface in /sys/class/net, read in the
// calling process's network namespace (ip netns exec remounts /sys for it).

import { readFileSync, readdirSync } from 'node:fs';
import type { LinkState } from './device';

/** The interface's MAC from sysfs (the calling process's network namespace). */
export function readMacAddress(ifname: string): string {
  try {
    return readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim();
  } catch {
    return '00:00:00:00:00:00';
  }
}

/** An interface's link state from /sys/class/net: operstate, and carrier when operstate is 'unknown'. */
export function readLinkState(ifname: string): LinkState {
  let operstate: string;
  try {
    operstate = readFileSync(`/sys/class/net/${ifname}/operstate`, 'utf8').trim();
  } catch {
    return 'absent';
  }
  if (operstate === 'up') return 'up';
  if (operstate !== 'unknown') return 'down';
  try {
    // Reading carrier fails with EINVAL while the interface is administratively down.
    return readFileSync(`/sys/class/net/${ifname}/carrier`, 'utf8').trim() === '1' ? 'up' : 'down';
  } catch {
    return 'down';
  }
}

/** The interface's MTU from sysfs, or null when it cannot be read. */
export function readMtu(ifname: string): number | null {
  return readNumber(`/sys/class/net/${ifname}/mtu`);
}

/** How many RX and TX queues the interface has (/sys/class/net/IF/queues), or null when it cannot be read. */
export function readQueueCounts(ifname: string): { rx: number; tx: number } | null {
  try {
    const entries = readdirSync(`/sys/class/net/${ifname}/queues`);
    return { rx: entries.filter((name) => name.startsWith('rx-')).length, tx: entries.filter((name) => name.startsWith('tx-')).length };
  } catch {
    return null;
  }
}

/** A numeric parameter of a loaded kernel module (/sys/module/MODULE/parameters/NAME), or null. */
export function readModuleParameter(module: string, name: string): number | null {
  return readNumber(`/sys/module/${module}/parameters/${name}`);
}

function readNumber(file: string): number | null {
  try {
    const value = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}
