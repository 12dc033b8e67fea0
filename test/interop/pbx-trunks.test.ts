/**
 * SIP trunks against a real "carrier": Kamailio with digest auth (401 on
 * REGISTER, 407 on INVITE) in front of a "PSTN" (SIPp on 127.0.0.5 that
 * answers and echoes RTP), an IP-authenticated carrier (SIPp on 127.0.0.2)
 * and a dead one (SIPp on 127.0.0.4 answering 503). Callers are
 * `switchboard phone` processes; what a user would notice is asserted:
 * the SIP status, the number and caller ID the carrier saw, the tone heard
 * back, the CDR rows, and the log line of each toll-fraud refusal.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CdrRow } from '../../src/store/cdr.js';
import { startCarrier } from '../helpers/carrier.js';
import type { KamailioRegistrar } from '../helpers/kamailio.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { requirePeers } from '../helpers/peers.js';
import { phoneTracker, type PhoneProcess } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { sleep } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runSipp, startSippUas, type SippResult } from '../helpers/sipp.js';
import { readWav } from '../helpers/wav.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';

const skip = requirePeers('sipp', 'kamailio');

const PSTN = '127.0.0.5';
const IP_CARRIER = '127.0.0.2';
const DEAD = '127.0.0.4';
const TRUNK_PASS = 'Tr0nk-pass-4711';
const USERS: Record<string, string> = {
  '1001': 'Al1ce-long-pass-77',
  '1002': 'B0b-long-pass-88',
  '1003': 'C4rol-long-pass-99',
  '1004': 'D4ve-long-pass-11',
  '1005': 'E4ve-long-pass-22',
};
const USER_KEYS: Record<string, string> = {
  '1001': 'name: Alice Archer, context: manager',
  '1002': 'name: Bob Baker, calls_per_minute: 2',
  '1003': 'name: Carol Cole, max_calls: 1',
  '1004': 'allow: [127.0.0.9]',
};
const TONE = 440;

let server: TestServer;
let carrier: KamailioRegistrar;
let logs: CapturedLog;
let pstnPort = 0;
let deadPort = 0;
let tmp = '';
const phones = phoneTracker();

function pbxYaml(kamPort: number): string {
  return `
fraud: { block_seconds: 60 }
trunks:
  carrier:
    host: 127.0.0.1
    port: ${kamPort}
    register: { user: acme, password: "${TRUNK_PASS}", expires: 60 }
    caller_id: "+4930999000"
    codecs: [PCMA]
    dids: { "+4930123456": sales }
  dead: { host: ${DEAD}, port: ${deadPort}, context: from-trunk }
  ipco: { host: ${IP_CARRIER}, port: 5060, context: from-trunk, dids: { "+4930555000": sales } }
routes:
  - { name: munich, patterns: ["_089."], strip: 1, prepend: "+49", trunks: [dead, carrier] }
  - { name: national, patterns: ["_0[2-9]."], strip: 1, prepend: "+49", trunks: [carrier] }
  - { name: international, patterns: ["_011."], strip: 3, prepend: "+", trunks: [carrier] }
dialplan:
  internal:
    "_1XXX":
      - dial: { to: "\${EXTEN}", timeout: 15 }
    "_0[2-9].":
      - dial: { to: "\${EXTEN}", timeout: 20 }
    "_9.":
      - dial: { to: "+\${EXTEN:1}", trunk: carrier, timeout: 20 }
    "_*72.":
      - feature: { name: forward_always, arg: "\${EXTEN:3}" }
    "*73":
      - feature: forward_off
  manager:
    include: [internal, world]
  world:
    "_011.":
      - dial: { to: "\${EXTEN}", timeout: 20 }
  sales:
    s:
      - dial: { to: "1005", timeout: 15 }
  from-trunk:
    # A trunk context that includes the staff's (a common slip): toll fraud must still be refused.
    include: [internal]
`;
}

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sb-trunks-'));
  pstnPort = await freePort('udp');
  deadPort = await freePort('udp');
  carrier = await startCarrier({ users: { acme: TRUNK_PASS }, pstn: { address: PSTN, port: pstnPort }, dids: { '+4930123456': 'acme' }, failRegisters: 1 });
  logs = captureLog('info');
  server = await startTestServer({ users: USERS, userKeys: USER_KEYS, extraYaml: pbxYaml(carrier.port), log: logs.log });
});

after(async () => {
  await phones.stopAll();
  await server?.stop();
  await carrier?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function waitUntil(cond: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await sleep(100);
  }
}

function trunkState(name: string): string {
  return server.pbx?.status().trunks.find((t) => t.name === name)?.state ?? '(none)';
}

function phoneArgs(user: string): string[] {
  return ['--server', server.sip, '--user', user, '--password', USERS[user]];
}

/** A phone of `user` calling `number` with a 440 Hz tone, recording what it hears. */
function call(user: string, number: string, seconds: number, rec?: string): PhoneProcess {
  const args = ['call', `sip:${number}@${server.sip}`, ...phoneArgs(user), '--codec', 'pcmu', '--play', `tone:${TONE}`, '--duration', String(seconds)];
  if (rec) args.push('--record', rec);
  return phones.start(args, { deadlineMs: 40_000 });
}

