import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PcmuCodec } from '../../src/media/codecs/g711.js';
import { G722Codec } from '../../src/media/codecs/g722.js';
import { goertzel } from '../../src/media/dsp/goertzel.js';
import { levelDbfs, powerToDbfs } from '../../src/media/dsp/level.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { Resampler } from '../../src/media/resample.js';
import { requirePeers } from '../helpers/peers.js';
import { mulberry32 } from '../helpers/prng.js';

const RATE = 16000;
/** Samples from encoder input to decoder output: the two QMFs' delay (measured: the SNR peak). */
const CODEC_DELAY = 22;

function encodeAll(pcm: Int16Array, codec = new G722Codec()): Uint8Array {
  const out = new Uint8Array(pcm.length >> 1);
  assert.equal(codec.encode(pcm, out), out.length);
  return out;
}

function decodeAll(bytes: Uint8Array, codec = new G722Codec()): Int16Array {
  const out = new Int16Array(bytes.length * 2);
  assert.equal(codec.decode(bytes, out), out.length);
  return out;
}

function clip16(x: number): number {
  return Math.max(-32768, Math.min(32767, Math.round(x)));
}

function sine(freq: number, amplitude: number, seconds: number): Int16Array {
  return Int16Array.from({ length: seconds * RATE }, (_, i) => clip16(amplitude * Math.sin((2 * Math.PI * freq * i) / RATE)));
}

/** Logarithmic sweep 100 Hz → 7.5 kHz, about -9 dBFS. */
function sweep(seconds: number): Int16Array {
  const n = seconds * RATE;
  const out = new Int16Array(n);
  const k = Math.log(7500 / 100);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    phase += (2 * Math.PI * 100 * Math.exp((k * i) / n)) / RATE;
    out[i] = clip16(16000 * Math.sin(phase));
  }
  return out;
}

/** Five tones across both sub-bands with a little noise (seeded). */
function multiTone(seconds: number, seed: number): Int16Array {
  const rnd = mulberry32(seed);
  const freqs = [300, 1100, 2900, 4700, 6300];
  return Int16Array.from({ length: seconds * RATE }, (_, i) => {
    let x = (rnd() - 0.5) * 600;
    for (const f of freqs) x += 3000 * Math.sin((2 * Math.PI * f * i) / RATE + f);
    return clip16(x);
  });
}

/**
 * Speech-like noise: seeded white noise through a two-pole resonator whose
 * "formant" jumps every 80 ms, under a 4 Hz syllable envelope with pauses.
 */
function speechLike(seconds: number, seed: number): Int16Array {
  const rnd = mulberry32(seed);
  const n = seconds * RATE;
  const out = new Int16Array(n);
  let y1 = 0;
  let y2 = 0;
  let c1 = 0;
  let c2 = 0;
  for (let i = 0; i < n; i++) {
    if (i % 1280 === 0) {
      const f = 250 + rnd() * 3500;
      const r = 0.97;
      c1 = 2 * r * Math.cos((2 * Math.PI * f) / RATE);
      c2 = -r * r;
    }
    const y = (rnd() - 0.5) * 2000 + c1 * y1 + c2 * y2;
    y2 = y1;
    y1 = y;
    const env = Math.max(0, Math.sin((2 * Math.PI * 4 * i) / RATE));
    out[i] = clip16(y * env * 0.6);
  }
  return out;
}

/** SNR in dB of `decoded` against `ref`, after the codec delay, skipping the start-up. */
function snrDb(ref: Int16Array, decoded: Int16Array): number {
  let signal = 0;
  let noise = 0;
  for (let i = 800; i + CODEC_DELAY < decoded.length; i++) {
    const e = decoded[i + CODEC_DELAY] - ref[i];
    signal += ref[i] * ref[i];
    noise += e * e;
  }
  return 10 * Math.log10(signal / noise);
}

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

