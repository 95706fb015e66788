// Every segment handed to TCP ends in exactly one counter: accepted, or one
// named reason for dropping it. One case per reason, each moving that
// counter alone.

import { strict as assert } from 'node:assert';
import { StackCounters } from '../../../src/iface/counters';
import type { PairOptions } from '../../../src/phy/pair';
import { IP_PROTOCOL_TCP } from '../../../src/wire/ipv4';
import { ipv4PseudoHeaderSumFromAddrs } from '../../../src/wire/checksum';
import { PEER_ADDRESS, STACK_ADDRESS, ip, ipv4Packet } from '../iface/peer';
import { ACK, Established, FIN, PEER_ISS, PSH, RST, STACK_PORT, SYN, TCP_DROP_REASONS, TcpPeer, tcpBytes, tcpFates, tcpPacket } from './harness';

interface Case {
  counter: (typeof TCP_DROP_REASONS)[number];
  act: () => { peer: TcpPeer; run: () => void };
}

/** A listener on port 80 with a given backlog. */
function listening(tcp = {}, backlog = 16, pair: PairOptions = {}): TcpPeer {
  const peer = new TcpPeer(tcp, pair);
  peer.iface.tcp.listen(STACK_PORT, backlog);
  return peer;
}

/** An established connection driven by hand. */
function established(tcp = {}, options = {}): Established {
  return new Established(tcp, options);
}

const CASES: Case[] = [
  { counter: 'tcpTooShort', act: () => { const peer = listening(); return { peer, run: () => peer.sendPackets(ipv4Packet({ protocol: IP_PROTOCOL_TCP, payload: new Uint8Array(12) })) }; } },
  {
    counter: 'tcpBadHeaderLength',
    act: () => {
      const peer = listening();
      const bytes = tcpBytes({ seq: 1, flags: SYN });
      bytes[12] = 0xf0;
      return { peer, run: () => peer.sendPackets(ipv4Packet({ protocol: IP_PROTOCOL_TCP, payload: bytes })) };
    },
  },
  { counter: 'tcpBadChecksum', act: () => { const peer = listening(); return { peer, run: () => peer.send({ seq: 1, flags: SYN, badChecksum: true }) }; } },
  {
    counter: 'tcpNotUnicast',
    act: () => {
      const peer = listening();
      const broadcast = ip('198.18.0.255');
      return { peer, run: () => peer.sendPackets(tcpPacket({ seq: 1, flags: SYN }, PEER_ADDRESS, broadcast)) };
    },
  },
  { counter: 'tcpNoSocket', act: () => { const peer = listening(); return { peer, run: () => peer.send({ seq: 1, flags: SYN, destinationPort: 81 }) }; } },
  {
    counter: 'tcpListenOverflows',
    act: () => {
      const peer = listening({}, 1);
      const [synAck] = peer.send({ seq: PEER_ISS, flags: SYN });
      peer.send({ seq: PEER_ISS + 1, ack: synAck.seq + 1, flags: ACK });
      return { peer, run: () => peer.send({ seq: 5, flags: SYN, sourcePort: 40001 }) };
    },
  },
  {
    counter: 'tcpListenDrops',
    act: () => {
      const peer = listening({ synCookies: false }, 1);
      peer.send({ seq: PEER_ISS, flags: SYN });
      return { peer, run: () => peer.send({ seq: 5, flags: SYN, sourcePort: 40001 }) };
    },
  },
  { counter: 'tcpListenUnexpected', act: () => { const peer = listening(); return { peer, run: () => peer.send({ seq: 5, flags: FIN }) }; } },
  {
    counter: 'tcpSynCookiesFailed',
    act: () => {
      const peer = listening({}, 1);
      peer.send({ seq: PEER_ISS, flags: SYN });
      peer.send({ seq: 5, flags: SYN, sourcePort: 40001 });
      return { peer, run: () => peer.send({ seq: 6, ack: 12345, flags: ACK, sourcePort: 40001 }) };
    },
  },
  {
    counter: 'tcpPawsRejected',
    act: () => {
      const e = established({}, { timestamps: true });
      e.segment({ flags: ACK, timestamps: [1000, 0] });
      return { peer: e.peer, run: () => e.segment({ flags: ACK, timestamps: [10, 0] }) };
    },
  },
  { counter: 'tcpOutOfWindow', act: () => { const e = established(); return { peer: e.peer, run: () => e.segment({ flags: ACK, seq: e.peerNext + 1_000_000, payload: new Uint8Array(1) }) }; } },
  { counter: 'tcpDuplicateSegments', act: () => { const e = established(); return { peer: e.peer, run: () => e.segment({ flags: ACK, seq: e.peerNext - 10, payload: new Uint8Array(5) }) }; } },
  { counter: 'tcpAckTooNew', act: () => { const e = established(); return { peer: e.peer, run: () => e.segment({ flags: ACK, ack: e.stackNext + 5 }) }; } },
  { counter: 'tcpAckTooOld', act: () => { const e = established(); return { peer: e.peer, run: () => e.segment({ flags: ACK, ack: e.stackNext - 1_000_000 }) }; } },
  { counter: 'tcpRstOutOfWindow', act: () => { const e = established(); return { peer: e.peer, run: () => e.segment({ flags: RST, seq: e.peerNext + 1_000_000 }) }; } },
  { counter: 'tcpRstChallenged', act: () => { const e = established(); return { peer: e.peer, run: () => e.segment({ flags: RST, seq: e.peerNext + 1 }) }; } },
  { counter: 'tcpSynChallenged', act: () => { const e = established(); return { peer: e.peer, run: () => e.segment({ flags: SYN }) }; } },
  { counter: 'tcpNoAck', act: () => { const e = established(); return { peer: e.peer, run: () => e.segment({ flags: PSH, payload: new Uint8Array(3) }) }; } },
  {
    counter: 'tcpBadAck',
    act: () => {
      const peer = new TcpPeer();
      const connection = peer.iface.tcp.connect(PEER_ADDRESS, 7000, 5555);
      void connection;
      peer.collect();
      return { peer, run: () => peer.send({ sourcePort: 7000, destinationPort: 5555, seq: 1, ack: 1, flags: SYN | ACK }) };
    },
  },
  {
    counter: 'tcpUnexpected',
    act: () => {
      const peer = new TcpPeer();
      const connection = peer.iface.tcp.connect(PEER_ADDRESS, 7000, 5555);
      const [syn] = peer.collect();
      void connection;
      return { peer, run: () => peer.send({ sourcePort: 7000, destinationPort: 5555, seq: 1, ack: syn.seq + 1, flags: ACK }) };
    },
  },
  {
    counter: 'tcpDataAfterClose',
    act: () => {
      const e = established();
      e.connection.release(e.now);
      e.collect();
      return { peer: e.peer, run: () => e.data(Uint8Array.of(1)) };
    },
  },
];

