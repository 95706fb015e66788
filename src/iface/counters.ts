// The stack's counters: one per drop reason at every layer, plus what was
// received, answered and sent. Plain numbers in one object of fixed shape,
// so counting costs an increment and reading them is one copy.

/** Every counter the stack keeps; `Interface.counters()` returns a copy. */
export class StackCounters {
  // Ethernet
  /** Frames handed to the stack by the device. */
  framesReceived = 0;
  /** Shorter than an Ethernet header. */
  ethernetTooShort = 0;
  /** Addressed to another unicast MAC. */
  ethernetNotForUs = 0;
  /** Carrying an 802.1Q tag (no VLANs are configured). */
  ethernetVlanTagged = 0;
  /** EtherType other than ARP and IPv4. */
  ethernetUnknownType = 0;

  // ARP
  arpRequestsReceived = 0;
  arpRepliesReceived = 0;
  /** Too short, or not Ethernet/IPv4. */
  arpMalformed = 0;
  /** Sender MAC multicast or zero, or sender address broadcast or multicast. */
  arpBadSender = 0;
  /** Another host sent ARP with our address as its own. */
  arpAddressConflict = 0;
  /** Neither for our address nor from a neighbor we know: ignored. */
  arpNotForUs = 0;
  arpRepliesSent = 0;
  /** Requests to resolve or re-confirm a neighbor. */
  arpRequestsSent = 0;
  /** Announcements of our address (on start and link up). */
  arpGratuitousSent = 0;
  /** Resolutions (and re-confirmations of stale entries) that got no answer. */
  arpResolutionFailed = 0;
  /** Frames dropped because the target's queue was full. */
  arpQueueFull = 0;
  /** Queued frames dropped because their target did not answer. */
  arpQueueDropped = 0;
  /** Frames dropped because the cache had no room for another target. */
  arpTableFull = 0;
  /** Entries removed after going unused. */
  arpEntriesExpired = 0;

  // IPv4
  /** Datagrams accepted (whole, or reassembled). */
  ipv4Received = 0;
  /** Shorter than an IPv4 header. */
  ipv4TooShort = 0;
  ipv4BadVersion = 0;
  /** IHL under 5, or a header longer than the frame. */
  ipv4BadHeaderLength = 0;
  /** Total Length under the header length, or over the frame. */
  ipv4BadTotalLength = 0;
  ipv4BadChecksum = 0;
  /** Source broadcast, multicast, zero or ours. */
  ipv4BadSource = 0;
  /** Destination neither ours nor broadcast. */
  ipv4NotForUs = 0;
  /** Received with TTL 0, which no host may send (RFC 1122 3.2.1.7). */
  ipv4TtlZero = 0;
  /** Options with a length byte under 2, past the header or missing, or under the option's minimum (answered with parameter problem). */
  ipv4OptionBadLength = 0;
  /** Record Route, source route or Timestamp with a pointer out of range (parameter problem). */
  ipv4OptionBadPointer = 0;
  /** Record Route, Timestamp or a source route twice (parameter problem). */
  ipv4OptionRepeated = 0;
  /** A full Timestamp option whose overflow count was already 15 (parameter problem). */
  ipv4OptionTimestampOverflow = 0;
  /** A CIPSO security label: no CIPSO domain is configured (parameter problem). */
  ipv4OptionCipso = 0;
  /** Source-routed datagrams, dropped silently (as Linux with accept_source_route 0). */
  ipv4SourceRouted = 0;
  /** Protocols other than ICMP and UDP (answered with protocol unreachable). */
  ipv4UnknownProtocol = 0;
  ipv4FragmentsReceived = 0;
  ipv4Reassembled = 0;
  /** Datagrams whose fragments did not all arrive in time. */
  reassemblyTimeout = 0;
  /** Datagrams dropped because two fragments overlapped. */
  reassemblyOverlap = 0;
  /** Fragments ignored because every byte of them had arrived already. */
  reassemblyDuplicate = 0;
  /** Fragments with no data, or (not last) a length that is not a multiple of 8. */
  reassemblyBadFragment = 0;
  /** Fragments reaching past 65535 bytes, or past the end the last fragment set. */
  reassemblyTooLarge = 0;
  /** Unfinished datagrams dropped to make room for newer ones (the memory bound). */
  reassemblyEvicted = 0;
  ipv4Sent = 0;
  /** Datagrams sent in fragments. */
  ipv4Fragmented = 0;
  ipv4FragmentsSent = 0;
  /** Destination off-link and no gateway. */
  ipv4NoRoute = 0;
  /** Asked to send more than an IPv4 datagram holds. */
  ipv4TooLarge = 0;

  // ICMP
  icmpReceived = 0;
  icmpTooShort = 0;
  icmpBadChecksum = 0;
  icmpEchoRequests = 0;
  icmpEchoRepliesSent = 0;
  /** Echo requests to a broadcast or multicast address (ignored, as Linux does by default). */
  icmpEchoBroadcastIgnored = 0;
  /** Errors received (unreachable, time exceeded, parameter problem). */
  icmpErrorsReceived = 0;
  /** Other types, received and not answered. */
  icmpUnhandledType = 0;
  icmpErrorsSent = 0;
  /** Errors not sent: the offending datagram was an ICMP error, a broadcast, or a later fragment. */
  icmpErrorsSuppressed = 0;
  /** Errors not sent: over the per-destination rate. */
  icmpRateLimitedDestination = 0;
  /** Errors not sent: over the overall rate. */
  icmpRateLimitedGlobal = 0;

  // UDP
  /** Datagrams delivered to a socket. */
  udpReceived = 0;
  udpTooShort = 0;
  /** Length field under 8 or over the IPv4 payload. */
  udpBadLength = 0;
  udpBadChecksum = 0;
  /** No socket on the port (answered with port unreachable). */
  udpNoSocket = 0;
  /** Broadcast to a port with no socket (dropped silently). */
  udpBroadcastNoSocket = 0;
  udpSent = 0;
  /** Replies sent from the request's own buffer. */
  udpRepliesInPlace = 0;

  // Transmit
  framesSent = 0;
  /** No free transmit buffer. */
  txNoBuffer = 0;
  /** The device refused a frame (TX ring full). */
  txRingFull = 0;
  /** Frames not sent because the link was down. */
  txLinkDown = 0;
  /** Errors thrown by the device while flushing. */
  txErrors = 0;

  // Link
  linkDown = 0;
  linkUp = 0;
  linkAbsent = 0;
}

/** The counters as a plain object. */
export type StackCountersSnapshot = { [K in keyof StackCounters]: number };
