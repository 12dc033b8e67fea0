/**
 * Issue 8's contract, as a new user tries it: `switchboard serve` with the
 * issue's config verbatim, `switchboard phone` for every party, audio checked
 * by the tones each party recorded, the voicemail mail caught by a real SMTP
 * server, and `switchboard cdr --json` read afterwards.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CliSession, explain, ROOT, started } from '../helpers/cli.js';
import { CONTRACT_YAML, contractYaml, heard, PASSWORDS, startSmtpSink, wavAttachment, type SentMail } from '../helpers/pbx.js';
import { phoneTracker } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { requirePeers } from '../helpers/peers.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { readWav as readWavBuffer } from '../../src/media/wav.js';

type User = keyof typeof PASSWORDS;

describe('the PBX contract config, driven by switchboard phone', { timeout: 300_000 }, () => {
  let cli: CliSession;
  let sip: string;
  let configFile: string;
  let smtp: { mails: SentMail[]; close(): Promise<void> };
  const phones = phoneTracker();
  /** Talk time (s) of the calls whose CDRs are checked at the end, by caller. */
  const talk: { src: string; dst: string; seconds: number }[] = [];

  const account = (u: User): string[] => ['--server', sip, '--user', u, '--password', PASSWORDS[u]];

  before(async () => {
    requirePeers('espeak-ng');
    cli = new CliSession();
    const ports = { sip: await freePort('both'), admin: await freePort('tcp'), smtp: await freePort('tcp') };
    sip = `127.0.0.1:${ports.sip}`;
    smtp = await startSmtpSink(ports.smtp);
    configFile = path.join(cli.dir, 'switchboard.yaml');
    writeFileSync(configFile, contractYaml(ports));
    await started(cli.serve(['--config', configFile], /serving|listening/));
  });
  after(async () => {
    await phones.stopAll();
    await cli?.close();
    await smtp?.close();
  });

  test('1001 calls 500, presses 2, the queue rings 1003 who answers: each hears the other', async () => {
    const carolRec = path.join(cli.dir, 'carol-queue.wav');
    const aliceRec = path.join(cli.dir, 'alice-queue.wav');
    const carol = phones.start(['listen', ...account('1003'), '--auto-answer', '--calls', '1', '--play', 'tone:700', '--record', carolRec]);
    await carol.waitFor(/^registered at/, 15_000);
    const alice = phones.start(['call', '500', ...account('1001'), '--play', 'tone:440', '--record', aliceRec, '--dtmf', '2', '--duration', '14']);
    await carol.waitFor(/^answered/, 30_000);
    const answeredAt = Date.now();
    const a = await alice.exited;
    assert.equal(a.exitCode, 0, explain(a));
    await carol.exited;
    talk.push({ src: '1001', dst: '500', seconds: 14 });
    assert.ok(Date.now() - answeredAt > 3000, 'the agent talked for a while');
    // The last seconds of each recording are the bridged call.
    const aw = await heard(aliceRec, 700, 9);
    const cw = await heard(carolRec, 440, 1);
    assert.ok(aw >= 0.8, `1001 heard 1003's 700 Hz in ${Math.round(aw * 100)}% of frames`);
    assert.ok(cw >= 0.8, `1003 heard 1001's 440 Hz in ${Math.round(cw * 100)}% of frames`);
  });

  test('1001 calls 1002 (not registered): greeting, beep, the message is mailed, MWI lights, *98 plays it', async () => {
    const aliceRec = path.join(cli.dir, 'alice-vm.wav');
    const alice = phones.start(['call', '1002', ...account('1001'), '--play', 'tone:440', '--record', aliceRec, '--duration', '16']);
    const a = await alice.exited;
    assert.equal(a.exitCode, 0, explain(a));
    // The mail reaches the SMTP server with the WAV attached, and the caller's tone is in it.
    const deadline = Date.now() + 20_000;
    while (smtp.mails.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(smtp.mails.length, 1, 'one voicemail mail');
    const mail = smtp.mails[0];
    assert.deepEqual(mail.to, ['bob@acme.example']);
    assert.equal(mail.from, 'voicemail@acme.example');
    const wav = wavAttachment(mail.raw);
    assert.ok(wav, `the mail has a WAV attached:\n${mail.raw.slice(0, 2000)}`);
    const audio = readWavBuffer(wav);
    assert.ok(audio.samples.length / audio.sampleRate >= 3, 'the message holds seconds of audio');
    assert.ok(tonePresence(audio.samples, audio.sampleRate, 440) >= 0.7, 'the caller\'s 440 Hz is in the message');

    // A phone of 1002 that registers now is told: 1 new, 0 old.
    const bob = phones.start(['register', ...account('1002')]);
    await bob.waitFor(/^voicemail: 1 new, 0 old$/, 15_000);

    // 1002 dials *98, keys the PIN and #, and hears the message.
    const bobRec = path.join(cli.dir, 'bob-vm.wav');
    const listen = phones.start(['call', '*98', ...account('1002'), '--record', bobRec, '--dtmf', '4712#', '--duration', '20']);
    const l = await listen.exited;
    assert.equal(l.exitCode, 0, explain(l));
    const share = await heard(bobRec, 440, 4);
    assert.ok(share >= 0.15, `1002 heard the message's 440 Hz (${Math.round(share * 100)}% of frames after the PIN)`);
    // Listening made it old: the phone is told again.
    await bob.waitFor(/^voicemail: 0 new, 1 old$/, 15_000);
    await bob.stop();
  });

  test('three phones dial 6000, each with its own tone: each hears the other two and not its own', async () => {
    const tones: Record<User, number> = { '1001': 440, '1002': 700, '1003': 1100 };
    const users = Object.keys(tones) as User[];
    const recs = Object.fromEntries(users.map((u) => [u, path.join(cli.dir, `conf-${u}.wav`)])) as Record<User, string>;
    const calls = users.map((u) => phones.start(['call', '6000', ...account(u), '--play', `tone:${tones[u]}`, '--record', recs[u], '--duration', '10']));
    for (const c of calls) {
      const r = await c.exited;
      assert.equal(r.exitCode, 0, explain(r));
    }
    for (const u of users) talk.push({ src: u, dst: '6000', seconds: 10 });
    for (const u of users) {
      for (const other of users) {
        // From 3 s in, when all three are in the room.
        const share = await heard(recs[u], tones[other], 3, 9, 0.25);
        if (other === u) assert.ok(share < 0.2, `${u} does not hear its own ${tones[u]} Hz (${Math.round(share * 100)}%)`);
        else assert.ok(share >= 0.7, `${u} hears ${other}'s ${tones[other]} Hz (${Math.round(share * 100)}%)`);
      }
    }
  });

  test('switchboard cdr --json: rows with Asterisk\'s keys; queue and conference calls ANSWERED with their talk time', async () => {
    const r = await cli.run(['cdr', '--json', '--config', configFile]);
    assert.equal(r.exitCode, 0, explain(r));
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    const keys = ['uniqueid', 'linkedid', 'start', 'answer', 'end', 'duration', 'billsec', 'disposition', 'src', 'dst', 'context', 'channel', 'dstchannel', 'lastapp', 'trunk'];
    assert.ok(rows.length >= 5, `rows: ${rows.length}`);
    for (const row of rows) for (const k of keys) assert.ok(k in row, `row has ${k}: ${JSON.stringify(row)}`);
    for (const t of talk) {
      const row = rows.find((x) => x.src === t.src && x.dst === t.dst && x.linkedid === x.uniqueid);
      assert.ok(row, `a row for ${t.src} → ${t.dst}: ${JSON.stringify(rows, null, 1)}`);
      assert.equal(row.disposition, 'ANSWERED');
      assert.ok(Math.abs((row.billsec as number) - t.seconds) <= 1, `${t.src} → ${t.dst} billsec ${String(row.billsec)} vs ${t.seconds} s talked`);
    }
    const vm = rows.find((x) => x.src === '1001' && x.dst === '1002' && x.linkedid === x.uniqueid);
    assert.ok(vm, 'a row for the voicemail call');
    assert.equal(vm.lastapp, 'voicemail');
  });
});

