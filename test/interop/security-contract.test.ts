/**
 * Issue 7's contract, as a user runs it: `switchboard serve` with the README's
 * config plus the security and log block exactly as written, its stdout to a
 * pipe; failed logins from 127.0.0.2 ban it while phones on 127.0.0.1 keep
 * registering and calling; a flood from 127.0.0.3 is banned within the first
 * second while a call connects; `switchboard bans` lists and lifts bans;
 * /metrics parses as Prometheus text; every log line is JSON.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Call } from '../../src/ua/index.js';
import { realClock } from '../../src/util/clock.js';
import { CliSession, explain, readmeYaml, replaceOnce, started, type Serving } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { RawSipClient } from '../helpers/raw-sip.js';
import { next, startUa, type TestUa } from '../helpers/ua.js';

const CONTRACT_BLOCK = `security:
  ban: { max_failures: 5, find_time: 60, ban_time: 300 }
  pike: { requests_per_second: 100, burst: 200, ban_time: 60 }
log: { level: info }
`;
const ALICE = 'Al1ce-long-pass-77';
const B1002 = 'B0b-long-pass-88';

interface BanJson {
  address: string;
  reason: string;
  since: string;
  until: string;
}

let session: CliSession;
let server: Serving;
let config = '';
let sip = '';
let admin = '';
const phones: TestUa[] = [];

function registerRequest(client: RawSipClient, user: string): ReturnType<RawSipClient['request']> {
  return client.request('REGISTER', 'sip:127.0.0.1', {
    from: `<sip:${user}@127.0.0.1>;tag=r${Math.random().toString(36).slice(2)}`,
    to: `<sip:${user}@127.0.0.1>`,
    contact: false,
    headers: [['Contact', `<sip:${user}@${client.hostPort}>`], ['Expires', '600']],
  });
}

async function phone(name: string, password: string): Promise<TestUa> {
  const [host, port] = sip.split(':');
  const p = await startUa(realClock, name, { server: { host, port: Number(port) }, password });
  phones.push(p);
  assert.ok((await p.ua.register(600)) > 0);
  return p;
}

/** alice calls 1002 through the server; 1002 answers; both hang up. */
async function callConnects(alice: TestUa, bob: TestUa): Promise<void> {
  const incoming = next(bob.ua, 'incoming', 5000);
  const call: Call = alice.ua.call('sip:1002@127.0.0.1');
  const answered = next(call, 'answered', 5000);
  const [inc] = await incoming;
  await inc.accept();
  await answered;
  await call.hangup();
}

async function bans(): Promise<BanJson[]> {
  const r = await session.run(['bans', '--json', '--config', config]);
  assert.equal(r.exitCode, 0, explain(r));
  return JSON.parse(r.stdout) as BanJson[];
}

