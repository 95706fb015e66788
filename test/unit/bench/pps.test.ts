import { strict as assert } from 'node:assert';
import { comparisons, formatTable, responderSpec, summarise, yardstickOf, type ResponderKind, type RunResult } from '../../../bench/pps';

function run(responder: ResponderKind, round: number, replyPps: number, cpuNsPerReply: number | null = 500): RunResult {
  return {
    responder, size: 64, batch: 64, round, offeredPps: 2_000_000, replyPps: replyPps * 1000, sent: 2_000_000, received: replyPps * 1000, lossPercent: 0,
    p50Us: null, p99Us: null, responderReplies: replyPps * 1000, responderCpuMs: 1000, cpuNsPerReply, gcEvents: null, checks: [],
  };
}

describe('benchmark summary', () => {
  it('reads a responder kind as family, XDP mode and busy-polling', () => {
    assert.deepEqual(responderSpec('nicring-generic-busy'), { family: 'nicring', mode: 'generic', busyPoll: true });
    assert.deepEqual(responderSpec('xsk-native'), { family: 'xsk', mode: 'native', busyPoll: false });
    assert.deepEqual(responderSpec('dgram'), { family: 'dgram', mode: null, busyPoll: false });
  });

  it('holds each AF_XDP responder against the C AF_XDP echo of its own XDP mode', () => {
    assert.equal(yardstickOf('nicring-native-busy'), 'xsk-native');
    assert.equal(yardstickOf('compare-generic'), 'xsk-generic');
    assert.equal(yardstickOf('reference-native'), 'xsk-native');
    assert.equal(yardstickOf('xsk-native'), null);
    assert.equal(yardstickOf('mmsg'), null);
    assert.deepEqual(comparisons(['nicring-native', 'nicring-generic', 'xsk-native', 'dgram']),
      [['nicring-native', 'xsk-native'], ['nicring-native', 'dgram'], ['nicring-generic', 'dgram']]);
  });

  it('takes ratios of medians and round by round within the same run', () => {
    const runs = [
      run('nicring-native', 1, 900), run('xsk-native', 1, 1000), run('dgram', 1, 200),
      run('nicring-native', 2, 1200), run('xsk-native', 2, 1000), run('dgram', 2, 250),
      run('nicring-native', 3, 1000), run('xsk-native', 3, 800, null), run('dgram', 3, 300),
    ];
    const [config] = summarise(runs);
    assert.equal(config.responders['nicring-native'].replyPps, 1_000_000);
    assert.deepEqual(config.responders['nicring-native'].rounds, [900_000, 1_200_000, 1_000_000]);
    assert.equal(config.responders['xsk-native'].replyPps, 1_000_000);
    assert.equal(config.responders['xsk-native'].cpuNsPerReply, 500);
    assert.equal(config.ratios['nicring-native/xsk-native'], 1);
    assert.equal(config.ratios['nicring-native/dgram'], 4);
    assert.deepEqual(config.roundRatios['nicring-native/xsk-native'], [0.9, 1.2, 1.25]);
    const table = formatTable([config], ['nicring-native', 'xsk-native', 'dgram']);
    assert.match(table, /native \/ C AF_XDP/);
    assert.match(table, /\| 64 B \| 64 \| 1000k \(2\.00M, 0%\) \| 1000k \(2\.00M, 0%\) \| 250k/);
    assert.match(table, /1\.00× \| 4\.00×/);
  });
});
