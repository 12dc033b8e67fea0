/**
 * TEMPORARY self-check of the real-peer scaffolding (test/helpers/sipp.ts,
 * baresip.ts, sipsak.ts and the SIPp XML in test/interop/scenarios): every
 * scenario is played against a SIPp counterpart on 127.0.0.1, two baresip
 * instances call each other peer to peer, sipsak pings a tiny responder.
 * The lead moves or drops this once the interop suites use the helpers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  freePort,
  parseScreen,
  parseStatCsv,
  runSipp,
  startSippUas,
  writeUsersCsv,
  type SippResult,
  type SippRunOptions,
} from '../helpers/sipp.js';
import { isPortFree } from '../helpers/ports.js';
import { parseNetstrings, startBaresip } from '../helpers/baresip.js';
import { optionsPingArgs, runSipsak } from '../helpers/sipsak.js';
import { sleep } from '../helpers/process.js';
import { parseWav, readWav, toneShare, toneWav, writeToneWav } from '../helpers/wav.js';

const has = (bin: string): boolean => spawnSync('which', [bin]).status === 0;
const noSipp = has('sipp') ? false : 'sipp not installed (scripts/install-peers.sh)';
const noBaresip = has('baresip') ? false : 'baresip not installed (scripts/install-peers.sh)';
const noSipsak = has('sipsak') ? false : 'sipsak not installed (scripts/install-peers.sh)';

function explain(r: SippResult): string {
  return `exit ${r.exitCode}, ${r.successful} ok / ${r.failed} failed\n${r.errors.slice(0, 3000)}\n${r.stderr.slice(0, 1000)}`;
}

/** Runs `uac` against a fresh SIPp UAS playing `uas`; returns both sides' results. */
async function pair(
  uas: string,
  uac: string,
  opts: Partial<SippRunOptions> = {},
): Promise<{ uac: SippResult; uas: SippResult }> {
  const server = await startSippUas({ scenario: uas, transport: opts.transport ?? 'u1' });
  try {
    const client = await runSipp({
      scenario: uac,
      target: `127.0.0.1:${server.port}`,
      transport: 'u1',
      calls: 1,
      rate: 20,
      timeoutS: 15,
      ...opts,
    });
    return { uac: client, uas: await server.stop() };
  } catch (e) {
    await server.stop(0);
    throw e;
  }
}

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'peers-scaffold-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('freePort gives a 127.0.0.1 port that nobody holds', async () => {
  const udp = await freePort('udp');
  assert.ok(await isPortFree(udp, 'udp'));
  const both = await freePort('both');
  assert.ok(await isPortFree(both, 'both'));
  const even = await freePort('udp', { even: true });
  assert.equal(even % 2, 0);
  const holder = dgram.createSocket('udp4');
  await new Promise<void>((r) => holder.bind(udp, '127.0.0.1', () => r()));
  assert.equal(await isPortFree(udp, 'udp'), false);
  holder.close();
});

test('SIPp statistics are read from the stat CSV, and the screen dump as a fallback', () => {
  const csv = 'StartTime;SuccessfulCall(P);SuccessfulCall(C);FailedCall(P);FailedCall(C);\n' + 'x;0;0;0;0;\n' + 'y;1;7;0;2;\n';
  assert.deepEqual(parseStatCsv(csv), { successful: 7, failed: 2 });
  assert.equal(parseStatCsv('only a header\n'), null);
  const screen = '  Successful call        |        0                  |        3                 \n' + '  Failed call            |        0                  |        1                 \n';
  assert.deepEqual(parseScreen(screen), { successful: 3, failed: 1 });
});

test('ctrl_tcp netstrings are split whole, a partial one stays buffered', () => {
  const { messages, rest } = parseNetstrings(Buffer.from('5:hello,3:abc,10:partial'));
  assert.deepEqual(messages, ['hello', 'abc']);
  assert.equal(rest.toString(), '10:partial');
  assert.throws(() => parseNetstrings(Buffer.from('3:abcX')), /comma/);
});

test('a generated tone WAV reads back and the detector tells 440 Hz from 1000 Hz', () => {
  const pcm = parseWav(toneWav({ freqHz: 440, seconds: 1 }));
  assert.equal(pcm.sampleRate, 8000);
  assert.equal(pcm.channels, 1);
  assert.equal(pcm.samples.length, 8000);
  assert.ok(toneShare(pcm, 440) > 0.95);
  assert.ok(toneShare(pcm, 1000) < 0.05);
});

test('uac-call.xml completes calls against uas-answer.xml (UDP)', { skip: noSipp }, async () => {
  const r = await pair('uas-answer.xml', 'uac-call.xml', { calls: 3, service: 'bob' });
  assert.equal(r.uac.exitCode, 0, explain(r.uac));
  assert.equal(r.uac.successful, 3, explain(r.uac));
  assert.equal(r.uas.successful, 3, explain(r.uas));
});