/** The first INVITE SIPp received: its Request-URI, From user and offered payload types. */
function firstInvite(r: SippResult): { uri: string; fromUser: string; payloads: string[] } {
  const m = /INVITE (\S+) SIP\/2\.0[\s\S]*?\n\s*From:[^<\n]*<sip:([^@>]+)@[\s\S]*?m=audio \d+ RTP\/AVP ([\d ]+)/i.exec(r.messages);
  assert.ok(m, `no INVITE in the SIPp trace:\n${r.messages.slice(0, 3000)}`);
  return { uri: m[1], fromUser: m[2], payloads: m[3].trim().split(/\s+/) };
}

/** CDR rows of the call whose first leg called `dst` (newest), with its linked legs. */
function cdrsOf(dst: string): { primary: CdrRow; legs: CdrRow[] } {
  const store = server.pbx?.cdrs;
  assert.ok(store, 'the PBX runs');
  store.flush();
  const all = store.query({});
  const primary = all.filter((r) => r.dst === dst && r.uniqueid === r.linkedid).sort((a, b) => a.start.localeCompare(b.start)).pop();
  assert.ok(primary, `no CDR for ${dst}: ${JSON.stringify(all, null, 1)}`);
  return { primary, legs: all.filter((r) => r.linkedid === primary.linkedid && r.uniqueid !== primary.uniqueid) };
}

function fraudLines(reason: string): Record<string, unknown>[] {
  return logs.records().filter((r) => r.reason === reason && typeof r.msg === 'string' && /toll/i.test(r.msg));
}

/**
 * Share of 20 ms frames holding the tone, leaving out the first half second
 * (ringing, the echo's start) and the last 100 ms (the BYE).
 */
async function heardTone(rec: string): Promise<number> {
  const wav = await readWav(rec);
  const mono = new Int16Array(Math.floor(wav.samples.length / wav.channels));
  for (let i = 0; i < mono.length; i++) mono[i] = wav.samples[i * wav.channels];
  const start = Math.round(wav.sampleRate * 0.5);
  const end = Math.max(start, mono.length - Math.round(wav.sampleRate * 0.1));
  return tonePresence(mono.subarray(start, end), wav.sampleRate, TONE);
}

