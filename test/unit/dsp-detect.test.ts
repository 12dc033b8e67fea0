import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeUlaw, encodeUlaw } from '../../src/media/codecs/g711.js';
import { goertzel } from '../../src/media/dsp/goertzel.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { detectTone, measureTone, tonePresence } from '../../src/media/dsp/tone-detect.js';
import { xorshift32 as prng } from '../helpers/prng.js';

/** White noise with a uniform distribution at roughly `dbfs` RMS. */
function noise(n: number, dbfs: number, seed: number): Int16Array {
  const r = prng(seed);
  const peak = 32768 * Math.pow(10, dbfs / 20) * Math.sqrt(3); // uniform: RMS = peak/sqrt(3)
  return Int16Array.from({ length: n }, () => Math.round((r() * 2 - 1) * peak));
}

function tone(freq: number, dbfs: number, rate: number, seconds: number): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds));
  new ToneGenerator({ freqs: [freq], levelDbfs: dbfs }, rate).fill(out);
  return out;
}

test('a 1000 Hz tone is detected in 100% of 20 ms frames at 8, 16 and 48 kHz', () => {
  for (const rate of [8000, 16000, 48000]) {
    const t = tone(1000, -20, rate, 2);
    assert.equal(tonePresence(t, rate, 1000), 1, `${rate} Hz`);
    // Frame by frame through the single-frame API too.
    const frame = rate / 50;
    for (let off = 0; off + frame <= t.length; off += frame) assert.ok(detectTone(t.subarray(off, off + frame), rate, 1000));
  }
});

test('a 1000 Hz tone through G.711 µ-law, slightly off frequency and with noise, is still found', () => {
  const t = tone(1007, -25, 8000, 2);
  const n = noise(t.length, -45, 7);
  for (let i = 0; i < t.length; i++) t[i] += n[i];
  const bytes = new Uint8Array(t.length);
  encodeUlaw(t, bytes);
  decodeUlaw(bytes, t);
  assert.equal(tonePresence(t, 8000, 1000), 1);
});

test('other tones, silence and noise are not taken for 1000 Hz', () => {
  for (const rate of [8000, 16000, 48000]) {
    assert.equal(tonePresence(tone(440, -10, rate, 1), rate, 1000), 0, `440 Hz at ${rate}`);
    assert.equal(tonePresence(tone(1200, -10, rate, 1), rate, 1000), 0, `1200 Hz at ${rate}`);
    assert.equal(tonePresence(new Int16Array(rate), rate, 1000), 0, `silence at ${rate}`);
    assert.equal(tonePresence(noise(rate, -20, 42), rate, 1000), 0, `noise at ${rate}`);
  }
  // The 440 Hz tone itself is found where it is.
  assert.equal(tonePresence(tone(440, -10, 8000, 1), 8000, 440), 1);
});

test('level and ratio thresholds', () => {
  const quiet = tone(1000, -50, 8000, 0.02);
  assert.equal(detectTone(quiet, 8000, 1000), false); // default minDbfs -45
  assert.equal(detectTone(quiet, 8000, 1000, { minDbfs: -55 }), true);

  const m = measureTone(tone(1000, -20, 8000, 0.02), 8000, 1000);
  assert.ok(Math.abs(m.toneDbfs - -20) < 0.05 && Math.abs(m.levelDbfs - -20) < 0.05 && m.ratio > 0.99, JSON.stringify(m));

  // 1000 Hz under speech-level noise 6 dB louder: present, but not the main content.
  const mixed = tone(1000, -26, 8000, 0.02);
  const n = noise(mixed.length, -20, 3);
  for (let i = 0; i < mixed.length; i++) mixed[i] += n[i];
  assert.equal(detectTone(mixed, 8000, 1000), false);
  assert.equal(detectTone(mixed, 8000, 1000, { minRatio: 0.1 }), true);
});

test('presence counts frames: a tone in half the call reads 50%', () => {
  const t = tone(1000, -20, 8000, 2);
  t.fill(0, 8000);
  assert.equal(tonePresence(t, 8000, 1000), 0.5);
  assert.equal(tonePresence(t, 8000, 1000, { frameMs: 10 }), 0.5);
  assert.equal(tonePresence(new Int16Array(100), 8000, 1000), 0); // shorter than a frame
});

test('goertzel: power of the tone at its frequency, almost none elsewhere', () => {
  const t = tone(1000, -10, 8000, 0.02);
  assert.ok(Math.abs(10 * Math.log10(goertzel(t, 8000, 1000)) - -10) < 0.05);
  assert.ok(10 * Math.log10(goertzel(t, 8000, 2000)) < -60);
  assert.equal(goertzel(new Int16Array(0), 8000, 1000), 0);
});
