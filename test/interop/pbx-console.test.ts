/**
 * `switchboard pbx ...` as a user runs it, against a running PBX with real
 * phones (our softphone): three phones in conference 6000 are listed,
 * numbered, muted (the others stop hearing that phone's tone) and kicked
 * (its call ends); a caller waiting in the support queue is listed and counted
 * as abandoned when it hangs up; a voicemail shows as new in `pbx voicemail`
 * and in /metrics; `switchboard status` shows the PBX's counts. A server
 * without a dialplan, and no server at all, get a clear message and exit 1.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ChannelView, ConferenceView, MailboxView, QueueView, TrunkView } from '../../src/cli/pbx-admin.js';
import type { StatusReport } from '../../src/cli/server.js';
import { CliSession, eventually, explain } from '../helpers/cli.js';
import { requirePeers } from '../helpers/peers.js';
import { PBX_PASS, startPbxServer, type PbxServer } from '../helpers/pbx-server.js';
import { phoneTracker } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { readWav, toneShare } from '../helpers/wav.js';
import type { PcmAudio } from '../../src/media/wav.js';

const skip = requirePeers('espeak-ng');
const GUESTS: Record<string, { pass: string; name: string; hz: number }> = {
  '2001': { pass: 'Guest-pw-Q71-dd', name: 'Dan Dorsey', hz: 500 },
  '2002': { pass: 'Guest-pw-R82-ee', name: 'Eve Evans', hz: 800 },
  '2003': { pass: 'Guest-pw-S93-ff', name: 'Fay Fox', hz: 1250 },
};

/** Seconds `from`..`to` of a recording. */
function slice(pcm: PcmAudio, from: number, to: number): PcmAudio {
  const a = Math.max(0, Math.round(from * pcm.sampleRate)) * pcm.channels;
  const b = Math.min(pcm.samples.length, Math.round(to * pcm.sampleRate) * pcm.channels);
  return { ...pcm, samples: pcm.samples.subarray(a, b) };
}

