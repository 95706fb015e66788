import { strict as assert } from 'node:assert';
import { Interface } from '../../../src/iface/interface';
import type { LinkState } from '../../../src/phy/device';
import { createPair } from '../../../src/phy/pair';
import { createSocket } from '../../../src/socket/udp';
import { ARP_OPERATION_REQUEST } from '../../../src/wire/arp';
import { ETHERTYPE_ARP } from '../../../src/wire/ethernet';
import { ICMPV4_ECHO_REPLY } from '../../../src/wire/icmpv4';
import { IP_PROTOCOL_ICMP } from '../../../src/wire/ipv4';
import { PEER_IP, StackFixture, echoRequest, ipv4Packet, pattern } from './peer';

const ping = (sequence: number): Uint8Array => ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: echoRequest(9, sequence, pattern(32)) });

describe('iface/interface', () => {
  describe('configuration', () => {
    it('takes its address, MAC and MTU from the options and the device', () => {
      const [device] = createPair({ macAddresses: ['02:aa:00:00:00:01', '02:aa:00:00:00:02'] });
      const iface = new Interface(device, { address: '198.18.5.9/16', gateway: '198.18.0.1' });
      assert.equal(iface.address, '198.18.5.9');
      assert.equal(iface.cidr, '198.18.5.9/16');
      assert.equal(iface.macAddress, '02:aa:00:00:00:01');
      assert.equal(iface.mtu, 1500);
      assert.equal(iface.linkState, 'up');
      iface.close();
    });

    it('refuses bad configurations with a clear message', () => {
      const [device] = createPair();
      assert.throws(() => new Interface(device, { address: '198.18.0.1' }), /198\.18\.0\.1\/24/);
      assert.throws(() => new Interface(device, { address: '198.18.0.0/24' }), /network address/);
      assert.throws(() => new Interface(device, { address: '198.18.0.1/24', gateway: '198.19.0.1' }), /gateway/);
      assert.throws(() => new Interface(device, { address: '198.18.0.1/24', mtu: 4000 }), /mtu/);
      assert.throws(() => new Interface(device, { address: '198.18.0.1/24', macAddress: 'nope' }), /macAddress/);
      assert.throws(() => new Interface(device, { address: '198.18.0.1/24', arp: { retryMs: 0 } }), /retryMs/);
    });
  });

  describe('link events', () => {
    let fixture: StackFixture;
    afterEach(() => fixture.close());

    it("polls the link on the loop's clock and emits 'down' and 'up', keeping counters, cache and sockets", () => {
      fixture = new StackFixture({ linkPollMs: 500 });
      fixture.start();
      fixture.introduce();
      const events: LinkState[] = [];
      fixture.iface.on('link', (state) => events.push(state));
      const socket = createSocket(fixture.iface).bind(7);
      assert.equal(fixture.exchangeIpv4(ping(1)).length, 1);

      fixture.stackDevice.linkUp = false;
      fixture.advance(499);
      assert.deepEqual(events, []);
      fixture.advance(1);
      assert.deepEqual(events, ['down']);
      assert.equal(fixture.iface.linkState, 'down');
      // Nothing goes out while down, and nothing breaks.
      assert.equal(socket.send(pattern(4), 9, PEER_IP), false);
      assert.deepEqual(fixture.exchangeIpv4(ping(2)), []);
      fixture.advance(2000);
      assert.deepEqual(events, ['down'], 'one event per change');

      fixture.stackDevice.linkUp = true;
      const announced = fixture.advance(500);
      assert.deepEqual(events, ['down', 'up']);
      assert.equal(announced.length, 1, 'our address is announced again');
      assert.equal(announced[0].etherType, ETHERTYPE_ARP);
      assert.equal(announced[0].arp?.operation, ARP_OPERATION_REQUEST);
      const [reply] = fixture.exchangeIpv4(ping(3));
      assert.equal(reply.icmp?.type, ICMPV4_ECHO_REPLY);
      assert.equal(reply.icmp?.sequence, 3);
      assert.equal(socket.send(pattern(4), 9, PEER_IP), true);
      const counters = fixture.iface.counters();
      assert.equal(counters.linkDown, 1);
      assert.equal(counters.linkUp, 1);
      assert.equal(counters.txLinkDown, 1);
      assert.equal(counters.icmpEchoRepliesSent, 2, 'counters survive the outage');
      // countersInto writes the same figures into an earlier snapshot, and later ones over them.
      const reused = fixture.iface.countersInto({ ...counters, linkDown: 99 });
      assert.deepEqual(reused, counters);
      fixture.exchangeIpv4(ping(5));
      assert.equal(fixture.iface.countersInto(reused), reused, 'the same object');
      assert.equal(reused.icmpEchoRepliesSent, 3);
      assert.deepEqual(reused, fixture.iface.counters());
      assert.notEqual(fixture.iface.neighbor(PEER_IP), null);
    });

    it("pauses when the interface disappears ('absent') and resumes when it is back", () => {
      fixture = new StackFixture();
      fixture.start();
      let state: LinkState = 'up';
      fixture.stackDevice.linkState = () => state;
      const events: LinkState[] = [];
      fixture.iface.on('link', (s) => events.push(s));
      state = 'absent';
      fixture.advance(500);
      assert.deepEqual(events, ['absent']);
      assert.equal(fixture.iface.loop.isRunning, false, 'the device is left alone');
      state = 'up';
      assert.equal(fixture.iface.pollLink(), 'up');
      assert.deepEqual(events, ['absent', 'up']);
      assert.equal(fixture.iface.loop.isRunning, true);
      assert.equal(fixture.exchangeIpv4(ping(1)).filter((f) => f.icmp !== undefined).length, 1);
      assert.equal(fixture.iface.counters().linkAbsent, 1);
    });

    it('takes a link state that throws as absent', () => {
      fixture = new StackFixture();
      fixture.start();
      fixture.stackDevice.linkState = () => { throw new Error('gone'); };
      assert.equal(fixture.iface.pollLink(), 'absent');
    });
  });

  describe('close', () => {
    it('stops everything: sockets, queued frames, timers, loop and device', () => {
      const fixture = new StackFixture();
      fixture.start();
      const socket = createSocket(fixture.iface).bind(5000);
      socket.send(pattern(10), 6000, PEER_IP);
      fixture.run();
      assert.ok(fixture.iface.loop.timers.size > 0);
      let closed = 0;
      fixture.iface.on('close', () => closed++);
      fixture.close();
      fixture.close();
      assert.equal(closed, 1);
      assert.ok(socket.closed);
      assert.equal(fixture.iface.loop.isRunning, false);
      assert.equal(fixture.iface.loop.timers.size, 0, 'no timer left behind');
      assert.ok(fixture.stackDevice.closed);
      assert.ok(fixture.iface.closed);
      assert.throws(() => fixture.iface.start(), /after close/);
    });

    it('leaves the device open with closeDevice: false', () => {
      const fixture = new StackFixture({ closeDevice: false });
      fixture.start();
      fixture.close();
      assert.equal(fixture.stackDevice.closed, false);
    });
  });
});
