/**
 * The leak test: 200 short calls from SIPp through the IVR (hanging
 * up during the prompt), the IVR into the support queue by RFC 4733 key 2
 * (hanging up while waiting with music and announcements, or while talking
 * to the agent), voicemail (during the greeting or while recording), the
 * conference room (leaving at random), and a dial to a phone that never
 * answers (cancelled while it rings), each hung up at a random moment; then
 * `switchboard status` must show zero legs, bridges, media ports, queue
 * callers, conference participants and PBX timers, and the PBX agent's SIP
 * transactions must drain; no half-written voicemail is left.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PbxCounts } from '../../src/voice/pbx-runtime.js';
import { requirePeers } from '../helpers/peers.js';
import { PBX_PASS, startPbxServer, type PbxServer } from '../helpers/pbx-server.js';
import { phoneTracker } from '../helpers/phone.js';
import { freePort, runSipp, SCENARIOS_DIR, writeUsersCsv, type SippResult } from '../helpers/sipp.js';

const skip = requirePeers('sipp', 'espeak-ng');
const DTMF_2 = '/usr/share/sip-tester/dtmf_2833_2.pcap';
const G711A = '/usr/share/sip-tester/g711a.pcap';
const CALLERS = 20;

/** One SIPp run: an extension, how many calls, and when each caller hangs up (ms after the answer, uniform). */
interface Leg {
  what: string;
  exten: string;
  calls: number;
  minMs: number;
  maxMs: number;
  dtmf?: boolean;
  /** Speak (G.711 A-law from SIPp's g711a.pcap, 7 s) from 6 s after the answer: past the greeting, into the recording. */
  speak?: boolean;
  cancel?: boolean;
}

// The IVR hangs up by itself ~11 s in (a 6 s prompt + 5 s gather timeout), voicemail on
// 10 s of silence after a ~9 s greeting and beep: every caller here hangs up before the PBX would.
const LEGS: Leg[] = [
  { what: 'IVR prompt', exten: '500', calls: 50, minMs: 200, maxMs: 8000 },
  { what: 'IVR, key 2, support queue', exten: '500', calls: 40, minMs: 1500, maxMs: 9000, dtmf: true },
  { what: 'voicemail greeting', exten: '1002', calls: 20, minMs: 300, maxMs: 9000 },
  { what: 'voicemail recording', exten: '1002', calls: 20, minMs: 3000, maxMs: 7000, speak: true },
  { what: 'conference', exten: '6000', calls: 40, minMs: 200, maxMs: 6000 },
  { what: 'ringing phone, cancelled', exten: '1001', calls: 30, minMs: 100, maxMs: 5000, cancel: true },
];

/** A scenario file of ours with its one `<pause/>` made random per call, and optionally a key sent first. */
function variant(dir: string, base: string, leg: Leg): string {
  const text = readFileSync(path.join(SCENARIOS_DIR, base), 'utf8');
  assert.equal(text.split('<pause/>').length, 2, `${base} has one <pause/>`);
  const play = (ms: number, pcap: string): string => `<pause milliseconds="${ms}"/>\n  <nop><action><exec play_pcap_audio="${pcap}"/></action></nop>\n  `;
  const first = leg.dtmf ? play(1200, DTMF_2) : leg.speak ? play(6000, G711A) : '';
  let xml = text.replace('<pause/>', `${first}<pause distribution="uniform" min="${leg.minMs}" max="${leg.maxMs}"/>`);
  if (leg.speak) {
    // The recording is A-law: offer only PCMA so what SIPp plays is what was agreed.
    assert.ok(xml.includes('RTP/AVP 0 8 101'), `${base} offers 0 8 101`);
    xml = xml.replaceAll('RTP/AVP 0 8 101', 'RTP/AVP 8 101').replace(/^\s*a=rtpmap:0 PCMU\/8000\n/gm, '');
  }
  const file = path.join(dir, `${leg.what.replace(/\W+/g, '-')}.xml`);
  writeFileSync(file, xml);
  return file;
}

function explain(r: SippResult): string {
  return `exit ${r.exitCode}, ${r.successful} ok, ${r.failed} failed${r.killed ? ' (killed at the deadline)' : ''}\n${r.errors.slice(-2500)}\n${r.stderr.slice(-800)}`;
}

const ZERO: Omit<PbxCounts, 'sipTransactions'> = { channels: 0, bridges: 0, mediaPorts: 0, queueCallers: 0, conferenceParticipants: 0, parked: 0, timers: 0 };