describe('G722Codec, the Codec interface', () => {
  test('describes itself as RFC 3551 payload type 9 with the 8000 Hz RTP clock, sampling at 16 kHz', () => {
    const c = new G722Codec();
    assert.equal(c.name, 'G722');
    assert.equal(c.payloadType, 9);
    assert.equal(c.clockRate, 8000);
    assert.equal(c.sampleRate, 16000);
    assert.equal(c.channels, 1);
    assert.equal(c.frameSamples(20), 320);
    assert.equal(c.frameSamples(30), 480);
    assert.throws(() => c.frameSamples(0), RangeError);
  });

  test('a 20 ms frame is 160 bytes (64 kbit/s) and decodes back to 320 samples', () => {
    const c = new G722Codec();
    const pcm = sine(1000, 8000, 1).subarray(0, 320);
    const bytes = new Uint8Array(160);
    assert.equal(c.encode(pcm, bytes), 160);
    const back = new Int16Array(320);
    assert.equal(c.decode(bytes, back), 320);
  });

  test('too small an output buffer is a RangeError, and nothing is consumed', () => {
    const c = new G722Codec();
    const pcm = sine(1000, 8000, 1).subarray(0, 320);
    assert.throws(() => c.encode(pcm, new Uint8Array(159)), RangeError);
    assert.throws(() => c.decode(new Uint8Array(160), new Int16Array(319)), RangeError);
    assert.deepEqual(encodeAll(pcm, c), encodeAll(pcm));
  });

  test('the bitstream does not depend on how the input is sliced, odd slices included', () => {
    const pcm = speechLike(1, 11);
    const whole = encodeAll(pcm);
    const c = new G722Codec();
    const sliced = new Uint8Array(whole.length);
    const rnd = mulberry32(5);
    let at = 0;
    let written = 0;
    while (at < pcm.length) {
      const n = Math.min(pcm.length - at, 1 + Math.floor(rnd() * 333));
      assert.equal(c.encodedLength(n), (n + (at & 1)) >> 1);
      written += c.encode(pcm.subarray(at, at + n), sliced.subarray(written));
      at += n;
    }
    assert.equal(written, whole.length);
    assert.deepEqual(sliced, whole);

    const decodedWhole = decodeAll(whole);
    const d = new G722Codec();
    const parts = new Int16Array(decodedWhole.length);
    for (let k = 0; k < whole.length; k += 37) {
      const chunk = whole.subarray(k, Math.min(whole.length, k + 37));
      d.decode(chunk, parts.subarray(2 * k));
    }
    assert.deepEqual(parts, decodedWhole);
  });

  test('one instance keeps its encoder and decoder apart, and reset() starts both afresh', () => {
    const a = multiTone(1, 1);
    const b = speechLike(1, 2);
    const bBytes = encodeAll(b);
    const expectA = encodeAll(a);
    const expectB = decodeAll(bBytes);

    // Interleave encoding a with decoding b's bitstream on one instance, per 20 ms.
    const c = new G722Codec();
    const gotA = new Uint8Array(expectA.length);
    const gotB = new Int16Array(expectB.length);
    for (let f = 0; f < a.length / 320; f++) {
      c.encode(a.subarray(f * 320, (f + 1) * 320), gotA.subarray(f * 160));
      c.decode(bBytes.subarray(f * 160, (f + 1) * 160), gotB.subarray(f * 320));
    }
    assert.deepEqual(gotA, expectA);
    assert.deepEqual(gotB, expectB);

    // After reset() the same input gives the same output as a fresh instance.
    c.encode(Int16Array.of(123), new Uint8Array(0)); // leaves an odd sample pending too
    c.reset();
    assert.deepEqual(encodeAll(a, c), expectA);
    assert.deepEqual(decodeAll(bBytes, c), expectB);
  });

  test('silence stays (nearly) silent: the idle codes decode to a few LSB', () => {
    const out = decodeAll(encodeAll(new Int16Array(RATE)));
    const level = levelDbfs(out);
    assert.ok(level < -75, `decoded silence at ${level.toFixed(1)} dBFS`);
    assert.ok(out.every((x) => Math.abs(x) <= 8));
  });
});

