// Long TCP transfers against the peer kernel, byte-exact (SHA-256 on both
// ends): a kernel client into a nicring sink and a nicring client into a
// kernel sink, in native and generic mode, on a clean veth link and through
// the impairing relay of the lab tests (test/lab/impair-relay.c).
//
//   sudo npx tsx bench/tcp-transfer.ts [--mib 1024] [--cases clean,loss,reorder,duplicate,corrupt,all] [--modes native,generic]
//
// Prints one line per transfer: direction, mode, case, MiB/s, and the
// counters that show retransmissions and recovery.

import { labDown, labUp } from '../src/lab';
import { type Impairment, kernelToNicring, nicringToKernel, relayLabDown, relayLabUp, startRelay } from '../test/lab/impaired-lab';

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const CASES: Record<string, Impairment | null> = {
  clean: null,
  loss: { loss: 0.01 },
  reorder: { delayMs: 10, reorder: 0.25, reorderMs: 5 },
  duplicate: { duplicate: 0.01 },
  corrupt: { corrupt: 0.001 },
  all: { loss: 0.01, delayMs: 10, reorder: 0.25, reorderMs: 5, duplicate: 0.01, corrupt: 0.001 },
};
const SHOWN = ['tcpRetransmits', 'tcpFastRetransmits', 'tcpRtoTimeouts', 'tcpSackRecoveries', 'tcpSpuriousRecoveries', 'tcpTailLossProbes', 'tcpLostRetransmits', 'tcpOutOfOrderQueued',
  'tcpDuplicateSegments', 'tcpBadChecksum', 'tcpChecksumPartial'];

async function main(): Promise<void> {
  const bytes = Number(argument('mib', '1024')) * (1 << 20);
  const cases = argument('cases', 'clean').split(',');
  const modes = argument('modes', 'native,generic').split(',');
  const timeoutMs = 3 * 3600 * 1000;
  for (const name of cases) {
    const impairment = CASES[name];
    if (impairment === undefined) throw new Error(`unknown case ${name} (${Object.keys(CASES).join(', ')})`);
    for (const mode of modes) {
      const lab = impairment === null ? labUp({ name: `tx${process.pid % 10000}` }) : relayLabUp(`tx${process.pid % 10000}`, 200);
      const relay = impairment === null ? null : await startRelay(lab as Parameters<typeof startRelay>[0], impairment, timeoutMs / 1000);
      try {
        for (const run of [kernelToNicring, nicringToKernel]) {
          const result = await run(lab, mode, bytes, timeoutMs);
          const counters = SHOWN.filter((counter) => (result.tcp[counter] ?? 0) > 0).map((counter) => `${counter} ${result.tcp[counter]}`).join(', ');
          console.log(`${result.direction} ${mode} ${name}: ${(bytes / (1 << 20)).toFixed(0)} MiB ${result.intact ? 'intact' : 'CORRUPTED'} `
            + `in ${(result.ms / 1000).toFixed(1)} s (${(bytes / (1 << 20) / (result.ms / 1000)).toFixed(1)} MiB/s)${counters ? `; ${counters}` : ''}`
            + `${result.device?.multiBufferFrames ? `; multi-buffer frames ${result.device.multiBufferFrames}` : ''}`);
          if (!result.intact) process.exitCode = 1;
        }
        if (relay !== null) console.log(`  relay: ${JSON.stringify(await relay.stop())}`);
      } finally {
        if (impairment === null) labDown(lab.name);
        else relayLabDown(lab as Parameters<typeof relayLabDown>[0]);
      }
    }
  }
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exitCode = 1;
});
