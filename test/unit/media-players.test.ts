/**
 * What a phone plays (--play tone:HZ, silence, a WAV file) and what it
 * records (--record): parsed before the call, opened at the codec's rate,
 * read one frame at a time; recordings are valid WAV files.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { detectTone, tonePresence } from '../../src/media/dsp/tone-detect.js';
import { openSource, parseSourceSpec, WavRecorder, type AudioSource } from '../../src/media/players/index.js';
import { parseWav, readWavFile, writeWavFile } from '../../src/media/wav.js';
import { concatFrames } from '../helpers/media.js';
import { toneAudio } from '../helpers/wav.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-players-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every frame until the source ends (bounded), copied. */
function drain(src: AudioSource, max: number): Int16Array[] {
  const frames: Int16Array[] = [];
  for (let i = 0; i < max && !src.ended; i++) {
    const f = src.read();
    if (f) frames.push(f.slice());
  }
  return frames;
}

test('parseSourceSpec: tone:HZ, silence', async () => {
  assert.deepEqual(await parseSourceSpec('tone:440'), { kind: 'tone', hz: 440 });
  assert.deepEqual(await parseSourceSpec('tone:1000.5'), { kind: 'tone', hz: 1000.5 });
  assert.deepEqual(await parseSourceSpec('silence'), { kind: 'silence' });
});

test('parseSourceSpec: a malformed tone says how to write one', async () => {
  for (const bad of ['tone:abc', 'tone:', 'tone:-5', 'tone:440hz']) {
    await assert.rejects(parseSourceSpec(bad), (e: unknown) => e instanceof RangeError && /tone:440/.test(e.message), bad);
  }
  await assert.rejects(parseSourceSpec('tone:0'), /between 0 and 24000/);
  await assert.rejects(parseSourceSpec('tone:30000'), /between 0 and 24000/);
});

test('parseSourceSpec: a WAV path is read up front; a missing file names itself and the choices', async () => {
  const path = join(dir, 'spec.wav');
  await writeWavFile(path, toneAudio({ freqHz: 700, sampleRate: 8000, seconds: 0.5 }));
  const spec = await parseSourceSpec(path);
  assert.equal(spec.kind, 'wav');
  assert.ok(spec.kind === 'wav');
  assert.equal(spec.path, path);
  assert.equal(spec.audio.sampleRate, 8000);
  assert.equal(spec.audio.samples.length, 4000);

  const missing = join(dir, 'nope.wav');
  await assert.rejects(parseSourceSpec(missing), (e: unknown) => {
    const msg = (e as Error).message;
    return msg.includes(missing) && /no such file/.test(msg) && /tone:/.test(msg);
  });
  // A typo of tone:440 is not a file either.
  await assert.rejects(parseSourceSpec('tone440'), /--play tone440: no such file/);
  // A file that is there but is not a WAV file says so.
  const junk = join(dir, 'junk.wav');
  await writeFile(junk, 'this is not audio');
  await assert.rejects(parseSourceSpec(junk), (e: unknown) => (e as Error).message.includes(junk));
});

for (const [rate, hz] of [
  [8000, 440],
  [16000, 6000],
  [48000, 15000],
] as const) {
  test(`openSource tone:${hz} at ${rate} Hz: frames of frameSamples carrying the tone`, () => {
    const frameSamples = rate / 50;
    const src = openSource({ kind: 'tone', hz }, rate, frameSamples);
    const frames: Int16Array[] = [];
    for (let i = 0; i < 25; i++) {
      const f = src.read();
      assert.ok(f, 'a tone never pauses');
      assert.equal(f.length, frameSamples);
      assert.ok(detectTone(f, rate, hz), `frame ${i} carries ${hz} Hz`);
      frames.push(f.slice());
    }
    assert.equal(src.ended, false);
    const all = concatFrames(frames);
    assert.equal(tonePresence(all, rate, hz), 1);
    assert.equal(tonePresence(all, rate, hz * 0.75), 0, 'only the asked frequency');
  });
}

test('openSource: a tone above the codec Nyquist frequency is refused, not aliased', () => {
  assert.throws(() => openSource({ kind: 'tone', hz: 5000 }, 8000, 160), RangeError);
  assert.throws(() => openSource({ kind: 'tone', hz: 4000 }, 8000, 160), /8000 Hz/);
  assert.doesNotThrow(() => openSource({ kind: 'tone', hz: 5000 }, 16000, 320));
});

test('openSource silence: nothing to send, never ends', () => {
  const src = openSource({ kind: 'silence' }, 8000, 160);
  for (let i = 0; i < 5; i++) assert.equal(src.read(), undefined);
  assert.equal(src.ended, false);
});

