// The package as a user installs it: `npm pack`, then `npm install` of the
// tarball into a new directory with no compiler on PATH (only node, npm and
// sh). The prebuilt N-API addon must load without a build; `nicring --help`
// runs, and (as root) `nicring respond` opens a lab device and answers ping.

import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canRunLab, labDown, labUp, type Lab } from '../../src/lab';
import { labName } from '../lab/harness';

const ROOT = path.join(__dirname, '..', '..');
const COMPILERS = ['cc', 'gcc', 'g++', 'c++', 'clang', 'make', 'python3'];

/** A directory of links to node, npm, npx and sh alone: a PATH without a compiler. */
function bareBin(dir: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const which = (name: string): string => spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  for (const name of ['node', 'npm', 'npx', 'sh']) fs.symlinkSync(fs.realpathSync(which(name)), path.join(bin, name));
  return bin;
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): string {
  const result = spawnSync(command, args, { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} exited with ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

describe('package: install from the tarball without a compiler', function () {
  this.timeout(600000);
  let work = '';
  let app = '';
  let env: NodeJS.ProcessEnv = {};

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-package-'));
    // Build against the installed headers when they are there: nothing can be downloaded.
    const packEnv = { ...process.env };
    if (packEnv.npm_config_nodedir === undefined && fs.existsSync('/usr/include/node/node_api.h')) packEnv.npm_config_nodedir = '/usr';
    run('npm', ['pack', '--pack-destination', work], { cwd: ROOT, env: packEnv });
    const tarball = fs.readdirSync(work).find((name) => name.endsWith('.tgz'));
    assert.ok(tarball !== undefined, 'npm pack wrote no tarball');
    const listing = run('tar', ['-tzf', path.join(work, tarball)], { cwd: work });
    assert.match(listing, /^package\/prebuilds\/linux-x64\/nicring\.glibc\.node$/m, 'the tarball carries the prebuilt addon');
    assert.match(listing, /^package\/examples\/dns\/index\.js$/m);

    app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    const bin = bareBin(work);
    env = { HOME: process.env.HOME ?? work, PATH: bin, npm_config_cache: path.join(work, 'npm-cache') };
    for (const name of COMPILERS) assert.notEqual(spawnSync('sh', ['-c', `command -v ${name}`], { env }).status, 0, `${name} is on the bare PATH`);
    run('npm', ['install', '--no-audit', '--no-fund', path.join(work, tarball)], { cwd: app, env });
  });

  after(() => {
    if (work !== '') fs.rmSync(work, { recursive: true, force: true });
  });

  it('loads the prebuilt addon, built nothing, and runs nicring --help', () => {
    const installed = path.join(app, 'node_modules', 'nicring');
    assert.equal(fs.existsSync(path.join(installed, 'build')), false, 'no source build happened');
    const chosen = run('node', ['-p', `require('node-gyp-build').path(${JSON.stringify(installed)})`], { cwd: app, env }).trim();
    assert.equal(chosen, path.join(installed, 'prebuilds', 'linux-x64', 'nicring.glibc.node'));
    const help = run(path.join(app, 'node_modules', '.bin', 'nicring'), ['--help'], { cwd: app, env });
    assert.match(help, /nicring respond --iface IF/);
    const addon = run('node', ['-p', "typeof require('nicring').open"], { cwd: app, env }).trim();
    assert.equal(addon, 'function');
  });

  describe('as root', () => {
    let lab: Lab | null = null;
    before(function () {
      if (!canRunLab()) {
        console.log('    (opening a lab device needs root: skipped)');
        this.skip();
      }
      lab = labUp({ name: labName('pkg') });
    });
    after(() => {
      if (lab !== null) labDown(lab.name);
    });

    it('opens a lab device with the installed nicring: respond comes up on AF_XDP and answers ping', async () => {
      const l = lab as Lab;
      const nicring = path.join(app, 'node_modules', '.bin', 'nicring');
      // `ip` from the full PATH runs the installed nicring inside the namespace with the bare one.
      const ip = spawnSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).stdout.trim();
      const child = spawn(ip, ['netns', 'exec', l.nicring.netns, nicring, 'respond', '--iface', l.nicring.ifname, '--address', l.nicring.address,
        '--port', '9000', '--json', '--duration', '30'], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
      const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const line = stdout.split('\n').find((text) => text.includes('"event":"ready"'));
          if (line !== undefined) resolve(JSON.parse(line) as Record<string, unknown>);
        });
        child.on('exit', (code) => reject(new Error(`nicring respond exited with ${code}: ${stderr}`)));
      });
      const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
      try {
        const line = await ready;
        assert.equal(line.backend, 'xdp');
        const ping = spawnSync('ip', ['netns', 'exec', l.peer.netns, 'ping', '-c', '3', '-i', '0.2', '-W', '2', l.nicring.ip], { encoding: 'utf8' });
        assert.equal(ping.status, 0, ping.stdout + ping.stderr);
      } finally {
        child.kill('SIGTERM');
        await closed;
      }
      const final = stdout.trim().split('\n').filter((text) => text.startsWith('{')).map((text) => JSON.parse(text) as Record<string, unknown>).pop();
      assert.equal(final?.event, 'final');
      assert.ok(Number(final?.pings) >= 1, JSON.stringify(final));
    });
  });
});