describe('tcp/counters', () => {
  it('has a case below for every drop reason, and every tcp counter is in StackCounters', () => {
    assert.deepEqual(TCP_DROP_REASONS.filter((name) => !CASES.some((c) => c.counter === name)), []);
    const all = Object.keys(new StackCounters());
    for (const name of TCP_DROP_REASONS) assert.ok(all.includes(name), name);
  });

  for (const dropCase of CASES) {
    it(`counts ${dropCase.counter} and no other fate`, () => {
      const { peer, run } = dropCase.act();
      try {
        const before = peer.counters;
        run();
        const after = peer.counters;
        assert.equal(after.tcpSegmentsReceived - before.tcpSegmentsReceived, 1);
        assert.equal(after[dropCase.counter] - before[dropCase.counter], 1);
        const moved = [...TCP_DROP_REASONS, 'tcpSegmentsAccepted' as const].filter((name) => after[name] !== before[name]);
        assert.deepEqual(moved, [dropCase.counter]);
        assert.equal(tcpFates(after), after.tcpSegmentsReceived);
      } finally {
        peer.close();
      }
    });
  }
});

describe('tcp/checksums', () => {
  /** A SYN whose checksum field holds only the pseudo-header sum, as a same-host kernel leaves it. */
  function partialSyn(): Uint8Array {
    const bytes = tcpBytes({ seq: 1, flags: SYN });
    const view = new DataView(bytes.buffer);
    view.setUint16(16, ipv4PseudoHeaderSumFromAddrs(PEER_ADDRESS, STACK_ADDRESS, IP_PROTOCOL_TCP, bytes.length));
    return ipv4Packet({ protocol: IP_PROTOCOL_TCP, payload: bytes });
  }

  it('drops a partial checksum as bad where the device does not say it may carry them', () => {
    const peer = listening();
    try {
      assert.deepEqual(peer.sendPackets(partialSyn()), []);
      assert.equal(peer.counters.tcpBadChecksum, 1);
      assert.equal(peer.counters.tcpChecksumPartial, 0);
    } finally {
      peer.close();
    }
  });

  it('accepts and counts a partial checksum where the device may carry them, and still drops a wrong one', () => {
    const peer = listening({}, 16, { rxChecksums: 'partial' });
    try {
      const [synAck] = peer.sendPackets(partialSyn());
      assert.equal(synAck.flags, SYN | ACK);
      assert.equal(peer.counters.tcpChecksumPartial, 1);
      assert.deepEqual(peer.send({ seq: 1, flags: SYN, sourcePort: 41000, badChecksum: true }), []);
      assert.equal(peer.counters.tcpBadChecksum, 1);
    } finally {
      peer.close();
    }
  });
});