test('a stereo 8 kHz WAV opened at 16 kHz plays mono, resampled, with the tone kept, then ends', async () => {
  const path = join(dir, 'stereo-8k.wav');
  // 1.01 s: 50 whole frames of 20 ms and a partial one.
  await writeWavFile(path, toneAudio({ freqHz: 1000, sampleRate: 8000, channels: 2, seconds: 1.01 }));
  const spec = await parseSourceSpec(path);
  const src = openSource(spec, 16000, 320);
  const frames = drain(src, 200);
  assert.equal(src.ended, true);
  assert.equal(frames.length, 51, 'one file second plus a padded partial frame');
  for (const f of frames) assert.equal(f.length, 320);
  const all = concatFrames(frames.slice(1, 50));
  assert.ok(tonePresence(all, 16000, 1000) >= 0.95, `1 kHz kept at 16 kHz: ${tonePresence(all, 16000, 1000)}`);
  assert.equal(tonePresence(all, 16000, 500), 0, 'not read as interleaved mono (which halves the pitch)');
  // The last frame is the file's last 10 ms then zero padding.
  const last = frames[50];
  assert.ok(last.subarray(0, 100).some((s) => s !== 0));
  assert.ok(last.subarray(200).every((s) => s === 0));
  assert.equal(src.read(), undefined, 'nothing after the end');
  assert.equal(src.read(), undefined);
});

test('a file exactly N frames long ends after its last frame; a looping one goes on', async () => {
  const audio = toneAudio({ freqHz: 500, sampleRate: 8000, seconds: 0.1 });
  const once = openSource({ kind: 'wav', path: 'x.wav', audio }, 8000, 160);
  const frames = drain(once, 50);
  assert.equal(frames.length, 5);
  assert.equal(once.ended, true);
  assert.equal(once.read(), undefined);

  const looped = openSource({ kind: 'wav', path: 'x.wav', audio, loop: true }, 8000, 160);
  const many: Int16Array[] = [];
  for (let i = 0; i < 23; i++) {
    const f = looped.read();
    assert.ok(f);
    many.push(f.slice());
  }
  assert.equal(looped.ended, false);
  // The loop restarts the file: frame 5 is frame 0 again.
  assert.deepEqual(many[5], many[0]);
  assert.ok(tonePresence(concatFrames(many), 8000, 500) >= 0.95);
});

test('an empty file ends at once', () => {
  const src = openSource({ kind: 'wav', path: 'e.wav', audio: { sampleRate: 8000, channels: 1, samples: new Int16Array(0) } }, 8000, 160);
  assert.equal(src.read(), undefined);
  assert.equal(src.ended, true);
});

test('WavRecorder: a valid mono WAV with every sample written, header fixed on close', async () => {
  const path = join(dir, 'rec.wav');
  const rec = new WavRecorder(path, 16000);
  const tone = openSource({ kind: 'tone', hz: 1000 }, 16000, 320);
  const written: Int16Array[] = [];
  for (let i = 0; i < 50; i++) {
    const f = tone.read() as Int16Array;
    written.push(f.slice());
    rec.write(f);
  }
  rec.writeSilence(1600);
  written.push(new Int16Array(1600));
  assert.equal(rec.seconds, 1.1);

  // Before close the header still says 0 data bytes; the audio is on disk anyway.
  const earlyBytes = await readFile(path);
  assert.equal(new DataView(earlyBytes.buffer, earlyBytes.byteOffset).getUint32(40, true), 0);
  const early = parseWav(earlyBytes);
  assert.equal(early.sampleRate, 16000);
  assert.equal(early.frames, 17600, 'a reader still finds every sample written so far');
  assert.equal((await stat(path)).size, 44 + 2 * (16000 + 1600));

  rec.close();
  const bytes = await readFile(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(view.getUint32(4, true), bytes.length - 8, 'RIFF size');
  assert.equal(view.getUint32(40, true), 2 * 17600, 'data size');

  const back = await readWavFile(path);
  assert.equal(back.sampleRate, 16000);
  assert.equal(back.channels, 1);
  assert.equal(back.encoding, 'pcm16');
  assert.equal(back.samples.length, 17600);
  assert.deepEqual(back.samples, concatFrames(written));
  assert.ok(tonePresence(back.samples.subarray(0, 16000), 16000, 1000) >= 0.99);

  // After close, writes are ignored and a second close does nothing.
  rec.write(new Int16Array(320).fill(1000));
  rec.close();
  assert.equal((await readFile(path)).length, bytes.length);
});

test('WavRecorder: a directory that does not exist fails at once', () => {
  assert.throws(() => new WavRecorder(join(dir, 'no', 'such', 'dir.wav'), 8000), /ENOENT/);
});
