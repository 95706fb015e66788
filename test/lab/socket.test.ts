// nicring's UDP sockets against the peer's kernel: a connected socket gets
// the peer kernel's echo, and ECONNREFUSED (an 'error' event, as dgram
// gives it) when it sends to a port the peer's kernel has closed.

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { labName, startInNetns, useLab, type Agent } from './harness';

const STACK_AGENT = path.join(__dirname, 'stack-agent.ts');
const DGRAM_ECHO = path.join(__dirname, '..', '..', 'bench', 'baselines', 'dgram-echo.js');

function startStackJob(netns: string, job: string, args: Record<string, string | number>): Agent {
  const flat = Object.entries(args).flatMap(([key, value]) => [`--${key}`, String(value)]);
  return startInNetns(netns, [process.execPath, '--import', 'tsx', STACK_AGENT, job, ...flat]);
}

describe("connected nicring UDP sockets against the peer's kernel", function () {
  this.timeout(60000);
  const { lab } = useLab({ name: labName('u'), staticNeighbor: false });

  it('exchanges datagrams with a kernel UDP server the socket is connected to', async () => {
    const l = lab();
    const server = startInNetns(l.peer.netns, [process.execPath, DGRAM_ECHO, '--address', l.peer.ip, '--port', '7007']);
    try {
      await server.ready;
      const result = await startStackJob(l.nicring.netns, 'connected', { iface: l.nicring.ifname, address: l.nicring.address, target: `${l.peer.ip}:7007`, count: 3 }).result;
      assert.deepEqual(result, { echoes: ['datagram 0', 'datagram 1', 'datagram 2'], errors: [], icmpErrorsReceived: 0, udpIcmpErrorsReported: 0 });
    } finally {
      server.stop('SIGKILL');
    }
  });

  it("gets ECONNREFUSED as an 'error' event from a port the peer's kernel has closed, once per port unreachable", async () => {
    const l = lab();
    const result = await startStackJob(l.nicring.netns, 'connected', { iface: l.nicring.ifname, address: l.nicring.address, target: `${l.peer.ip}:4444`, count: 3 }).result;
    const errors = result.errors as { code: string; errno: number; syscall: string; address: string; port: number }[];
    assert.ok(errors.length >= 1, JSON.stringify(result));
    for (const error of errors) {
      assert.deepEqual({ code: error.code, errno: error.errno, syscall: error.syscall, address: error.address, port: error.port },
        { code: 'ECONNREFUSED', errno: -111, syscall: 'recvmsg', address: l.peer.ip, port: 4444 });
    }
    assert.deepEqual(result.echoes, []);
    // The peer kernel rate-limits its port unreachables; each one it sent was reported once.
    assert.equal(result.udpIcmpErrorsReported, errors.length);
    assert.equal(result.icmpErrorsReceived, errors.length);
  });
});
