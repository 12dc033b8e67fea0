/**
 * The PBX's audio sources: dual tones with a length and a cadence,
 * sequences joined sample-exact, playlists of files (music on hold) looping
 * and shuffled, sources the caller makes, and the shipped music on hold.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { goertzelRange } from '../../src/media/dsp/goertzel.js';
import { levelDbfs, powerToDbfs } from '../../src/media/dsp/level.js';
import { dominantFrequency } from '../../src/media/dsp/spectrum.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { InbandDtmfDetector } from '../../src/media/dtmf/index.js';
import {
  BEEP,
  CONFERENCE_JOIN,
  CONFERENCE_LEAVE,
  clearMohCache,
  defaultMohFolder,
  loadWavFolder,
  mohSource,
  openSource,
  parseSourceSpec,
  parseToneText,
  progressTone,
  toMonoAt,
  type AudioSource,
  type AudioSourceSpec,
} from '../../src/media/players/index.js';
import { parseWav, writeWavFile } from '../../src/media/wav.js';
import { concatFrames } from '../helpers/media.js';
import { mulberry32 } from '../helpers/prng.js';
import { toneAudio } from '../helpers/wav.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-sources-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every frame until the source ends (at most `max`), copied; undefined frames become silence. */
function drain(src: AudioSource, max: number, frameSamples: number): Int16Array[] {
  const frames: Int16Array[] = [];
  for (let i = 0; i < max && !src.ended; i++) frames.push(src.read()?.slice() ?? new Int16Array(frameSamples));
  return frames;
}

function play(spec: AudioSourceSpec, rate: number, frames: number): { samples: Int16Array; frames: number; ended: boolean } {
  const frame = rate / 50;
  const src = openSource(spec, rate, frame);
  const got = drain(src, frames, frame);
  return { samples: concatFrames(got), frames: got.length, ended: src.ended };
}

/** dBFS of the component at `hz` in samples [from, to). */
const toneDb = (s: Int16Array, from: number, to: number, rate: number, hz: number) => powerToDbfs(goertzelRange(s, from, to, rate, hz));

test('a dual tone carries both frequencies, each at the asked level', () => {
  const { samples } = play({ kind: 'tone', freqs: [350, 440], levelDbfs: -20 }, 8000, 25);
  for (const hz of [350, 440]) {
    const db = toneDb(samples, 0, samples.length, 8000, hz);
    assert.ok(Math.abs(db - -20) < 0.5, `${hz} Hz at ${db.toFixed(2)} dBFS`);
  }
  assert.ok(toneDb(samples, 0, samples.length, 8000, 600) < -50, 'nothing between them');
});

test('a tone with ms ends after exactly that long, fading out rather than clicking', () => {
  // BEEP: 1 kHz, 250 ms = 2000 samples at 8 kHz = 12.5 frames of 160.
  const { samples, frames, ended } = play(BEEP, 8000, 100);
  assert.equal(ended, true);
  assert.equal(frames, 13);
  let last = -1;
  for (let i = 0; i < samples.length; i++) if (samples[i] !== 0) last = i;
  assert.ok(last >= 1990 && last < 2000, `last sample of the beep at ${last}`);
  assert.ok(samples.subarray(2000).every((s) => s === 0), 'the padded rest of the last frame is silent');
  assert.ok(tonePresence(samples.subarray(0, 1920), 8000, 1000) === 1);
  // The last 3 ms ramp down: the final samples are small next to the tone's peak.
  const peak = Math.max(...samples.subarray(0, 1900).map(Math.abs));
  assert.ok(Math.abs(samples[1999]) < peak * 0.1, `last sample ${samples[1999]} vs peak ${peak}`);
});

