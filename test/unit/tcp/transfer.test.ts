// Two nicring hosts, peer to peer over in-memory pairs, through a relay
// that loses, delays, reorders, duplicates and corrupts frames: whole
// transfers in both directions arrive byte for byte, and the counters show
// how each impairment was dealt with.

import { strict as assert } from 'node:assert';
import type { TcpOptions } from '../../../src/tcp/config';
import type { TcpConnection } from '../../../src/tcp/connection';
import { parseIpv4 } from '../../../src/wire/ipv4';
import { Endpoint, type Impairment, TwoHosts, randomBytes } from './harness';

const B_ADDRESS = parseIpv4('198.18.0.2') as number;
const A_ADDRESS = parseIpv4('198.18.0.1') as number;

/** A connection from A to B's port 80, both ends with an Endpoint. */
function connectPair(net: TwoHosts): { client: Endpoint; server: Endpoint } {
  const listener = net.b.tcp.listen(80);
  const server = new Endpoint(() => net.clock.timeMs);
  listener.onAcceptable = () => {
    const connection = listener.accept();
    if (connection !== null) server.attach(connection);
  };
  const client = new Endpoint(() => net.clock.timeMs);
  client.attach(net.a.tcp.connect(B_ADDRESS, 80));
  return { client, server };
}

interface Outcome {
  net: TwoHosts;
  client: Endpoint;
  server: Endpoint;
  upload: Uint8Array;
  download: Uint8Array;
}

/**
 * Send `size` bytes each way, both sides closing after their data; run
 * until both ends closed. The server starts sending once connected, or
 * with `replyAfterEnd` once the upload has ended.
 */
function exchange(impairment: Impairment, size: number, tcp: TcpOptions = {}, replyAfterEnd = false): Outcome {
  const net = new TwoHosts({ impairment, tcp });
  const { client, server } = connectPair(net);
  const upload = randomBytes(size, 1);
  const download = randomBytes(size, 2);
  client.send(upload, true);
  let replying = false;
  const done = net.run(() => {
    if (!replying && server.connection !== null && (!replyAfterEnd || server.endedCount > 0)) {
      replying = true;
      server.send(download, true);
    }
    return client.closedCount > 0 && server.closedCount > 0;
  }, 3_600_000);
  assert.ok(done, `both ends closed (client ${client.connection?.stateName}, server ${server.connection?.stateName}, errors ${client.errors} ${server.errors})`);
  return { net, client, server, upload, download };
}

function expectIntact(outcome: Outcome): void {
  assert.deepEqual(outcome.client.errors, []);
  assert.deepEqual(outcome.server.errors, []);
  assert.ok(Buffer.from(outcome.upload).equals(outcome.server.received), `upload: ${outcome.server.received.length} of ${outcome.upload.length} bytes, intact: ${Buffer.from(outcome.upload).subarray(0, outcome.server.received.length).equals(outcome.server.received)}`);
  assert.ok(Buffer.from(outcome.download).equals(outcome.client.received), `download: ${outcome.client.received.length} of ${outcome.download.length} bytes`);
  assert.equal(outcome.client.endedCount, 1);
  assert.equal(outcome.server.endedCount, 1);
}

const SIZE = 2 << 20;

