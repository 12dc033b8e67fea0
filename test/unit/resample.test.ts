import assert from 'node:assert/strict';
import { test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { goertzel } from '../../src/media/dsp/goertzel.js';
import { levelDbfs } from '../../src/media/dsp/level.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { FILE_MAX_FACTOR, Resampler } from '../../src/media/resample.js';

const PAIRS: ReadonlyArray<readonly [number, number]> = [
  [8000, 16000],
  [8000, 48000],
  [16000, 8000],
  [48000, 8000],
  [16000, 48000],
  [48000, 16000],
];

function tone(rate: number, freqs: number[], level: number, samples: number): Int16Array {
  const out = new Int16Array(samples);
  new ToneGenerator({ freqs, levelDbfs: level }, rate).fill(out);
  return out;
}

/** Deterministic white-ish noise (LCG), so failures reproduce. */
function noise(samples: number, amplitude: number, seed = 1): Int16Array {
  const out = new Int16Array(samples);
  let s = seed >>> 0;
  for (let i = 0; i < samples; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round(((s / 2 ** 32) * 2 - 1) * amplitude);
  }
  return out;
}

/** Feeds `input` in slices of `frame` values, as a media loop would, and concatenates what comes out. */
function convert(r: Resampler, input: Int16Array, frame: number): Int16Array {
  const total = new Int16Array(Math.ceil((input.length * r.up) / r.down) + 16 * r.channels);
  const out = new Int16Array(Math.ceil((frame * r.up) / r.down) + 2 * r.channels);
  let n = 0;
  for (let off = 0; off < input.length; off += frame) {
    const slice = input.subarray(off, Math.min(off + frame, input.length));
    const expected = r.outputLength(slice.length);
    const got = r.process(slice, out);
    assert.equal(got, expected, 'outputLength() predicts what process() writes');
    total.set(out.subarray(0, got), n);
    n += got;
  }
  return total.subarray(0, n);
}

const db = (power: number) => 10 * Math.log10(power);
const frame20ms = (rate: number) => rate / 50;

test('a 1 kHz tone survives every conversion at 1 kHz and within 0.5 dB', () => {
  for (const [from, to] of PAIRS) {
    const r = new Resampler(from, to);
    const out = convert(r, tone(from, [1000], -10, from), frame20ms(from));
    assert.equal(out.length, to, `${from}→${to}: one second in, one second out`);
    // Measure after the filter has filled (its delay plus a margin).
    const steady = out.subarray(to / 20);
    const level = levelDbfs(steady);
    const at1k = db(goertzel(steady, to, 1000));
    assert.ok(Math.abs(level - -10) < 0.5, `${from}→${to}: level ${level.toFixed(2)} dBFS`);
    // All of that energy is at 1 kHz, none moved elsewhere.
    assert.ok(Math.abs(at1k - -10) < 0.5, `${from}→${to}: 1 kHz at ${at1k.toFixed(2)} dBFS`);
    assert.ok(db(goertzel(steady, to, 1100)) < -50, `${from}→${to}: nothing at 1.1 kHz`);
  }
});

test('tones above the target Nyquist are attenuated by more than 50 dB instead of aliasing', () => {
  const cases: Array<[from: number, to: number, freq: number, aliasAt: number]> = [
    [48000, 8000, 6000, 2000],
    [48000, 8000, 4100, 3900],
    [48000, 8000, 20000, 4000],
    [16000, 8000, 5000, 3000],
    [16000, 8000, 4200, 3800],
    [48000, 16000, 10000, 6000],
  ];
  for (const [from, to, freq, aliasAt] of cases) {
    const input = tone(from, [freq], -10, from);
    assert.ok(Math.abs(levelDbfs(input) - -10) < 0.1);
    const out = convert(new Resampler(from, to), input, frame20ms(from));
    // Skip the onset: switching a tone on is a broadband click, not aliasing.
    const steady = out.subarray(to / 20);
    const alias = db(goertzel(steady, to, aliasAt));
    const level = levelDbfs(steady);
    assert.ok(alias < -60, `${from}→${to}: ${freq} Hz aliases to ${aliasAt} Hz at ${alias.toFixed(1)} dBFS`);
    assert.ok(level < -60, `${from}→${to}: ${freq} Hz leaves ${level.toFixed(1)} dBFS in total`);
  }
});

test('the whole stopband, from the target Nyquist up, is at least 60 dB down', () => {
  for (const [from, to] of PAIRS.filter(([f, t]) => f > t)) {
    let worst = -Infinity;
    let worstFreq = 0;
    for (let f = to / 2 + 50; f < from / 2; f += 330) {
      const out = convert(new Resampler(from, to), tone(from, [f], -10, from / 4), frame20ms(from));
      const level = levelDbfs(out.subarray(to / 20));
      if (level > worst) [worst, worstFreq] = [level, f];
    }
    assert.ok(worst < -70, `${from}→${to}: ${worstFreq} Hz comes through at ${worst.toFixed(1)} dBFS from -10`);
  }
});

test('upsampling leaves no images of the tone above the old Nyquist', () => {
  const cases: Array<[from: number, to: number, freq: number, images: number[]]> = [
    [8000, 16000, 1000, [7000, 9000]],
    [8000, 16000, 3100, [4900]],
    [8000, 48000, 1000, [7000, 9000, 15000, 17000, 23000]],
    [8000, 48000, 3100, [4900, 11100]],
    [16000, 48000, 1000, [15000, 17000]],
    [16000, 48000, 6200, [9800]],
  ];
  for (const [from, to, freq, images] of cases) {
    const out = convert(new Resampler(from, to), tone(from, [freq], -10, from), frame20ms(from));
    const steady = out.subarray(to / 20);
    assert.ok(Math.abs(db(goertzel(steady, to, freq)) - -10) < 0.5, `${from}→${to}: ${freq} Hz passes`);
    for (const f of images) {
      const image = db(goertzel(steady, to, f));
      assert.ok(image < -60, `${from}→${to}: image of ${freq} Hz at ${f} Hz is ${image.toFixed(1)} dBFS`);
    }
  }
});

test('streaming in 20 ms frames (or any slicing) gives exactly the output of one big call', () => {
  for (const [from, to] of PAIRS) {
    // Longer than the internal work chunk, and noise plus a tone so every tap matters.
    const input = noise(from * 2, 12000, from + to);
    const t = tone(from, [700], -12, input.length);
    for (let i = 0; i < input.length; i++) input[i] = Math.max(-32768, Math.min(32767, input[i] + t[i]));

    const whole = convert(new Resampler(from, to), input, input.length);
    assert.equal(whole.length, input.length * (to / from));
    for (const frame of [frame20ms(from), 7, 1, 1031]) {
      const sliced = convert(new Resampler(from, to), input, frame);
      assert.deepEqual(sliced, whole, `${from}→${to} in slices of ${frame}`);
    }
  }
});

test('delay is reported, whole, and the same for every passband frequency and position', () => {
  for (const [from, to] of PAIRS) {
    const r0 = new Resampler(from, to);
    const d = r0.delaySamples;
    assert.ok(Number.isInteger(d) && d > 0, `${from}→${to}: delay ${d}`);
    assert.ok(r0.delayMs > 0.5 && r0.delayMs < 5, `${from}→${to}: ${r0.delayMs} ms`);

    // Shifted back by the delay, the output matches the ideal tone at the new rate.
    const lower = Math.min(from, to);
    for (const f of [300, 1000, 0.375 * lower]) {
      const out = convert(new Resampler(from, to), tone(from, [f], -10, from / 2), frame20ms(from));
      const ideal = tone(to, [f], -10, out.length);
      let err = 0;
      let sig = 0;
      for (let n = to / 50; n + d < out.length; n++) {
        const e = out[n + d] - ideal[n];
        err += e * e;
        sig += ideal[n] * ideal[n];
      }
      const snr = db(sig / err);
      assert.ok(snr > 45, `${from}→${to} at ${f} Hz: aligned error only ${snr.toFixed(1)} dB below the tone`);
    }

    // A click lands delaySamples later wherever it falls relative to frame boundaries.
    const step = from / Math.min(from, to); // input positions that fall on an output sample
    for (const at of [0, 3 * step, frame20ms(from) - step, frame20ms(from), 5 * frame20ms(from) + 7 * step]) {
      const input = new Int16Array(from / 5);
      input[at] = 20000;
      const out = convert(new Resampler(from, to), input, frame20ms(from));
      let peak = 0;
      for (let i = 1; i < out.length; i++) if (out[i] > out[peak]) peak = i;
      assert.equal(peak, (at * to) / from + d, `${from}→${to}: click at input ${at}`);
    }
  }
});

test('silence stays digital silence', () => {
  for (const [from, to] of PAIRS) {
    const out = convert(new Resampler(from, to), new Int16Array(from), frame20ms(from));
    assert.equal(out.length, to);
    assert.ok(
      out.every((s) => s === 0),
      `${from}→${to}`,
    );
  }
});

test('interleaved stereo converts each channel as a mono resampler would', () => {
  const left = tone(8000, [1000], -10, 8000);
  const right = noise(8000, 8000, 7);
  const stereo = new Int16Array(16000);
  for (let i = 0; i < 8000; i++) {
    stereo[2 * i] = left[i];
    stereo[2 * i + 1] = right[i];
  }
  for (const to of [16000, 48000]) {
    const out = convert(new Resampler(8000, to, { channels: 2 }), stereo, 320);
    const l = convert(new Resampler(8000, to), left, 160);
    const rr = convert(new Resampler(8000, to), right, 160);
    assert.equal(out.length, 2 * l.length);
    assert.deepEqual(
      out.filter((_, i) => i % 2 === 0),
      l,
    );
    assert.deepEqual(
      out.filter((_, i) => i % 2 === 1),
      rr,
    );
  }
  assert.throws(() => new Resampler(8000, 16000, { channels: 2 }).process(new Int16Array(3), new Int16Array(12)), RangeError);
});

test('reset() forgets history: the next stream starts as on a new resampler', () => {
  const a = noise(4800, 10000, 3);
  const b = tone(48000, [1000], -6, 4800);
  const r = new Resampler(48000, 8000);
  convert(r, a.subarray(0, 4795), 960); // leaves a partial phase and a full history
  r.reset();
  assert.deepEqual(convert(r, b, 960), convert(new Resampler(48000, 8000), b, 960));
});

test('overshoot at full scale clamps instead of wrapping around', () => {
  // Full-scale square wave: the filter's ripple on each edge exceeds int16.
  const input = new Int16Array(8000);
  for (let i = 0; i < input.length; i++) input[i] = Math.floor(i / 20) % 2 === 0 ? 32767 : -32768;
  const r = new Resampler(8000, 48000);
  const out = convert(r, input, 160);
  let clamped = 0;
  for (let n = 0; n + r.delaySamples < out.length; n++) {
    const pos = n / 6; // input position of output sample n
    const fromEdge = Math.min(pos % 20, 20 - (pos % 20));
    if (fromEdge < 2) continue;
    // Ringing dips up to ~10 % below full scale; a wrapped sample would have the wrong sign.
    const y = out[n + r.delaySamples];
    const high = Math.floor(pos / 20) % 2 === 0;
    assert.ok(high ? y > 26000 : y < -26000, `sample ${n}: ${y} (should be ${high ? 'high' : 'low'})`);
    if (y === 32767 || y === -32768) clamped++;
  }
  assert.ok(clamped > 0, 'the Gibbs overshoot reached the rails');
});

test('same rate is a plain copy; unsupported ratios and bad buffers are refused', () => {
  const r = new Resampler(16000, 16000);
  const input = noise(320, 30000);
  const out = new Int16Array(320);
  assert.equal(r.process(input, out), 320);
  assert.deepEqual(out, input);
  assert.equal(r.delaySamples, 0);

  assert.throws(() => new Resampler(8000, 44100), RangeError);
  assert.throws(() => new Resampler(0, 8000), RangeError);
  assert.throws(() => new Resampler(8000, 16000, { channels: 0 }), RangeError);
  assert.throws(() => new Resampler(8000, 48000).process(new Int16Array(160), new Int16Array(959)), /960 needed/);
});

test('cost per 20 ms frame (printed, not asserted)', (t) => {
  for (const [from, to] of PAIRS) {
    const r = new Resampler(from, to);
    const input = tone(from, [1000], -10, frame20ms(from));
    const out = new Int16Array(frame20ms(to));
    for (let i = 0; i < 200; i++) r.process(input, out); // warm up the JIT
    const frames = 2000;
    const start = performance.now();
    for (let i = 0; i < frames; i++) r.process(input, out);
    const us = ((performance.now() - start) * 1000) / frames;
    t.diagnostic(`${from}→${to} Hz: ${us.toFixed(1)} µs per 20 ms frame (${r.tapsPerPhase} taps/phase, delay ${r.delayMs.toFixed(2)} ms)`);
  }
});

test('copyStateFrom: a second resampler carries on the first one\'s stream, sample for sample', () => {
  const a = new Resampler(16000, 48000);
  const b = new Resampler(16000, 48000);
  const input = tone(16000, [310], -10, 320 * 6);
  const outA = new Int16Array(960);
  const outB = new Int16Array(960);
  for (let f = 0; f < 5; f++) a.process(input.subarray(f * 320, (f + 1) * 320), outA);
  b.copyStateFrom(a);
  a.process(input.subarray(1600), outA);
  b.process(input.subarray(1600), outB);
  assert.deepEqual(outB, outA);
  assert.throws(() => b.copyStateFrom(new Resampler(8000, 48000)), /8000 → 48000 Hz/);
});

test('file rates: 44.1 kHz and 22.05 kHz convert with maxFactor, keeping a tone; the per-packet default refuses them', () => {
  for (const [from, to] of [[44100, 8000], [22050, 16000], [44100, 16000]] as const) {
    assert.throws(() => new Resampler(from, to), /factors up to 12/);
    const r = new Resampler(from, to, { maxFactor: FILE_MAX_FACTOR });
    const input = tone(from, [1000], -10, from);
    const out = new Int16Array(r.outputLength(input.length));
    const n = r.process(input, out);
    assert.ok(Math.abs(n - to) <= 1, `${from} → ${to}: ${n} samples for a second`);
    const body = out.subarray(r.delaySamples + 100, n - 100);
    assert.ok(Math.abs(levelDbfs(body) - -10) < 0.2, `${from} → ${to}: level ${levelDbfs(body).toFixed(2)}`);
    assert.ok(goertzel(body, to, 1000) > 0.95 * Math.pow(10, -1), `${from} → ${to}: the tone is kept`);
  }
});
