/**
 * Text to speech as the IVR uses it: espeak-ng renders a prompt once, the
 * cache serves it from then on (memory, then disk across restarts) without
 * starting a process, callers asking at the same time share one render,
 * and a missing engine says how to install it.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { levelDbfs } from '../../src/media/dsp/level.js';
import { EnergyVad } from '../../src/media/dsp/vad.js';
import { readWavFile, type PcmAudio } from '../../src/media/wav.js';
import { VirtualClock } from '../../src/util/clock.js';
import { TtsCache, TtsError, TtsUnavailableError, type TtsProvider } from '../../src/voice/tts.js';
import { EspeakTts } from '../../src/voice/tts-espeak.js';
import { requirePeers } from '../helpers/peers.js';
import { toneAudio } from '../helpers/wav.js';

let dir = '';
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sb-tts-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
const cacheDir = () => join(dir, `cache${++n}`);

const PROMPT = 'Thank you for calling Acme Corporation';

/** Share of 20 ms frames the energy VAD calls speech. */
function speechShare(a: PcmAudio): number {
  const vad = new EnergyVad({ sampleRate: a.sampleRate, thresholdDbfs: -40, hangoverMs: 0 });
  const size = a.sampleRate / 50;
  let on = 0;
  let frames = 0;
  for (let i = 0; i + size <= a.samples.length; i += size, frames++) if (vad.process(a.samples.subarray(i, i + size))) on++;
  return on / frames;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

describe('espeak-ng', { skip: requirePeers('espeak-ng'), timeout: 60_000 }, () => {
  test('speaks the greeting: 16 kHz mono, 1-4 s, mostly speech; the second time from the cache without a process', async (t) => {
    const espeak = new EspeakTts();
    const tts = new TtsCache({ provider: espeak, dir: cacheDir() });
    const [first, firstMs] = await timed(() => tts.synthesize(PROMPT));
    assert.equal(espeak.spawned, 1);
    assert.equal(first.sampleRate, 16000);
    assert.equal(first.channels, 1);
    const seconds = first.samples.length / 16000;
    assert.ok(seconds >= 1 && seconds <= 4, `${seconds.toFixed(2)} s`);
    assert.ok(levelDbfs(first.samples) > -35, `level ${levelDbfs(first.samples).toFixed(1)} dBFS`);
    assert.ok(speechShare(first) > 0.5, `speech in ${(speechShare(first) * 100).toFixed(0)}% of frames`);

    const [again, memMs] = await timed(() => tts.synthesize(`  ${PROMPT.replace(/ /g, '  ')} `));
    assert.equal(again, first, 'the same audio, whitespace aside');
    assert.equal(espeak.spawned, 1, 'no second process');

    // A restart: a new cache over the same folder reads the file; still no process.
    const espeak2 = new EspeakTts();
    const restarted = new TtsCache({ provider: espeak2, dir: tts.dir });
    const [fromDisk, diskMs] = await timed(() => restarted.synthesize(PROMPT));
    assert.equal(espeak2.spawned, 0);
    assert.deepEqual(fromDisk.samples, first.samples);
    assert.deepEqual(restarted.stats(), { memoryHits: 0, diskHits: 1, renders: 0, shared: 0, failures: 0, memoryEntries: 1, memoryBytes: first.samples.byteLength });
    const file = await readWavFile(tts.pathFor(PROMPT));
    assert.equal(file.sampleRate, 16000);
    assert.deepEqual((await readdir(tts.dir)).filter((f) => !f.endsWith('.wav')), [], 'no temporary files left');
    t.diagnostic(`first render ${firstMs.toFixed(1)} ms (espeak-ng process), memory hit ${memMs.toFixed(3)} ms, disk hit after restart ${diskMs.toFixed(2)} ms`);
  });

  test('two callers asking for the same prompt at once start one process; another voice is another prompt', async () => {
    const espeak = new EspeakTts();
    const tts = new TtsCache({ provider: espeak, dir: cacheDir() });
    const [a, b] = await Promise.all([tts.synthesize('For sales, press 1.'), tts.synthesize('For sales, press 1.')]);
    assert.equal(a, b);
    assert.equal(espeak.spawned, 1);
    assert.equal(tts.stats().shared, 1);
    const gb = await tts.synthesize('For sales, press 1.', 'en-gb');
    assert.equal(espeak.spawned, 2);
    assert.notEqual(tts.pathFor('For sales, press 1.', 'en-gb'), tts.pathFor('For sales, press 1.'));
    assert.ok(gb.samples.length > 8000);
  });

  test('an unknown voice is an error naming it; a voice that looks like an option never reaches the engine', async () => {
    const espeak = new EspeakTts();
    const tts = new TtsCache({ provider: espeak, dir: cacheDir() });
    await assert.rejects(tts.synthesize('Hello', 'xx-nosuch'), (e: unknown) => e instanceof TtsError && /xx-nosuch/.test(e.message) && /does not exist/.test(e.message));
    const before = espeak.spawned;
    await assert.rejects(tts.synthesize('Hello', '--stdout'), /not a voice name/);
    assert.equal(espeak.spawned, before);
    // Text that looks like options is only text.
    const spoken = await tts.synthesize('-v xx --help');
    assert.ok(spoken.samples.length > 4000);
  });

  test('prepare() warms the cache for the prompts the dialplan will say', async () => {
    const espeak = new EspeakTts();
    const tts = new TtsCache({ provider: espeak, dir: cacheDir() });
    await tts.prepare(['One.', { text: 'Two.', voice: 'en-gb' }, 'One.']);
    assert.equal(espeak.spawned, 2);
    await tts.synthesize('Two.', 'en-gb');
    assert.equal(espeak.spawned, 2);
  });
});

test('a missing espeak-ng says how to install it, and prepare() stops at the first such error', async () => {
  const espeak = new EspeakTts({ binary: join(dir, 'no-such-espeak-ng') });
  const tts = new TtsCache({ provider: espeak, dir: cacheDir() });
  await assert.rejects(tts.synthesize(PROMPT), (e: unknown) => e instanceof TtsUnavailableError && /apt-get install espeak-ng/.test(e.message));
  await assert.rejects(tts.prepare(['a', 'b', 'c', 'd', 'e']), TtsUnavailableError);
  assert.ok(espeak.spawned <= 3, `stopped early: ${espeak.spawned} attempts`);
});

test('a render that hangs is killed after the timeout', async () => {
  const hang = join(dir, 'hang.sh');
  await writeFile(hang, '#!/bin/sh\nexec sleep 30\n');
  await chmod(hang, 0o755);
  const clock = new VirtualClock();
  const espeak = new EspeakTts({ binary: hang, timeoutMs: 5000, clock });
  const p = espeak.synthesize('Hello');
  clock.advance(5000);
  await assert.rejects(p, (e: unknown) => e instanceof TtsError && /longer than 5000 ms/.test(e.message));
  assert.equal(clock.pending(), 0);
});

/** A provider that counts renders and can be made to fail. */
class FakeTts implements TtsProvider {
  readonly defaultVoice = 'v1';
  renders = 0;
  fail: Error | undefined;
  constructor(readonly id = 'fake') {}
  async synthesize(text: string): Promise<PcmAudio> {
    this.renders++;
    await new Promise((r) => setImmediate(r));
    if (this.fail) throw this.fail;
    // 22.05 kHz stereo, as an engine might give: stored as 16 kHz mono.
    return toneAudio({ freqHz: 300 + text.length * 10, sampleRate: 22050, channels: 2, seconds: 0.5 });
  }
}

test('cache: 16 kHz mono on disk, keyed by text, voice and engine; damaged files are rendered again', async () => {
  const fake = new FakeTts();
  const tts = new TtsCache({ provider: fake, dir: cacheDir() });
  const a = await tts.synthesize('Hello world');
  assert.equal(a.sampleRate, 16000);
  assert.equal(a.channels, 1);
  assert.equal(a.samples.length, 8000);
  const disk = await readWavFile(tts.pathFor('Hello world'));
  assert.deepEqual(disk.samples, a.samples);
  assert.notEqual(tts.pathFor('Hello world', 'v2'), tts.pathFor('Hello world'));
  assert.notEqual(new TtsCache({ provider: new FakeTts('other'), dir: tts.dir }).pathFor('Hello world'), tts.pathFor('Hello world'));

  await writeFile(tts.pathFor('Hello world'), 'garbage');
  const fresh = new TtsCache({ provider: fake, dir: tts.dir });
  const b = await fresh.synthesize('Hello world');
  assert.deepEqual(b.samples, a.samples);
  assert.equal(fake.renders, 2, 'the damaged file was rendered again');
  assert.deepEqual((await readWavFile(tts.pathFor('Hello world'))).samples, a.samples, 'and replaced');

  const spec = await tts.speak('Hello world');
  assert.ok(spec.kind === 'wav');
  assert.equal(spec.audio, a, 'speak() plays the cached audio');
  assert.equal(spec.path, tts.pathFor('Hello world'));

  await assert.rejects(tts.synthesize('   '), /text is empty/);
  await assert.rejects(tts.synthesize('x'.repeat(5001)), /at most 5000/);
});

test('cache: a failed render is not cached and is tried again; memory is bounded, the disk keeps the rest', async () => {
  const fake = new FakeTts();
  // Room in memory for one prompt (0.5 s at 16 kHz = 16000 bytes).
  const tts = new TtsCache({ provider: fake, dir: cacheDir(), memoryBytes: 20000 });
  fake.fail = new TtsError('engine broke');
  await assert.rejects(Promise.all([tts.synthesize('one'), tts.synthesize('one')]), /engine broke/);
  assert.equal(fake.renders, 1, 'the two callers shared the failing render');
  fake.fail = undefined;
  await tts.synthesize('one');
  await tts.synthesize('two');
  assert.equal(fake.renders, 3);
  assert.equal(tts.stats().memoryEntries, 1);
  await tts.synthesize('one');
  assert.equal(fake.renders, 3, 'evicted from memory, read from disk');
  const s = tts.stats();
  assert.equal(s.diskHits, 1);
  assert.equal(s.failures, 1);
  assert.ok(s.memoryBytes <= 20000);
});
