/**
 * Voicemail recording as a caller and a mailbox owner notice it: the
 * message exists only once complete, a hang-up keeps what was said, silence
 * and the length limit end it, trailing silence is cut, a thrown-away
 * recording leaves nothing, and a crash leaves a playable file.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SilenceDetector } from '../../src/media/dsp/silence.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { MessageRecorder, recoverRecordings } from '../../src/media/players/message-recorder.js';
import { readWavFile, wavHeader } from '../../src/media/wav.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';

let dir = '';
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-vm-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const file = () => join(dir, `msg${++n}.wav`);

/** `seconds` of frames: a -20 dBFS tone (someone talking), or line noise at -65 dBFS (nobody). */
function frames(rate: number, seconds: number, kind: 'talk' | 'quiet', frameMs = 20): Int16Array[] {
  const size = (rate * frameMs) / 1000;
  const gen = new ToneGenerator({ freqs: [600], levelDbfs: kind === 'talk' ? -20 : -65 }, rate);
  return Array.from({ length: Math.round((seconds * 1000) / frameMs) }, () => {
    const f = new Int16Array(size);
    gen.fill(f);
    return f;
  });
}

test('a message exists as NAME.wav only once finished; until then it is NAME.wav.part on disk', async () => {
  const path = file();
  const rec = await MessageRecorder.create(path, { sampleRate: 16000 });
  const sent = frames(16000, 5, 'talk');
  for (const f of sent.slice(0, 100)) assert.equal(rec.write(f), undefined);
  await rec.flush();
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith(`msg${n}`)), [`msg${n}.wav.part`]);
  const part = await readWavFile(rec.partPath);
  assert.equal(part.samples.length, 32000, 'the part file is readable with what was flushed');

  for (const f of sent.slice(100)) rec.write(f);
  const res = await rec.finish();
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith(`msg${n}`)), [`msg${n}.wav`]);
  assert.equal(res.path, path);
  assert.equal(res.seconds, 5);
  assert.equal(res.heardSound, true);
  assert.equal(res.stoppedBy, undefined);
  const back = await readWavFile(path);
  assert.equal(back.sampleRate, 16000);
  assert.equal(back.channels, 1);
  const all = new Int16Array(sent.length * 320);
  sent.forEach((f, i) => all.set(f, i * 320));
  assert.deepEqual(back.samples, all, 'every sample, in order, across batches');
  assert.equal((await stat(path)).size, 44 + 2 * 80000, 'header sizes fixed');
  assert.equal(await rec.finish(), res, 'finishing twice gives the same result');
});

test('a caller who hangs up mid-message: finish() keeps what was said', async () => {
  const rec = await MessageRecorder.create(file(), { sampleRate: 8000, maxSeconds: 120, silenceSeconds: 5 });
  for (const f of frames(8000, 0.74, 'talk')) rec.write(f);
  const res = await rec.finish();
  assert.equal(res.samples, 5920);
  const back = await readWavFile(res.path);
  assert.equal(back.samples.length, 5920);
  assert.ok(tonePresence(back.samples, 8000, 600) > 0.95);
});

test('silence stops the recording after N seconds, and the trailing silence is cut from the message', async () => {
  const rec = await MessageRecorder.create(file(), { sampleRate: 8000, silenceSeconds: 2 });
  const talk = frames(8000, 1.5, 'talk');
  const quiet = frames(8000, 5, 'quiet');
  for (const f of talk) assert.equal(rec.write(f), undefined);
  let stoppedAt = -1;
  for (const [i, f] of quiet.entries()) {
    if (rec.write(f) === 'silence') {
      stoppedAt = i;
      break;
    }
  }
  assert.equal(stoppedAt, 99, 'exactly 2 s (100 frames) of silence after the last word');
  assert.equal(rec.write(talk[0]), 'silence', 'audio after the stop is ignored');
  assert.equal(rec.seconds, 3.5);
  const res = await rec.finish({ trimSilence: true });
  assert.equal(res.stoppedBy, 'silence');
  assert.equal(res.seconds, 1.5 + 0.3, 'the words and 300 ms after them');
  const back = await readWavFile(res.path);
  assert.equal(back.samples.length, 14400);
  assert.ok(tonePresence(back.samples.subarray(0, 12000), 8000, 600) === 1);
});

test('a caller who says nothing: silence from the start ends it, and nothing is heard', async () => {
  const rec = await MessageRecorder.create(file(), { sampleRate: 8000, silenceSeconds: 3 });
  let stop;
  let count = 0;
  for (const f of frames(8000, 10, 'quiet')) {
    count++;
    if ((stop = rec.write(f))) break;
  }
  assert.equal(stop, 'silence');
  assert.equal(count, 150);
  const res = await rec.finish({ trimSilence: true });
  assert.equal(res.heardSound, false);
  assert.equal(res.samples, 0);
  assert.equal((await readWavFile(res.path)).samples.length, 0, 'an empty but valid file: the owner decides to drop it');
});

