// The DNS example as an operator runs it: `nicring respond --port 53
// --handler examples/dns/index.js --zone examples/dns/example.zone` on
// nicring's side of the lab, asked over UDP and TCP by dig and kdig (Debian's
// bind9-dnsutils and knot-dnsutils) and by kernel UDP and TCP clients in the
// peer namespace (whose kernel keeps its default offloads); every reply it
// sent read back by tshark; truncated answers fetched again over TCP;
// pipelined, badly framed and silent TCP clients; malformed and fuzzed
// queries; response rate limiting of a flood while another client is
// answered; metrics scraped during load, checked by promtool and held
// against the final JSON; DNS over TCP on every queue of a 2-queue lab.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { execIn, type Lab } from '../../src/lab';
import { labName, startInNetns, useLab, type Agent } from './harness';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'nicring.ts');
const DNS_AGENT = path.join(__dirname, 'dns-agent.ts');
const HANDLER = path.join(ROOT, 'examples', 'dns', 'index.js');
const ZONE = path.join(ROOT, 'examples', 'dns', 'example.zone');
const METRICS_PORT = 9153;

type Json = Record<string, unknown>;

/** `nicring respond --json` with the DNS example, in nicring's namespace. */
interface DnsResponder {
  agent: Agent;
  lines: Json[];
  ready: Promise<Json>;
  /** SIGTERM, then the final line. */
  stop(): Promise<Json>;
}

function startDns(l: Lab, args: string[]): DnsResponder {
  const agent = startInNetns(l.nicring.netns, [process.execPath, '--import', 'tsx', CLI, 'respond', '--json', '--iface', l.nicring.ifname,
    '--address', l.nicring.address, '--port', '53', '--handler', HANDLER, '--zone', ZONE, ...args]);
  const lines: Json[] = [];
  let pending = '';
  let onReady: (line: Json) => void = () => undefined;
  const readyLine = new Promise<Json>((resolve) => { onReady = resolve; });
  agent.child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const text of complete) {
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as Json;
      lines.push(line);
      if (line.event === 'ready') onReady(line);
    }
  });
  const closed = new Promise<void>((resolve) => agent.child.on('close', () => resolve()));
  const exitedEarly = agent.result.then((last) => { throw new Error(`nicring respond exited before it was ready: ${JSON.stringify(last)}`); });
  const ready = Promise.race([readyLine, exitedEarly]).then((line) => {
    // The peer's kernel resolves nicring's address before the first query goes out.
    for (let attempt = 0; attempt < 5; attempt++) {
      if (spawnSync('ip', ['netns', 'exec', l.peer.netns, 'ping', '-c', '1', '-W', '1', l.nicring.ip]).status === 0) return line;
    }
    throw new Error(`the peer cannot reach nicring respond at ${l.nicring.ip}`);
  });
  ready.catch(() => undefined);
  return {
    agent, lines, ready,
    async stop() {
      agent.stop('SIGTERM');
      await Promise.all([closed, agent.result.catch(() => undefined)]);
      const last = lines[lines.length - 1];
      if (last?.event !== 'final') throw new Error(`no final line from nicring respond: ${JSON.stringify(last)}`);
      return last;
    },
  };
}

/** Run a command in the peer namespace; its stdout (fails on a non-zero exit). */
function peer(l: Lab, command: string[]): string {
  return execIn(l.peer.netns, command);
}

const dig = (l: Lab, ...args: string[]): string => peer(l, ['dig', `@${l.nicring.ip}`, '+norec', '+time=2', '+tries=2', ...args]);
const kdig = (l: Lab, ...args: string[]): string => peer(l, ['kdig', `@${l.nicring.ip}`, '+time=2', '+retry=1', ...args]);

/** The transport dig or kdig says the (last) answer came over. */
function transport(output: string): string {
  const all = [...output.matchAll(/\((UDP|TCP)\)/g)];
  return all.length === 0 ? '' : all[all.length - 1][1];
}

