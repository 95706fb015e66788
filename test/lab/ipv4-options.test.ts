// IPv4 options against Linux on the same veth: every case of
// test/fixtures/ipv4-options.ts, a UDP datagram to a port that answers, sent
// as a raw frame first to the peer kernel (from nicring's namespace, before
// nicring holds the port) and then to `nicring respond` (from the peer's).
// Both must do what the table says: answer, send a parameter problem
// pointing at the same byte, or drop. Cases are a second apart, so neither
// side's ICMP rate limit (one a second per destination, burst 6) decides.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseMac } from '../../src/wire/ethernet';
import { IP_PROTOCOL_UDP, parseIpv4 } from '../../src/wire/ipv4';
import { OPTION_CASES, type OptionOutcome } from '../fixtures/ipv4-options';
import { ethernetFrame, ipv4Packet, pattern, udpDatagram } from '../unit/iface/peer';
import { labName, startInNetns, useLab, type Agent } from './harness';
import { startResponder, type RunningResponder } from './respond-harness';

const RAW_FRAMES = path.join(__dirname, 'raw-frames.py');
const PORT = 9000;

interface SeenReply { protocol: number; icmp?: { type: number; code: number; rest: number }; udp?: { sourcePort: number } }

/** Send every case from `netns` out of `ifname` and say what came back from `target`, one outcome a case. */
function exchange(netns: string, ifname: string, from: { mac: string; ip: string }, to: { mac: string; ip: string }): Record<string, OptionOutcome | string> {
  const source = parseIpv4(from.ip) as number;
  const destination = parseIpv4(to.ip) as number;
  const input = OPTION_CASES.map((optionCase) => {
    const udp = udpDatagram(40000, PORT, pattern(16), source, destination);
    const packet = ipv4Packet({ source, destination, protocol: IP_PROTOCOL_UDP, payload: udp, options: new Uint8Array(optionCase.options) });
    const frame = ethernetFrame(packet, 0x0800, parseMac(to.mac) as number, parseMac(from.mac) as number);
    return JSON.stringify({ name: optionCase.name, frame: Buffer.from(frame).toString('hex') });
  }).join('\n');
  const result = spawnSync('ip', ['netns', 'exec', netns, 'python3', RAW_FRAMES, 'exchange', '--iface', ifname, '--target', to.ip, '--wait-ms', '1100'],
    { input, encoding: 'utf8', timeout: 120000 });
  if (result.status !== 0) throw new Error(`raw-frames exchange failed: ${result.stderr}`);
  const { cases } = JSON.parse(result.stdout.trim().split('\n').pop() as string) as { cases: { name: string; replies: SeenReply[] }[] };
  const outcomes: Record<string, OptionOutcome | string> = {};
  for (const { name, replies } of cases) {
    const problem = replies.find((reply) => reply.icmp?.type === 12);
    if (problem !== undefined) outcomes[name] = { parameterProblem: problem.icmp!.rest >>> 24 };
    else if (replies.some((reply) => reply.udp?.sourcePort === PORT)) outcomes[name] = { answered: true };
    else if (replies.length === 0) outcomes[name] = { dropped: true };
    else outcomes[name] = `unexpected: ${JSON.stringify(replies)}`;
  }
  return outcomes;
}

describe('IPv4 options against Linux on the same veth: the same outcome for every case', function () {
  this.timeout(240000);
  const { lab } = useLab({ name: labName('o') });
  const expected = Object.fromEntries(OPTION_CASES.map((optionCase) => [optionCase.name, optionCase.outcome]));
  let echo: Agent | null = null;
  let responder: RunningResponder | null = null;

  before(function () {
    if (spawnSync('which', ['python3']).status !== 0) throw new Error('python3 is not installed');
  });

  after(async function () {
    this.timeout(30000);
    echo?.stop('SIGKILL');
    await responder?.stop();
  });

  it('the peer kernel, with a UDP echo socket on the port', async () => {
    const l = lab();
    // Bounded: the echo socket ends by itself after 150 s.
    echo = startInNetns(l.peer.netns, ['python3', '-c', `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${l.peer.ip}', ${PORT}))
s.settimeout(1)
print('ready', flush=True)
end = time.monotonic() + 150
while time.monotonic() < end:
    try:
        data, address = s.recvfrom(65536)
        s.sendto(data, address)
    except socket.timeout:
        pass
`]);
    await echo.ready;
    assert.deepEqual(exchange(l.nicring.netns, l.nicring.ifname, l.nicring, l.peer), expected);
    echo.stop('SIGKILL');
  });

  it('nicring respond', async () => {
    const l = lab();
    responder = startResponder(l, ['--port', String(PORT)]);
    await responder.ready;
    assert.deepEqual(exchange(l.peer.netns, l.peer.ifname, l.peer, l.nicring), expected);
  });
});