test('progressTone: US busy is 480+620 half a second on, half off; ms limits it', () => {
  const busy = progressTone('busy', 'us', 2000);
  assert.deepEqual([...busy.freqs!], [480, 620]);
  const { samples, ended, frames } = play(busy, 8000, 500);
  assert.equal(ended, true);
  assert.equal(frames, 100, '2 s of 20 ms frames');
  for (let f = 0; f < 100; f++) {
    const on = Math.floor(f / 25) % 2 === 0;
    const lvl = levelDbfs(samples.subarray(f * 160, (f + 1) * 160));
    assert.equal(lvl > -40, on, `frame ${f}: ${lvl.toFixed(1)} dBFS, expected ${on ? 'tone' : 'silence'}`);
  }
  assert.throws(() => openSource({ kind: 'tone', freqs: [350, 4500] }, 8000, 160), /4500 Hz cannot pass a codec sampled at 8000 Hz/);
});

test('a sequence joins its items sample-exact, with no gap between them, then ends', () => {
  const spec: AudioSourceSpec = {
    kind: 'sequence',
    items: [BEEP, { kind: 'silence', ms: 100 }, { kind: 'tone', hz: 400, ms: 100 }],
  };
  const { samples, frames, ended } = play(spec, 8000, 100);
  assert.equal(ended, true);
  // 2000 + 800 + 800 samples = 3600 = 22.5 frames.
  assert.equal(frames, 23);
  assert.ok(tonePresence(samples.subarray(0, 1920), 8000, 1000) === 1, 'beep first');
  assert.ok(samples.subarray(2000, 2800).every((s) => s === 0), 'then exactly 100 ms of silence');
  assert.ok(samples[2800] === 0 && samples[2801] !== 0, 'the tone starts right after, at phase 0');
  assert.ok(toneDb(samples, 2800, 3560, 8000, 400) > -12, 'then 400 Hz');
  assert.ok(samples.subarray(3600).every((s) => s === 0));
});

test('a looping sequence starts every pass from the top; one with nothing in it ends', () => {
  const spec: AudioSourceSpec = { kind: 'sequence', loop: true, items: [{ kind: 'tone', hz: 500, ms: 30 }, { kind: 'silence', ms: 30 }] };
  const src = openSource(spec, 8000, 160);
  const got = concatFrames(drain(src, 20, 160));
  assert.equal(src.ended, false);
  // Period 480 samples: every pass identical.
  for (let p = 1; p < 6; p++) assert.deepEqual(got.subarray(p * 480, p * 480 + 480), got.subarray(0, 480), `pass ${p}`);
  assert.ok(got.subarray(0, 200).some((s) => s !== 0) && got.subarray(240, 480).every((s) => s === 0));

  const empty = openSource({ kind: 'sequence', loop: true, items: [{ kind: 'silence', ms: 0 }] }, 8000, 160);
  assert.equal(empty.read(), undefined);
  assert.equal(empty.ended, true);
});

test('a custom source is opened at the negotiated rate and frame size, alone or inside a sequence', () => {
  const opened: [number, number][] = [];
  let closed = 0;
  const custom: AudioSourceSpec = {
    kind: 'custom',
    open(rate, frameSamples) {
      opened.push([rate, frameSamples]);
      let left = 3;
      const frame = new Int16Array(frameSamples).fill(1234);
      const src = {
        ended: false,
        read: () => {
          if (left === 0) return undefined;
          if (--left === 0) src.ended = true;
          return frame;
        },
        close: () => void closed++,
      };
      return src;
    },
  };
  const alone = openSource(custom, 16000, 320);
  assert.deepEqual(opened, [[16000, 320]]);
  assert.equal(alone.read()?.[0], 1234);

  const { samples, ended } = play({ kind: 'sequence', items: [{ kind: 'tone', hz: 1000, ms: 10 }, custom, BEEP] }, 16000, 100);
  assert.deepEqual(opened[1], [16000, 320]);
  assert.equal(ended, true);
  // 10 ms of tone, then the custom's three frames right after, then the beep.
  assert.ok(samples.subarray(160, 160 + 960).every((s) => s === 1234), 'custom frames follow the tone without a gap');
  assert.ok(toneDb(samples, 1120, 1120 + 3200, 16000, 1000) > -12, 'the beep after them');
});

