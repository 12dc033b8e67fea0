/**
 * The command line as a user runs it: `node bin/switchboard.js ...` in a
 * child process, against real servers it starts itself. Needs the compiled
 * CLI in dist/ (`npm test` builds it first; by hand: `npx tsc -p .`).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfigFile } from '../../src/config/load.js';
import { SipMessage } from '../../src/sip/message.js';
import { requirePeers } from '../helpers/peers.js';
import { freePort } from '../helpers/ports.js';
import type { Exited } from '../helpers/process.js';
import { CliSession, eventually, explain, readmeYaml, replaceOnce, started, type Serving } from '../helpers/cli.js';
import { RawSipClient } from '../helpers/raw-sip.js';

const ALICE = 'Al1ce-long-pass-77';
const B1002 = 'B0b-long-pass-88';

let session: CliSession;
const cli = (args: string[], opts?: Parameters<CliSession['run']>[1]): Promise<Exited> => session.run(args, opts);
const serve = (args: string[], ready: RegExp): Serving => session.serve(args, ready);

/** A digest-authenticated REGISTER of `user` from `client` (its own address as Contact). */
async function register(client: RawSipClient, sip: string, user: string, password: string): Promise<void> {
  const req = client.request('REGISTER', 'sip:127.0.0.1', {
    from: `<sip:${user}@127.0.0.1>;tag=r${client.port}`,
    to: `<sip:${user}@127.0.0.1>`,
    contact: false,
    headers: [['Contact', `<sip:${user}@${client.hostPort}>`], ['Expires', '600']],
  });
  const res = await client.withAuth(req, sip, { user, password });
  assert.equal(res.status, 200, `REGISTER ${user}: ${res.status} ${res.reason}`);
}