describe('tcp/transfer between two nicring hosts', function () {
  this.timeout(120000);

  it('moves 2 MiB each way on a clean link and closes both ends, the active closer through TIME-WAIT', () => {
    const outcome = exchange({ delayMs: 1 }, SIZE, {}, true);
    try {
      expectIntact(outcome);
      const a = outcome.net.a.counters();
      const b = outcome.net.b.counters();
      assert.equal(a.tcpRetransmits + b.tcpRetransmits, 0);
      assert.equal(a.tcpSegmentsReceived, a.tcpSegmentsAccepted, 'nothing dropped on a clean link');
      assert.equal(b.tcpSegmentsReceived, b.tcpSegmentsAccepted);
      const inTimeWait = [outcome.client.connection, outcome.server.connection].filter((c) => (c as TcpConnection).stateName === 'TIME-WAIT');
      assert.equal(inTimeWait.length, 1, 'the client closed first: it waits 2 MSL, the server is CLOSED');
      assert.equal(outcome.client.connection?.stateName, 'TIME-WAIT');
      outcome.net.runFor(60_000);
      assert.equal(outcome.net.a.tcp.connectionCount + outcome.net.b.tcp.connectionCount, 0);
    } finally {
      outcome.net.close();
    }
  });

  it('recovers from 1% loss with fast retransmits, SACK recovery and RTOs', () => {
    const outcome = exchange({ delayMs: 5, loss: 0.01, seed: 11 }, SIZE);
    try {
      expectIntact(outcome);
      const a = outcome.net.a.counters();
      const b = outcome.net.b.counters();
      assert.ok(outcome.net.relayed.lost > 20, `frames lost: ${outcome.net.relayed.lost}`);
      assert.ok(a.tcpRetransmits > 0 && b.tcpRetransmits > 0);
      assert.ok(a.tcpSackRecoveries + b.tcpSackRecoveries > 0);
      assert.ok(a.tcpOutOfOrderQueued + b.tcpOutOfOrderQueued > 0);
    } finally {
      outcome.net.close();
    }
  });

  it('recovers from 1% loss with NewReno and without SACK', () => {
    const outcome = exchange({ delayMs: 5, loss: 0.01, seed: 12 }, SIZE, { congestionControl: 'newreno', sack: false });
    try {
      expectIntact(outcome);
      const a = outcome.net.a.counters();
      const b = outcome.net.b.counters();
      assert.ok(a.tcpRenoRecoveries + b.tcpRenoRecoveries > 0);
      assert.equal(a.tcpSackRecoveries + b.tcpSackRecoveries, 0);
    } finally {
      outcome.net.close();
    }
  });

  it('delivers in order through 10 ms delay and 25% reordering', () => {
    const outcome = exchange({ delayMs: 10, reorder: 0.25, reorderMs: 4, seed: 13 }, SIZE);
    try {
      expectIntact(outcome);
      assert.ok(outcome.net.relayed.reordered > 100);
      const b = outcome.net.b.counters();
      assert.ok(b.tcpOutOfOrderQueued > 0);
    } finally {
      outcome.net.close();
    }
  });

  it('delivers each byte once through 1% duplication', () => {
    const outcome = exchange({ delayMs: 2, duplicate: 0.01, seed: 14 }, SIZE);
    try {
      expectIntact(outcome);
      assert.ok(outcome.net.relayed.duplicated > 10);
      const a = outcome.net.a.counters();
      const b = outcome.net.b.counters();
      assert.ok(a.tcpDuplicateSegments + b.tcpDuplicateSegments > 0, 'duplicates were recognised and dropped');
    } finally {
      outcome.net.close();
    }
  });

  it('drops corrupted segments by their checksum and resends them (0.1% corruption)', () => {
    const outcome = exchange({ delayMs: 2, corrupt: 0.002, seed: 15 }, SIZE);
    try {
      expectIntact(outcome);
      const a = outcome.net.a.counters();
      const b = outcome.net.b.counters();
      assert.ok(outcome.net.relayed.corrupted > 0);
      assert.ok(a.tcpBadChecksum + b.tcpBadChecksum + a.ipv4BadChecksum + b.ipv4BadChecksum > 0);
    } finally {
      outcome.net.close();
    }
  });

  it('comes through all four at once', () => {
    const outcome = exchange({ delayMs: 10, loss: 0.01, reorder: 0.25, reorderMs: 4, duplicate: 0.01, corrupt: 0.001, seed: 16 }, SIZE);
    try {
      expectIntact(outcome);
    } finally {
      outcome.net.close();
    }
  });

  it('keeps more than 1 MiB in flight with a 4 MiB window (window scale 7)', () => {
    const net = new TwoHosts({ impairment: { delayMs: 20 }, tcp: { receiveBufferSize: 4 << 20, sendBufferSize: 8 << 20 } });
    try {
      const { client, server } = connectPair(net);
      const data = randomBytes(24 << 20, 3);
      client.send(data, true);
      let maxFlight = 0;
      assert.ok(net.run(() => {
        const connection = client.connection as TcpConnection;
        if (connection.flightSize > maxFlight) maxFlight = connection.flightSize;
        return server.endedCount > 0;
      }, 600_000));
      assert.ok(Buffer.from(data).equals(server.received));
      const connection = server.connection as TcpConnection;
      assert.equal(connection.rcvWindowScale, 7);
      assert.equal((client.connection as TcpConnection).sndWindowScale, 7);
      assert.ok(maxFlight > 1 << 20, `most bytes in flight: ${maxFlight}`);
    } finally {
      net.close();
    }
  });

  it('opens simultaneously when both hosts connect to each other (RFC 9293 figure 7)', () => {
    const net = new TwoHosts({ impairment: { delayMs: 5 } });
    try {
      const a = new Endpoint(() => net.clock.timeMs);
      const b = new Endpoint(() => net.clock.timeMs);
      a.attach(net.a.tcp.connect(B_ADDRESS, 5001, 5000));
      b.attach(net.b.tcp.connect(A_ADDRESS, 5000, 5001));
      a.send(Buffer.from('from a'), true);
      b.send(Buffer.from('from b'), true);
      assert.ok(net.run(() => a.closedCount > 0 && b.closedCount > 0, 60_000));
      assert.equal(a.connectedCount, 1);
      assert.equal(b.connectedCount, 1);
      assert.equal(a.received.toString(), 'from b');
      assert.equal(b.received.toString(), 'from a');
      assert.equal(net.a.counters().tcpActiveOpens, 1);
    } finally {
      net.close();
    }
  });

  it('closes simultaneously: both ends pass CLOSING and TIME-WAIT', () => {
    const net = new TwoHosts({ impairment: { delayMs: 5 } });
    try {
      const { client, server } = connectPair(net);
      client.send(Buffer.from('x'));
      assert.ok(net.run(() => server.received.length === 1, 10_000));
      client.connection?.shutdown(net.clock.timeMs);
      server.connection?.shutdown(net.clock.timeMs);
      assert.ok(net.run(() => client.closedCount > 0 && server.closedCount > 0, 10_000));
      assert.equal(client.connection?.stateName, 'TIME-WAIT');
      assert.equal(server.connection?.stateName, 'TIME-WAIT');
    } finally {
      net.close();
    }
  });

  it('drops every connection when the interface closes: their users see them close', () => {
    const net = new TwoHosts({ impairment: { delayMs: 1 } });
    const { client } = connectPair(net);
    assert.ok(net.run(() => client.connectedCount > 0, 10_000));
    net.a.close();
    assert.equal(client.closedCount, 1);
    assert.deepEqual(client.errors, []);
    assert.equal(net.a.tcp.connectionCount, 0);
    net.b.close();
  });
});