describe('G.722 tones through encode → decode', () => {
  test('a 1 kHz tone arrives at 1 kHz in every 20 ms frame', () => {
    const out = decodeAll(encodeAll(sine(1000, 10000, 2)));
    const body = out.subarray(320); // skip the first frame: the predictors adapt
    assert.ok(tonePresence(body, RATE, 1000, { minRatio: 0.9 }) >= 0.99);
    assert.equal(tonePresence(body, RATE, 1500), 0);
  });

  test('a 7 kHz tone survives G.722 (wideband) but not G.711 at 8 kHz', (t) => {
    const tone = sine(7000, 10000, 2);
    const inDb = powerToDbfs(goertzel(tone, RATE, 7000));

    const wide = decodeAll(encodeAll(tone)).subarray(640);
    assert.ok(tonePresence(wide, RATE, 7000, { minRatio: 0.8 }) >= 0.99, 'G.722 carries 7 kHz');
    const wideDb = powerToDbfs(goertzel(wide, RATE, 7000));
    assert.ok(wideDb > inDb - 3, `G.722 at 7 kHz: ${wideDb.toFixed(1)} dBFS vs ${inDb.toFixed(1)} in`);

    // The narrowband path a transcoder takes: 16 → 8 kHz, PCMU, 8 → 16 kHz.
    const down = new Resampler(16000, 8000);
    const up = new Resampler(8000, 16000);
    const narrow = new Int16Array(down.outputLength(tone.length));
    down.process(tone, narrow);
    const mu = new Uint8Array(narrow.length);
    const pcmu = new PcmuCodec();
    pcmu.encode(narrow, mu);
    pcmu.decode(mu, narrow);
    const back = new Int16Array(up.outputLength(narrow.length));
    up.process(narrow, back);
    const body = back.subarray(640);
    assert.equal(tonePresence(body, RATE, 7000), 0, 'G.711 loses 7 kHz');
    const narrowDb = powerToDbfs(goertzel(body, RATE, 7000));
    t.diagnostic(`7 kHz: in ${inDb.toFixed(1)}, G.722 ${wideDb.toFixed(1)}, G.711 path ${narrowDb.toFixed(1)} dBFS`);
    assert.ok(narrowDb < inDb - 40, `G.711 path at 7 kHz: ${narrowDb.toFixed(1)} dBFS`);
  });
});

const skip = requirePeers('ffmpeg');