describe('switchboard pbx (the console) with a running PBX', { skip, timeout: 180_000 }, () => {
  let server: PbxServer;
  let cli: CliSession;
  const phones = phoneTracker();
  const cfg = (): string[] => ['--config', server.configFile];
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await cli.run([...args, '--json', ...cfg()]);
    assert.equal(r.exitCode, 0, explain(r));
    return JSON.parse(r.stdout) as T;
  };

  let deadCarrier = 0;
  before(async () => {
    // A registering trunk to a carrier that never answers, and an IP-authenticated peer.
    deadCarrier = await freePort('udp');
    server = await startPbxServer({
      moreUsers: Object.entries(GUESTS).map(([u, g]) => `  "${u}": { password: "${g.pass}", name: ${g.name} }`),
      extraYaml: [
        'trunks:',
        `  carrier: { host: 127.0.0.1, port: ${deadCarrier}, register: { user: "4930123456", password: "Carrier-pw-x9-long", expires: 600 }, context: main-menu, max_calls: 4 }`,
        '  peer: { host: 127.0.0.2, context: main-menu }',
      ].join('\n'),
    });
    cli = new CliSession();
  });
  after(async () => {
    await phones.stopAll();
    await cli?.close();
    await server?.stop();
  });

  test('idle: no channels, every configured queue, room, mailbox and trunk', async () => {
    const ch = await cli.run(['pbx', 'channels', ...cfg()]);
    assert.equal(ch.exitCode, 0, explain(ch));
    assert.equal(ch.stdout.trim(), '0 active channels.');
    const queues = await json<QueueView[]>(['pbx', 'queues']);
    assert.deepEqual(Object.keys(queues[0]).sort(), ['abandoned', 'answered', 'averageWait', 'callers', 'longestWaitNow', 'members', 'name', 'serviceLevel', 'strategy', 'timedOut', 'waiting']);
    assert.deepEqual(queues[0].members, [{ user: '1003', dynamic: false, paused: false, inUse: false, wrapUp: false, reachable: false, callsTaken: 0 }]);
    assert.deepEqual(await json<ConferenceView[]>(['pbx', 'conferences']), [{ room: '6000', participants: [] }]);
    assert.deepEqual(await json<MailboxView[]>(['pbx', 'voicemail']), [
      { mailbox: '1001', name: 'Alice Archer', email: 'alice@acme.example', new: 0, old: 0 },
      { mailbox: '1002', name: 'Bob Baker', email: 'bob@acme.example', new: 0, old: 0 },
    ]);
    const trunks = await json<TrunkView[]>(['pbx', 'trunks']);
    assert.deepEqual(trunks.map((t) => [t.name, t.kind, t.server, t.calls, t.maxCalls, t.expires]), [
      ['carrier', 'register', `udp:127.0.0.1:${deadCarrier}`, 0, 4, null],
      ['peer', 'ip', 'udp:127.0.0.2:5060', 0, 0, null],
    ]);
    assert.match(trunks[0].state, /^(registering|failed: .*retrying in \d+ s)$/, trunks[0].state);
    assert.match(trunks[0].local, /^udp:127\.0\.0\.1:\d+$/);
    assert.deepEqual([trunks[1].state, trunks[1].local], ['ip-authenticated', '']);
    const tr = await cli.run(['pbx', 'trunks', ...cfg()]);
    assert.match(tr.stdout, /^2 trunks:$/m, tr.stdout);
    assert.match(tr.stdout, /^ {2}peer\s+ip peer\s+udp:127\.0\.0\.2:5060\s+ip-authenticated\s+0\s+-\s+-$/m, tr.stdout);
    const help = await cli.run(['pbx', 'conference', '--help']);
    assert.equal(help.exitCode, 0);
    assert.match(help.stdout, /switchboard pbx conference 6000 mute 2/);
  });

  test('a conference: listed and numbered; mute silences a phone for the others; kick ends its call; bad numbers exit 1', async () => {
    const rec = path.join(cli.dir, 'dan-heard.wav');
    const start = (user: string, extra: string[]) =>
      phones.start(['call', '6000', '--server', server.sip, '--user', user, '--password', GUESTS[user].pass, '--play', `tone:${GUESTS[user].hz}`, ...extra], { deadlineMs: 120_000 });
    const dan = start('2001', ['--record', rec, '--duration', '100']);
    const eve = start('2002', ['--duration', '100']);
    const fay = start('2003', ['--duration', '100']);
    await dan.waitFor(/^answered/, 15_000);
    const danAnswered = Date.now();
    await Promise.all([eve.waitFor(/^answered/, 15_000), fay.waitFor(/^answered/, 15_000)]);
    await eventually(() => (server.pbx?.rooms.get('6000')?.size ?? 0) === 3, () => 'three phones in room 6000', 10_000);

    const [room] = await json<ConferenceView[]>(['pbx', 'conferences']);
    assert.equal(room.room, '6000');
    assert.deepEqual(room.participants.map((p) => p.caller).sort(), ['2001', '2002', '2003']);
    assert.deepEqual(room.participants.map((p) => p.number).sort(), [1, 2, 3]);
    assert.ok(room.participants.every((p) => !p.muted && p.rate === 8000 && p.name === GUESTS[p.caller].name), JSON.stringify(room));
    const num = (user: string): number => (room.participants.find((p) => p.caller === user) as ConferenceView['participants'][number]).number;
    const table = await cli.run(['pbx', 'conferences', ...cfg()]);
    assert.match(table.stdout, /^6000: 3 participants$/m, table.stdout);
    assert.match(table.stdout, new RegExp(`^  ${num('2002')}\\s+SIP/2002-\\w+\\s+"Eve Evans" <2002>`, 'm'), table.stdout);

    const chans = await json<ChannelView[]>(['pbx', 'channels']);
    assert.equal(chans.length, 3);
    for (const c of chans) {
      assert.deepEqual([c.exten, c.context, c.state, c.app, c.peer], ['6000', 'internal', 'Up', 'conference', ''], JSON.stringify(c));
      assert.deepEqual(Object.keys(c), ['channel', 'uniqueid', 'linkedid', 'caller', 'callerName', 'exten', 'context', 'state', 'app', 'peer', 'trunk', 'seconds']);
    }
    const status = await json<StatusReport>(['status']);
    assert.equal(status.pbx?.channels, 3);
    assert.equal(status.pbx?.conferenceParticipants, 3);
    assert.equal(status.pbx?.mediaPorts, 3);
    const statusText = await cli.run(['status', ...cfg()]);
    assert.match(statusText.stdout, /^PBX: 3 channels \(0 bridged pairs\), 3 media ports, 0 in queues, 3 in conferences, 0 parked, \d+ timers pending/m);

    // Everyone has heard everyone for a while (the commands above take seconds); now Eve is muted.
    // (The phones' --duration is a safety net: the test ends each call with kick.)
    const mute = await cli.run(['pbx', 'conference', '6000', 'mute', String(num('2002')), ...cfg()]);
    const mutedAt = (Date.now() - danAnswered) / 1000;
    assert.equal(mute.exitCode, 0, explain(mute));
    assert.equal(mute.stdout.trim(), `muted participant ${num('2002')} (Eve Evans <2002>, ${room.participants.find((p) => p.caller === '2002')?.channel}) in conference 6000: the others no longer hear them`);
    const again = await cli.run(['pbx', 'conference', '6000', 'mute', String(num('2002')), ...cfg()]);
    assert.equal(again.exitCode, 0, explain(again));
    assert.match(again.stdout, /was already muted/);
    assert.equal((await json<ConferenceView[]>(['pbx', 'conferences']))[0].participants.find((p) => p.caller === '2002')?.muted, true);

    for (const [args, code, re] of [
      [['6000', 'kick', '9'], 1, /conference 6000 has no participant 9 \(participants now: 1, 2, 3; see switchboard pbx conferences\)/],
      [['6001', 'kick', '1'], 1, /there is no conference room "6001" \(configured: 6000\)/],
      [['6000', 'frob', '1'], 2, /unknown action "frob": use kick, mute or unmute/],
      [['6000', 'mute', 'two'], 2, /"two" is not a participant number/],
    ] as const) {
      const r = await cli.run(['pbx', 'conference', ...args, ...cfg()]);
      assert.equal(r.exitCode, code, explain(r));
      assert.match(r.stderr, re);
    }

    const kick = await cli.run(['pbx', 'conference', '6000', 'kick', String(num('2003')), ...cfg()]);
    const kickedAt = (Date.now() - danAnswered) / 1000;
    assert.equal(kick.exitCode, 0, explain(kick));
    assert.match(kick.stdout.trim(), new RegExp(`^kicked participant ${num('2003')} \\(Fay Fox <2003>, SIP/2003-\\w+\\) out of conference 6000: the call is hung up$`));
    await fay.waitFor(/call ended by the other side/, 5000);
    const left = await json<ConferenceView[]>(['pbx', 'conferences']);
    assert.deepEqual(left[0].participants.map((p) => p.caller).sort(), ['2001', '2002']);

    // What Dan heard: Eve's and Fay's tones before the mute; after it, Fay's alone.
    const kickDan = await cli.run(['pbx', 'conference', '6000', 'kick', String(num('2001')), ...cfg()]);
    assert.equal(kickDan.exitCode, 0, explain(kickDan));
    await dan.waitFor(/call ended by the other side/, 5000);
    await dan.exited;
    const heard = await readWav(rec);
    const before = slice(heard, 1, mutedAt - 0.5);
    const between = slice(heard, mutedAt + 1, kickedAt - 0.5);
    assert.ok(toneShare(before, GUESTS['2002'].hz) > 0.15 && toneShare(before, GUESTS['2003'].hz) > 0.15, `before the mute Dan hears both: ${toneShare(before, 800)}, ${toneShare(before, 1250)}`);
    assert.ok(toneShare(between, GUESTS['2002'].hz) < 0.05, `Dan no longer hears muted Eve: ${toneShare(between, 800)}`);
    assert.ok(toneShare(between, GUESTS['2003'].hz) > 0.5, `Dan still hears Fay: ${toneShare(between, 1250)}`);
    assert.ok(toneShare(heard, GUESTS['2001'].hz) < 0.05, 'Dan does not hear himself');

    const last = await cli.run(['pbx', 'conference', '6000', 'kick', String(num('2002')), ...cfg()]);
    assert.equal(last.exitCode, 0, explain(last));
    await eve.waitFor(/call ended by the other side/, 5000);
    await eventually(() => server.status().pbx?.channels === 0, () => `channels left: ${JSON.stringify(server.status().pbx)}`, 5000);
    const empty = await cli.run(['pbx', 'conference', '6000', 'kick', '1', ...cfg()]);
    assert.equal(empty.exitCode, 1);
    assert.match(empty.stderr, /conference 6000 has no participant 1 \(nobody is in it/);
  });

  test('a caller waiting in the queue is listed; hanging up counts as abandoned, in the view and in /metrics', async () => {
    const caller = phones.start(['call', '500', '--server', server.sip, '--user', '1001', '--password', PBX_PASS['1001'], '--dtmf', '2', '--duration', '9', '--play', 'tone:440'], { deadlineMs: 40_000 });
    await caller.waitFor(/^answered/, 15_000);
    await eventually(() => (server.pbx?.queues.get('support')?.waiting ?? 0) === 1, () => 'the caller reached the queue', 9000);
    const [q] = await json<QueueView[]>(['pbx', 'queues']);
    assert.equal(q.waiting, 1);
    assert.deepEqual(q.callers.map((c) => [c.position, c.caller, c.name]), [[1, '1001', 'Alice Archer']]);
    const table = await cli.run(['pbx', 'queues', ...cfg()]);
    assert.match(table.stdout, /^support \(ringall\): 1 waiting, 0 answered, 0 abandoned/m);
    assert.match(table.stdout, /^ {4}1003\s+unavailable\s+0\s+static$/m, table.stdout);
    assert.match(table.stdout, /^ {4}1\s+SIP\/1001-\w+\s+"Alice Archer" <1001>/m, table.stdout);
    await caller.exited;
    await eventually(() => server.pbx?.queues.get('support')?.figures().abandoned === 1, () => 'abandoned counted', 5000);
    const [after] = await json<QueueView[]>(['pbx', 'queues']);
    assert.deepEqual([after.waiting, after.abandoned, after.callers.length], [0, 1, 0]);
    const metrics = parsePrometheus(await (await fetch(`http://${server.adminAddress}/metrics`)).text()).samples;
    assert.equal(sampleValue(metrics, 'switchboard_pbx_queue_calls_total', { queue: 'support', result: 'abandoned' }), 1);
    assert.equal(sampleValue(metrics, 'switchboard_pbx_queue_waiting', { queue: 'support' }), 0);
  });

  test('a voicemail left for 1002 shows as new in pbx voicemail and in /metrics', async () => {
    const caller = phones.start(['call', '1002', '--server', server.sip, '--user', '1001', '--password', PBX_PASS['1001'], '--duration', '16', '--play', 'tone:440'], { deadlineMs: 40_000 });
    await caller.exited;
    await eventually(() => server.pbx?.voicemail.counts('1002').new === 1, () => `voicemail counts: ${JSON.stringify(server.pbx?.voicemail.counts('1002'))}`, 5000);
    const boxes = await json<MailboxView[]>(['pbx', 'voicemail']);
    assert.deepEqual(boxes.find((b) => b.mailbox === '1002'), { mailbox: '1002', name: 'Bob Baker', email: 'bob@acme.example', new: 1, old: 0 });
    const table = await cli.run(['pbx', 'voicemail', ...cfg()]);
    assert.match(table.stdout, /^ {2}1002\s+Bob Baker\s+1\s+0\s+bob@acme\.example$/m, table.stdout);
    const metrics = parsePrometheus(await (await fetch(`http://${server.adminAddress}/metrics`)).text()).samples;
    assert.equal(sampleValue(metrics, 'switchboard_pbx_voicemail_messages', { mailbox: '1002', folder: 'new' }), 1);
    assert.equal(sampleValue(metrics, 'switchboard_pbx_voicemail_messages', { mailbox: '1001', folder: 'new' }), 0);
    assert.equal(sampleValue(metrics, 'switchboard_pbx_channels'), 0);
  });
});

