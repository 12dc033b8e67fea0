import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alawToLinear, linearToAlaw, linearToUlaw, ulawToLinear } from '../../src/media/codecs/g711.js';
import type { DtmfDigitEvent } from '../../src/media/dtmf/digits.js';
import { InbandDtmfDetector } from '../../src/media/dtmf/inband.js';
import { mulberry32 as prng } from '../helpers/prng.js';

const RATE = 8000;
const ALL = '0123456789*#ABCD';
const ROW: Record<string, number> = {};
const COL: Record<string, number> = {};
const PAD = ['123A', '456B', '789C', '*0#D'];
PAD.forEach((keys, r) => [...keys].forEach((k, c) => {
  ROW[k] = [697, 770, 852, 941][r];
  COL[k] = [1209, 1336, 1477, 1633][c];
}));

/** Peak amplitude of a sine at `dbfs` (0 dBFS = full-scale sine). */
const amp = (dbfs: number) => 32768 * 10 ** (dbfs / 20);

/** Appends `ms` of the key's two tones (each at its own level) to `out`. */
function tone(out: number[], key: string, ms: number, rowDb = -10, colDb = -10): void {
  const n = (RATE * ms) / 1000;
  const start = out.length;
  for (let i = 0; i < n; i++) {
    const t = (start + i) / RATE;
    out.push(amp(rowDb) * Math.sin(2 * Math.PI * ROW[key] * t) + amp(colDb) * Math.sin(2 * Math.PI * COL[key] * t));
  }
}
const silence = (out: number[], ms: number) => {
  for (let i = 0; i < (RATE * ms) / 1000; i++) out.push(0);
};

/** Runs samples through a detector in `frame`-sample packets, like a G.711 stream would deliver them. */
function detect(samples: number[], frame = 160, opts: ConstructorParameters<typeof InbandDtmfDetector>[0] = {}) {
  const ended: DtmfDigitEvent[] = [];
  const det = new InbandDtmfDetector({ ...opts, onDigit: (e) => ended.push(e) });
  const pcm = Int16Array.from(samples, (x) => Math.max(-32768, Math.min(32767, Math.round(x))));
  const digits: string[] = [];
  for (let i = 0; i < pcm.length; i += frame) digits.push(...det.process(pcm.subarray(i, i + frame)));
  det.flush();
  return { digits: digits.join(''), ended };
}

test('all sixteen keys, 80 ms on / 80 ms off at -10 dBFS per tone, are detected once each in order', () => {
  const s: number[] = [];
  silence(s, 30); // so tones do not line up with blocks
  for (const k of ALL) {
    tone(s, k, 80);
    silence(s, 80);
  }
  const { digits, ended } = detect(s);
  assert.equal(digits, ALL);
  assert.equal(ended.map((e) => e.digit).join(''), ALL);
  for (const e of ended) {
    assert.equal(e.source, 'inband');
    assert.ok(e.durationMs >= 60 && e.durationMs <= 100, `${e.digit} held ${e.durationMs} ms`);
  }
});

test('the same with 10 ms blocks and frames that do not match blocks', () => {
  const s: number[] = [];
  silence(s, 13);
  for (const k of ALL) {
    tone(s, k, 80);
    silence(s, 80);
  }
  assert.equal(detect(s, 160, { blockMs: 10 }).digits, ALL);
  assert.equal(detect(s, 97).digits, ALL);
  assert.equal(detect(s, 240).digits, ALL);
});

test('keys survive a trip through G.711 (u-law and A-law) at -20 dBFS per tone', () => {
  const s: number[] = [];
  silence(s, 7);
  for (const k of ALL) {
    tone(s, k, 60, -20, -20);
    silence(s, 60);
  }
  const ulaw = s.map((x) => ulawToLinear(linearToUlaw(Math.round(x))));
  const alaw = s.map((x) => alawToLinear(linearToAlaw(Math.round(x))));
  assert.equal(detect(ulaw).digits, ALL);
  assert.equal(detect(alaw).digits, ALL);
});

test('two keys back to back without a pause are both heard', () => {
  const s: number[] = [];
  tone(s, '1', 120);
  tone(s, '2', 120);
  tone(s, '1', 120);
  assert.equal(detect(s).digits, '121');
});