test('files: played in turn, once or looping; shuffled passes never repeat a file across the seam', () => {
  const a = toneAudio({ freqHz: 500, sampleRate: 8000, seconds: 0.1 });
  const b = toneAudio({ freqHz: 700, sampleRate: 16000, seconds: 0.06 });
  const once = play({ kind: 'files', audios: [a, b] }, 8000, 100);
  assert.equal(once.ended, true);
  assert.equal(once.frames, 8, '0.16 s = 8 frames');
  assert.ok(tonePresence(once.samples.subarray(0, 800), 8000, 500) === 1);
  assert.ok(tonePresence(once.samples.subarray(800, 1280), 8000, 700) >= 0.66, 'the 16 kHz file resampled and played next');

  const looped = play({ kind: 'files', audios: [a, b], loop: true }, 8000, 40);
  assert.equal(looped.ended, false);
  assert.deepEqual(looped.samples.subarray(1280, 2080), looped.samples.subarray(0, 800), 'the list starts again');

  // Shuffle with a seeded generator: order them by the tone each clip carries.
  const hz = [400, 600, 800, 1000];
  const clips = hz.map((f) => toneAudio({ freqHz: f, sampleRate: 8000, seconds: 0.04 }));
  const random = mulberry32(7);
  const shuffled = play({ kind: 'files', audios: clips, loop: true, shuffle: true, random }, 8000, 2 * 4 * 25);
  const order: number[] = [];
  for (let at = 0; at + 320 <= shuffled.samples.length; at += 320) {
    order.push(hz.indexOf(Math.round(dominantFrequency(shuffled.samples.subarray(at, at + 320), 8000)! / 200) * 200));
  }
  assert.ok(order.length >= 96);
  for (let pass = 0; pass + 4 <= order.length; pass += 4) {
    assert.deepEqual([...order.slice(pass, pass + 4)].sort(), [0, 1, 2, 3], `pass ${pass / 4} plays each file once: ${order.slice(pass, pass + 4)}`);
  }
  for (let i = 1; i < order.length; i++) assert.notEqual(order[i], order[i - 1], `no file twice in a row at ${i}`);
  const passes = new Set<string>();
  for (let pass = 0; pass + 4 <= order.length; pass += 4) passes.add(order.slice(pass, pass + 4).join());
  assert.ok(passes.size >= 5, `the order changes between passes: ${[...passes].join(' | ')}`);
});

test('a 44.1 kHz stereo WAV (the common kind) plays at 8 kHz: resampled once, and the result shared', () => {
  const audio = toneAudio({ freqHz: 1000, sampleRate: 44100, channels: 2, seconds: 0.5 });
  const at8 = toMonoAt(audio, 8000);
  assert.equal(at8.length, 4000);
  assert.ok(tonePresence(at8.subarray(200), 8000, 1000) >= 0.95);
  assert.equal(toMonoAt(audio, 8000), at8, 'a second play reuses the conversion');
  assert.notEqual(toMonoAt(audio, 16000), at8);
});

test('parseSourceSpec and parseToneText: dual tones and lengths; bad text says how to write it', async () => {
  assert.deepEqual(await parseSourceSpec('tone:350+440'), { kind: 'tone', freqs: [350, 440] });
  assert.deepEqual(await parseSourceSpec('tone:1000/250'), { kind: 'tone', hz: 1000, ms: 250 });
  assert.deepEqual(parseToneText('425'), { freqs: [425] });
  assert.deepEqual(parseToneText('350+440/2000'), { freqs: [350, 440], ms: 2000 });
  await assert.rejects(parseSourceSpec('tone:350+'), /tone:350\+: .*HZ\+HZ.*tone:440/);
  assert.throws(() => parseToneText('1000/0'), /more than 0 ms/);
  assert.throws(() => parseToneText('350+30000'), /between 0 and 24000 Hz/);
});