describe('SIP trunks to a Kamailio carrier', { skip }, () => {
  test('the trunk registers with digest auth, after the carrier refused the first REGISTER with 503', async () => {
    await waitUntil(() => trunkState('carrier') === 'registered', 20_000, () => `trunk state: ${trunkState('carrier')}`);
    const failed = logs.records().find((r) => r.trunk === 'carrier' && typeof r.msg === 'string' && /registration failed: 503 Maintenance; retrying in \d+ s/.test(r.msg));
    assert.ok(failed, 'the 503 was logged with the retry');
    assert.ok(Number(failed.retryInSeconds) >= 4 && Number(failed.retryInSeconds) <= 6, `first retry after 5 s ±20%, got ${String(failed.retryInSeconds)}`);
    const bound = await carrier.lookup('acme');
    assert.equal(bound.length, 1, JSON.stringify(bound));
    const local = server.pbx?.status().trunks.find((t) => t.name === 'carrier')?.local ?? '';
    assert.ok(local.endsWith(`:${/:(\d+)/.exec(bound[0].contact)?.[1]}`), `the carrier has our trunk's own port: ${bound[0].contact} vs ${local}`);
    const ip = server.pbx?.status().trunks.find((t) => t.name === 'ipco');
    assert.equal(ip?.state, 'ip-authenticated');
  });

  test('an outbound call leaves as E.164 with the trunk caller ID and codecs, connects, and is a CDR with the trunk', async () => {
    const pstn = await startSippUas({ scenario: 'pstn-uas-echo.xml', address: PSTN, localPort: pstnPort, calls: 1, traceMessages: true, extraArgs: ['-rtp_echo'], timeoutS: 60 });
    const rec = path.join(tmp, 'outbound.wav');
    const p = call('1001', '0301234567', 4, rec);
    const exit = await p.exited;
    const r = await Promise.race([pstn.done, sleep(10_000).then(() => pstn.stop())]);
    assert.equal(exit.exitCode, 0, p.output());
    assert.equal(r.successful, 1, `PSTN: ${r.errors}\n${r.messages.slice(0, 3000)}`);
    const inv = firstInvite(r);
    assert.match(inv.uri, /^sip:\+49301234567@127\.0\.0\.1/, 'the number as E.164');
    assert.equal(inv.fromUser, '+4930999000', "the trunk's caller ID, not the extension");
    assert.deepEqual(inv.payloads.filter((pt) => Number(pt) < 96), ['8'], 'only the trunk codec (PCMA) is offered');
    const share = await heardTone(rec);
    assert.ok(share > 0.8, `the caller hears its tone echoed back through the carrier (PCMU<->PCMA): ${share.toFixed(2)}`);
    await waitUntil(() => server.pbx?.pbx.channels.length === 0, 5000, () => `${server.pbx?.pbx.channels.length} channels left`);
    const { primary, legs } = cdrsOf('0301234567');
    assert.equal(primary.disposition, 'ANSWERED');
    assert.equal(primary.src, '1001');
    assert.equal(legs.length, 1, JSON.stringify(legs));
    assert.equal(legs[0].trunk, 'carrier');
    assert.equal(legs[0].disposition, 'ANSWERED');
    assert.ok(legs[0].billsec >= 2 && legs[0].billsec <= 6, `billsec ${legs[0].billsec}`);
  });

  test('a dial verb that names a trunk sends the number through it as written', async () => {
    const pstn = await startSippUas({ scenario: 'pstn-uas-echo.xml', address: PSTN, localPort: pstnPort, calls: 1, traceMessages: true, extraArgs: ['-rtp_echo'], timeoutS: 60 });
    const p = call('1001', '9441234567', 2);
    assert.equal((await p.exited).exitCode, 0, p.output());
    const r = await Promise.race([pstn.done, sleep(10_000).then(() => pstn.stop())]);
    const inv = firstInvite(r);
    assert.match(inv.uri, /^sip:\+441234567@127\.0\.0\.1/);
    assert.equal(inv.fromUser, '+4930999000');
  });

  test('failover: the first trunk answers 503, the call goes on through the second', async () => {
    const dead = await startSippUas({ scenario: 'carrier-uas-503.xml', address: DEAD, localPort: deadPort, calls: 1, timeoutS: 60 });
    const pstn = await startSippUas({ scenario: 'pstn-uas-echo.xml', address: PSTN, localPort: pstnPort, calls: 1, traceMessages: true, extraArgs: ['-rtp_echo'], timeoutS: 60 });
    const p = call('1001', '0891234567', 3);
    const exit = await p.exited;
    const d = await Promise.race([dead.done, sleep(5_000).then(() => dead.stop())]);
    const r = await Promise.race([pstn.done, sleep(10_000).then(() => pstn.stop())]);
    assert.equal(exit.exitCode, 0, p.output());
    assert.equal(d.successful, 1, `the dead carrier was tried first: ${d.errors}`);
    assert.equal(r.successful, 1, r.errors);
    assert.match(firstInvite(r).uri, /^sip:\+49891234567@/);
    await waitUntil(() => server.pbx?.pbx.channels.length === 0, 5000, () => 'channels left');
    const { primary, legs } = cdrsOf('0891234567');
    assert.equal(primary.disposition, 'ANSWERED');
    const byTrunk = Object.fromEntries(legs.map((l) => [l.trunk, l.disposition]));
    assert.deepEqual(byTrunk, { dead: 'FAILED', carrier: 'ANSWERED' });
    // The IP trunk's INVITE went through our proxy, which (RFC 3261 §16.7) passes a 503 on as 500.
    assert.equal(legs.find((l) => l.trunk === 'dead')?.hangupcause, '500');
  });

  test('an inbound DID from the carrier reaches its context (sales rings 1005) on the registered trunk', async () => {
    const rec = path.join(tmp, 'inbound.wav');
    const callee = phones.start(['listen', ...phoneArgs('1005'), '--auto-answer', '--calls', '1', '--codec', 'pcmu', '--play', `tone:${TONE}`, '--record', rec], { deadlineMs: 40_000 });
    await callee.waitFor(/registered/, 10_000);
    const r = await runSipp({ scenario: 'pstn-uac-did.xml', address: PSTN, localPort: pstnPort, target: carrier.sip, transport: 'u1', service: '+4930123456', pauseMs: 3000, extraArgs: ['-rtp_echo'], timeoutS: 20 });
    assert.equal(r.successful, 1, `${r.errors}\n${callee.output()}`);
    await callee.waitFor(/incoming call from .*\+4917612345678/, 2000);
    await callee.exited;
    const inbound = await heardTone(rec);
    assert.ok(inbound > 0.8, `the callee hears its tone echoed back from the PSTN: ${inbound.toFixed(2)}`);
    await waitUntil(() => server.pbx?.pbx.channels.length === 0, 5000, () => 'channels left');
    const { primary, legs } = cdrsOf('+4930123456');
    assert.equal(primary.trunk, 'carrier');
    assert.equal(primary.context, 'sales');
    assert.equal(primary.src, '+4917612345678');
    assert.equal(primary.disposition, 'ANSWERED');
    assert.equal(legs[0]?.dst, '1005');
  });

  test('an inbound DID from an IP-authenticated carrier comes through the proxy and reaches its context', async () => {
    const rec = path.join(tmp, 'inbound-ip.wav');
    const callee = phones.start(['listen', ...phoneArgs('1005'), '--auto-answer', '--calls', '1', '--codec', 'pcmu', '--play', `tone:${TONE}`, '--record', rec], { deadlineMs: 40_000 });
    await callee.waitFor(/registered/, 10_000);
    const r = await runSipp({ scenario: 'pstn-uac-did.xml', address: IP_CARRIER, target: server.sip, transport: 'u1', service: '+4930555000', pauseMs: 3000, extraArgs: ['-rtp_echo'], timeoutS: 20 });
    assert.equal(r.successful, 1, `${r.errors}\n${callee.output()}`);
    await callee.exited;
    const heard = await heardTone(rec);
    assert.ok(heard > 0.8, `the callee hears its tone echoed back: ${heard.toFixed(2)}`);
    await waitUntil(() => server.pbx?.pbx.channels.length === 0, 5000, () => 'channels left');
    const { primary } = cdrsOf('+4930555000');
    assert.equal(primary.trunk, 'ipco');
    assert.equal(primary.context, 'sales');
    assert.equal(primary.disposition, 'ANSWERED');
  });
});