describe('PBX leak test', { skip, timeout: 150_000 }, () => {
  let server: PbxServer;
  let tmp: string;
  const phones = phoneTracker();

  before(async () => {
    const users = Array.from({ length: CALLERS }, (_, i) => `  "${2001 + i}": { password: "Caller-pw-${i * 7 + 3}-Zq" }`);
    server = await startPbxServer({
      moreUsers: users,
      // Announcements every 4 s, so callers also hang up during one.
      queue: '  support: { strategy: ringall, members: ["1003"], timeout: 15, max_wait: 60, announce_every: 4, after: [ { voicemail: "1002" } ] }',
      // Per-user caps would refuse the test's own concurrency, not a fraud.
      extraYaml: 'fraud: { max_calls: 0, user_max_calls: 0, user_calls_per_minute: 0 }',
    });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sb-leaks-'));
  });
  after(async () => {
    await phones.stopAll();
    await server?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('200 calls hung up at random moments leave no leg, port, timer or half-written file', async () => {
    const S = ['--server', server.sip];
    // The queue's agent answers everything it is offered; 1001's phone rings and never answers.
    const agent = phones.start(['listen', ...S, '--user', '1003', '--password', PBX_PASS['1003'], '--auto-answer', '--play', 'tone:700'], { deadlineMs: 140_000 });
    const ringer = phones.start(['listen', ...S, '--user', '1001', '--password', PBX_PASS['1001']], { deadlineMs: 140_000 });
    await Promise.all([agent.waitFor(/waiting for calls/, 15_000), ringer.waitFor(/waiting for calls/, 15_000)]);

    const csv = await writeUsersCsv(
      path.join(tmp, 'callers.csv'),
      Array.from({ length: CALLERS }, (_, i) => ({ user: String(2001 + i), password: `Caller-pw-${i * 7 + 3}-Zq`, domain: '127.0.0.1' })),
    );
    // Peaks while the calls run, so the zeros at the end are about counts that moved.
    const peak: Record<string, number> = {};
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const c = server.status().pbx as PbxCounts;
        for (const [k, v] of Object.entries(c)) peak[k] = Math.max(peak[k] ?? 0, v);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const started = Date.now();
    const results = await Promise.all(
      LEGS.map(async (leg) => {
        const mediaPort = await freePort('udp');
        return {
          leg,
          r: await runSipp({
            scenario: variant(tmp, leg.cancel ? 'uac-cancel.xml' : 'uac-call-auth.xml', leg),
            target: server.sip,
            transport: 'u1',
            service: leg.exten,
            injectCsv: csv,
            calls: leg.calls,
            rate: 3,
            maxConcurrent: 8,
            timeoutS: 75,
            extraArgs: ['-mp', String(mediaPort)],
          }),
        };
      }),
    );
    const callSeconds = (Date.now() - started) / 1000;
    polling = false;
    await poll;

    for (const { leg, r } of results) {
      assert.equal(r.failed, 0, `${leg.what} (${leg.exten}): ${explain(r)}`);
      assert.equal(r.successful, leg.calls, `${leg.what} (${leg.exten}): ${explain(r)}`);
    }
    // The counts did move: legs, media, queue callers, a bridge to the agent, a full room, PBX timers.
    for (const k of ['channels', 'mediaPorts', 'queueCallers', 'bridges', 'conferenceParticipants', 'timers']) {
      assert.ok((peak[k] ?? 0) > 0, `${k} rose above 0 during the calls (peaks: ${JSON.stringify(peak)})`);
    }
    const q = server.pbx?.queues.get('support')?.figures();
    assert.ok(q && q.answered > 0 && q.abandoned > 0, `the agent answered some queue callers and others hung up waiting: ${JSON.stringify(q)}`);

    // Everything the PBX holds for a call goes when the call does (its check for legs
    // that stopped sending RTP fires once more, up to 10 s after the last leg ended).
    const zeroBy = Date.now() + 15_000;
    let now = server.status().pbx as PbxCounts;
    while (Date.now() < zeroBy && Object.entries(ZERO).some(([k, v]) => now[k as keyof PbxCounts] !== v)) {
      await new Promise((r) => setTimeout(r, 200));
      now = server.status().pbx as PbxCounts;
    }
    const { sipTransactions, ...rest } = now;
    assert.deepEqual(rest, ZERO, `PBX counts after every call ended (peaks were ${JSON.stringify(peak)})`);
    assert.equal(server.status().dialogs.length, 0, 'no dialog is left in the proxy');
    // Finished SIP transactions linger by design (Timer J: 64*T1 = 32 s), then go.
    const drainBy = Date.now() + 40_000;
    let tx = sipTransactions;
    while (tx > 0 && Date.now() < drainBy) {
      await new Promise((r) => setTimeout(r, 500));
      tx = (server.status().pbx as PbxCounts).sipTransactions;
    }
    assert.equal(tx, 0, 'the PBX agent\'s SIP transactions drained');

    // Voicemail: messages cut off by a hang-up were kept whole; nothing half-written remains.
    const box = path.join(server.dataDir, 'voicemail', '1002');
    const tmpDir = path.join(box, 'tmp');
    const leftovers = existsSync(tmpDir) ? readdirSync(tmpDir) : [];
    assert.deepEqual(leftovers, [], 'no recording in progress is left behind');
    const store = server.pbx?.voicemail;
    const messages = [...(store?.list('1002', 'new') ?? [])];
    assert.ok(messages.length > 0, 'callers who spoke past the beep left messages');
    for (const m of messages) assert.ok(existsSync(m.path), `message ${m.id}'s WAV exists`);
    console.log(
      `# ${LEGS.reduce((a, l) => a + l.calls, 0)} calls in ${callSeconds.toFixed(1)} s; peaks ${JSON.stringify(peak)}; ` +
        `queue ${q.answered} answered / ${q.abandoned} abandoned; ${messages.length} voicemails`,
    );
  });
});