test('uac-call.xml completes a call against uas-answer.xml over TCP', { skip: noSipp }, async () => {
  const r = await pair('uas-answer.xml', 'uac-call.xml', { transport: 't1', service: 'bob' });
  assert.equal(r.uac.successful, 1, explain(r.uac));
  assert.equal(r.uac.failed, 0, explain(r.uac));
});

test('uac-call-expect-486.xml passes against uas-busy.xml and fails against uas-answer.xml', { skip: noSipp }, async () => {
  await withTmp(async (dir) => {
    const csv = await writeUsersCsv(path.join(dir, 'u.csv'), [{ user: 'alice', password: 'secret', domain: '127.0.0.1' }]);
    const busy = await pair('uas-busy.xml', 'uac-call-expect-486.xml', { calls: 2, injectCsv: csv, service: 'bob' });
    assert.equal(busy.uac.successful, 2, explain(busy.uac));
    assert.equal(busy.uas.successful, 2, explain(busy.uas));
    const answered = await pair('uas-answer.xml', 'uac-call-expect-486.xml', { injectCsv: csv, service: 'bob' });
    assert.equal(answered.uac.successful, 0);
    assert.equal(answered.uac.failed, 1);
    assert.equal(answered.uac.exitCode, 1);
  });
});

test('uac-cancel.xml cancels a ringing call of uas-ring-then-cancel.xml (200 + 487 + ACK)', { skip: noSipp }, async () => {
  await withTmp(async (dir) => {
    const csv = await writeUsersCsv(path.join(dir, 'u.csv'), [{ user: 'alice', password: 'secret', domain: '127.0.0.1' }]);
    const r = await pair('uas-ring-then-cancel.xml', 'uac-cancel.xml', {
      calls: 2,
      injectCsv: csv,
      service: 'bob',
      traceMessages: true,
    });
    assert.equal(r.uac.successful, 2, explain(r.uac));
    assert.equal(r.uas.successful, 2, explain(r.uas));
    assert.match(r.uac.messages, /^CANCEL sip:bob@127\.0\.0\.1 SIP\/2\.0/m);
    assert.match(r.uac.messages, /^SIP\/2\.0 487 Request Terminated/m);
  });
});

/** RFC 2617 digest with qop=auth, recomputed from a traced Proxy-Authorization header. */
function digestMatches(header: string, method: string, password: string): boolean {
  const p = Object.fromEntries([...header.matchAll(/(\w+)="?([^",]*)"?/g)].map((m) => [m[1], m[2]]));
  const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
  const ha1 = md5(`${p.username}:${p.realm}:${password}`);
  const ha2 = md5(`${method}:${p.uri}`);
  return md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) === p.response;
}

test('uac-call-auth.xml answers the 407 with a correct digest and loose-routes ACK and BYE', { skip: noSipp }, async () => {
  await withTmp(async (dir) => {
    const csv = await writeUsersCsv(path.join(dir, 'u.csv'), [{ user: 'alice', password: 'secret', domain: '127.0.0.1' }]);
    const r = await pair('selftest-proxy-answer.xml', 'uac-call-auth.xml', { injectCsv: csv, service: 'bob', traceMessages: true });
    // The fixture fails the call unless ACK and BYE carry its Record-Route as Route
    // and go to its Contact.
    assert.equal(r.uac.successful, 1, explain(r.uac));
    assert.equal(r.uas.successful, 1, explain(r.uas));
    const auth = /^Proxy-Authorization: (.*)$/m.exec(r.uac.messages);
    assert.ok(auth, 'no Proxy-Authorization sent');
    assert.match(auth[1], /username="alice"/);
    assert.ok(digestMatches(auth[1], 'INVITE', 'secret'), auth[1]);
    assert.ok(!digestMatches(auth[1], 'INVITE', 'wrong'));
    // The ACK for the 407 reuses the first INVITE's branch (same transaction).
    const inviteBranch = /^Via: .*branch=(z9hG4bK[^;\s]+-i1)/m.exec(r.uac.messages);
    assert.ok(inviteBranch);
    assert.match(r.uac.messages, new RegExp(`^ACK sip:bob@127\\.0\\.0\\.1 SIP/2\\.0\\r?\\nVia: [^\\n]*branch=${inviteBranch[1]}`, 'm'));
  });
});

test('uac-cancel.xml also works after a 407 challenge', { skip: noSipp }, async () => {
  await withTmp(async (dir) => {
    const csv = await writeUsersCsv(path.join(dir, 'u.csv'), [{ user: 'alice', password: 'secret', domain: '127.0.0.1' }]);
    const r = await pair('selftest-proxy-ring-cancel.xml', 'uac-cancel.xml', { injectCsv: csv, service: 'bob' });
    assert.equal(r.uac.successful, 1, explain(r.uac));
    assert.equal(r.uas.successful, 1, explain(r.uas));
  });
});