describe('issue 7 contract: bans, flood control, metrics and JSON logs', { timeout: 180_000 }, () => {
  before(async () => {
    session = new CliSession();
    const port = await freePort('both');
    const [tls, adminPort] = [await freePort('tcp'), await freePort('tcp')];
    sip = `127.0.0.1:${port}`;
    admin = `127.0.0.1:${adminPort}`;
    let y = readmeYaml();
    y = replaceOnce(y, 'udp:127.0.0.1:5060', `udp:127.0.0.1:${port}`);
    y = replaceOnce(y, 'tcp:127.0.0.1:5060', `tcp:127.0.0.1:${port}`);
    y = replaceOnce(y, 'tls:127.0.0.1:5061', `tls:127.0.0.1:${tls}`);
    y = replaceOnce(y, 'listen: 127.0.0.1:8089', `listen: ${admin}`);
    y = replaceOnce(y, '"1002": { password: "B0b-long-pass-88" }', '"1002": { password: "B0b-long-pass-88" }');
    config = path.join(session.dir, 'switchboard.yaml');
    writeFileSync(config, y + CONTRACT_BLOCK);
    server = session.serve(['--config', config], /users\s+alice, 1002\n/);
    await started(server);
  });

  after(async () => {
    await Promise.all(phones.map((p) => p.ua.close()));
    await session?.close();
  });

  test('five failed logins from 127.0.0.2 ban it; 127.0.0.1 keeps registering and calling; bans lists and lifts it', async () => {
    const attacker = await RawSipClient.open('127.0.0.2');
    try {
      for (let i = 0; i < 5; i++) {
        const res = await attacker.withAuth(registerRequest(attacker, 'alice'), sip, { user: 'alice', password: 'not-her-password' });
        assert.equal(res.status, 401, `attempt ${i + 1}`);
      }
      // The right password now gets no answer at all, not even a challenge.
      const right = registerRequest(attacker, 'alice');
      attacker.send(right, sip);
      await assert.rejects(attacker.waitFor(() => true, 2000), /no matching SIP message/);

      const alice = await phone('alice', ALICE);
      const bob = await phone('1002', B1002);
      await callConnects(alice, bob);

      const list = await bans();
      const ban = list.find((b) => b.address === '127.0.0.2');
      assert.ok(ban, JSON.stringify(list));
      assert.equal(ban.reason, 'failed-auth');
      assert.ok(Date.parse(ban.until) - Date.parse(ban.since) === 300_000, `${ban.since} .. ${ban.until}`);

      const lifted = await session.run(['bans', 'remove', '127.0.0.2', '--config', config]);
      assert.equal(lifted.exitCode, 0, explain(lifted));
      assert.match(lifted.stdout, /lifted the ban on 127\.0\.0\.2/);
      assert.ok(!(await bans()).some((b) => b.address === '127.0.0.2'));
      const again = await attacker.withAuth(registerRequest(attacker, 'alice'), sip, { user: 'alice', password: ALICE });
      assert.equal(again.status, 200, 'after the lift the right password works');

      const gone = await session.run(['bans', 'remove', '127.0.0.2', '--config', config]);
      assert.equal(gone.exitCode, 1, explain(gone));
      assert.match(gone.stderr, /127\.0\.0\.2 is not banned/);
    } finally {
      attacker.close();
    }
  });

  test('20,000 OPTIONS at 5,000/s from 127.0.0.3 are banned within the first second; a call placed during the flood connects', async () => {
    const [alice, bob] = phones;
    const flooder = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => flooder.bind(0, '127.0.0.3', resolve));
    const [host, port] = sip.split(':');
    const floodStart = Date.now();
    let sent = 0;
    const flood = new Promise<void>((resolve) => {
      // 50 datagrams every 10 ms: 5,000/s, 20,000 in 4 s.
      const timer = setInterval(() => {
        for (let i = 0; i < 50 && sent < 20_000; i++, sent++) {
          const msg = `OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.3:${flooder.address().port};branch=z9hG4bKflood${sent}\r\nMax-Forwards: 70\r\nFrom: <sip:f@127.0.0.3>;tag=f\r\nTo: <sip:127.0.0.1>\r\nCall-ID: flood${sent}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
          flooder.send(msg, Number(port), host);
        }
        if (sent >= 20_000) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    try {
      await new Promise((r) => setTimeout(r, 500));
      await callConnects(alice, bob);
      await flood;
    } finally {
      flooder.close();
    }
    const ban = (await bans()).find((b) => b.address === '127.0.0.3');
    assert.ok(ban, 'the flooding source is banned');
    assert.equal(ban.reason, 'flood');
    const after = Date.parse(ban.since) - floodStart;
    assert.ok(after >= 0 && after < 1000, `banned ${after} ms after the flood began`);
  });

  test('/metrics parses as Prometheus text and has the metrics the issue names', async () => {
    const res = await fetch(`http://${admin}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parsePrometheus(await res.text());
    for (const name of ['switchboard_sip_requests_total', 'switchboard_registrations', 'switchboard_auth_failures_total', 'switchboard_bans']) {
      assert.ok(samples.some((s) => s.name === name), `${name} is missing`);
    }
    assert.equal(types.get('switchboard_sip_requests_total'), 'counter');
    assert.equal(types.get('switchboard_bans'), 'gauge');
    assert.equal(sampleValue(samples, 'switchboard_auth_failures_total', { method: 'REGISTER' }), 5);
    assert.equal(sampleValue(samples, 'switchboard_bans_total', { reason: 'flood' }), 1);
    assert.equal(sampleValue(samples, 'switchboard_bans'), 1, '127.0.0.3 is still banned; 127.0.0.2 was lifted');
    assert.ok((sampleValue(samples, 'switchboard_sip_requests_total', { method: 'INVITE', direction: 'in' }) ?? 0) >= 2);
    assert.ok((sampleValue(samples, 'switchboard_sip_refused_total') ?? 0) > 15_000, 'the flood was dropped unread');
    assert.ok((sampleValue(samples, 'switchboard_registrations') ?? 0) >= 3);
    assert.ok(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds'));
    assert.ok(samples.some((s) => s.name === 'nodejs_heap_size_used_bytes'));
  });

  test('with stdout to a pipe every line after the banner is a JSON object; a wrong password is one line naming source and user', async () => {
    server.proc.child.kill('SIGTERM');
    const exited = await server.proc.exited;
    assert.equal(exited.exitCode, 0, explain(exited));
    const lines = exited.stdout.split('\n').filter(Boolean);
    const bannerEnd = lines.findIndex((l) => /^\s+users\s/.test(l));
    assert.ok(bannerEnd > 0, exited.stdout.slice(0, 2000));
    const records = lines.slice(bannerEnd + 1).map((l, i) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(l) as Record<string, unknown>;
      } catch {
        assert.fail(`line ${bannerEnd + 2 + i} is not JSON: ${l}`);
      }
      for (const key of ['level', 'time', 'msg']) assert.ok(key in rec, `line ${bannerEnd + 2 + i} lacks "${key}": ${l}`);
      return rec;
    });
    assert.ok(records.length > 5);
    const failures = records.filter((r) => typeof r.msg === 'string' && r.msg.includes('authentication failed'));
    assert.equal(failures.length, 5, 'one line per failed login, none per retransmission');
    for (const f of failures) {
      assert.equal(f.level, 'warn');
      assert.match(String(f.msg), /"alice" from 127\.0\.0\.2/);
      assert.equal(f.user, 'alice');
      assert.match(String(f.source), /127\.0\.0\.2/);
    }
    assert.equal(records.filter((r) => String(r.msg).startsWith('banned 127.0.0.3')).length, 1, 'the flood ban is logged once');
  });

  test('bans outlive the server: with none running, bans reads and lifts them in its database', async () => {
    const list = await bans();
    assert.deepEqual(list.map((b) => b.address), ['127.0.0.3'], 'the flood ban (60 s) is still in force on disk');
    const lifted = await session.run(['bans', 'remove', '127.0.0.3', '--config', config]);
    assert.equal(lifted.exitCode, 0, explain(lifted));
    assert.deepEqual(await bans(), []);
  });
});
