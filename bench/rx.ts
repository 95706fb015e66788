// Receive-and-recycle rate: how much of what the interface delivers the JS
// side consumes. Floods the nicring side of a lab from the peer with the
// in-kernel live-frames engine, runs `nicring sink` on the nicring side, and
// prints, per XDP mode, the offered rate, what the interface received, what
// JS consumed, and the fraction — all measured in the same run.
//
//   sudo npx tsx bench/rx.ts [--duration 5] [--modes native,generic]

import { spawn } from 'node:child_process';
import { execIn, labDown, labUp, type Lab } from '../src/lab';
import { nicringCommand } from './pps';

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

function run(netns: string, cpu: number, command: string[], onLine: (line: string) => void = () => undefined): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, 'taskset', '-c', String(cpu), ...command], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        lines.push(line);
        onLine(line);
      }
    });
    child.on('exit', (code) => (code === 0 ? resolve(lines) : reject(new Error(`${command.join(' ')} exited with ${code}`))));
  });
}

function rxPackets(lab: Lab): number {
  return Number(execIn(lab.nicring.netns, ['cat', `/sys/class/net/${lab.nicring.ifname}/statistics/rx_packets`]).trim());
}

async function measure(lab: Lab, mode: string, durationS: number): Promise<Record<string, number | string>> {
  let ready: () => void = () => undefined;
  const sinkReady = new Promise<void>((resolve) => { ready = resolve; });
  const sink = run(lab.nicring.netns, 0, [...nicringCommand(), 'sink', '--iface', lab.nicring.ifname, '--xdp-mode', mode, '--json', '--duration', String(durationS + 2)],
    (line) => { if (line.includes('"event":"ready"')) ready(); });
  await sinkReady;
  const before = rxPackets(lab);
  const flood = await run(lab.peer.netns, 1, [...nicringCommand(), 'flood', '--iface', lab.peer.ifname, '--dst-mac', lab.nicring.mac, '--source', lab.peer.ip,
    '--target', `${lab.nicring.ip}:9`, '--count', '100000000', '--duration', String(durationS), '--json']);
  const interfaceRx = rxPackets(lab) - before;
  const sinkLines = await sink;
  const sent = JSON.parse(flood[flood.length - 1]) as { sent: number; seconds: number };
  const final = JSON.parse(sinkLines[sinkLines.length - 1]) as { rx: number; kernelRxDropped: number; rxRingFull: number; fillRingEmpty: number };
  // Frames the interface handed to the XDP program: received by JS or dropped at the socket.
  const delivered = final.rx + final.rxRingFull + final.fillRingEmpty;
  const seconds = sent.seconds;
  return {
    mode,
    offeredPps: Math.round(sent.sent / seconds),
    interfaceRxPps: Math.round(Math.max(interfaceRx, delivered) / seconds),
    consumedPps: Math.round(final.rx / seconds),
    fractionConsumed: +(final.rx / Math.max(1, Math.max(interfaceRx, delivered))).toFixed(3),
    socketDrops: final.rxRingFull + final.fillRingEmpty,
  };
}

async function main(): Promise<void> {
  const durationS = Number(argument('duration', '5'));
  const modes = argument('modes', 'native,generic').split(',');
  const lab = labUp({ name: 'rxbench' });
  const rows: Record<string, number | string>[] = [];
  try {
    for (const mode of modes) {
      process.stderr.write(`measuring ${mode} mode for ${durationS} s...\n`);
      rows.push(await measure(lab, mode, durationS));
    }
  } finally {
    labDown(lab.name);
  }
  console.log('| XDP mode | offered (flood) | interface delivered | consumed by JS | fraction consumed |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) {
    const m = (v: number | string): string => `${(Number(v) / 1e6).toFixed(3)} Mpps`;
    console.log(`| ${row.mode} | ${m(row.offeredPps)} | ${m(row.interfaceRxPps)} | ${m(row.consumedPps)} | ${(Number(row.fractionConsumed) * 100).toFixed(1)}% |`);
  }
  for (const row of rows) {
    if (Number(row.consumedPps) <= 0) throw new Error(`${row.mode}: JS consumed nothing`);
  }
}

main().catch((error: Error) => {
  console.error(`bench/rx: ${error.message}`);
  process.exitCode = 1;
});
