// Connected UDP sockets as in dgram: connect()/disconnect(), send without a
// destination, datagrams from the peer only, and hard ICMP errors about what
// was sent reported as 'error' events (ECONNREFUSED for a closed port).

import { strict as assert } from 'node:assert';
import { Interface } from '../../../src/iface/interface';
import { FakeClock } from '../../../src/loop';
import { createPair } from '../../../src/phy/pair';
import { UdpSocketError, createSocket, type UdpSocket } from '../../../src/socket/udp';
import { ICMPV4_DESTINATION_UNREACHABLE, ICMPV4_PARAMETER_PROBLEM, ICMPV4_TIME_EXCEEDED, Icmpv4UnreachableCode } from '../../../src/wire/icmpv4';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_UDP, Ipv4Repr } from '../../../src/wire/ipv4';
import { internetChecksum } from '../../../src/wire/checksum';
import { PEER_ADDRESS, PEER_IP, STACK_ADDRESS, StackFixture, ipv4Packet, pattern, udpDatagram } from '../iface/peer';

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

/** Two interfaces back to back on a pair: "a" (198.18.0.1) and "b" (198.18.0.2), driven by hand. */
function twoHosts(): { a: Interface; b: Interface; run(): void; close(): void } {
  const [deviceA, deviceB] = createPair();
  const clock = new FakeClock(1_000_000);
  const a = new Interface(deviceA, { address: '198.18.0.1/24', clock, arp: { gratuitous: false } });
  const b = new Interface(deviceB, { address: '198.18.0.2/24', clock, arp: { gratuitous: false } });
  a.start();
  b.start();
  return {
    a,
    b,
    run() {
      for (let i = 0; i < 6; i++) {
        a.flush();
        b.loop.turn();
        b.flush();
        a.loop.turn();
      }
    },
    close() {
      a.close();
      b.close();
    },
  };
}

/** An ICMP error from the peer quoting a UDP datagram from us (`localPort`) to `quotedDestination`:`remotePort`. */
function icmpError(type: number, code: number, localPort: number, remotePort: number, options: { quotedSource?: number; quotedDestination?: number; fragmentOffset?: number; quoteBytes?: number } = {}): Uint8Array {
  const quoted = new Uint8Array(20 + 8 + 12);
  const view = new DataView(quoted.buffer);
  const repr = new Ipv4Repr();
  repr.source = options.quotedSource ?? STACK_ADDRESS;
  repr.destination = options.quotedDestination ?? PEER_ADDRESS;
  repr.protocol = IP_PROTOCOL_UDP;
  repr.payloadLength = 20;
  repr.timeToLive = 64;
  repr.fragmentOffsetBytes = options.fragmentOffset ?? 0;
  repr.emit(view, 0);
  quoted.set(udpDatagram(localPort, remotePort, pattern(12), repr.source, repr.destination), 20);
  const quote = quoted.subarray(0, options.quoteBytes ?? quoted.length);
  const message = new Uint8Array(8 + quote.length);
  const messageView = new DataView(message.buffer);
  message[0] = type;
  message[1] = code;
  message.set(quote, 8);
  messageView.setUint16(2, internetChecksum(messageView, 0, message.length));
  return ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: message });
}