describe('a dialplan mistake is refused at start with the line', { timeout: 60_000 }, () => {
  test('the README\'s PBX section shows the contract config verbatim', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const at = readme.indexOf('## The PBX');
    assert.ok(at >= 0, 'README has a "The PBX" section');
    const m = /```yaml\n([\s\S]*?)```/.exec(readme.slice(at));
    assert.equal(m?.[1], CONTRACT_YAML);
  });

  let cli: CliSession;
  before(() => {
    cli = new CliSession();
  });
  after(async () => cli?.close());

  const cases: { name: string; edit: (y: string) => string; says: RegExp }[] = [
    { name: 'an unknown verb', edit: (y) => y.replace('      - answer\n', '      - answr\n'), says: /answr.*(did you mean|answer)/i },
    { name: 'a bad pattern', edit: (y) => y.replace('"_1XXX":', '"_1[X":'), says: /pattern/i },
    { name: 'a goto to a missing context', edit: (y) => y.replace('goto: main-menu\n    "6000"', 'goto: main-menu-x\n    "6000"'), says: /main-menu-x/ },
    { name: 'a missing WAV', edit: (y) => y.replace('      - answer\n', '      - answer\n      - play: /nonexistent/hello.wav\n'), says: /hello\.wav/ },
  ];
  for (const c of cases) {
    test(`${c.name}: exit 1 and switchboard.yaml:LINE`, async () => {
      const file = path.join(cli.dir, 'switchboard.yaml');
      const yaml = contractYaml({ sip: 45060, admin: 48089, smtp: 42525 });
      const bad = c.edit(yaml);
      assert.notEqual(bad, yaml, 'the case changed the config');
      writeFileSync(file, bad);
      const r = await cli.run(['serve', '--config', 'switchboard.yaml']);
      assert.equal(r.exitCode, 1, explain(r));
      const line = bad.split('\n').findIndex((l, i) => l !== yaml.split('\n')[i]) + 1;
      assert.match(r.stderr, new RegExp(`switchboard\\.yaml:${line}: `), explain(r));
      assert.match(r.stderr, c.says, explain(r));
    });
  }
});
