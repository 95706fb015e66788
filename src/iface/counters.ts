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
  /** Tagged for a VLAN the interface does not serve. */
  ethernetVlanNotServed = 0;
  /** Untagged or priority-tagged (VLAN 0) on an interface that serves a VLAN. */
  ethernetVlanUntagged = 0;
  /**
   * IPv6 frames (a peer kernel's router solicitations, MLD reports and
   * neighbour discovery, ...): no IPv6 here yet, so counted and dropped.
   */
  ethernetIpv6 = 0;
  /** EtherType other than ARP, IPv4 and IPv6. */
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
  /** Protocols other than ICMP, UDP and TCP (answered with protocol unreachable). */
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
  /**
   * Accepted with a partial checksum: the field held only the pseudo-header
   * sum, as a same-host sender on a virtual link leaves it (the device says
   * such frames may come). Traffic, not a drop.
   */
  udpChecksumPartial = 0;
  /** No socket on the port, or one connected to another peer (answered with port unreachable). */
  udpNoSocket = 0;
  /** Broadcast to a port with no socket (dropped silently). */
  udpBroadcastNoSocket = 0;
  udpSent = 0;
  /** Hard ICMP errors (port unreachable, ...) reported to the socket connected to the peer they came about. */
  udpIcmpErrorsReported = 0;
  /** Replies sent from the request's own buffer. */
  udpRepliesInPlace = 0;

  // TCP (netstat -s names in brackets). Every segment handed to TCP ends in
  // exactly one of tcpSegmentsAccepted or a drop reason (the ones marked "drop").
  /** Segments handed to TCP [InSegs]. */
  tcpSegmentsReceived = 0;
  /** Segments a connection or listener took (whatever they caused). */
  tcpSegmentsAccepted = 0;
  /** drop: shorter than a TCP header. */
  tcpTooShort = 0;
  /** drop: data offset under 5 or past the segment [InErrs]. */
  tcpBadHeaderLength = 0;
  /** drop: wrong checksum [InCsumErrors]. */
  tcpBadChecksum = 0;
  /** Segments accepted with a partial checksum (only the pseudo-header sum, from a same-host sender) on a device whose receive path may carry them. */
  tcpChecksumPartial = 0;
  /** drop: sent to a broadcast or multicast address. */
  tcpNotUnicast = 0;
  /** drop: no connection and no listener on the port (answered with RST unless it was one). */
  tcpNoSocket = 0;
  /** drop: a listener's accept queue was full [ListenOverflows]. */
  tcpListenOverflows = 0;
  /** drop: a listener's SYN queue was full and SYN cookies are off, or the connection limit was reached [ListenDrops]. */
  tcpListenDrops = 0;
  /** drop: a segment to a listener that is neither a SYN nor the ACK of a valid SYN cookie. */
  tcpListenUnexpected = 0;
  /** drop: an ACK to a listener with a SYN cookie that does not check out (answered with RST) [SyncookiesFailed]. */
  tcpSynCookiesFailed = 0;
  /** drop: timestamp older than the last one seen (RFC 7323 PAWS) [PAWSEstab]. */
  tcpPawsRejected = 0;
  /** drop: sequence number outside the receive window (answered with an ACK) [TCPOFODrop beyond the window]. */
  tcpOutOfWindow = 0;
  /** drop: every byte already received (answered with an ACK) [TCPDSACKRecv-like duplicates]. */
  tcpDuplicateSegments = 0;
  /** drop: ACK of data never sent (answered with an ACK) [TCPACKSkippedSeq]. */
  tcpAckTooNew = 0;
  /** drop: ACK older than the window allows (RFC 5961 5.2; answered with a challenge ACK). */
  tcpAckTooOld = 0;
  /** drop: RST outside the window. */
  tcpRstOutOfWindow = 0;
  /** drop: RST inside the window but not at RCV.NXT (RFC 5961 3.2; challenge ACK). */
  tcpRstChallenged = 0;
  /** drop: SYN on a synchronized connection (RFC 5961 4.2; challenge ACK). */
  tcpSynChallenged = 0;
  /** drop: no ACK flag where one is required. */
  tcpNoAck = 0;
  /** drop: unacceptable ACK in SYN-SENT or SYN-RECEIVED (answered with RST). */
  tcpBadAck = 0;
  /** drop: a segment the connection's state does not take (no SYN in SYN-SENT, a RST without ACK there). */
  tcpUnexpected = 0;
  /** drop: data after this side closed for receiving (answered with RST). */
  tcpDataAfterClose = 0;
  /** Segments sent [OutSegs], retransmissions included. */
  tcpSegmentsSent = 0;
  /** Segments sent again, for any reason below [RetransSegs]. */
  tcpRetransmits = 0;
  /** Retransmissions after a retransmission timeout [TCPTimeouts counts the timeouts]. */
  tcpRtoRetransmits = 0;
  /** Retransmission timeouts [TCPTimeouts]. */
  tcpRtoTimeouts = 0;
  /** Fast retransmissions after three duplicate ACKs or SACKs [TCPFastRetrans]. */
  tcpFastRetransmits = 0;
  /** Retransmissions during loss recovery after the first [TCPLostRetransmit]. */
  tcpRecoveryRetransmits = 0;
  /** SYNs sent again. */
  tcpSynRetransmits = 0;
  /** SYN-ACKs sent again [TCPSynRetrans]. */
  tcpSynAckRetransmits = 0;
  /** Loss recoveries entered with SACK [TCPSackRecovery]. */
  tcpSackRecoveries = 0;
  /** Loss recoveries entered without SACK (NewReno) [TCPRenoRecovery]. */
  tcpRenoRecoveries = 0;
  /** Tail loss probes sent (RFC 8985 7) [TCPLossProbes]. */
  tcpTailLossProbes = 0;
  /** Retransmissions found lost (SACKs of later data kept coming) and sent again [TCPLostRetransmit]. */
  tcpLostRetransmits = 0;
  /** Recoveries undone: the timestamps showed the "lost" segment had only been reordered (RFC 3522) [TCPTSReorder, TCPFullUndo]. */
  tcpSpuriousRecoveries = 0;
  /** Zero-window probes sent. */
  tcpPersistProbes = 0;
  /** Keepalive probes sent. */
  tcpKeepAliveProbes = 0;
  /** ACKs sent late by the delayed-ACK timer [DelayedACKs]. */
  tcpDelayedAcks = 0;
  /** Segments kept out of order [TCPOFOQueue]. */
  tcpOutOfOrderQueued = 0;
  /** Out-of-order data not kept: too many ranges [TCPOFODrop]. */
  tcpOutOfOrderDropped = 0;
  /** Data past the advertised window, cut off [TCPZeroWindowDrop and the like]. */
  tcpDataBeyondWindow = 0;
  /** Connections opened by connect() [ActiveOpens]. */
  tcpActiveOpens = 0;
  /** Connections accepted by a listener [PassiveOpens]. */
  tcpPassiveOpens = 0;
  /** Opens that failed: refused, timed out, or reset before ESTABLISHED [AttemptFails]. */
  tcpAttemptFails = 0;
  /** Established connections reset by the peer [EstabResets]. */
  tcpEstablishedResets = 0;
  /** Connections in ESTABLISHED or CLOSE-WAIT now [CurrEstab]. */
  tcpCurrentEstablished = 0;
  /** Connections in any state now (TIME_WAIT and half-open ones included). */
  tcpConnections = 0;
  /** RSTs received that ended a connection. */
  tcpResetsReceived = 0;
  /** RSTs sent [OutRsts]. */
  tcpResetsSent = 0;
  /** Connections that failed with ETIMEDOUT: retransmissions, keepalive or user timeout [TCPAbortOnTimeout]. */
  tcpTimeouts = 0;
  /** Challenge ACKs sent (RFC 5961) [TCPChallengeACK]. */
  tcpChallengeAcks = 0;
  /** Challenge ACKs not sent: over the rate limit. */
  tcpChallengeAcksLimited = 0;
  /** SYN cookies sent [SyncookiesSent]. */
  tcpSynCookiesSent = 0;
  /** Connections made from a valid SYN cookie [SyncookiesRecv]. */
  tcpSynCookiesReceived = 0;
  /** Half-open connections dropped after their SYN-ACK retransmissions ran out. */
  tcpHalfOpenTimeouts = 0;
  /** TIME_WAIT entries not made because maxTimeWait was reached [TCPTimeWaitOverflow]. */
  tcpTimeWaitOverflow = 0;
  /** TIME_WAIT connections taken over by a new SYN (RFC 6191). */
  tcpTimeWaitReused = 0;
  /** Segments not sent for want of a transmit buffer (sent later). */
  tcpTransmitDeferred = 0;

  // Transmit
  framesSent = 0;
  /** No free transmit buffer. */
  txNoBuffer = 0;
  /** The device refused a frame (its TX ring was full). */
  txDeviceFull = 0;
  /** Frames not sent because the link was down. */
  txLinkDown = 0;
  /** Errors thrown by the device while flushing. */
  txErrors = 0;

  // Link
  linkDown = 0;
  linkUp = 0;
  linkAbsent = 0;
}

/**
 * Counters of things done rather than refused; every other counter outside
 * TCP's names a drop reason (TCP's drop reasons: src/tcp/drops.ts).
 */
export const STACK_TRAFFIC_COUNTERS: ReadonlySet<string> = new Set([
  'framesReceived', 'arpRequestsReceived', 'arpRepliesReceived', 'arpRepliesSent', 'arpRequestsSent', 'arpGratuitousSent', 'arpEntriesExpired',
  'ipv4Received', 'ipv4FragmentsReceived', 'ipv4Reassembled', 'ipv4Sent', 'ipv4Fragmented', 'ipv4FragmentsSent',
  'icmpReceived', 'icmpEchoRequests', 'icmpEchoRepliesSent', 'icmpErrorsReceived', 'icmpErrorsSent',
  'udpReceived', 'udpChecksumPartial', 'udpSent', 'udpIcmpErrorsReported', 'udpRepliesInPlace', 'framesSent', 'linkDown', 'linkUp', 'linkAbsent',
]);

/** The counters as a plain object. */
export type StackCountersSnapshot = { [K in keyof StackCounters]: number };