describe('socket/udp connect', () => {
  describe('against a second nicring host', () => {
    let hosts: ReturnType<typeof twoHosts>;
    beforeEach(() => { hosts = twoHosts(); });
    afterEach(() => hosts.close());

    it("gets ECONNREFUSED as an 'error' event when the connected peer's port is closed, as dgram does", async () => {
      const socket = createSocket(hosts.a);
      const errors: UdpSocketError[] = [];
      socket.on('error', (error) => errors.push(error as UdpSocketError));
      let connected = false;
      socket.connect(4444, '198.18.0.2', () => { connected = true; });
      await nextTick();
      assert.equal(connected, true);
      assert.equal(socket.send('anyone there?'), true);
      hosts.run();
      assert.equal(hosts.b.counters().udpNoSocket, 1);
      assert.equal(hosts.a.counters().icmpErrorsReceived, 1);
      assert.equal(hosts.a.counters().udpIcmpErrorsReported, 1);
      await nextTick();
      assert.equal(errors.length, 1);
      const error = errors[0];
      assert.ok(error instanceof UdpSocketError);
      assert.equal(error.code, 'ECONNREFUSED');
      assert.equal(error.errno, -111);
      assert.equal(error.syscall, 'recvmsg');
      assert.equal(error.address, '198.18.0.2');
      assert.equal(error.port, 4444);
      // The socket stays usable.
      assert.equal(socket.send('again'), true);
    });

    it('exchanges datagrams with its peer without naming it, and takes datagrams from that peer only', async () => {
      const server = createSocket(hosts.b).bind(7);
      server.on('message', (payload, rinfo) => server.send(payload.copy(), rinfo.port, rinfo.address));
      const stranger = createSocket(hosts.b).bind(8);
      const client = createSocket(hosts.a);
      const got: string[] = [];
      client.on('message', (payload, rinfo) => got.push(`${rinfo.address}:${rinfo.port} ${payload.toString()}`));
      client.connect(7, '198.18.0.2');
      const { port: localPort } = client.address();
      assert.ok(localPort >= 32768, `ephemeral port ${localPort}`);
      assert.deepEqual(client.remoteAddress(), { address: '198.18.0.2', family: 'IPv4', port: 7 });
      client.send(Buffer.from('xxhello'), 2, 5);
      hosts.run();
      assert.deepEqual(got, ['198.18.0.2:7 hello']);
      // From another port of the peer: not for this socket; answered as a closed port would be.
      stranger.send('not you', localPort, '198.18.0.1');
      hosts.run();
      assert.deepEqual(got, ['198.18.0.2:7 hello']);
      assert.equal(hosts.a.counters().udpNoSocket, 1);
      assert.equal(hosts.b.counters().icmpErrorsReceived, 1);
      // Disconnected, it takes datagrams from anyone again.
      client.disconnect();
      stranger.send('now you', localPort, '198.18.0.1');
      hosts.run();
      assert.deepEqual(got, ['198.18.0.2:7 hello', '198.18.0.2:8 now you']);
    });

    it('stops hearing of errors once disconnected, and an unconnected socket never does', async () => {
      const socket = createSocket(hosts.a);
      const errors: Error[] = [];
      socket.on('error', (error) => errors.push(error));
      socket.connect(4444, '198.18.0.2');
      socket.disconnect();
      socket.send('to a closed port', 4444, '198.18.0.2');
      hosts.run();
      await nextTick();
      assert.equal(hosts.a.counters().icmpErrorsReceived, 1);
      assert.equal(hosts.a.counters().udpIcmpErrorsReported, 0);
      assert.deepEqual(errors, []);
    });
  });

  describe('misuse, as dgram refuses it', () => {
    let fixture: StackFixture;
    let socket: UdpSocket;
    beforeEach(() => {
      fixture = new StackFixture();
      socket = createSocket(fixture.iface);
    });
    afterEach(() => fixture.close());

    it('refuses a second connect, a destination on a connected socket, and none on an unconnected one', () => {
      assert.throws(() => socket.send('x'), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
      assert.throws(() => socket.disconnect(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
      assert.throws(() => socket.remoteAddress(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
      socket.connect(9, PEER_IP);
      assert.throws(() => socket.connect(9, PEER_IP), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
      assert.throws(() => socket.send('x', 9, PEER_IP), { code: 'ERR_SOCKET_DGRAM_IS_CONNECTED' });
      assert.throws(() => createSocket(fixture.iface).connect(0, PEER_IP), /port must be an integer from 1 to 65535/);
      assert.throws(() => createSocket(fixture.iface).connect(9, 'nowhere'), /dotted IPv4/);
    });
  });

  describe('which ICMP errors reach a connected socket (Linux: hard errors only)', () => {
    let fixture: StackFixture;
    let socket: UdpSocket;
    let errors: UdpSocketError[];
    let localPort: number;
    beforeEach(() => {
      fixture = new StackFixture();
      fixture.start();
      fixture.introduce();
      socket = createSocket(fixture.iface);
      errors = [];
      socket.on('error', (error) => errors.push(error as UdpSocketError));
      socket.connect(4444, PEER_IP);
      localPort = socket.address().port;
    });
    afterEach(() => fixture.close());

    const cases: [string, number, number, string | null][] = [
      ['port unreachable', ICMPV4_DESTINATION_UNREACHABLE, Icmpv4UnreachableCode.PORT, 'ECONNREFUSED'],
      ['protocol unreachable', ICMPV4_DESTINATION_UNREACHABLE, Icmpv4UnreachableCode.PROTOCOL, 'ENOPROTOOPT'],
      ['communication administratively prohibited', ICMPV4_DESTINATION_UNREACHABLE, 13, 'EHOSTUNREACH'],
      ['destination host unknown', ICMPV4_DESTINATION_UNREACHABLE, Icmpv4UnreachableCode.HOST_UNKNOWN, 'EHOSTDOWN'],
      ['parameter problem', ICMPV4_PARAMETER_PROBLEM, 0, 'EPROTO'],
      ['host unreachable (soft)', ICMPV4_DESTINATION_UNREACHABLE, Icmpv4UnreachableCode.HOST, null],
      ['net unreachable (soft)', ICMPV4_DESTINATION_UNREACHABLE, Icmpv4UnreachableCode.NET, null],
      ['time exceeded (soft)', ICMPV4_TIME_EXCEEDED, 0, null],
    ];
    for (const [name, type, code, expected] of cases) {
      it(`${name}: ${expected ?? 'not reported'}`, async () => {
        fixture.exchangeIpv4(icmpError(type, code, localPort, 4444));
        await nextTick();
        assert.equal(fixture.iface.counters().icmpErrorsReceived, 1);
        assert.deepEqual(errors.map((error) => error.code), expected === null ? [] : [expected]);
        assert.equal(fixture.iface.counters().udpIcmpErrorsReported, expected === null ? 0 : 1);
      });
    }

    it('ignores errors quoting another peer, another port, another source, a later fragment or too little', async () => {
      fixture.exchangeIpv4(
        icmpError(ICMPV4_DESTINATION_UNREACHABLE, 3, localPort, 4445),
        icmpError(ICMPV4_DESTINATION_UNREACHABLE, 3, localPort, 4444, { quotedDestination: PEER_ADDRESS + 1 }),
        icmpError(ICMPV4_DESTINATION_UNREACHABLE, 3, localPort + 1, 4444),
        icmpError(ICMPV4_DESTINATION_UNREACHABLE, 3, localPort, 4444, { quotedSource: PEER_ADDRESS + 5 }),
        icmpError(ICMPV4_DESTINATION_UNREACHABLE, 3, localPort, 4444, { fragmentOffset: 8 }),
        icmpError(ICMPV4_DESTINATION_UNREACHABLE, 3, localPort, 4444, { quoteBytes: 26 }),
      );
      await nextTick();
      assert.equal(fixture.iface.counters().icmpErrorsReceived, 6);
      assert.equal(fixture.iface.counters().udpIcmpErrorsReported, 0);
      assert.deepEqual(errors, []);
    });
  });
});