test('conference join and leave tones: two notes, rising then falling, short', () => {
  for (const [spec, first, second] of [[CONFERENCE_JOIN, 440, 660], [CONFERENCE_LEAVE, 660, 440]] as const) {
    const { samples, ended } = play(spec, 8000, 50);
    assert.equal(ended, true);
    assert.ok(samples.length <= 8000 * 0.34, `${samples.length} samples`);
    assert.ok(toneDb(samples, 0, 900, 8000, first) > toneDb(samples, 0, 900, 8000, second) + 20);
    assert.ok(toneDb(samples, 1300, 2500, 8000, second) > toneDb(samples, 1300, 2500, 8000, first) + 20);
  }
});

test('loadWavFolder: the .wav files in name order; a missing, empty or broken folder names itself', async () => {
  const folder = join(dir, 'moh');
  await mkdir(folder);
  await assert.rejects(loadWavFolder(folder), new RegExp(`${folder} has no .wav files`));
  await assert.rejects(loadWavFolder(join(dir, 'nope')), /no such folder/);
  await writeWavFile(join(folder, 'b.wav'), toneAudio({ freqHz: 700, seconds: 0.1 }));
  await writeWavFile(join(folder, 'a.WAV'), toneAudio({ freqHz: 500, seconds: 0.1 }));
  await writeFile(join(folder, 'README.txt'), 'not audio');
  const f = await loadWavFolder(folder);
  assert.deepEqual(f.names, ['a.WAV', 'b.wav']);

  // mohSource reads once: later calls share the decoded audio, until the cache is cleared.
  const s1 = await mohSource(folder);
  const s2 = await mohSource(folder);
  assert.ok(s1.kind === 'files' && s2.kind === 'files');
  assert.equal(s1.audios, s2.audios);
  assert.equal(s1.loop, true);
  await writeFile(join(folder, 'c.wav'), 'broken');
  assert.equal((await mohSource(folder)).kind, 'files', 'still the cached read');
  clearMohCache(folder);
  await assert.rejects(mohSource(folder), (e: unknown) => (e as Error).message.includes(join(folder, 'c.wav')));
  await rm(join(folder, 'c.wav'));
  assert.equal((await mohSource(folder)).kind, 'files', 'a failed read is retried');
});

test('the shipped music on hold: found from the build, 20-30 s mono, small, loops without a click, never reads as a key press', async () => {
  const folder = defaultMohFolder();
  assert.match(folder, /assets[/\\]moh$/);
  const { names, audios } = await loadWavFolder(folder);
  assert.ok(names.length >= 1);
  for (const [i, name] of names.entries()) {
    const audio = audios[i];
    const bytes = (await stat(join(folder, name))).size;
    assert.ok(bytes <= 600 * 1024, `${name}: ${bytes} bytes`);
    assert.equal(parseWav(await readFile(join(folder, name))).encoding, 'pcm16');
    assert.equal(audio.channels, 1);
    assert.ok(audio.sampleRate === 8000 || audio.sampleRate === 16000);
    const seconds = audio.samples.length / audio.sampleRate;
    assert.ok(seconds >= 20 && seconds <= 30, `${name}: ${seconds} s`);
    const level = levelDbfs(audio.samples);
    assert.ok(level > -30 && level < -15, `${name}: ${level.toFixed(1)} dBFS`);

    // Played at 8 kHz twice over (across the loop point): no digit, and no jump at the seam
    // larger than the music's own steepest sample-to-sample change.
    const src = openSource((await mohSource(folder)), 8000, 160);
    const digits: string[] = [];
    const det = new InbandDtmfDetector({ onDigit: (d) => digits.push(d.digit) });
    const frames = Math.ceil((2 * audios.reduce((n, a) => n + a.samples.length / a.sampleRate, 0)) * 50);
    for (let f = 0; f < frames; f++) det.process(src.read()!);
    assert.deepEqual(digits, []);
    const s = toMonoAt(audio, 8000);
    let steepest = 0;
    for (let k = 1; k < s.length; k++) steepest = Math.max(steepest, Math.abs(s[k] - s[k - 1]));
    assert.ok(Math.abs(s[0] - s[s.length - 1]) <= steepest, `seam ${s[s.length - 1]} → ${s[0]}, steepest ${steepest}`);
  }
});
