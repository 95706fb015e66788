// Lab agent jobs for the host stack (run like agent.ts: inside a namespace,
// "ready" when set up, one JSON line with the result at the end).
//
// stack        nicring side: an Interface on an AF_XDP port, optionally
//              captured to a pcap file, with UDP sockets:
//                7  echo through 'message' and send()
//                8  echo through the reply-in-place path
//                9  "pull COUNT SIZE": send COUNT numbered datagrams back
//              It prints one JSON line per link event, and its counters at
//              SIGTERM.
// udp-pull     peer side: ask port 9 for datagrams and check each one.
// udp-refused  peer side: a connected kernel socket sending to a closed port.
// connected    nicring side: a connected nicring socket sends to a peer's
//              port; reports the echoes and the errors it got.

import * as dgram from 'node:dgram';
import { open } from '../../src/index';
import { Interface } from '../../src/iface/interface';
import { captureDevice } from '../../src/phy/capture';
import { createSocket } from '../../src/socket/udp';
import { payloadFor } from './agent';
import { type Args, type Job, runAgent, printResult as line, sleep } from './agent-main';

/** The nicring host: ping, ARP, echo sockets, pull socket; until SIGTERM (or maxMs). */
async function jobStack(args: Args): Promise<void> {
  const port = open(args.iface, { backend: 'xdp', xdpMode: (args.mode ?? 'auto') as 'auto' | 'native' | 'generic' });
  const device = args.pcap ? captureDevice(port, args.pcap) : port;
  const iface = new Interface(device, { address: args.address, linkPollMs: Number(args.linkPollMs ?? 200) });
  const linkEvents: string[] = [];
  iface.on('link', (state) => {
    linkEvents.push(state);
    line({ event: 'link', state });
  });

  const echo = createSocket(iface).bind(7);
  echo.on('message', (payload, rinfo) => echo.send(payload.bytes, rinfo.port, rinfo.addressNumber, payload.offset, payload.length));

  const inPlace = createSocket(iface).bind(8);
  inPlace.onRequest = (request) => request.payloadLength;

  const pull = createSocket(iface).bind(9);
  let pullsSent = 0;
  let pullsRefused = 0;
  pull.on('message', (payload, rinfo) => {
    const [word, countText, sizeText] = payload.toString().split(' ');
    if (word !== 'pull') return;
    const count = Number(countText);
    const size = Number(sizeText);
    const address = rinfo.addressNumber;
    const remotePort = rinfo.port;
    const buffer = new Uint8Array(size);
    void (async () => {
      for (let seq = 0; seq < count; seq++) {
        payloadFor(seq, size, buffer);
        if (pull.send(buffer, remotePort, address)) pullsSent++;
        else pullsRefused++;
        // Paced: 64 a millisecond at most, so neither ring nor the peer's socket overflows.
        if (seq % 64 === 63) await sleep(1);
      }
    })();
  });

  iface.start();
  line({ mac: iface.macAddress, mode: port.mode });
  console.log('ready');
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Number(args.maxMs ?? 170000));
    process.once('SIGTERM', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const counters = iface.counters();
  iface.close();
  line({ counters, linkEvents, pullsSent, pullsRefused });
}

/** Peer: ask nicring's port 9 for `count` datagrams of `size` bytes and check every one. */
async function jobUdpPull(args: Args): Promise<void> {
  const count = Number(args.count);
  const size = Number(args.size);
  const [address, portText] = args.target.split(':');
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 16 * 1024 * 1024 });
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  const seen = new Uint8Array(count);
  let good = 0;
  let bad = 0;
  console.log('ready');
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Number(args.timeoutMs ?? 30000));
    socket.on('message', (message) => {
      const seq = message.length >= 4 ? message.readUInt32BE(0) : -1;
      if (seq >= 0 && seq < count && message.length === size && seen[seq] === 0 && Buffer.from(payloadFor(seq, size)).equals(message)) {
        seen[seq] = 1;
        good++;
      } else bad++;
      if (good === count) {
        clearTimeout(timer);
        resolve();
      }
    });
    socket.send(`pull ${count} ${size}`, Number(portText), address);
  });
  socket.close();
  line({ good, bad });
}

/** Peer: a connected UDP socket sends to a closed port until the kernel reports ECONNREFUSED (5 tries). */
async function jobUdpRefused(args: Args): Promise<void> {
  const [address, portText] = args.target.split(':');
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.connect(Number(portText), address, resolve));
  console.log('ready');
  let code = '';
  let syscall = '';
  socket.on('error', (error: NodeJS.ErrnoException) => {
    code ||= error.code ?? '';
    syscall ||= error.syscall ?? '';
  });
  for (let attempt = 0; attempt < 5 && code === ''; attempt++) {
    await new Promise<void>((resolve) => socket.send('anyone there?', (error) => {
      if (error) {
        const e = error as NodeJS.ErrnoException;
        code ||= e.code ?? '';
        syscall ||= e.syscall ?? '';
      }
      resolve();
    }));
    await sleep(300);
  }
  socket.close();
  line({ code, syscall });
}

/** nicring side: connect a socket to `target`, send `count` datagrams one by one (300 ms apart); echoes and 'error' events. */
async function jobConnected(args: Args): Promise<void> {
  const [address, portText] = args.target.split(':');
  const port = open(args.iface, { backend: 'xdp' });
  const iface = new Interface(port, { address: args.address });
  iface.start();
  await iface.resolveNeighbor(address);
  const socket = createSocket(iface);
  const echoes: string[] = [];
  const errors: { code: string; errno: number; syscall: string; address: string; port: number; message: string }[] = [];
  socket.on('message', (payload) => echoes.push(payload.toString()));
  socket.on('error', (error) => {
    const e = error as Error & { code: string; errno: number; syscall: string; address: string; port: number };
    errors.push({ code: e.code, errno: e.errno, syscall: e.syscall, address: e.address, port: e.port, message: e.message });
  });
  await new Promise<void>((resolve) => socket.connect(Number(portText), address, resolve));
  console.log('ready');
  const count = Number(args.count ?? 3);
  for (let i = 0; i < count; i++) {
    socket.send(`datagram ${i}`);
    await sleep(300);
  }
  const counters = iface.counters();
  iface.close();
  line({ echoes, errors, icmpErrorsReceived: counters.icmpErrorsReceived, udpIcmpErrorsReported: counters.udpIcmpErrorsReported });
}

const JOBS: Record<string, Job> = {
  connected: jobConnected,
  stack: jobStack,
  'udp-pull': jobUdpPull,
  'udp-refused': jobUdpRefused,
};

if (require.main === module) runAgent(JOBS, process.argv.slice(2));