describe('switchboard pbx without a PBX or without a server', { timeout: 60_000 }, () => {
  let server: PbxServer;
  let cli: CliSession;
  before(async () => {
    server = await startPbxServer({ noPbx: true });
    cli = new CliSession();
  });
  after(async () => {
    await cli?.close();
    await server?.stop();
  });

  test('a server whose config has no dialplan says no PBX runs (exit 1); status has pbx: null', async () => {
    for (const view of ['channels', 'queues', 'conferences', 'voicemail', 'trunks']) {
      const r = await cli.run(['pbx', view, '--config', server.configFile]);
      assert.equal(r.exitCode, 1, explain(r));
      assert.match(r.stderr, /no PBX runs on this server: its config has no dialplan/);
    }
    const act = await cli.run(['pbx', 'conference', '6000', 'kick', '1', '--config', server.configFile]);
    assert.equal(act.exitCode, 1);
    assert.match(act.stderr, /no PBX runs/);
    const st = await cli.run(['status', '--json', '--config', server.configFile]);
    assert.equal((JSON.parse(st.stdout) as StatusReport).pbx, null);
    assert.doesNotMatch((await cli.run(['status', '--config', server.configFile])).stdout, /^PBX:/m);
  });

  test('with no server running, it says how to start one (exit 1)', async () => {
    const port = await freePort('tcp');
    const r = await cli.run(['pbx', 'channels', '--admin', `127.0.0.1:${port}`]);
    assert.equal(r.exitCode, 1, explain(r));
    assert.match(r.stderr, new RegExp(`no switchboard answers on its admin address 127\\.0\\.0\\.1:${port}\\. Start it with "npm start" or "switchboard serve --config FILE"`));
  });
});