const INVITE_BODY = ['v=0', 'o=alice 2890844526 2890844526 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 49170 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
const INVITE_HEAD = [
  'INVITE sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@example.com>',
  'From: Alice <sip:alice@example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@192.0.2.10>',
  'Content-Type: application/sdp',
  `Content-Length: ${Buffer.byteLength(INVITE_BODY)}`,
];
const INVITE_CRLF = INVITE_HEAD.join('\r\n') + '\r\n\r\n' + INVITE_BODY;

describe('the switchboard command line', { timeout: 300_000 }, () => {
  before(() => {
    session = new CliSession();
  });
  after(async () => {
    await session?.close();
  });

  for (const cmd of [[], ['serve'], ['status'], ['trace'], ['sip'], ['sip', 'check']]) {
    test(`switchboard ${[...cmd, '--help'].join(' ')} exits 0 and shows an example`, async () => {
      const r = await cli([...cmd, '--help']);
      assert.equal(r.exitCode, 0, explain(r));
      assert.match(r.stdout, /^Usage: switchboard/m, explain(r));
      assert.match(r.stdout, /\nExamples?:\n {2}\S/, `no "Example" section:\n${r.stdout}`);
    });
  }

  describe('sip check', () => {
    test('a valid INVITE file with CRLF line ends: exit 0 and the parsed message', async () => {
      const file = path.join(session.dir, 'invite.txt');
      writeFileSync(file, INVITE_CRLF);
      const r = await cli(['sip', 'check', file]);
      assert.equal(r.exitCode, 0, explain(r));
      const j = JSON.parse(r.stdout) as { valid: boolean; kind: string; method: string; uri: string; headers: { name: string; value: string }[]; bodyLength: number };
      assert.equal(j.valid, true);
      assert.equal(j.kind, 'request');
      assert.equal(j.method, 'INVITE');
      assert.equal(j.uri, 'sip:bob@example.com');
      assert.equal(j.bodyLength, Buffer.byteLength(INVITE_BODY));
      assert.deepEqual(j.headers.find((h) => h.name === 'Call-ID'), { name: 'Call-ID', value: 'a84b4c76e66710@pc33.example.com' });
    });

    test('the same INVITE pasted with bare LF on stdin is accepted', async () => {
      const r = await cli(['sip', 'check', '-'], { stdin: INVITE_CRLF.replace(/\r\n/g, '\n') });
      assert.equal(r.exitCode, 0, explain(r));
      const j = JSON.parse(r.stdout) as { valid: boolean; method: string; headers: { name: string; value: string }[] };
      assert.equal(j.valid, true, r.stdout);
      assert.equal(j.method, 'INVITE');
      assert.equal(j.headers.find((h) => h.name === 'CSeq')?.value, '314159 INVITE');
    });

    test('a broken message (no Call-ID): exit 1, valid:false, status 400 naming the header', async () => {
      const broken = INVITE_CRLF.replace(/Call-ID: [^\r]*\r\n/, '');
      const r = await cli(['sip', 'check', '-'], { stdin: broken });
      assert.equal(r.exitCode, 1, explain(r));
      const j = JSON.parse(r.stdout) as { valid: boolean; status: number; reason: string };
      assert.equal(j.valid, false);
      assert.equal(j.status, 400);
      assert.match(j.reason, /Call-ID/);
    });

    test('SIP/3.0: exit 1, status 505', async () => {
      const r = await cli(['sip', 'check', '-'], { stdin: INVITE_CRLF.replace('SIP/2.0\r\n', 'SIP/3.0\r\n') });
      assert.equal(r.exitCode, 1, explain(r));
      const j = JSON.parse(r.stdout) as { valid: boolean; status: number; reason: string };
      assert.deepEqual([j.valid, j.status], [false, 505]);
      assert.match(j.reason, /SIP\/3\.0/);
    });
  });

  describe('serve with the README example config', () => {
    let cfg = '';
    let sip = '';
    let srv: Serving | undefined;
    let alice: RawSipClient | undefined;
    let bob: RawSipClient | undefined;
    let callId = '';

    before(async () => {
      const port = await freePort('both');
      const tls = await freePort('tcp');
      const admin = await freePort('tcp');
      const original = readmeYaml();
      let y = original;
      y = replaceOnce(y, 'udp:127.0.0.1:5060', `udp:127.0.0.1:${port}`);
      y = replaceOnce(y, 'tcp:127.0.0.1:5060', `tcp:127.0.0.1:${port}`);
      y = replaceOnce(y, 'tls:127.0.0.1:5061', `tls:127.0.0.1:${tls}`);
      y = replaceOnce(y, 'listen: 127.0.0.1:8089', `listen: 127.0.0.1:${admin}`);
      y = replaceOnce(y, 'data: ./data', `data: ${path.join(session.dir, 'readme-data')}`);
      // Everything else (users, domain, layout) is exactly as the README has it.
      const changed = y.split('\n').filter((l, i) => l !== original.split('\n')[i]);
      assert.equal(changed.length, 5, changed.join('\n'));
      cfg = path.join(session.dir, 'switchboard.yaml');
      writeFileSync(cfg, y);
      sip = `127.0.0.1:${port}`;
      srv = serve(['--config', cfg], /^ {2}users {7}.*$/m);
      alice = await RawSipClient.open();
      bob = await RawSipClient.open();
    });
    after(async () => {
      alice?.close();
      bob?.close();
      await srv?.proc.kill('SIGTERM');
    });

    test('starts and prints its banner', async () => {
      const banner = await started(srv!);
      assert.match(banner, new RegExp(`^Switchboard \\S+ — config ${cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      assert.match(banner, /^ {2}SIP domain {2}127\.0\.0\.1$/m);
      assert.match(banner, new RegExp(`^ {2}listening {3}udp ${sip}, tcp ${sip}, tls 127\\.0\\.0\\.1:\\d+$`, 'm'));
      assert.match(banner, /^ {2}users {7}alice, 1002$/m);
    });

    test('status and status --json show the registrations after REGISTER', async () => {
      await started(srv!);
      await register(alice!, sip, 'alice', ALICE);
      await register(bob!, sip, '1002', B1002);

      const text = await cli(['status', '--config', cfg]);
      assert.equal(text.exitCode, 0, explain(text));
      assert.match(text.stdout, /Registered endpoints \(2\):/, text.stdout);
      assert.match(text.stdout, new RegExp(`sip:alice@127\\.0\\.0\\.1 +sip:alice@${alice!.hostPort} +UDP +127\\.0\\.0\\.1:${alice!.port} +\\d+s`), text.stdout);
      assert.match(text.stdout, new RegExp(`sip:1002@127\\.0\\.0\\.1 +sip:1002@${bob!.hostPort} +UDP`), text.stdout);

      const json = await cli(['status', '--config', cfg, '--json']);
      assert.equal(json.exitCode, 0, explain(json));
      const s = JSON.parse(json.stdout) as { domain: string; registrations: { aor: string; contact: string; transport: string; expiresIn: number }[] };
      assert.equal(s.domain, '127.0.0.1');
      const regs = s.registrations.map((r) => [r.aor, r.contact, r.transport]).sort();
      assert.deepEqual(regs, [
        ['sip:1002@127.0.0.1', `sip:1002@${bob!.hostPort}`, 'udp'],
        ['sip:alice@127.0.0.1', `sip:alice@${alice!.hostPort}`, 'udp'],
      ]);
      for (const r of s.registrations) assert.ok(r.expiresIn > 500 && r.expiresIn <= 600, `expiresIn ${r.expiresIn}`);
    });

    test('trace lists a call made through the server and draws its ladder', async () => {
      await started(srv!);
      if (!alice || !bob) throw new Error('clients missing');
      const caller = alice;
      const callee = bob;
      // alice calls 1002: INVITE (407, then with credentials) → 1002 answers 200 → ACK → BYE → 200.
      const invite = caller.request('INVITE', 'sip:1002@127.0.0.1', {
        from: `<sip:alice@127.0.0.1>;tag=c${caller.port}`,
        to: '<sip:1002@127.0.0.1>',
        headers: [['Content-Type', 'application/sdp']],
        body: INVITE_BODY,
      });
      callId = invite.callId;
      const answered = caller.withAuth(invite, sip, { user: 'alice', password: ALICE });
      const inc = await callee.waitFor((r) => r.msg.isRequest && r.msg.method === 'INVITE' && r.msg.callId === callId, 5000);
      const copy = (names: string[]): [string, string][] => names.flatMap((n) => inc.msg.getAll(n).map((v): [string, string] => [n, v]));
      const ok = SipMessage.response(200, 'OK', [
        ...copy(['Via', 'Record-Route', 'From']),
        ['To', `${inc.msg.get('to')};tag=callee1`],
        ['Call-ID', callId],
        ['CSeq', inc.msg.get('cseq') ?? ''],
        ['Contact', `<sip:1002@${callee.hostPort}>`],
        ['Content-Type', 'application/sdp'],
      ], INVITE_BODY);
      const calleeAt = `${inc.from.address}:${inc.from.port}`;
      callee.send(ok, calleeAt);
      const final = await answered;
      assert.equal(final.status, 200, `${final.status} ${final.reason}`);

      // In-dialog requests follow the route set the proxy recorded.
      const routes = final.getAll('record-route').reverse();
      const inDialog = (method: string, cseq: number): SipMessage =>
        caller.request(method, `sip:1002@${callee.hostPort}`, {
          from: invite.get('from'),
          to: final.get('to'),
          callId,
          cseq,
          headers: routes.map((r): [string, string] => ['Route', r]),
        });
      caller.send(inDialog('ACK', final.cseq.seq), sip);
      await callee.waitFor((r) => r.msg.method === 'ACK' && r.msg.callId === callId, 5000);
      const bye = inDialog('BYE', final.cseq.seq + 1);
      caller.send(bye, sip);
      const byeIn = await callee.waitFor((r) => r.msg.method === 'BYE' && r.msg.callId === callId, 5000);
      callee.send(
        SipMessage.response(200, 'OK', [
          ...byeIn.msg.getAll('via').map((v): [string, string] => ['Via', v]),
          ['From', byeIn.msg.get('from') ?? ''],
          ['To', byeIn.msg.get('to') ?? ''],
          ['Call-ID', callId],
          ['CSeq', byeIn.msg.get('cseq') ?? ''],
        ]),
        `${byeIn.from.address}:${byeIn.from.port}`,
      );
      assert.equal((await caller.finalFor(bye)).msg.status, 200);

      const list = await cli(['trace', '--config', cfg]);
      assert.equal(list.exitCode, 0, explain(list));
      assert.match(list.stdout, new RegExp(`\\d+ msgs +${callId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `), list.stdout);

      const ladder = await cli(['trace', callId, '--config', cfg]);
      assert.equal(ladder.exitCode, 0, explain(ladder));
      assert.match(ladder.stdout, /INVITE/);
      assert.match(ladder.stdout, /\b200\b/);
      assert.match(ladder.stdout, /BYE/);
    });

    test('trace CALL-ID --pcap writes a capture tshark decodes', { skip: requirePeers('tshark') }, async () => {
      assert.ok(callId, 'needs the call from the previous test');
      const pcap = path.join(session.dir, 'call.pcap');
      const r = await cli(['trace', callId.slice(0, 12), '--config', cfg, '--pcap', pcap]);
      assert.equal(r.exitCode, 0, explain(r));
      assert.match(r.stderr, new RegExp(`wrote \\d+ messages to ${pcap.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      const fields = execFileSync('tshark', ['-r', pcap, '-Y', 'sip', '-T', 'fields', '-e', 'sip.Method', '-e', 'sip.Status-Code', '-e', 'sip.Call-ID'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      const rows = fields.trim().split('\n').map((l) => l.split('\t'));
      assert.ok(rows.length >= 10, `tshark decoded only ${rows.length} SIP packets:\n${fields}`);
      assert.ok(rows.every((row) => row[2] === callId), `every packet is the call:\n${fields}`);
      const methods = new Set(rows.map((row) => row[0]).filter(Boolean));
      const statuses = new Set(rows.map((row) => row[1]).filter(Boolean));
      for (const m of ['INVITE', 'ACK', 'BYE']) assert.ok(methods.has(m), `${m} in the capture:\n${fields}`);
      for (const s of ['407', '200']) assert.ok(statuses.has(s), `${s} in the capture:\n${fields}`);
    });
  });

  test('a config error: serve exits non-zero naming file, line and key', async () => {
    const yaml = ['domain: 127.0.0.1', 'users:', '  alice:', '    password: short', ''].join('\n');
    writeFileSync(path.join(session.dir, 'bad.yaml'), yaml);
    const r = await cli(['serve', '--config', 'bad.yaml']);
    assert.notEqual(r.exitCode, 0, explain(r));
    assert.match(r.stderr, /bad\.yaml:4: users\.alice\.password: \S/, explain(r));
    assert.doesNotMatch(r.stdout, /listening/);
  });

  test('a busy SIP port: serve says which address is in use and what to do', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const busy = sock.address().port;
    try {
      const admin = await freePort('tcp');
      const yaml = ['domain: 127.0.0.1', 'sip:', '  listen:', `    - udp:127.0.0.1:${busy}`, 'admin:', `  listen: 127.0.0.1:${admin}`, `data: ${path.join(session.dir, 'busy-data')}`, ''].join('\n');
      writeFileSync(path.join(session.dir, 'busy.yaml'), yaml);
      const r = await cli(['serve', '--config', 'busy.yaml']);
      assert.notEqual(r.exitCode, 0, explain(r));
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${busy}[^\\n]* in use`), explain(r));
      assert.match(r.stderr, /change sip\.listen/, explain(r));
    } finally {
      sock.close();
    }
  });

  test('serve --trace-sip prints each message with its direction and peer', async () => {
    const port = await freePort('both');
    const admin = await freePort('tcp');
    const yaml = ['domain: 127.0.0.1', 'sip:', '  listen:', `    - udp:127.0.0.1:${port}`, 'admin:', `  listen: 127.0.0.1:${admin}`, `data: ${path.join(session.dir, 'trace-data')}`, ''].join('\n');
    writeFileSync(path.join(session.dir, 'trace.yaml'), yaml);
    const s = serve(['--config', 'trace.yaml', '--trace-sip'], /^ {2}users /m);
    const c = await RawSipClient.open();
    try {
      await started(s);
      const opt = c.request('OPTIONS', 'sip:127.0.0.1');
      c.send(opt, `127.0.0.1:${port}`);
      assert.equal((await c.finalFor(opt)).msg.status, 200);
      // stdout is a pipe here, so each message is a JSON log record: the arrow line as msg, the message as `sip`.
      const peer = `udp:127\\.0\\.0\\.1:${c.port}`;
      const records = (): { msg?: string; sip?: string }[] =>
        s.proc.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg?: string; sip?: string });
      const sent = (): boolean => records().some((r) => new RegExp(`>>> sent to ${peer}\\b`).test(r.msg ?? '') && /^SIP\/2\.0 200 OK/.test(r.sip ?? ''));
      await eventually(sent, () => `no outgoing 200 to ${peer} in:\n${s.proc.stdout()}`);
      const received = records().find((r) => new RegExp(`<<< received from ${peer}\\b`).test(r.msg ?? ''));
      assert.ok(received, s.proc.stdout());
      assert.match(received.sip ?? '', new RegExp(`^OPTIONS sip:127\\.0\\.0\\.1 SIP/2\\.0\\r?\\n[\\s\\S]*?Call-ID: ${opt.callId}`));
    } finally {
      c.close();
      await s.proc.kill('SIGTERM');
    }
  });

  test('the demo office: three extensions with passwords, kept in its switchboard.yaml for the next start (or a clear "port in use")', async (t) => {
    const data = path.join(session.dir, 'demo');
    const file = path.join(data, 'switchboard.yaml');
    const first = serve(['--data', data], /Watch it with/);
    const b1 = await first.banner;
    if ('exited' in b1) {
      // 0.0.0.0:5060/5061 or the admin port 8089 is taken on this machine: the error must say which and what to do.
      const r = b1.exited;
      t.diagnostic(`demo office did not start (port busy?): ${r.stderr.trim()}`);
      assert.notEqual(r.exitCode, 0, explain(r));
      assert.match(r.stderr, /(0\.0\.0\.0:506[01]|127\.0\.0\.1:8089)[^\n]* (already )?in use/, explain(r));
      assert.match(r.stderr, /Stop [^\n]*(change|or)/, explain(r));
      return;
    }
    const banner = b1.banner;
    t.diagnostic('demo office started on the default ports');
    const shown = [...banner.matchAll(/^ {4}(100[123]) {2}password (\S+)$/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(shown.map(([u]) => u), ['1001', '1002', '1003'], banner);
    for (const [, p] of shown) assert.ok(p.length >= 12, `a strong generated password, got ${p}`);
    assert.ok(banner.includes(`(passwords are shown once; they are kept in ${file})`), banner);
    const kept = loadConfigFile(file);
    assert.deepEqual(Object.fromEntries([...kept.users].map(([u, c]) => [u, c.password])), Object.fromEntries(shown));
    const stop1 = await first.proc.kill('SIGTERM');
    assert.equal(stop1.exitCode, 0, explain(stop1));
    assert.match(stop1.stdout, /SIGTERM: stopping/);

    const second = serve(['--data', data], /Watch it with/);
    const banner2 = await started(second);
    for (const u of ['1001', '1002', '1003']) assert.ok(banner2.includes(`    ${u}  password in ${file}`), banner2);
    assert.doesNotMatch(banner2, /password [A-Za-z0-9]{12,}$/m, 'passwords are not shown again');
    const stop2 = await second.proc.kill('SIGTERM');
    assert.equal(stop2.exitCode, 0, explain(stop2));
  });
});
