import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeClock } from '../../../src/loop';
import { Interface } from '../../../src/iface/interface';
import { CaptureDevice, captureDevice } from '../../../src/phy/capture';
import { createPair } from '../../../src/phy/pair';
import { createSocket } from '../../../src/socket/udp';
import { ARP_OPERATION_REQUEST } from '../../../src/wire/arp';
import { ETHERTYPE_ARP } from '../../../src/wire/ethernet';
import { IP_PROTOCOL_ICMP } from '../../../src/wire/ipv4';
import { PcapReader, PcapWriter } from '../../../src/wire/pcap';
import { BROADCAST_MAC, PEER_ADDRESS, PEER_IP, PEER_MAC, Peer, STACK_ADDRESS, STACK_MAC, arpPacket, echoRequest, ethernetFrame, ipv4Packet, pattern } from '../iface/peer';

describe('phy/capture', () => {
  let directory: string;
  beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-capture-')); });
  afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

  it('records every frame in and out of a running stack, replies in place included, byte-exact and in order', async () => {
    const file = path.join(directory, 'stack.pcap');
    const [stackSide, peerSide] = createPair({ macAddresses: [STACK_MAC, PEER_MAC] });
    let nowNs = 1_700_000_000_000_000_000;
    const device = captureDevice(stackSide, file, { nanosecond: true, timestampNs: () => (nowNs += 1000) });
    const iface = new Interface(device, { address: '198.18.0.1/24', clock: new FakeClock(0) });
    const peer = new Peer(peerSide);
    const seenByPeer: Uint8Array[] = [];
    const sentByPeer: Uint8Array[] = [];
    const run = (...frames: Uint8Array[]): void => {
      for (const frame of frames) {
        sentByPeer.push(frame);
        peer.send(frame);
      }
      peerSide.flush();
      iface.loop.turn();
      for (const frame of peer.receive()) seenByPeer.push(frame.bytes);
    };

    iface.start();
    run(ethernetFrame(arpPacket(ARP_OPERATION_REQUEST, peer.mac, PEER_ADDRESS, 0, STACK_ADDRESS), ETHERTYPE_ARP, BROADCAST_MAC, peer.mac));
    run(ethernetFrame(ipv4Packet({ protocol: IP_PROTOCOL_ICMP, payload: echoRequest(1, 1, pattern(100)) })));
    createSocket(iface).bind(5000).send(pattern(3000), 6000, PEER_IP);
    run();
    iface.close();

    assert.equal(device.framesIn, 2);
    assert.equal(device.framesOut, 6, 'announcement, ARP reply, echo reply, three fragments');
    const { header, records } = await PcapReader.readAll(file);
    assert.equal(header.linkType, 1);
    assert.equal(header.nanosecond, true);
    const recorded = records.map((r) => Buffer.from(r.data).toString('hex'));
    const expected = [seenByPeer[0], sentByPeer[0], seenByPeer[1], sentByPeer[1], seenByPeer[2], seenByPeer[3], seenByPeer[4], seenByPeer[5]];
    assert.deepEqual(recorded, expected.map((b) => Buffer.from(b).toString('hex')));
    // Timestamps come from the clock given, in order.
    const stamps = records.map((r) => r.timestampSeconds * 1e9 + r.timestampNanoseconds);
    assert.deepEqual(stamps, [...stamps].sort((a, b) => a - b));
    assert.equal(records[0].timestampSeconds, 1_700_000_000);
  });

  it('passes the device contract through', () => {
    const [a, b] = createPair();
    const writer = new PcapWriter(path.join(directory, 'x.pcap'));
    const device = new CaptureDevice(a, writer);
    assert.equal(device.name, a.name);
    assert.equal(device.memory, a.memory);
    assert.equal(device.macAddress, a.macAddress);
    assert.equal(device.frameCapacity, a.frameCapacity);
    assert.equal(device.linkState(), 'up');
    a.linkUp = false;
    assert.equal(device.linkState(), 'down');
    a.linkUp = true;
    const offset = device.allocTx();
    device.transmit(offset, 60);
    assert.equal(device.txPending(), true);
    device.flush();
    assert.equal(b.rxQueued, 1);
    device.close();
    assert.ok(a.closed);
    assert.equal(writer.framesWritten, 1);
  });
});