test('register-auth.xml registers one distinct user per call; a wrong password fails that call', { skip: noSipp }, async () => {
  await withTmp(async (dir) => {
    const users = Array.from({ length: 20 }, (_, i) => ({ user: `u${i}`, password: 'secret', domain: 'example.com' }));
    users[7] = { user: 'mallory', password: 'guess', domain: 'example.com' };
    const csv = await writeUsersCsv(path.join(dir, 'users.csv'), users);
    const r = await pair('selftest-registrar.xml', 'register-auth.xml', { calls: 20, rate: 50, injectCsv: csv, traceMessages: true });
    assert.equal(r.uac.successful, 19, explain(r.uac));
    assert.equal(r.uac.failed, 1, explain(r.uac));
    assert.equal(r.uac.exitCode, 1);
    const aors = new Set([...r.uac.messages.matchAll(/^To: <sip:([^>]+)>$/gm)].map((m) => m[1]));
    assert.equal(aors.size, 20);
    assert.ok(aors.has('u19@example.com'));
  });
});

test('register-contact.xml binds a user to the given host:port', { skip: noSipp }, async () => {
  const r = await pair('selftest-registrar.xml', 'register-contact.xml', {
    authUser: 'carol',
    authPass: 'secret',
    keys: { user: 'carol', domain: 'example.com', contact: '127.0.0.1:5099', expires: '120' },
    traceMessages: true,
  });
  assert.equal(r.uac.successful, 1, explain(r.uac));
  assert.match(r.uac.messages, /^Contact: <sip:carol@127\.0\.0\.1:5099;transport=UDP>$/m);
  assert.match(r.uac.messages, /^Expires: 120$/m);
});

test('runSipp returns by its timeout when nobody answers', { skip: noSipp }, async () => {
  const dead = await freePort('udp');
  const started = Date.now();
  const r = await runSipp({ scenario: 'uac-call.xml', target: `127.0.0.1:${dead}`, transport: 'u1', calls: 1, timeoutS: 2 });
  // SIPp alone would retransmit the INVITE for 32 s.
  assert.ok(Date.now() - started < 6000, `took ${Date.now() - started} ms`);
  assert.equal(r.killed, true);
  assert.notEqual(r.exitCode, 0);
  assert.equal(r.successful, 0);
});

test('sipsak gets 200 from a responder and exit 3 from silence', { skip: noSipsak }, async () => {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const text = msg.toString();
    const keep = text.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
    sock.send(`SIP/2.0 200 OK\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  try {
    const ok = await runSipsak({ args: optionsPingArgs(`127.0.0.1:${sock.address().port}`) });
    assert.equal(ok.exitCode, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /200 OK/);
    const silent = await freePort('udp');
    const none = await runSipsak({ args: optionsPingArgs(`127.0.0.1:${silent}`), timeoutMs: 20000 });
    assert.equal(none.exitCode, 3, none.stdout + none.stderr);
  } finally {
    sock.close();
  }
});

test('two baresip instances call each other peer to peer and hear each other', { skip: noBaresip, timeout: 60000 }, async () => {
  await withTmp(async (dir) => {
    const toneA = await writeToneWav(path.join(dir, 'a-440.wav'), { freqHz: 440 });
    const toneB = await writeToneWav(path.join(dir, 'b-1000.wav'), { freqHz: 1000 });
    const acct = (u: string): string => `<sip:${u}@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU/8000/1`;
    const a = await startBaresip({ name: 'a', account: acct('a'), toneWav: toneA });
    const b = await startBaresip({ name: 'b', account: acct('b'), toneWav: toneB });
    try {
      const dialed = await a.dial(`sip:b@127.0.0.1:${b.sipPort}`);
      assert.equal(dialed.ok, true);
      const est = await a.waitForEvent('CALL_ESTABLISHED', 10000);
      assert.equal(est.peeruri, `sip:b@127.0.0.1:${b.sipPort}`);
      assert.match(await b.waitFor(/Call established: sip:a@127\.0\.0\.1/, 10000), /b@127\.0\.0\.1/);
      await b.waitForEvent('CALL_RTPESTAB', 10000);
      await sleep(1000);
      await a.hangup();
      await b.waitForEvent('CALL_CLOSED', 10000);
      await a.waitForEvent('CALL_CLOSED', 10000);
      // sndfile's "-dec" file is what the phone heard: the other side's tone.
      const heardByB = (await b.recordings()).find((f) => f.endsWith('-dec.wav'));
      assert.ok(heardByB, 'b recorded nothing');
      const pcm = await readWav(heardByB);
      assert.ok(pcm.samples.length > 4000, `only ${pcm.samples.length} samples`);
      assert.ok(toneShare(pcm, 440) > 0.5, `440 Hz share ${toneShare(pcm, 440)}`);
      assert.ok(toneShare(pcm, 1000) < 0.1);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