describe('toll fraud refused', { skip }, () => {
  test('a trunk caller dialling an outbound route gets 403, logged and counted', async () => {
    const before = server.fraud.counters.refused.trunk_to_outbound;
    const r = await runSipp({ scenario: 'pstn-uac-expect-403.xml', address: IP_CARRIER, target: server.sip, transport: 'u1', service: '0301234567', timeoutS: 15 });
    assert.equal(r.successful, 1, `expected 403: ${r.errors}`);
    assert.equal(server.fraud.counters.refused.trunk_to_outbound, before + 1);
    const line = fraudLines('trunk_to_outbound').pop();
    assert.ok(line, 'a log line');
    assert.equal(line.trunk, 'ipco');
    assert.match(String(line.msg), /trunks\.ipco\.outbound is off/);
  });

  test('a user without international dialling gets 403 for 011..., one with it reaches the carrier', async () => {
    const p = call('1003', '011441234567', 2);
    const exit = await p.exited;
    assert.match(p.output(), /call failed: 403 Forbidden/);
    assert.equal(exit.exitCode, 7);
    const line = fraudLines('class_of_service').pop();
    assert.ok(line, 'a log line');
    assert.equal(line.user, '1003');
    assert.equal(line.number, '011441234567');

    const pstn = await startSippUas({ scenario: 'pstn-uas-echo.xml', address: PSTN, localPort: pstnPort, calls: 1, traceMessages: true, extraArgs: ['-rtp_echo'], timeoutS: 60 });
    const ok = call('1001', '011441234567', 2);
    assert.equal((await ok.exited).exitCode, 0, ok.output());
    const r = await Promise.race([pstn.done, sleep(10_000).then(() => pstn.stop())]);
    assert.match(firstInvite(r).uri, /^sip:\+441234567@/);
  });

  test('a user over the concurrent-call cap gets 486 for the second call', async () => {
    const pstn = await startSippUas({ scenario: 'pstn-uas-echo.xml', address: PSTN, localPort: pstnPort, calls: 1, extraArgs: ['-rtp_echo'], timeoutS: 60 });
    const first = call('1003', '0301111111', 6);
    await first.waitFor(/^answered/, 10_000);
    const second = call('1003', '0302222222', 2);
    const exit2 = await second.exited;
    assert.match(second.output(), /call failed: 486 Busy Here/);
    assert.equal(exit2.exitCode, 4);
    assert.equal((await first.exited).exitCode, 0, first.output());
    await Promise.race([pstn.done, sleep(10_000).then(() => pstn.stop())]);
    const line = fraudLines('user_max_calls').pop();
    assert.ok(line, 'a log line');
    assert.equal(line.user, '1003');
  });

  test('a user over the velocity limit is blocked with 403 and an alert', async () => {
    const pstn = await startSippUas({ scenario: 'pstn-uas-echo.xml', address: PSTN, localPort: pstnPort, calls: 2, extraArgs: ['-rtp_echo'], timeoutS: 60 });
    for (let i = 0; i < 2; i++) {
      const p = call('1002', `030300000${i}`, 1);
      assert.equal((await p.exited).exitCode, 0, p.output());
    }
    await Promise.race([pstn.done, sleep(10_000).then(() => pstn.stop())]);
    const blocksBefore = server.fraud.counters.blocks;
    const third = call('1002', '0303000002', 1);
    await third.exited;
    assert.match(third.output(), /call failed: 403 Forbidden/);
    assert.equal(server.fraud.counters.blocks, blocksBefore + 1);
    const alert = logs.records().find((r) => r.reason === 'velocity' && r.level === 50);
    assert.ok(alert, 'an error-level alert');
    assert.match(String(alert.msg), /toll fraud: 1002 placed 2 outbound calls within a minute \(limit 2\); outbound calls blocked for 60 s/);
    // Blocked now: the next outbound call is refused too, an internal one is not.
    const fourth = call('1002', '0303000003', 1);
    await fourth.exited;
    assert.match(fourth.output(), /call failed: 403 Forbidden/);
    assert.ok(fraudLines('blocked').some((r) => r.user === '1002'));
    assert.deepEqual(server.fraud.blocked().map((b) => b.user), ['1002']);
  });

  test('a user cannot forward calls to a number their context does not reach (*72 011...)', async () => {
    const refused = call('1003', '*72011339876543', 8);
    await refused.exited;
    assert.equal(server.config.pbx.users.get('1003')?.forward.always, undefined, 'forwarding unchanged');
    const line = fraudLines('class_of_service').find((r) => /tried to forward calls to 011339876543/.test(String(r.msg)));
    assert.ok(line, 'a log line');
    assert.equal(line.user, '1003');
    const allowed = call('1003', '*721002', 8);
    await allowed.exited;
    assert.equal(server.config.pbx.users.get('1003')?.forward.always, '1002', 'an internal forward is fine');
    const off = call('1003', '*73', 8);
    await off.exited;
    assert.equal(server.config.pbx.users.get('1003')?.forward.always, undefined);
  });

  test('a user outside its allow-list cannot register: 403', async () => {
    const before = server.fraud.counters.refused.source_not_allowed;
    const p = phones.start(['register', ...phoneArgs('1004')], { deadlineMs: 15_000 });
    const exit = await p.exited;
    assert.equal(exit.exitCode, 8, p.output());
    assert.match(p.output(), /registration failed: 403 Forbidden/);
    assert.equal(server.fraud.counters.refused.source_not_allowed, before + 1);
    const line = fraudLines('source_not_allowed').pop();
    assert.equal(line?.user, '1004');
    assert.match(String(line?.source), /^udp:127\.0\.0\.1:\d+$/);
  });
});
