#!/usr/bin/env node
// The kernel's own UDP path, as a baseline for the docker lab and a check of
// its plumbing without nicring:
//   kernel-udp.js echo --port N [--duration SECONDS]
//   kernel-udp.js client --target IP:PORT --count N [--rate PPS] [--duration SECONDS] [--size BYTES]
// Both print JSON lines as nicring's responder and generator do; the last
// line holds the totals. The client's load is bounded in count and in time.
'use strict';

const dgram = require('node:dgram');

const TICK_MS = 2;
const DRAIN_MS = 1000;
const PROBE_WAIT_MS = 1000;

/** Reads `--name value` pairs into an object of strings. */
function parseOptions(args) {
  const options = {};
  for (let i = 0; i < args.length; i += 2) {
    if (!args[i].startsWith('--') || i + 1 >= args.length) {
      throw new Error(`expected --name value, got '${args[i]}'`);
    }
    options[args[i].slice(2)] = args[i + 1];
  }
  return options;
}

function positiveNumber(options, name, fallback) {
  const value = options[name] === undefined ? fallback : Number(options[name]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

function print(record) {
  process.stdout.write(JSON.stringify(record) + '\n');
}

/** Answers every datagram with itself until SIGINT, SIGTERM or the duration. */
function echo(options) {
  const port = positiveNumber(options, 'port', 7);
  const durationMs = options.duration === undefined ? 0 : positiveNumber(options, 'duration', 0) * 1000;
  const socket = dgram.createSocket('udp4');
  const totals = { received: 0, sent: 0, errors: 0 };
  socket.on('message', (message, from) => {
    totals.received++;
    socket.send(message, from.port, from.address, (error) => {
      if (error) totals.errors++;
      else totals.sent++;
    });
  });
  socket.bind(port);
  const report = setInterval(() => print(totals), 1000);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(report);
    print({ ...totals, final: true });
    socket.close();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (durationMs > 0) setTimeout(stop, durationMs).unref();
}

/**
 * Sends `count` datagrams at `rate` per second and counts the answers. One
 * probe goes first, and the load waits for its answer (or PROBE_WAIT_MS), so
 * that the burst does not overflow the kernel's queue for an unresolved
 * neighbour.
 */
function client(options) {
  const match = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(options.target || '');
  if (!match) throw new Error('--target must be IP:PORT');
  const count = positiveNumber(options, 'count', 1000);
  const rate = positiveNumber(options, 'rate', 10000);
  const durationMs = positiveNumber(options, 'duration', 10) * 1000;
  const payload = Buffer.alloc(positiveNumber(options, 'size', 64), 0xa5);
  const probe = Buffer.from([0]);
  const socket = dgram.createSocket('udp4');
  let sent = 0;
  let received = 0;
  let errors = 0;
  let probeTimer;
  let ticker;
  let loading = false;
  let finished = false;

  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(probeTimer);
    clearInterval(ticker);
    clearTimeout(deadline);
    print({ sent, received, lost: sent - received, errors });
    socket.close();
  };
  const deadline = setTimeout(finish, durationMs);

  const startLoad = () => {
    if (loading || finished) return;
    loading = true;
    clearTimeout(probeTimer);
    const startedMs = Date.now();
    ticker = setInterval(() => {
      const due = Math.min(count, Math.ceil(((Date.now() - startedMs) * rate) / 1000));
      while (sent < due) {
        socket.send(payload);
        sent++;
      }
      if (sent === count) {
        clearInterval(ticker);
        setTimeout(finish, DRAIN_MS);
      }
    }, TICK_MS);
  };

  // A connected socket learns of ICMP errors (port unreachable, say); they
  // are counted, and the load goes on.
  socket.on('error', () => {
    errors++;
  });
  socket.on('message', (message) => {
    if (message.length === 1 && message[0] === 0) {
      startLoad();
      return;
    }
    received++;
    if (sent === count && received === count) finish();
  });
  socket.connect(Number(match[2]), match[1], () => {
    socket.send(probe);
    probeTimer = setTimeout(startLoad, PROBE_WAIT_MS);
  });
}

const [mode, ...args] = process.argv.slice(2);
try {
  if (mode === 'echo') echo(parseOptions(args));
  else if (mode === 'client') client(parseOptions(args));
  else throw new Error('usage: kernel-udp.js echo|client --name value ...');
} catch (error) {
  process.stderr.write(`kernel-udp: ${error.message}\n`);
  process.exitCode = 2;
}
