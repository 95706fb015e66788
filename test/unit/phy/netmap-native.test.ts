// The addon's netmap half, run for real without a netmap module: a small
// LD_PRELOAD library stands in for /dev/netmap (a memfd whose NIOCCTRL,
// NIOCTXSYNC and NIOCRXSYNC it answers), so register, mmap, sync and close
// go through the compiled code. Its numbers come from netmap-abi.md.

import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { NativeAddon, NativeError } from '../../../src/native';
import { loadNative, packageRoot } from '../../../src/native';
import { netmapAvailable, openNetmapDevice } from '../../../src/phy/netmap';

function addonOrNull(): NativeAddon | null {
  try {
    return loadNative();
  } catch {
    return null;
  }
}

const FAKE_DEVICE_C = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Region: request echo at 0 and 128, counters at 1024, netmap_if at 4096,
   six rings (tx0 tx1 htx rx0 rx1 hrx) at 8192 + k*1024, buffers at 16384. */
enum { MEMSIZE = 122880, NIFP = 4096, RINGS = 8192, RING_STRIDE = 1024, BUFFERS = 16384,
       SLOTS = 8, BUF_SIZE = 2048, NIC = 2, TABLE = 3 };
static int fake_fd = -1;
static uint32_t hwcur[6];

static void put(uint64_t at, const void *p, size_t n) { pwrite(fake_fd, p, n, at); }
static void put16(uint64_t at, uint16_t v) { put(at, &v, 2); }
static void put32(uint64_t at, uint32_t v) { put(at, &v, 4); }
static void put64(uint64_t at, int64_t v) { put(at, &v, 8); }
static uint32_t get32(uint64_t at) { uint32_t v = 0; pread(fake_fd, &v, 4, at); return v; }
static uint64_t ring_at(int k) { return RINGS + (uint64_t)k * RING_STRIDE; }
static int bound[6];

static int do_open(const char *path, int flags) {
  if (strcmp(path, "/dev/netmap") != 0) return -2;
  if ((flags & O_ACCMODE) != O_RDWR) { errno = EACCES; return -1; }
  fake_fd = memfd_create("fake-netmap", MFD_CLOEXEC);
  if (fake_fd >= 0 && ftruncate(fake_fd, MEMSIZE) != 0) return -1;
  return fake_fd;
}

int open64(const char *path, int flags, ...) {
  va_list ap; va_start(ap, flags); int mode = va_arg(ap, int); va_end(ap);
  int fd = do_open(path, flags);
  if (fd != -2) return fd;
  int (*real)(const char *, int, ...) = dlsym(RTLD_NEXT, "open64");
  return real(path, flags, mode);
}

int open(const char *path, int flags, ...) {
  va_list ap; va_start(ap, flags); int mode = va_arg(ap, int); va_end(ap);
  int fd = do_open(path, flags);
  if (fd != -2) return fd;
  int (*real)(const char *, int, ...) = dlsym(RTLD_NEXT, "open");
  return real(path, flags, mode);
}