test('the length limit cuts at exactly max seconds, whatever the frame size', async () => {
  const rec = await MessageRecorder.create(file(), { sampleRate: 8000, maxSeconds: 1 });
  let stop;
  let count = 0;
  for (const f of frames(8000, 3, 'talk', 30)) {
    count++;
    if ((stop = rec.write(f))) break;
  }
  assert.equal(stop, 'max_length');
  assert.equal(count, 34, '33⅓ frames of 30 ms');
  const res = await rec.finish({ dropTailMs: 200 });
  assert.equal(res.stoppedBy, 'max_length');
  assert.equal(res.samples, 8000 - 1600, 'the limit, less the 200 ms tail asked to drop (the # key)');
  assert.equal((await readWavFile(res.path)).samples.length, 6400);
});

test('abandon() leaves nothing; a finished message cannot be abandoned', async () => {
  const path = file();
  const rec = await MessageRecorder.create(path, { sampleRate: 8000 });
  for (const f of frames(8000, 3, 'talk')) rec.write(f);
  await rec.abandon();
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith(`msg${n}.`)), []);
  await assert.rejects(rec.finish(), /abandoned/);
  assert.equal(rec.write(frames(8000, 0.02, 'talk')[0]), undefined);

  const kept = await MessageRecorder.create(file(), { sampleRate: 8000 });
  kept.write(frames(8000, 0.02, 'talk')[0]);
  const res = await kept.finish();
  await kept.abandon();
  assert.equal((await readWavFile(res.path)).samples.length, 160);

  await assert.rejects(MessageRecorder.create(join(dir, 'x.mp3'), { sampleRate: 8000 }), /must end in .wav/);
  await assert.rejects(MessageRecorder.create(join(dir, 'no', 'such', 'x.wav'), { sampleRate: 8000 }), /ENOENT/);
});

test('after a crash, recoverRecordings() turns part files into playable messages', async () => {
  const crash = await mkdtemp(join(dir, 'crash-'));
  // A recording that was flushed and then the process died: its part file, as left on disk.
  const rec = await MessageRecorder.create(file(), { sampleRate: 16000 });
  for (const f of frames(16000, 1.2, 'talk')) rec.write(f);
  await rec.flush();
  await copyFile(rec.partPath, join(crash, 'a.wav.part'));
  await rec.abandon();
  // One cut mid-sample, one with no header at all, and an unrelated file.
  const header = wavHeader({ encoding: 'pcm16', sampleRate: 8000, channels: 1 }, 0);
  await writeFile(join(crash, 'b.wav.part'), Buffer.concat([header, Buffer.alloc(1601, 7)]));
  await writeFile(join(crash, 'c.wav.part'), Buffer.from('RIFF'));
  await writeFile(join(crash, 'keep.txt'), 'x');

  const got = await recoverRecordings(crash);
  assert.deepEqual(got, [join(crash, 'a.wav'), join(crash, 'b.wav')]);
  assert.deepEqual((await readdir(crash)).sort(), ['a.wav', 'b.wav', 'keep.txt']);
  const a = await readWavFile(join(crash, 'a.wav'));
  assert.equal(a.samples.length, 19200);
  assert.equal(a.sampleRate, 16000);
  assert.equal((await readWavFile(join(crash, 'b.wav'))).samples.length, 800);
  assert.equal((await stat(join(crash, 'b.wav'))).size, 44 + 1600, 'the half sample is gone and the header matches');
  assert.deepEqual(await recoverRecordings(crash), [], 'nothing left to recover');
});

test('SilenceDetector: counts silence since the last sound, keeps the words plus padding', () => {
  const d = new SilenceDetector({ sampleRate: 8000, seconds: 1, padMs: 100 });
  for (const f of frames(8000, 0.5, 'quiet')) assert.equal(d.process(f), false);
  assert.equal(d.heardSound, false);
  assert.equal(d.keepSamples(), 0);
  for (const f of frames(8000, 0.4, 'talk')) assert.equal(d.process(f), false);
  assert.equal(d.silentSeconds, 0);
  const quiet = frames(8000, 2, 'quiet');
  let at = -1;
  for (const [i, f] of quiet.entries()) if (d.process(f) && at < 0) at = i;
  assert.equal(at, 49, 'one second after the last loud frame');
  assert.equal(d.keepSamples(), 0.9 * 8000 + 800);
  assert.equal(d.silentSeconds, 2);
  const never = new SilenceDetector({ sampleRate: 8000, seconds: 0 });
  for (const f of frames(8000, 5, 'quiet')) assert.equal(never.process(f), false);
});
