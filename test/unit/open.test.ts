import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { OpenError, createPair, fallbackWarning, open, openWithBackends, resolveOpenOptions, type OpenBackends } from '../../src/index';

/** Backends that fail netmap with `netmapError` and open AF_XDP as one side of an in-memory pair; records what was tried. */
function stubBackends(netmapError: Error | null, available = true): OpenBackends & { tried: string[] } {
  const tried: string[] = [];
  return {
    tried,
    netmapAvailable: () => available,
    openNetmap: (ifname) => {
      tried.push(`netmap ${ifname}`);
      if (netmapError !== null) throw netmapError;
      return createPair({ names: [ifname, 'peer'] })[0];
    },
    openXdp: (options) => {
      tried.push(`xdp ${options.mode}`);
      return createPair({ names: [options.ifname, 'peer'] })[0];
    },
  };
}

function nativeError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, errno: 22, syscall: 'ioctl(NIOCCTRL)' });
}

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

  describe('falling back from netmap to AF_XDP', () => {
    const failure = nativeError('EINVAL', "ioctl(NIOCCTRL) veth0: Invalid argument (EINVAL). veth0's MTU (4000) is larger than netmap's 2048-byte buffers");

    it('says so on the device: the backend it tried first, its error code and message', () => {
      const backends = stubBackends(failure);
      const device = openWithBackends('veth0', {}, backends);
      assert.deepEqual(backends.tried, ['netmap veth0', 'xdp native']);
      assert.deepEqual(device.fallback, { backend: 'netmap', code: 'EINVAL', message: failure.message });
    });

    it('gives commands one warning line naming both backends, the code and the reason', () => {
      const device = openWithBackends('veth0', {}, stubBackends(failure));
      const warning = fallbackWarning(device);
      assert.equal(warning, `nicring: warning: netmap could not open veth0 (EINVAL), so this runs on pair (memory) instead: ${failure.message}`);
      assert.equal(warning?.includes('\n'), false);
    });

    it('has no fallback when netmap opened, was not there, or was not asked for', () => {
      for (const [backends, options] of [
        [stubBackends(null), {}],
        [stubBackends(failure, false), {}],
        [stubBackends(failure), { backend: 'xdp' as const }],
      ] as const) {
        const device = openWithBackends('veth0', options, backends);
        assert.equal(device.fallback, undefined);
        assert.equal(fallbackWarning(device), null);
      }
    });

    it('does not fall back when netmap was asked for, by backend or by a netmap: name', () => {
      for (const [name, options] of [['veth0', { backend: 'netmap' as const }], ['netmap:veth0', {}]] as const) {
        const backends = stubBackends(failure);
        assert.throws(() => openWithBackends(name, options, backends), (error: OpenError) => error instanceof OpenError && error.code === 'EINVAL');
        assert.deepEqual(backends.tried, [`netmap ${name}`]);
      }
    });
  });
});