/** Run dig or kdig in the peer namespace; stdout and stderr together (kdig warns on stderr). */
function peerWithWarnings(l: Lab, command: string[]): string {
  const run = spawnSync('ip', ['netns', 'exec', l.peer.netns, ...command], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return `${run.stderr}${run.stdout}`;
}

/** What the DNS example's TCP client job saw on one connection (test/lab/dns-agent.ts). */
interface TcpOutcome {
  replies: { id: number; rcode: string; tc: boolean; answers: number; bytes: number; hex: string }[];
  serverClosedAfterMs: number | null;
  reset: boolean;
}

/** The header line's status and flags, and the section counts, from dig's or kdig's full output. */
function header(output: string): { status: string; flags: string[]; answer: number; authority: number } {
  const status = /status: (\w+)/.exec(output)?.[1] ?? '';
  const flagLine = /;; [Ff]lags: ([a-z ]*);/.exec(output);
  const answer = Number(/ANSWER: (\d+)/.exec(output)?.[1] ?? -1);
  const authority = Number(/AUTHORITY: (\d+)/.exec(output)?.[1] ?? -1);
  return { status, flags: (flagLine?.[1] ?? '').trim().split(/\s+/), answer, authority };
}

/** Run a job of test/lab/dns-agent.ts in `netns` to its end; its last JSON line. */
function runAgentJob(netns: string, job: string, args: Record<string, string | number>): { agent: Agent; result: Promise<Json> } {
  const flat = Object.entries(args).flatMap(([key, value]) => [`--${key}`, String(value)]);
  const agent = startInNetns(netns, [process.execPath, '--import', 'tsx', DNS_AGENT, job, ...flat]);
  return { agent, result: agent.result };
}

/** Scrape the metrics endpoint from inside nicring's namespace. */
function scrape(l: Lab): string {
  return execIn(l.nicring.netns, [process.execPath, '-e',
    `fetch('http://127.0.0.1:${METRICS_PORT}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(e.message); process.exit(1); })`]);
}

/** Exposition text → value by sample name (labels included). */
function samples(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    map.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return map;
}

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

describe('DNS example in the lab', function () {
  this.timeout(180000);
  const { lab } = useLab({ name: labName('dns'), staticNeighbor: false });

  describe('dig and kdig from the peer', () => {
    let responder: DnsResponder;
    let pcap = '';
    let final: Json = {};

    before(async function () {
      this.timeout(60000);
      pcap = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nicring-dns-')), 'dns.pcap');
      responder = startDns(lab(), ['--rrl-prefix', '32', '--rrl-rate', '1000', '--tcp-idle-timeout', '1', '--pcap', pcap]);
      const ready = await responder.ready;
      assert.deepEqual(ready.handlerTcpPorts, [53]);
    });

    after(async () => {
      if (final.event === undefined) await responder?.stop().catch(() => undefined);
      fs.rmSync(path.dirname(pcap), { recursive: true, force: true });
    });

    const EXPECTED: [string, string, string[]][] = [
      ['example.test', 'SOA', ['ns1.example.test. hostmaster.example.test. 2024010101 7200 900 1209600 300']],
      ['example.test', 'NS', ['ns1.example.test.', 'ns2.example.test.']],
      ['example.test', 'MX', ['10 mail.example.test.', '20 mail2.example.test.']],
      ['example.test', 'A', ['198.18.100.1']],
      ['example.test', 'AAAA', ['2001:db8::1']],
      ['example.test', 'TXT', ['"v=spf1 mx -all"']],
      ['text.example.test', 'TXT', ['"hello" "two strings" "with \\"quotes\\" and a \\\\ backslash"']],
      ['ns2.example.test', 'AAAA', ['2001:db8::54']],
      ['www.example.test', 'CNAME', ['web.example.test.']],
      ['alias.example.test', 'A', ['www.example.test.', 'web.example.test.', '198.18.100.80', '198.18.100.81']],
    ];

    for (const [tool, run] of [['dig', dig], ['kdig', kdig]] as const) {
      for (const over of ['UDP', 'TCP']) {
        it(`${tool}${over === 'TCP' ? ' +tcp' : ''}: every record type of the sample zone, authoritatively, over ${over}`, () => {
          const via = over === 'TCP' ? ['+tcp'] : [];
          for (const [name, type, answer] of EXPECTED) {
            assert.deepEqual(run(lab(), ...via, '+short', name, type).trim().split('\n').sort(), [...answer].sort(), `${tool} ${name} ${type}`);
            const output = run(lab(), ...via, name, type);
            const full = header(output);
            assert.equal(full.status, 'NOERROR');
            assert.ok(full.flags.includes('aa') && !full.flags.includes('ra'), `${tool} ${name} ${type}: flags ${full.flags.join(' ')}`);
            assert.equal(transport(output), over);
          }
        });
      }

      it(`${tool}: NXDOMAIN and NODATA with the SOA in the authority section, REFUSED for a foreign zone`, () => {
        const nx = run(lab(), 'nope.example.test', 'A');
        assert.deepEqual(header(nx), { status: 'NXDOMAIN', flags: header(nx).flags, answer: 0, authority: 1 });
        assert.match(nx, /^example\.test\.\s+300\s+IN\s+SOA\s+ns1\.example\.test\. hostmaster\.example\.test\. 2024010101/m);
        const nodata = run(lab(), 'mail.example.test', 'AAAA');
        assert.equal(header(nodata).status, 'NOERROR');
        assert.equal(header(nodata).answer, 0);
        assert.match(nodata, /^example\.test\.\s+300\s+IN\s+SOA\s/m);
        const refused = header(run(lab(), 'www.example.net', 'A'));
        assert.equal(refused.status, 'REFUSED');
        assert.ok(!refused.flags.includes('aa'));
      });

      it(`${tool}: an RRset too large for 512 bytes, told TC=1 without EDNS, is fetched whole over TCP; whole over UDP with +bufsize=4096`, () => {
        const retried = tool === 'dig'
          ? peerWithWarnings(lab(), ['dig', `@${lab().nicring.ip}`, '+norec', '+time=2', '+tries=2', '+noedns', 'big.example.test', 'TXT'])
          : peerWithWarnings(lab(), ['kdig', `@${lab().nicring.ip}`, '+time=2', '+retry=1', '+noedns', 'big.example.test', 'TXT']);
        assert.match(retried, tool === 'dig' ? /;; Truncated, retrying in TCP mode\./ : /;; WARNING: truncated reply from [\d.]+@53\(UDP\), retrying over TCP/);
        assert.equal(transport(retried), 'TCP');
        assert.ok(!header(retried).flags.includes('tc'));
        assert.equal(header(retried).answer, 8);
        const whole = run(lab(), '+bufsize=4096', 'big.example.test', 'TXT');
        assert.equal(transport(whole), 'UDP');
        assert.ok(!header(whole).flags.includes('tc'));
        assert.equal(header(whole).answer, 8);
        assert.match(whole, /udp: 1232|UDP size: 1232 B/);
      });

      it(`${tool}: an RRset larger than any UDP reply (4 KB) is truncated even with EDNS, and fetched whole over TCP`, () => {
        const output = run(lab(), '+bufsize=4096', 'huge.example.test', 'TXT');
        assert.equal(transport(output), 'TCP');
        assert.equal(header(output).answer, 40);
        assert.match(output, /MSG SIZE\s+rcvd: (\d{4})|Received (\d{4}) B/);
        assert.match(run(lab(), '+tcp', '+short', 'huge.example.test', 'TXT'), /"huge-39 \.+"/);
      });
    }

    it('dig +ignore: the UDP answer itself, TC=1 with no records', () => {
      const truncated = dig(lab(), '+ignore', '+noedns', 'big.example.test', 'TXT');
      assert.equal(transport(truncated), 'UDP');
      assert.ok(header(truncated).flags.includes('tc'), `flags ${header(truncated).flags.join(' ')}`);
      assert.equal(header(truncated).answer, 0);
    });

    it('kdig +tcp +keepopen asks several names in one run, and a kernel client pipelines 50 queries over one connection in one write', async () => {
      const output = kdig(lab(), '+tcp', '+keepopen', 'www.example.test', 'A', 'example.test', 'MX', 'nope.example.test', 'A', 'big.example.test', 'TXT');
      assert.deepEqual([...output.matchAll(/status: (\w+)/g)].map((match) => match[1]), ['NOERROR', 'NOERROR', 'NXDOMAIN', 'NOERROR']);
      assert.equal([...output.matchAll(/From [\d.]+@53\(TCP\)/g)].length, 4);
      const { result } = runAgentJob(lab().peer.netns, 'tcp', {
        target: `${lab().nicring.ip}:53`, scenario: 'pipelined', count: 50, names: 'www.example.test/A,nope.example.test/A,big.example.test/TXT,huge.example.test/TXT,example.test/NS',
      });
      const [connection] = (await result as { connections: TcpOutcome[] }).connections;
      assert.deepEqual(connection.replies.map((reply) => reply.id), Array.from({ length: 50 }, (_, id) => id), 'every answer, in order');
      assert.deepEqual(connection.replies.slice(0, 5).map((reply) => [reply.rcode, reply.answers, reply.tc]), [['NOERROR', 3, false], ['NXDOMAIN', 0, false], ['NOERROR', 8, false], ['NOERROR', 40, false], ['NOERROR', 2, false]]);
    });

    it('closes a TCP connection on a length prefix shorter than a header, and after FORMERR for a prefix that frames a malformed message', async () => {
      const target = `${lab().nicring.ip}:53`;
      const bad = await runAgentJob(lab().peer.netns, 'tcp', { target, scenario: 'badLength' }).result as unknown as TcpOutcome;
      assert.deepEqual(bad.replies.map((reply) => [reply.id, reply.rcode]), [[1, 'NOERROR']], 'the query before it answered, nothing after');
      assert.ok(bad.serverClosedAfterMs !== null, 'the server closed');
      const long = await runAgentJob(lab().peer.netns, 'tcp', { target, scenario: 'longPrefix' }).result as unknown as TcpOutcome;
      assert.equal(long.replies.length, 1);
      assert.equal(long.replies[0].hex.length, 24, 'header only');
      assert.equal(parseInt(long.replies[0].hex.slice(4, 8), 16) & 0x800f, 0x8001, 'QR and FORMERR');
      assert.ok(long.serverClosedAfterMs !== null, 'the server closed');
    });

    it('closes a TCP connection idle for --tcp-idle-timeout, one stopped inside a length prefix too', async () => {
      const target = `${lab().nicring.ip}:53`;
      const [idle, partial] = await Promise.all([
        runAgentJob(lab().peer.netns, 'tcp', { target, scenario: 'idle', waitMs: 10000 }).result,
        runAgentJob(lab().peer.netns, 'tcp', { target, scenario: 'partial', waitMs: 10000 }).result,
      ]) as unknown as TcpOutcome[];
      assert.deepEqual(idle.replies.map((reply) => reply.rcode), ['NOERROR']);
      for (const outcome of [idle, partial]) {
        assert.ok(outcome.serverClosedAfterMs !== null, 'the server closed');
        // Never before the timeout (1 s) since the client's last byte.
        assert.ok(outcome.serverClosedAfterMs >= 900, `closed after ${outcome.serverClosedAfterMs} ms`);
      }
    });

    it('dig: a mixed-case name is echoed as asked, in the question and the answer (kdig sends names in lower case)', () => {
      const output = dig(lab(), 'WwW.ExAmPlE.TeSt', 'A');
      assert.match(output, /^;WwW\.ExAmPlE\.TeSt\.\s+IN\s+A$/m);
      assert.match(output, /^WwW\.ExAmPlE\.TeSt\.\s+3600\s+IN\s+CNAME\s+web\.example\.test\.$/m);
      assert.match(kdig(lab(), 'WwW.ExAmPlE.TeSt', 'A'), /^www\.example\.test\.\s+3600\s+IN\s+CNAME\s+web\.example\.test\.$/m);
    });

    it('answers malformed queries with FORMERR (header only) or nothing, counts each, and answers after', async () => {
      const { result } = runAgentJob(lab().peer.netns, 'malformed', { target: `${lab().nicring.ip}:53` });
      const { replies, after } = await result as { replies: Record<string, string | null>; after: string | null };
      for (const name of ['headerCut', 'response']) assert.equal(replies[name], null, name);
      for (const name of ['questionCut', 'qdcount0', 'qdcount2', 'compressionLoop', 'labelPastEnd', 'additionalLoop']) {
        const reply = replies[name];
        assert.ok(reply !== null && reply.length === 24, `${name}: ${reply}`);
        assert.equal(parseInt(reply.slice(4, 8), 16) & 0x800f, 0x8001, `${name}: QR and FORMERR`);
      }
      assert.ok(after !== null);
      assert.equal(dnsPacket.decode(Buffer.from(after, 'hex')).answers?.length, 3);
    });

    it('sends only well-formed DNS over UDP and TCP: tshark reads every reply in the capture, and the counters add up', async () => {
      final = await responder.stop();
      const handler = final.handler as Record<string, number>;
      const outcomes = Object.entries(handler).filter(([key]) => key !== 'queries' && !key.startsWith('tcp'));
      assert.equal(outcomes.reduce((sum, [, value]) => sum + value, 0), handler.queries, 'one outcome per query, UDP or TCP');
      assert.equal(final.requests, handler.queries - handler.tcpQueries, 'the responder saw the UDP ones');
      assert.equal((final.drops as Record<string, number>).handlerError ?? 0, 0);
      assert.ok(handler.formErr >= 7 && handler.ignoredResponses >= 1 && handler.ignoredTooShort >= 1, JSON.stringify(handler));
      assert.ok(handler.tcpQueries > 50 && handler.tcpAccepted > 10, JSON.stringify(handler));
      assert.deepEqual([handler.tcpBadLength, handler.tcpClosedAfterFormErr, handler.tcpIdleTimeouts, handler.tcpIncomplete, handler.tcpRefused], [1, 1, 2, 1, 0]);
      const tshark = (filter: string, field = 'dns.flags.rcode'): string[] => {
        // Two passes: a TCP segment learns which later frame reassembled the message it carries.
        const run = spawnSync('tshark', ['-2', '-r', pcap, '-Y', filter, '-T', 'fields', '-e', 'frame.number', '-e', field, '-e', '_ws.expert.message'], { encoding: 'utf8' });
        assert.equal(run.status, 0, run.stderr);
        return run.stdout.split('\n').filter((row) => row !== '');
      };
      const sent = tshark('udp.srcport == 53');
      assert.equal(sent.length, final.replies, 'one captured reply per UDP reply sent');
      assert.deepEqual(tshark('udp.srcport == 53 && !dns'), []);
      // Over TCP every segment with data is DNS, or part of a DNS message tshark reassembled from several.
      assert.deepEqual(tshark('tcp.srcport == 53 && tcp.len > 0 && !dns && !tcp.reassembled_in'), []);
      assert.deepEqual(tshark('(udp.srcport == 53 || tcp.srcport == 53) && (_ws.malformed || _ws.expert.severity >= "error")'), []);
      // One DNS message per reply sent over TCP (a segment may carry several): every TCP query got one but the response-free ones.
      const tcpMessages = tshark('tcp.srcport == 53 && dns', 'dns.id').reduce((sum, row) => sum + row.split('\t')[1].split(',').length, 0);
      assert.equal(tcpMessages, handler.tcpQueries);
      const rcodes = tshark('(udp.srcport == 53 || tcp.srcport == 53) && dns').flatMap((row) => row.split('\t')[1].split(','));
      assert.equal(rcodes.filter((code) => code === '1').length, handler.formErr);
    });
  });

  describe('under load: fuzzed queries and metrics', () => {
    it('takes 100,000 fuzzed queries without an exception, FORMERR or well-formed replies, and its scraped metrics match the final JSON', async () => {
      const l = lab();
      const responder = startDns(l, ['--rrl-rate', '0', '--metrics', `127.0.0.1:${METRICS_PORT}`]);
      try {
        const ready = await responder.ready;
        assert.equal(ready.metrics, `http://127.0.0.1:${METRICS_PORT}/metrics`);
        const fuzz = runAgentJob(l.peer.netns, 'fuzz', { target: `${l.nicring.ip}:53`, count: 100_000, rate: 20_000, seed: 7 });
        await fuzz.agent.ready;
        // A scrape while the load runs: promtool accepts it, and its counters are under way.
        let during = '';
        for (let attempt = 0; attempt < 50; attempt++) {
          during = scrape(l);
          if ((samples(during).get('nicring_handler_queries_total') ?? 0) > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const check = spawnSync('promtool', ['check', 'metrics'], { input: during, encoding: 'utf8' });
        assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
        assert.ok((samples(during).get('nicring_handler_queries_total') ?? 0) > 0, 'the scrape came during the load');

        const result = await fuzz.result;
        assert.equal(result.undecodable, 0, `an undecodable reply: ${String(result.firstUndecodable)}`);
        assert.ok(String(result.after).length > 0, 'no answer after the fuzz');
        assert.equal(dnsPacket.decode(Buffer.from(String(result.after), 'hex')).answers?.length, 3);

        const after = samples(scrape(l));
        const final = await responder.stop();
        const handler = final.handler as Record<string, number>;
        const { queries } = handler;
        const outcomes = Object.entries(handler).filter(([key]) => key !== 'queries' && !key.startsWith('tcp'));
        assert.equal(outcomes.reduce((sum, [, value]) => sum + value, 0), queries);
        assert.equal((final.drops as Record<string, number>).handlerError ?? 0, 0, 'the handler never threw');
        assert.ok(queries > 90_000, `only ${queries} of 100,000 arrived`);
        assert.ok(Number(result.formErr) > 0 && Number(result.formErr) <= handler.formErr, `${String(result.formErr)} FORMERR seen, ${handler.formErr} sent`);
        assert.ok(Number(result.replies) <= Number(final.replies));
        // The counters the DNS traffic moves are the final JSON's, exactly; no other counter went back.
        for (const [key, value] of Object.entries(handler)) assert.equal(after.get(`nicring_handler_${snake(key)}_total`), value, key);
        assert.equal(after.get('nicring_responder_requests_total'), final.requests);
        assert.equal(after.get('nicring_responder_replies_total'), final.replies);
        assert.equal(after.get('nicring_stack_udp_received_total'), queries);
        assert.ok((after.get('nicring_device_rx_frames_total') ?? 0) <= Number(final.rx));
        for (const [name, value] of samples(during)) {
          if (name.startsWith('nicring_') && name.endsWith('_total')) assert.ok((after.get(name) ?? 0) >= value, `${name} went back`);
        }
      } finally {
        await responder.stop().catch(() => undefined);
      }
    });
  });

  describe('response rate limiting at /32', () => {
    it('slips and drops a flood from one address past the limit while another client is answered in full', async () => {
      const l = lab();
      const otherIp = `${l.peer.ip.split('.').slice(0, 3).join('.')}.3`;
      execIn(l.peer.netns, ['ip', 'addr', 'add', `${otherIp}/24`, 'dev', l.peer.ifname]);
      const responder = startDns(l, ['--rrl-rate', '20', '--rrl-prefix', '32', '--rrl-slip', '2']);
      try {
        await responder.ready;
        const flood = runAgentJob(l.peer.netns, 'queries', { target: `${l.nicring.ip}:53`, count: 3000, name: 'big.example.test', type: 'TXT', udpSize: 4096, bind: l.peer.ip });
        await flood.agent.ready;
        const other = runAgentJob(l.peer.netns, 'queries', { target: `${l.nicring.ip}:53`, count: 5, gapMs: 100, name: 'www.example.test', type: 'A', bind: otherIp });
        const [floodResult, otherResult] = await Promise.all([flood.result, other.result]);
        assert.deepEqual(otherResult, { sent: 5, full: 5, truncated: 0, other: 0, missing: 0 });
        const final = await responder.stop();
        const handler = final.handler as Record<string, number>;
        assert.ok(Number(floodResult.truncated) > 0 && Number(floodResult.missing) > 0, JSON.stringify(floodResult));
        assert.ok(Number(floodResult.full) < 3000 / 2, JSON.stringify(floodResult));
        assert.equal(handler.rrlSlipped, floodResult.truncated);
        assert.ok(handler.rrlDropped > 0);
        assert.equal(handler.answers, Number(floodResult.full) + 5);
      } finally {
        await responder.stop().catch(() => undefined);
        execIn(l.peer.netns, ['ip', 'addr', 'del', `${otherIp}/24`, 'dev', l.peer.ifname]);
      }
    });
  });

  describe('DNS over TCP on a 2-queue lab', () => {
    const { lab: twoQueues } = useLab({ name: labName('dnsq'), queues: 2, staticNeighbor: false });

    it('answers TCP on each queue\'s own listener: connections spread over both workers, each answered in full', async () => {
      const l = twoQueues();
      const responder = startDns(l, ['--rrl-rate', '0']);
      try {
        const ready = await responder.ready;
        assert.deepEqual(ready.queues, [0, 1]);
        assert.equal(transport(dig(l, '+tcp', 'www.example.test', 'A')), 'TCP');
        // 16 connections at once, 20 pipelined queries each: the peer's kernel puts each flow on one of its queues, and veth on nicring's queue of that number.
        const { result } = runAgentJob(l.peer.netns, 'tcp', {
          target: `${l.nicring.ip}:53`, scenario: 'pipelined', count: 20, connections: 16, names: 'www.example.test/A,huge.example.test/TXT,nope.example.test/A',
        });
        const { connections } = await result as { connections: TcpOutcome[] };
        for (const connection of connections) {
          assert.equal(connection.reset, false);
          assert.deepEqual(connection.replies.map((reply) => reply.id), Array.from({ length: 20 }, (_, id) => id));
          assert.ok(connection.replies.every((reply, id) => reply.answers === [3, 40, 0][id % 3]));
        }
        const final = await responder.stop();
        const perQueue = final.perQueue as { queue: number; tcpAccepted: number; handler: Record<string, number> }[];
        assert.deepEqual(perQueue.map((q) => q.queue), [0, 1]);
        assert.ok(perQueue.every((q) => q.handler.tcpAccepted > 0), `connections per queue: ${perQueue.map((q) => q.handler.tcpAccepted).join(', ')}`);
        assert.equal(perQueue.reduce((sum, q) => sum + q.handler.tcpAccepted, 0), 17);
        assert.equal(perQueue.reduce((sum, q) => sum + q.handler.tcpQueries, 0), 16 * 20 + 1);
        // Each worker accepted what its own listener saw: the stack's passive opens match, queue by queue.
        assert.deepEqual(perQueue.map((q) => q.tcpAccepted), perQueue.map((q) => q.handler.tcpAccepted));
        assert.equal((final.handler as Record<string, number>).tcpRefused, 0);
      } finally {
        await responder.stop().catch(() => undefined);
      }
    });
  });
});
