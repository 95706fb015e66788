import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { OpenError, open, resolveOpenOptions } from '../../src/index';

describe('open()', () => {
  it('names the bad option in a one-line error', () => {
    assert.throws(() => open('eth0', { ringSize: 100 }), /^TypeError: open\(\): option ringSize must be a power of two from 64 to 16384, got 100$/);
    assert.throws(() => open('eth0', { backend: 'dpdk' as 'xdp' }), /option backend must be 'auto', 'netmap' or 'xdp', got "dpdk"/);
    assert.throws(() => open('eth0', { frameSize: 1500 }), /option frameSize must be 2048 or 4096/);
    assert.throws(() => open('eth0', { queue: -1 }), /option queue/);
    assert.throws(() => open('eth0', { ringsize: 64 } as never), /unknown option ringsize/);
    assert.throws(() => open('', {}), /ifname/);
  });

  it('fills in defaults', () => {
    const resolved = resolveOpenOptions({});
    assert.equal(resolved.backend, 'auto');
    assert.equal(resolved.xdpMode, 'auto');
    assert.equal(resolved.ringSize, 2048);
    assert.equal(resolved.frameCount, 4096);
    assert.equal(resolved.frameSize, 2048);
  });

  it('refuses a netmap port name with the xdp backend', () => {
    assert.throws(() => open('netmap:eth0', { backend: 'xdp' }), /option backend must be 'netmap' or 'auto'/);
  });

  it('says netmap is not loaded and what to do, when /dev/netmap is missing', function () {
    if (existsSync('/dev/netmap')) this.skip();
    let error: OpenError | undefined;
    try {
      open('netmap:eth0');
    } catch (e) {
      error = e as OpenError;
    }
    assert.ok(error instanceof OpenError);
    assert.equal(error.attempts.length, 1);
    assert.equal(error.attempts[0].backend, 'netmap');
    assert.equal((error.attempts[0].error as Error & { code?: string }).code, 'ENOENT');
    assert.match(error.message, /netmap is not loaded/);
    assert.match(error.message, /'xdp'/);
  });

  it('lists every attempt when no backend can open the interface', () => {
    let error: OpenError | undefined;
    try {
      open('nicring-no-such-if0');
    } catch (e) {
      error = e as OpenError;
    }
    assert.ok(error instanceof OpenError, String(error));
    assert.ok(error.attempts.length >= 1);
    assert.ok(error.attempts.every((a) => a.backend === 'xdp' || a.backend === 'netmap'));
    assert.match(error.message, /cannot open nicring-no-such-if0/);
    assert.ok(['ENODEV', 'EPERM'].includes(error.code), error.code);
  });
});
