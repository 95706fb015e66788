// An interface's IPv4 addressing: its address and prefix, the subnet's
// broadcast address, an optional gateway, and the next-hop choice that
// follows from them. Addresses are u32 numbers (198.18.0.1 is 0xc6120001).

import { parseIpv4 } from '../wire/ipv4';

/** The limited broadcast address 255.255.255.255. */
export const IPV4_LIMITED_BROADCAST = 0xffffffff;

/** True for 224.0.0.0/4. */
export function isIpv4Multicast(address: number): boolean {
  return address >>> 28 === 0xe;
}

/** Parse "198.18.0.1/24" into an address and a prefix length; null when malformed. */
export function parseIpv4Cidr(text: string): { address: number; prefixLength: number } | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === null || !/^[0-9]{1,2}$/.test(prefixText)) return null;
  const prefixLength = Number(prefixText);
  if (prefixLength < 1 || prefixLength > 32) return null;
  return { address, prefixLength };
}

/** Address, subnet and gateway of one interface. */
export class Ipv4Addressing {
  readonly address: number;
  /** The address's two 16-bit halves, small integers for code that sums or writes them per packet. */
  readonly addressHigh16: number;
  readonly addressLow16: number;
  readonly prefixLength: number;
  readonly netmask: number;
  readonly network: number;
  /** The subnet's broadcast address (none, 0, for /31 and /32). */
  readonly broadcast: number;
  /** The default gateway, or 0 for none. */
  readonly gateway: number;

  /** `cidr` as "198.18.0.1/24"; throws a TypeError on malformed or inconsistent input. */
  constructor(cidr: string, gateway?: string) {
    const parsed = typeof cidr === 'string' ? parseIpv4Cidr(cidr) : null;
    if (parsed === null) throw new TypeError(`address must look like "198.18.0.1/24", got ${JSON.stringify(cidr)}`);
    this.address = parsed.address;
    this.addressHigh16 = parsed.address >>> 16;
    this.addressLow16 = parsed.address & 0xffff;
    this.prefixLength = parsed.prefixLength;
    this.netmask = parsed.prefixLength === 32 ? 0xffffffff : (0xffffffff << (32 - parsed.prefixLength)) >>> 0;
    this.network = (this.address & this.netmask) >>> 0;
    this.broadcast = parsed.prefixLength >= 31 ? 0 : (this.network | ~this.netmask) >>> 0;
    if (this.address === this.network && parsed.prefixLength < 31) throw new TypeError(`address ${cidr} is its subnet's network address`);
    if (this.address === this.broadcast) throw new TypeError(`address ${cidr} is its subnet's broadcast address`);
    if (isIpv4Multicast(this.address) || this.address === 0) throw new TypeError(`address ${cidr} is not a unicast address`);
    this.gateway = 0;
    if (gateway !== undefined) {
      const parsedGateway = parseIpv4(gateway);
      if (parsedGateway === null) throw new TypeError(`gateway must be an IPv4 address, got ${JSON.stringify(gateway)}`);
      if (!this.isOnLink(parsedGateway) || parsedGateway === this.address) throw new TypeError(`gateway ${gateway} is not another host on ${cidr}`);
      this.gateway = parsedGateway;
    }
  }

  /** True when `address` is in our subnet. */
  isOnLink(address: number): boolean {
    return ((address & this.netmask) >>> 0) === this.network;
  }

  /** True for the limited broadcast address and our subnet's broadcast address. */
  isBroadcast(address: number): boolean {
    return address === IPV4_LIMITED_BROADCAST || (address === this.broadcast && this.broadcast !== 0);
  }

  /** The neighbor to send to for `destination`: itself when on-link, else the gateway; -1 when there is no route. */
  nextHop(destination: number): number {
    if (this.isOnLink(destination)) return destination;
    return this.gateway !== 0 ? this.gateway : -1;
  }
}
