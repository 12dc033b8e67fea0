import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RealFft } from '../../src/media/dsp/fft.js';
import { dominantFrequency } from '../../src/media/dsp/spectrum.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { xorshift32 as prng } from '../helpers/prng.js';

test('the real FFT equals a direct DFT', () => {
  for (const n of [4, 8, 64, 512]) {
    const r = prng(n);
    const x = Float64Array.from({ length: n }, () => r() * 2 - 1);
    const fft = new RealFft(n);
    const re = new Float64Array(fft.bins);
    const im = new Float64Array(fft.bins);
    fft.forward(x, re, im);
    for (let k = 0; k <= n / 2; k++) {
      let dr = 0;
      let di = 0;
      for (let t = 0; t < n; t++) {
        dr += x[t] * Math.cos((2 * Math.PI * k * t) / n);
        di -= x[t] * Math.sin((2 * Math.PI * k * t) / n);
      }
      assert.ok(Math.abs(re[k] - dr) < 1e-9 && Math.abs(im[k] - di) < 1e-9, `n=${n} k=${k}: ${re[k]},${im[k]} vs ${dr},${di}`);
    }
  }
});

test('FFT sizes that are not powers of two are refused', () => {
  assert.throws(() => new RealFft(160), RangeError);
  assert.throws(() => new RealFft(2), RangeError);
  assert.throws(() => new RealFft(256).forward(new Float64Array(255), new Float64Array(129), new Float64Array(129)), RangeError);
});

test('the power spectrum peaks within one bin of the tone', () => {
  const n = 256;
  const fft = new RealFft(n);
  const power = new Float64Array(fft.bins);
  for (const f of [300, 1000, 1234.5, 3300]) {
    const x = Float64Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * f * i) / 8000 + 0.4));
    fft.power(x, power);
    const peak = power.indexOf(Math.max(...power));
    assert.ok(Math.abs((peak * 8000) / n - f) <= 8000 / n, `${f} Hz peaked at bin ${peak}`);
  }
});

test('dominantFrequency finds the tone of a 20 ms frame within one bin (interpolated: within 2 Hz)', () => {
  for (const rate of [8000, 16000, 48000]) {
    for (const f of [425, 1000, 1633, 3000]) {
      const frame = new Int16Array(rate / 50);
      new ToneGenerator({ freqs: [f], levelDbfs: -20 }, rate).fill(frame);
      const got = dominantFrequency(frame, rate);
      assert.ok(got !== null);
      let size = 256;
      while (size < frame.length) size <<= 1;
      const bin = rate / size;
      assert.ok(Math.abs(got - f) <= bin, `${f} Hz at ${rate}: ${got} (bin ${bin})`);
      assert.ok(Math.abs(got - f) <= 2, `${f} Hz at ${rate}: ${got} interpolated`);
    }
  }
  // The louder of two tones wins.
  const two = new Int16Array(160);
  const a = new Int16Array(160);
  new ToneGenerator({ freqs: [600], levelDbfs: -30 }, 8000).fill(two);
  new ToneGenerator({ freqs: [2200], levelDbfs: -20 }, 8000).fill(a);
  for (let i = 0; i < 160; i++) two[i] += a[i];
  assert.ok(Math.abs((dominantFrequency(two, 8000) ?? 0) - 2200) < 31.25);
  assert.equal(dominantFrequency(new Int16Array(160), 8000), null);
});
