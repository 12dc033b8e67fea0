import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { openDatabase, type Db } from '../../src/store/db.js';
import {
  InvalidMailboxError, InvalidPinError, NoSuchMessageError, VoicemailStore, wavSeconds,
} from '../../src/store/voicemail.js';
import { VirtualClock } from '../../src/util/clock.js';
import { repoRoot } from '../helpers/repo.js';
import { writeToneWav } from '../helpers/wav.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'sb-vm-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);

function open(dir: string): { db: Db; store: VoicemailStore; clock: VirtualClock } {
  const clock = new VirtualClock(T0);
  const db = openDatabase(dir);
  return { db, store: new VoicemailStore(db, dir, { clock }), clock };
}

/** Records a message as the PBX will: a `.part` renamed when finished, then add(). */
async function record(store: VoicemailStore, mailbox: string, seconds: number, freqHz = 440): Promise<string> {
  const wav = store.recordingPath(mailbox);
  await writeToneWav(wav + '.part', { seconds, freqHz });
  renameSync(wav + '.part', wav);
  return wav;
}

test('a recorded message moves into INBOX with its row; counts, list, markOld, save and delete move file and row together', async () => {
  const dir = tmp();
  const { db, store } = open(dir);
  const changed: string[] = [];
  store.on('changed', (box) => changed.push(box));

  const wav = await record(store, '1002', 2);
  const bytes = readFileSync(wav);
  const m = await store.add({ mailbox: '1002', file: wav, callerNumber: '1001', callerName: 'Alice Archer', received: T0, durationSeconds: 2 });
  assert.equal(existsSync(wav), false, 'the recording was moved, not copied');
  assert.equal(m.path, path.join(dir, 'voicemail', '1002', 'INBOX', `msg${String(m.id).padStart(4, '0')}.wav`));
  assert.deepEqual(readFileSync(m.path), bytes);
  assert.deepEqual({ ...m, path: '' }, { id: m.id, mailbox: '1002', folder: 'new', callerNumber: '1001', callerName: 'Alice Archer', received: T0, durationSeconds: 2, path: '', emailed: false });
  const m2 = await store.add({ mailbox: '1002', file: await record(store, '1002', 1), callerNumber: '1003', received: T0 + 1000, durationSeconds: 1 });
  assert.deepEqual(store.counts('1002'), { new: 2, old: 0 });
  assert.deepEqual(store.counts('1001'), { new: 0, old: 0 });
  assert.deepEqual(store.list('1002', 'new').map((x) => x.id), [m.id, m2.id], 'oldest first');

  const heard = await store.markOld(m.id);
  assert.equal(heard.folder, 'old');
  assert.equal(heard.path, path.join(dir, 'voicemail', '1002', 'Old', path.basename(m.path)));
  assert.equal(existsSync(m.path), false);
  assert.deepEqual(readFileSync(heard.path), bytes);
  assert.deepEqual(store.counts('1002'), { new: 1, old: 1 });
  const kept = await store.save(m2.id);
  assert.equal(kept.folder, 'saved');
  assert.ok(existsSync(path.join(dir, 'voicemail', '1002', 'Saved', path.basename(m2.path))));
  assert.deepEqual(store.counts('1002'), { new: 0, old: 2 }, 'saved messages count as old');
  assert.deepEqual(store.list('1002', 'saved').map((x) => x.id), [m2.id]);

  assert.equal(await store.delete(m.id), true);
  assert.equal(existsSync(heard.path), false);
  assert.equal(store.get(m.id), undefined);
  assert.equal(await store.delete(m.id), false);
  await assert.rejects(store.markOld(m.id), NoSuchMessageError);
  assert.deepEqual(store.counts('1002'), { new: 0, old: 1 });
  assert.deepEqual(changed, ['1002', '1002', '1002', '1002', '1002']);

  store.markEmailed(m2.id);
  assert.equal(store.get(m2.id)?.emailed, true);
  db.close();
});