static int do_register(void *arg) {
  unsigned char *hdr = arg;
  unsigned char *body = (unsigned char *)(uintptr_t)*(uint64_t *)(hdr + 80);
  put(0, hdr, 88);
  put(128, body, 56);
  if (*(uint16_t *)(hdr + 0) != 14 || *(uint16_t *)(hdr + 2) != 1) { errno = EINVAL; return -1; }
  if (strcmp((char *)hdr + 8, "missing0") == 0) { errno = ENXIO; return -1; }
  if (strcmp((char *)hdr + 8, "held0") == 0) { errno = EBUSY; return -1; }
  uint32_t mode = *(uint32_t *)(body + 36);
  uint16_t ringid = *(uint16_t *)(body + 34);
  put(NIFP, "nmfake0", 8);
  put32(NIFP + 16, 14);
  put32(NIFP + 24, NIC); put32(NIFP + 28, NIC);
  put32(NIFP + 36, 1); put32(NIFP + 40, 1);
  for (int k = 0; k < 6; k++) {
    int i = k % TABLE, host = i >= NIC;
    bound[k] = mode == 4 ? (!host && i == ringid) : mode == 2 ? host : mode == 1 ? !host : 1;
    uint64_t r = ring_at(k);
    put64(NIFP + 56 + 8 * k, bound[k] ? (int64_t)(r - NIFP) : 0);
    put64(r + 0, (int64_t)BUFFERS - (int64_t)r);
    put32(r + 8, SLOTS); put32(r + 12, BUF_SIZE);
    put16(r + 16, i); put16(r + 18, k < TABLE ? 1 : 0);
    put32(r + 20, 0); put32(r + 24, 0); put32(r + 28, k < TABLE ? SLOTS - 1 : 0);
    for (int s = 0; s < SLOTS; s++) put32(r + 256 + 16 * s, 2 + k * SLOTS + s);
    hwcur[k] = 0;
  }
  *(uint64_t *)(body + 0) = NIFP;
  *(uint64_t *)(body + 8) = MEMSIZE;
  *(uint32_t *)(body + 16) = SLOTS; *(uint32_t *)(body + 20) = SLOTS;
  *(uint16_t *)(body + 24) = NIC; *(uint16_t *)(body + 26) = NIC;
  *(uint16_t *)(body + 28) = 1; *(uint16_t *)(body + 30) = 1;
  *(uint16_t *)(body + 32) = 7;
  return 0;
}

static void tx_sync(void) {
  put32(1024, get32(1024) + 1);
  for (int k = 0; k < TABLE; k++) {
    if (!bound[k]) continue;
    uint64_t r = ring_at(k);
    uint32_t head = get32(r + 20);
    put32(1032, get32(1032) + (head + SLOTS - hwcur[k]) % SLOTS);
    hwcur[k] = head;
    put32(r + 28, (head + SLOTS - 1) % SLOTS);
  }
}

/* Every RXSYNC that finds the first bound RX ring empty delivers one 60-byte frame of 0x42. */
static void rx_sync(void) {
  put32(1028, get32(1028) + 1);
  for (int k = TABLE; k < 6; k++) {
    if (!bound[k]) continue;
    uint64_t r = ring_at(k);
    uint32_t head = get32(r + 20), tail = get32(r + 28);
    hwcur[k] = head;
    if (head == tail) {
      uint32_t buf = get32(r + 256 + 16 * tail);
      unsigned char frame[60];
      memset(frame, 0x42, sizeof frame);
      put(BUFFERS + (uint64_t)buf * BUF_SIZE, frame, sizeof frame);
      put16(r + 256 + 16 * tail + 4, sizeof frame);
      put32(r + 28, (tail + 1) % SLOTS);
    }
    return;
  }
}

int ioctl(int fd, unsigned long request, ...) {
  va_list ap; va_start(ap, request); void *arg = va_arg(ap, void *); va_end(ap);
  if (fd == fake_fd && fd >= 0) {
    if (request == 0xC0586997UL) return do_register(arg);
    if (request == 0x6994UL) { tx_sync(); return 0; }
    if (request == 0x6995UL) { rx_sync(); return 0; }
    errno = ENOTTY;
    return -1;
  }
  int (*real)(int, unsigned long, ...) = dlsym(RTLD_NEXT, "ioctl");
  return real(fd, request, arg);
}
`;

// Runs in a child process with the library preloaded; prints one JSON report.
const CHILD_JS = String.raw`
const fs = require('node:fs');
const { loadNative } = require(process.env.NICRING_ROOT + '/src/native.ts');
const { openNetmapDevice } = require(process.env.NICRING_ROOT + '/src/phy/netmap.ts');
const native = loadNative();
const report = {};
const mappings = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('memfd:fake-netmap')).length;
const fdTarget = (fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd); } catch { return null; } };
const settle = async (done) => { for (let i = 0; i < 50 && !done(); i++) { global.gc(); await new Promise(setImmediate); } };

