// What the kernel says about an interface in /sys/class/net, read in the
// calling process's network namespace (ip netns exec remounts /sys for it).

import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import type { LinkState } from './device';

/** The interface's MAC from sysfs (the calling process's network namespace). */
export function readMacAddress(ifname: string): string {
  try {
    return readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim();
  } catch {
    return '00:00:00:00:00:00';
  }
}

/** An interface's link state from /sys/class/net: operstate, and carrier when operstate is 'unknown' (one read; see LinkStateReader). */
export function readLinkState(ifname: string): LinkState {
  const reader = new LinkStateReader(ifname);
  try {
    return reader.read();
  } finally {
    reader.close();
  }
}

function readCarrier(ifname: string): LinkState {
  try {
    // Reading carrier fails with EINVAL while the interface is administratively down.
    return readFileSync(`/sys/class/net/${ifname}/carrier`, 'utf8').trim() === '1' ? 'up' : 'down';
  } catch {
    return 'down';
  }
}

const LETTER_U = 0x75;
const LETTER_P = 0x70;
const NEWLINE = 0x0a;

/**
 * An interface's link state (operstate, and carrier when operstate is
 * 'unknown'), for a device that asks twice a second for as long as it
 * runs: the operstate file stays open and is read into one buffer (sysfs
 * answers every read at offset 0 afresh), so a poll leaves next to nothing
 * on the heap. A failed read (the interface is gone: sysfs then refuses the
 * open file) closes it, and the next poll opens it by name again, which
 * finds an interface created again under the same name.
 */
export class LinkStateReader {
  private fd = -1;
  private readonly buffer = Buffer.alloc(16);

  constructor(private readonly ifname: string) {}

  read(): LinkState {
    if (this.fd < 0) {
      try {
        this.fd = openSync(`/sys/class/net/${this.ifname}/operstate`, 'r');
      } catch {
        return 'absent';
      }
    }
    let length: number;
    try {
      length = readSync(this.fd, this.buffer, 0, this.buffer.length, 0);
    } catch {
      this.close();
      return 'absent';
    }
    const b = this.buffer;
    if (length >= 2 && b[0] === LETTER_U && b[1] === LETTER_P && (length === 2 || b[2] === NEWLINE)) return 'up';
    // Anything but 'unknown' (down, lowerlayerdown, dormant, ...) is down; 'unknown' asks carrier.
    if (length >= 7 && b.toString('latin1', 0, 7) === 'unknown') return readCarrier(this.ifname);
    return 'down';
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = -1;
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