describe('G.722 against ffmpeg (the ITU reference algorithm)', { skip, timeout: 60_000 }, () => {
  const run = promisify(execFile);
  let dir = '';

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'g722-test-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function ffmpeg(args: string[]): Promise<void> {
    await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], { timeout: 20_000 });
  }

  async function ffmpegEncode(name: string, pcm: Int16Array): Promise<Uint8Array> {
    const input = path.join(dir, `${name}.raw`);
    const output = path.join(dir, `${name}.g722`);
    await writeFile(input, new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    await ffmpeg(['-f', 's16le', '-ar', '16000', '-ac', '1', '-i', input, '-acodec', 'g722', '-f', 'g722', output]);
    return new Uint8Array(await readFile(output));
  }

  async function ffmpegDecode(name: string, bytes: Uint8Array): Promise<Int16Array> {
    const input = path.join(dir, `${name}-in.g722`);
    const output = path.join(dir, `${name}-out.raw`);
    await writeFile(input, bytes);
    await ffmpeg(['-f', 'g722', '-i', input, '-f', 's16le', '-ac', '1', '-ar', '16000', output]);
    const buf = await readFile(output);
    return new Int16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  }

  // Least SNR each signal must keep through our encoder and decoder (measured, minus about 1 dB).
  const signals: Array<{ name: string; pcm: Int16Array; minSnr: number }> = [
    { name: 'sweep', pcm: sweep(3), minSnr: 30 },
    // Two of the five tones sit in the higher band, which gets only 2 bits per sample.
    { name: 'multitone', pcm: multiTone(3, 3), minSnr: 16.5 },
    { name: 'speechlike', pcm: speechLike(3, 4), minSnr: 26.5 },
  ];

  for (const { name, pcm, minSnr } of signals) {
    test(`${name}: our bitstream equals ffmpeg's, bit for bit, and so do both decodings`, async (t) => {
      const ours = encodeAll(pcm);
      const theirs = await ffmpegEncode(name, pcm);
      assert.equal(ours.length, theirs.length);
      assert.equal(firstDifference(ours, theirs), -1, 'first differing byte');

      const decodedByUs = decodeAll(theirs);
      const decodedByFfmpeg = await ffmpegDecode(name, theirs);
      assert.equal(decodedByUs.length, decodedByFfmpeg.length);
      assert.equal(firstDifference(decodedByUs, decodedByFfmpeg), -1, 'first differing sample');

      const snr = snrDb(pcm, decodedByUs);
      t.diagnostic(`${name}: SNR ${snr.toFixed(2)} dB`);
      assert.ok(snr >= minSnr, `${name}: SNR ${snr.toFixed(2)} dB < ${minSnr}`);
    });
  }

  test('overload: full-scale noise and square waves encode bit-exactly too', async () => {
    const rnd = mulberry32(9);
    const n = 2 * RATE;
    const pcm = Int16Array.from({ length: n }, (_, i) => {
      if (i < n / 2) return Math.floor(rnd() * 65536) - 32768;
      return Math.floor(i / 8) % 2 ? 32767 : -32768;
    });
    const theirs = await ffmpegEncode('overload', pcm);
    assert.equal(firstDifference(encodeAll(pcm), theirs), -1, 'first differing byte');
  });

  test('a random bitstream (every code, saturating predictors) decodes exactly as ffmpeg decodes it', async () => {
    const rnd = mulberry32(10);
    const bytes = Uint8Array.from({ length: RATE }, () => Math.floor(rnd() * 256));
    // Long runs of the largest codes drive the scale factors and reconstruction to their limits.
    for (let i = 4000; i < 8000; i++) bytes[i] = (i >> 5) & 1 ? 0x04 : 0xa0;
    const theirs = await ffmpegDecode('random', bytes);
    const ours = decodeAll(bytes);
    assert.ok(ours.some((x) => x === 32767 || x === -32768), 'the test reaches saturation');
    assert.equal(firstDifference(ours, theirs), -1, 'first differing sample');
  });
});

test('frame by frame, with reset() per round, equals the one-shot result; prints µs per 20 ms frame', (t) => {
  const c = new G722Codec();
  const pcm = speechLike(1, 12);
  const expectBytes = encodeAll(pcm);
  const expectPcm = decodeAll(expectBytes);
  const frames = pcm.length / 320;
  const bytes = new Uint8Array(expectBytes.length);
  const out = new Int16Array(expectPcm.length);
  // Views made up front, so the timed loop measures the codec and not subarray().
  const inViews = Array.from({ length: frames }, (_, f) => pcm.subarray(f * 320, (f + 1) * 320));
  const byteViews = Array.from({ length: frames }, (_, f) => bytes.subarray(f * 160, (f + 1) * 160));
  const outViews = Array.from({ length: frames }, (_, f) => out.subarray(f * 320, (f + 1) * 320));
  const rounds = 20;
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    c.reset();
    for (let f = 0; f < frames; f++) {
      c.encode(inViews[f], byteViews[f]);
      c.decode(byteViews[f], outViews[f]);
    }
  }
  const us = Number(process.hrtime.bigint() - start) / 1000 / (rounds * frames);
  t.diagnostic(`G.722 encode+decode: ${us.toFixed(1)} µs per 20 ms frame (wall clock, not asserted)`);
  assert.deepEqual(bytes, expectBytes);
  assert.deepEqual(out, expectPcm);
});
