// The wire layer: zero-copy protocol views, checksums and pcap files.

export * from './bytes';
export * from './checksum';
export * from './ethernet';
export * from './arp';
export * from './ipv4';
export * from './icmpv4';
export * from './udp';
export * from './tcp';
export * from './pcap';