test('moves and deletes of one message never interleave', async () => {
  const { db, store } = open(tmp());
  const m = await store.add({ mailbox: '1002', file: await record(store, '1002', 1), callerNumber: '1001', received: T0, durationSeconds: 1 });
  const results = await Promise.allSettled([store.markOld(m.id), store.save(m.id), store.delete(m.id), store.markOld(m.id)]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
  assert.deepEqual(readdirSync(path.join(store.root, '1002', 'Old')), []);
  assert.deepEqual(readdirSync(path.join(store.root, '1002', 'Saved')), []);
  assert.equal(store.get(m.id), undefined);
  db.close();
});

test('after a crash the next start adopts finished WAVs, follows moved files, drops rows without audio, and removes stale .part files', async () => {
  const dir = tmp();
  let { db, store } = open(dir);
  const moved = await store.add({ mailbox: '1002', file: await record(store, '1002', 1), callerNumber: '1001', received: T0, durationSeconds: 1 });
  const deleted = await store.add({ mailbox: '1002', file: await record(store, '1002', 1), callerNumber: '1001', received: T0 + 1, durationSeconds: 1 });
  db.close();

  // What a process killed at various points leaves behind:
  const box = path.join(dir, 'voicemail', '1002');
  const orphan = await writeToneWav(path.join(box, 'tmp', 'msg-1-aaaa.wav'), { seconds: 3 }); // finished, add() never ran
  utimesSync(orphan, new Date(T0 - 60_000), new Date(T0 - 60_000));
  mkdirSync(path.join(box, 'Old'));
  renameSync(moved.path, path.join(box, 'Old', path.basename(moved.path))); // markOld: renamed, row not updated
  unlinkSync(deleted.path); // delete: file gone, row not deleted
  const stale = path.join(box, 'tmp', 'msg-2-bbbb.wav.part');
  const fresh = path.join(box, 'tmp', 'msg-3-cccc.wav.part');
  writeFileSync(stale, 'RIFF');
  writeFileSync(fresh, 'RIFF');
  utimesSync(stale, new Date(T0 - 2 * 3_600_000), new Date(T0 - 2 * 3_600_000));
  utimesSync(fresh, new Date(T0 - 60_000), new Date(T0 - 60_000));
  const greeting = await writeToneWav(path.join(box, 'tmp', 'greeting-4-dddd.wav'), { seconds: 1 }); // never confirmed
  writeFileSync(path.join(box, 'INBOX', 'notes.wav'), 'not audio');

  ({ db, store } = open(dir));
  assert.deepEqual(store.recover(), { adopted: 0, repaired: 0, dropped: 0, removed: 0 }, 'a second run finds nothing left to do');
  const news = store.list('1002', 'new');
  assert.equal(news.length, 1, 'the orphan is a new message');
  assert.equal(news[0].callerNumber, '');
  assert.equal(news[0].durationSeconds, 3);
  assert.equal(news[0].received, T0 - 60_000);
  assert.match(path.basename(news[0].path), /^msg\d{4}\.wav$/);
  assert.deepEqual(store.list('1002', 'old').map((m) => [m.id, m.callerNumber]), [[moved.id, '1001']], 'the row followed its file to Old');
  assert.equal(store.get(deleted.id), undefined);
  assert.equal(existsSync(stale), false);
  assert.equal(existsSync(fresh), true, 'a .part younger than an hour may still be recording');
  assert.equal(existsSync(greeting), false);
  assert.equal(existsSync(path.join(box, 'INBOX', 'notes.wav')), true, 'a file that is not a WAV is left alone');
  assert.deepEqual(store.counts('1002'), { new: 1, old: 1 });
  db.close();
});

test('a process killed while recording and adding messages loses none that was finished, and duplicates none', async () => {
  const dir = tmp();
  const N = 40;
  const wav = (i: number): Buffer => {
    const data = Buffer.alloc(1600, i + 1);
    const h = Buffer.alloc(44);
    h.write('RIFF', 0, 'latin1');
    h.writeUInt32LE(36 + data.length, 4);
    h.write('WAVEfmt ', 8, 'latin1');
    h.writeUInt32LE(16, 16);
    h.writeUInt16LE(1, 20);
    h.writeUInt16LE(1, 22);
    h.writeUInt32LE(8000, 24);
    h.writeUInt32LE(16000, 28);
    h.writeUInt16LE(2, 32);
    h.writeUInt16LE(16, 34);
    h.write('data', 36, 'latin1');
    h.writeUInt32LE(data.length, 40);
    return Buffer.concat([h, data]);
  };
  const dist = path.join(repoRoot(), 'dist', 'src', 'store');
  // The recorder's steps, then add(): a .part written and renamed, the message handed over.
  const script = `
    const { writeFileSync, renameSync } = await import('node:fs');
    const { VoicemailStore } = await import(${JSON.stringify(pathToFileURL(path.join(dist, 'voicemail.js')).href)});
    const { openDatabase } = await import(${JSON.stringify(pathToFileURL(path.join(dist, 'db.js')).href)});
    const dir = ${JSON.stringify(dir)};
    const store = new VoicemailStore(openDatabase(dir), dir);
    const wavs = ${JSON.stringify(Array.from({ length: N }, (_, i) => wav(i).toString('base64')))};
    for (let i = 0; i < wavs.length; i++) {
      const file = store.recordingPath('1002');
      writeFileSync(file + '.part', Buffer.from(wavs[i], 'base64'));
      renameSync(file + '.part', file);
      process.stdout.write('finished ' + i + '\\n');
      await store.add({ mailbox: '1002', file, callerNumber: String(2000 + i), received: ${T0} + i, durationSeconds: 0.1 });
      process.stdout.write('added ' + i + '\\n');
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    if (out.includes('added 2\n')) child.kill('SIGKILL');
  });
  await exited;
  const lines = out.split('\n');
  const finished = lines.filter((l) => l.startsWith('finished ')).length;
  const acknowledged = lines.filter((l) => l.startsWith('added ')).length;
  assert.ok(acknowledged >= 3 && finished < N, `killed after ${acknowledged} adds (not at the very end)`);

  const { db, store } = open(dir);
  const all = store.list('1002', 'new');
  const audio = all.map((m) => readFileSync(m.path).toString('base64')).sort();
  // The last recording may have been finished without its line reaching us: at least every announced one is there.
  assert.ok(all.length >= finished && all.length <= finished + 1, `${all.length} messages for ${finished} finished recordings`);
  assert.deepEqual(audio, Array.from({ length: all.length }, (_, i) => wav(i).toString('base64')).sort(), 'each finished recording exactly once, bytes intact');
  for (let i = 0; i < acknowledged; i++) {
    assert.ok(all.some((m) => m.callerNumber === String(2000 + i)), `acknowledged message ${i} kept its caller`);
  }
  assert.deepEqual(readdirSync(path.join(store.root, '1002', 'tmp')).filter((f) => f.endsWith('.wav')), [], 'nothing finished is left behind in tmp');
  db.close();
});

test('greetings: none until set; set moves the recording into place; remove', async () => {
  const { db, store } = open(tmp());
  assert.equal(store.greetingPath('1002', 'unavailable'), undefined);
  const rec = store.recordingPath('1002', 'greeting');
  await writeToneWav(rec, { seconds: 1, freqHz: 600 });
  const bytes = readFileSync(rec);
  const placed = await store.setGreeting('1002', 'unavailable', rec);
  assert.equal(store.greetingPath('1002', 'unavailable'), placed);
  assert.equal(path.basename(placed), 'unavail.wav');
  assert.deepEqual(readFileSync(placed), bytes);
  assert.equal(store.greetingPath('1002', 'busy'), undefined);
  assert.equal(await store.removeGreeting('1002', 'unavailable'), true);
  assert.equal(await store.removeGreeting('1002', 'unavailable'), false);
  assert.equal(store.greetingPath('1002', 'unavailable'), undefined);
  db.close();
});

test('PINs: the configured one until the user sets one; editing the config resets it; kept across restarts', () => {
  const dir = tmp();
  let { db, store } = open(dir);
  assert.equal(store.pin('1002', '4712'), '4712');
  store.setPin('1002', '9090', '4712');
  assert.equal(store.pin('1002', '4712'), '9090');
  assert.equal(store.pin('1001', '4711'), '4711', 'per mailbox');
  assert.throws(() => store.setPin('1002', '12a4', '4712'), InvalidPinError);
  assert.throws(() => store.setPin('1002', '', '4712'), InvalidPinError);
  db.close();
  ({ db, store } = open(dir));
  assert.equal(store.pin('1002', '4712'), '9090');
  assert.equal(store.pin('1002', '1111'), '1111', 'the operator changed the PIN in the config: that one counts');
  db.close();
});

test('a mailbox name that could leave the spool directory is refused', () => {
  const { db, store } = open(tmp());
  for (const bad of ['..', '../etc', 'a/b', '', 'x'.repeat(65)]) {
    assert.throws(() => store.recordingPath(bad), InvalidMailboxError, bad);
    assert.throws(() => store.greetingPath(bad, 'busy'), InvalidMailboxError, bad);
  }
  db.close();
});

test('wavSeconds reads the header, and takes the bytes there when a recorder died before fixing the sizes', async () => {
  const dir = tmp();
  const f = await writeToneWav(path.join(dir, 'a.wav'), { seconds: 1.5 });
  assert.equal(wavSeconds(f), 1.5);
  const buf = readFileSync(f);
  buf.writeUInt32LE(0, 40); // data size never written
  writeFileSync(f, buf);
  assert.equal(wavSeconds(f), 1.5);
  buf.writeUInt32LE(0xffffffff, 40);
  writeFileSync(f, buf.subarray(0, 44 + 8000));
  assert.equal(wavSeconds(f), 0.5);
  writeFileSync(f, 'hello');
  assert.equal(wavSeconds(f), undefined);
  assert.equal(wavSeconds(path.join(dir, 'none.wav')), undefined);
});
