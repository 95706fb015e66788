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

/**
 * The interface's receive queues now in use (the rx-N entries under
 * /sys/class/net/IF/queues, as `ethtool -l` counts its channels), or -1 when
 * the interface is not there.
 */
export function readQueueCount(ifname: string): number {
  let entries: string[];
  try {
    entries = readdirSync(`/sys/class/net/${ifname}/queues`);
  } catch {
    return -1;
  }
  let count = 0;
  for (const entry of entries) if (/^rx-\d+$/.test(entry)) count++;
  return count;
}
