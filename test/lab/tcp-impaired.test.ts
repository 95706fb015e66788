// TCP over impaired links: nicring against the peer kernel's TCP through an
// impairing relay of our own (test/lab/impair-relay.c; this kernel has no
// netem), 32 MiB each way per case, in native and generic mode. Every byte
// arrives once and in order (SHA-256 on both ends), and nicring's counters
// show how it dealt with each impairment.

import { strict as assert } from 'node:assert';
import { canRunLab } from '../../src/lab';
import { labName } from './harness';
import { type Impairment, type RelayLab, kernelToNicring, nicringToKernel, relayLabDown, relayLabUp, startRelay } from './impaired-lab';

const BYTES = 32 << 20;

const CASES: Array<{ name: string; impairment: Impairment; check: (tcp: Record<string, number>, relay: Record<string, number>, sending: boolean) => void }> = [
  {
    name: '1% loss',
    impairment: { loss: 0.01 },
    check: (tcp, relay, sending) => {
      assert.ok(relay.lost > 0);
      if (sending) assert.ok(tcp.tcpRetransmits > 0, 'nicring resent what was lost');
      else assert.ok(tcp.tcpOutOfOrderQueued > 0, 'nicring kept what came after a hole');
    },
  },
  {
    name: '10 ms delay with 25% reordering',
    impairment: { delayMs: 10, reorder: 0.25, reorderMs: 5 },
    check: (tcp, relay) => {
      assert.ok(relay.reordered > 0);
      assert.ok((tcp.tcpOutOfOrderQueued ?? 0) + (tcp.tcpSackRecoveries ?? 0) + (tcp.tcpRetransmits ?? 0) > 0);
    },
  },
  {
    name: '1% duplication',
    impairment: { duplicate: 0.01 },
    check: (tcp, relay, sending) => {
      assert.ok(relay.duplicated > 0);
      if (!sending) assert.ok(tcp.tcpDuplicateSegments > 0, 'duplicates recognised and dropped');
    },
  },
  {
    name: '0.1% corruption',
    impairment: { corrupt: 0.001 },
    check: (tcp, relay, sending) => {
      assert.ok(relay.corrupted > 0);
      if (!sending) assert.ok((tcp.tcpBadChecksum ?? 0) > 0, 'checksums caught the corruption');
    },
  },
  {
    name: 'all four at once',
    impairment: { loss: 0.01, delayMs: 10, reorder: 0.25, reorderMs: 5, duplicate: 0.01, corrupt: 0.001 },
    check: (_tcp, relay) => assert.ok(relay.lost > 0 && relay.reordered > 0 && relay.duplicated > 0),
  },
];

for (const mode of ['native', 'generic'] as const) {
  describe(`tcp over impaired links (${mode} mode, impairing relay)`, function () {
    this.timeout(600000);
    let lab: RelayLab | null = null;
    before(function () {
      if (!canRunLab()) this.skip();
      lab = relayLabUp(labName(`ti${mode[0]}`).slice(0, 10), 100 + (process.pid % 50) * 2 + (mode === 'native' ? 0 : 1));
    });
    after(() => {
      if (lab !== null) relayLabDown(lab);
    });

    for (const testCase of CASES) {
      it(`carries 32 MiB each way intact through ${testCase.name}`, async () => {
        const l = lab as RelayLab;
        const relay = await startRelay(l, testCase.impairment, 500, 7);
        try {
          const upload = await kernelToNicring(l, mode, BYTES, 240000);
          const download = await nicringToKernel(l, mode, BYTES, 240000);
          const counts = await relay.stop();
          assert.ok(upload.intact, `kernel to nicring: ${JSON.stringify(upload)}`);
          assert.ok(download.intact, `nicring to kernel: ${JSON.stringify(download)}`);
          assert.equal(counts.overflow, 0, 'the relay kept up');
          testCase.check(upload.tcp, counts, false);
          testCase.check(download.tcp, counts, true);
        } finally {
          await relay.stop().catch(() => undefined);
        }
      });
    }
  });
}