test('a long press is one digit, and the same key twice with a gap is two', () => {
  const s: number[] = [];
  tone(s, '5', 1000);
  silence(s, 80);
  tone(s, '5', 80);
  const { digits, ended } = detect(s);
  assert.equal(digits, '55');
  assert.ok(ended[0].durationMs >= 980, `held ${ended[0].durationMs}`);
});

test('tones shorter than 40 ms are not keys', () => {
  const s: number[] = [];
  for (const k of '1234') {
    tone(s, k, 20);
    silence(s, 80);
  }
  assert.equal(detect(s).digits, '');
});

test('a quiet key (-35 dBFS) is below the threshold; -25 dBFS is heard', () => {
  const quiet: number[] = [];
  tone(quiet, '8', 200, -35, -35);
  assert.equal(detect(quiet).digits, '');
  const ok: number[] = [];
  tone(ok, '8', 200, -25, -25);
  assert.equal(detect(ok).digits, '8');
});

test('10 dB of twist either way is rejected; 6 dB low-over-high and 3 dB high-over-low are accepted', () => {
  const rowLoud: number[] = [];
  tone(rowLoud, '6', 200, -10, -20);
  assert.equal(detect(rowLoud).digits, '');
  const colLoud: number[] = [];
  tone(colLoud, '6', 200, -20, -10);
  assert.equal(detect(colLoud).digits, '');
  const normal: number[] = [];
  tone(normal, '6', 200, -10, -16);
  assert.equal(detect(normal).digits, '6');
  const reverse: number[] = [];
  tone(reverse, '6', 200, -13, -10);
  assert.equal(detect(reverse).digits, '6');
});

test('a single 1000 Hz tone and a lone row or column tone give no digits', () => {
  for (const f of [1000, 697, 1336]) {
    const s: number[] = [];
    for (let i = 0; i < RATE; i++) s.push(amp(-6) * Math.sin((2 * Math.PI * f * i) / RATE));
    assert.equal(detect(s).digits, '', `${f} Hz`);
  }
});

test('speech-like noise (voiced harmonics with a wandering pitch, plus hiss) gives no digits', () => {
  const rnd = prng(0xd7f);
  const s: number[] = [];
  let phase = 0;
  let lp = 0;
  // 5 s of "syllables": 150-300 ms voiced, pitch 90-250 Hz gliding, harmonics up to 3.4 kHz with a formant-ish tilt.
  while (s.length < RATE * 5) {
    const len = Math.floor(RATE * (0.15 + 0.15 * rnd()));
    const f0a = 90 + 160 * rnd();
    const f0b = 90 + 160 * rnd();
    const formant = 500 + 1500 * rnd();
    const level = amp(-6 - 10 * rnd());
    for (let i = 0; i < len; i++) {
      const f0 = f0a + ((f0b - f0a) * i) / len;
      phase += (2 * Math.PI * f0) / RATE;
      let v = 0;
      for (let h = 1; h * f0 < 3400; h++) {
        const f = h * f0;
        const gain = 1 / (1 + ((f - formant) / 400) ** 2) + 0.15 / h;
        v += gain * Math.sin(h * phase);
      }
      const env = Math.sin((Math.PI * i) / len);
      lp = 0.7 * lp + 0.3 * (rnd() * 2 - 1);
      s.push(level * 0.3 * env * v + amp(-40) * lp);
    }
  }
  assert.equal(detect(s).digits, '');
  // The signal is a real test: with the group-margin and energy-share checks off it does fool the detector.
  assert.notEqual(detect(s, 160, { minEnergyRatio: 0, minGroupMarginDb: 0 }).digits, '');
});

test('a key in moderate noise is still heard', () => {
  const rnd = prng(42);
  const s: number[] = [];
  for (const k of '42') {
    tone(s, k, 100);
    silence(s, 80);
  }
  const noisy = s.map((x) => x + amp(-30) * (rnd() * 2 - 1));
  assert.equal(detect(noisy).digits, '42');
});

test('only 8 kHz is supported', () => {
  assert.throws(() => new InbandDtmfDetector({ sampleRate: 16000 }), RangeError);
});