(async () => {
  const device = openNetmapDevice('netmap:nmfake0-1/x');
  const m = device.memory;
  report.request = {
    version: m.getUint16(0, true), reqtype: m.getUint16(2, true),
    name: Buffer.from(m.buffer, 8, 64).toString('latin1').replace(/\0.*$/s, ''),
    options: m.getUint32(72, true) + m.getUint32(76, true), bodyIsSet: m.getUint32(80, true) + m.getUint32(84, true) !== 0,
    ringid: m.getUint16(128 + 34, true), mode: m.getUint32(128 + 36, true), flags: m.getUint32(128 + 48, true),
  };
  report.byteLength = m.byteLength;
  report.ringOffsets = device.ringOffsets();
  report.frameCapacity = device.frameCapacity;
  const fd = device.fd;
  report.fdIsMemfd = (fdTarget(fd) || '').includes('memfd:fake-netmap');
  report.mappingsOpen = mappings();
  const frames = [];
  device.receive(8, (offset, length, token) => {
    frames.push([length, device.bytes[offset]]);
    device.bytes[offset] = 0x43;
    device.replyInPlace(token, length);
  });
  report.frames = frames;
  device.flush();
  report.syncs = { tx: m.getUint32(1024, true), rx: m.getUint32(1028, true), sent: m.getUint32(1032, true) };
  device.close();
  try { m.getUint8(0); report.readAfterClose = 'no error'; } catch (e) { report.readAfterClose = e.constructor.name; }
  report.byteLengthAfterClose = m.buffer.byteLength;
  report.mappingsAfterClose = mappings();
  report.fdClosed = !(fdTarget(fd) || '').includes('memfd:fake-netmap');

  let port = native.netmapOpen({ name: 'nmfake0', mode: 1, ringId: 0, flags: 0, txSlots: 0, rxSlots: 0 });
  let kept = port.memory;
  const portFd = port.fd;
  report.portFields = { ifOffset: port.ifOffset, memsize: port.memsize, txRings: port.txRings, rxRings: port.rxRings,
    hostTxRings: port.hostTxRings, hostRxRings: port.hostRxRings, txSlots: port.txSlots, rxSlots: port.rxSlots, memId: port.memId };
  port = null;
  await settle(() => !(fdTarget(portFd) || '').includes('memfd:fake-netmap'));
  report.gcPortFdClosed = !(fdTarget(portFd) || '').includes('memfd:fake-netmap');
  report.gcBufferStillMapped = mappings() === 1 && new DataView(kept).getUint32(4096 + 16, true) === 14;
  kept = null;
  await settle(() => mappings() === 0);
  report.gcBufferUnmapped = mappings() === 0;

  try {
    native.netmapOpen({ name: 'missing0', mode: 1, ringId: 0, flags: 0, txSlots: 0, rxSlots: 0 });
  } catch (e) {
    report.missing = { code: e.code, errno: e.errno, syscall: e.syscall, ifname: e.ifname, message: e.message };
  }
  try {
    native.netmapOpen({ name: 'held0', mode: 1, ringId: 0, flags: 0x800, txSlots: 0, rxSlots: 0 });
  } catch (e) {
    report.held = { code: e.code, syscall: e.syscall, message: e.message };
  }
  report.mappingsAtEnd = mappings();
  process.stdout.write(JSON.stringify(report));
})().catch((e) => { process.stdout.write(JSON.stringify({ crashed: String(e && e.stack || e) })); });
`;

// A loop that never runs out of frames (the stand-in delivers one on every RXSYNC that finds the ring
// empty), in busy-poll mode: every turn ends by deferring the next one. Node's timers and signal
// handlers must still run: the timer prints "timer", SIGTERM prints the figures and exits.
const SPIN_JS = String.raw`
const { openNetmapDevice } = require(process.env.NICRING_ROOT + '/src/phy/netmap.ts');
const { Loop } = require(process.env.NICRING_ROOT + '/src/loop.ts');
const device = openNetmapDevice('nmfake0');
let frames = 0;
const loop = new Loop(device, () => { frames++; }, { busyPoll: process.env.SPIN_MODE === 'busy-poll' });
let turnsAtTimer = -1;
let deferredAtTimer = -1;
let deferred = 0;
// The same deferral, re-armed from its own callback, with no loop around it.
const again = () => { deferred++; device.defer(again); };
if (process.env.SPIN_MODE === 'defer') device.defer(again);
else loop.start();
setTimeout(() => {
  turnsAtTimer = loop.counters.turns;
  deferredAtTimer = deferred;
  process.stdout.write('timer\n');
}, 20);
process.on('SIGTERM', () => {
  loop.stop();
  device.close();
  process.stdout.write(JSON.stringify({ turnsAtTimer, turns: loop.counters.turns, deferredAtTimer, deferred, frames }) + '\n');
  process.exit(0);
});
`;

describe('netmap addon', () => {
  let addon: NativeAddon | null = null;
  before(function () {
    addon = addonOrNull();
    if (addon === null) this.skip();
  });

  describe('without /dev/netmap', () => {
    before(function () {
      if (netmapAvailable()) this.skip();
    });

    it('netmapOpen fails with ENOENT and says how to load netmap or use xdp', () => {
      assert.throws(() => addon!.netmapOpen({ name: 'eth0', mode: 1, ringId: 0, flags: 0, txSlots: 0, rxSlots: 0 }),
        (error: NativeError) => {
          assert.equal(error.code, 'ENOENT');
          assert.equal(error.errno, 2);
          assert.equal(error.syscall, 'open(/dev/netmap)');
          assert.equal(error.ifname, 'eth0');
          assert.match(error.message, /netmap is not loaded/);
          assert.match(error.message, /modprobe netmap/);
          assert.match(error.message, /backend 'xdp'/);
          return true;
        });
    });

    it('openNetmapDevice passes the same error on, for the interface without its netmap: prefix', () => {
      assert.throws(() => openNetmapDevice('netmap:eth0-1'), (error: NativeError) => {
        assert.equal(error.code, 'ENOENT');
        assert.equal(error.ifname, 'eth0');
        return true;
      });
    });

    it('netmapAvailable() says no', () => {
      assert.equal(netmapAvailable(), existsSync('/dev/netmap'));
      assert.equal(netmapAvailable(), false);
    });
  });

  describe('over a stand-in /dev/netmap (LD_PRELOAD)', () => {
    let report: Record<string, any> = {};
    let work = '';

    before(function () {
      this.timeout(60_000);
      work = mkdtempSync(path.join(tmpdir(), 'nicring-netmap-'));
      writeFileSync(path.join(work, 'fake-dev-netmap.c'), FAKE_DEVICE_C);
      const library = path.join(work, 'fake-dev-netmap.so');
      try {
        execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', library, path.join(work, 'fake-dev-netmap.c'), '-ldl'], { stdio: 'pipe' });
      } catch {
        this.skip(); // no C compiler on this machine
      }
      const root = packageRoot();
      const output = execFileSync(process.execPath, ['--expose-gc', '--require', 'tsx/cjs', '-e', CHILD_JS], {
        cwd: root,
        env: { ...process.env, LD_PRELOAD: library, NICRING_ROOT: root },
        encoding: 'utf8',
        timeout: 50_000,
      });
      report = JSON.parse(output);
      assert.equal(report.crashed, undefined, report.crashed);
    });

    after(() => {
      if (work !== '') rmSync(work, { recursive: true, force: true });
    });

    it('registers with NIOCCTRL: API 14, NETMAP_REQ_REGISTER, nr_name without the prefix, mode, ring and flags', () => {
      assert.deepEqual(report.request, {
        version: 14, reqtype: 1, name: 'nmfake0', options: 0, bodyIsSet: true, ringid: 1, mode: 4, flags: 0x800,
      });
    });

    it('hands JS the register reply and the whole nr_memsize region as one ArrayBuffer', () => {
      assert.deepEqual(report.portFields, {
        ifOffset: 4096, memsize: 122880, txRings: 2, rxRings: 2, hostTxRings: 1, hostRxRings: 1, txSlots: 8, rxSlots: 8, memId: 7,
      });
      assert.equal(report.byteLength, 122880);
      assert.equal(report.mappingsOpen, 1);
      assert.equal(report.fdIsMemfd, true);
      assert.deepEqual(report.ringOffsets, { tx: [8192 + 1024], rx: [8192 + 4 * 1024] });
      assert.equal(report.frameCapacity, 2048);
    });

    it('receives with NIOCRXSYNC and sends a reply in place with one NIOCTXSYNC', () => {
      assert.deepEqual(report.frames, [[60, 0x42]]);
      assert.deepEqual(report.syncs, { tx: 1, rx: 1, sent: 1 });
    });

    it('close detaches the buffer, then unmaps and closes the fd', () => {
      assert.equal(report.readAfterClose, 'TypeError');
      assert.equal(report.byteLengthAfterClose, 0);
      assert.equal(report.mappingsAfterClose, 0);
      assert.equal(report.fdClosed, true);
    });

    it('a port collected without close keeps the region mapped while its buffer lives, and unmaps after', () => {
      assert.equal(report.gcPortFdClosed, true);
      assert.equal(report.gcBufferStillMapped, true);
      assert.equal(report.gcBufferUnmapped, true);
    });

    it('NIOCCTRL failures carry errno, code, syscall and the interface', () => {
      assert.equal(report.missing.code, 'ENXIO');
      assert.equal(report.missing.errno, 6);
      assert.equal(report.missing.syscall, 'ioctl(NIOCCTRL)');
      assert.equal(report.missing.ifname, 'missing0');
      assert.equal(report.mappingsAtEnd, 0);
    });

    it("explains EBUSY as netmap's: another port holds the rings exclusively, not an XDP program", () => {
      assert.equal(report.held.code, 'EBUSY');
      assert.equal(report.held.syscall, 'ioctl(NIOCCTRL)');
      assert.match(report.held.message, /exclusive/);
      assert.match(report.held.message, /\/x/);
      assert.doesNotMatch(report.held.message, /XDP/);
    });

    /** Run SPIN_JS in `mode`; resolves with its figures after "timer" and SIGTERM, or fails when either never comes. */
    function spin(mode: string): Promise<Record<string, number>> {
      const root = packageRoot();
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', '-e', SPIN_JS], {
        cwd: root,
        env: { ...process.env, LD_PRELOAD: path.join(work, 'fake-dev-netmap.so'), NICRING_ROOT: root, SPIN_MODE: mode },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
      return new Promise((resolve, reject) => {
        // A failure bound, not a measurement: the child ran out of time to run its timer or its signal handler.
        const giveUp = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`${mode}: no ${stdout.includes('timer') ? 'exit after SIGTERM' : 'timer'} in 30 s (stderr: ${stderr.trim()})`));
        }, 30_000);
        child.stdout.on('data', (chunk: Buffer) => {
          const before = stdout;
          stdout += chunk.toString();
          if (!before.includes('timer\n') && stdout.includes('timer\n')) child.kill('SIGTERM');
        });
        child.on('close', (code, signal) => {
          clearTimeout(giveUp);
          const line = stdout.split('\n').find((text) => text.startsWith('{'));
          if (code !== 0 || line === undefined) reject(new Error(`${mode}: exited with ${code ?? signal}: ${stderr.trim()}`));
          else resolve(JSON.parse(line) as Record<string, number>);
        });
      });
    }

    it('a deferral re-armed from its own callback still lets timers and signal handlers run', async function () {
      this.timeout(40_000);
      const figures = await spin('defer');
      assert.ok(figures.deferredAtTimer > 0, `the deferral ran before the timer (${figures.deferredAtTimer})`);
      assert.ok(figures.deferred > figures.deferredAtTimer, 'and went on running after it');
    });

    it('a busy-poll loop that never runs dry still runs timers and handles SIGTERM', async function () {
      this.timeout(40_000);
      const figures = await spin('busy-poll');
      assert.ok(figures.turnsAtTimer > 0, `the loop had spun ${figures.turnsAtTimer} turns when the timer ran`);
      assert.ok(figures.turns > figures.turnsAtTimer);
      assert.ok(figures.frames > 0);
    });
  });
});
