import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goertzel } from '../../src/media/dsp/goertzel.js';
import { levelDbfs } from '../../src/media/dsp/level.js';
import { CALL_PROGRESS_TONES, ToneGenerator, type ToneSpec } from '../../src/media/dsp/tone.js';

test('a full-scale sine measures -3.01 dBFS; levels of generated tones read back', () => {
  const sine = Int16Array.from({ length: 8000 }, (_, i) => Math.round(32767 * Math.sin((2 * Math.PI * 1000 * i) / 8000 + 0.1)));
  assert.ok(Math.abs(levelDbfs(sine) - -3.01) < 0.01, `${levelDbfs(sine)}`);
  assert.equal(levelDbfs(new Int16Array(160)), -Infinity);

  for (const rate of [8000, 16000, 48000]) {
    for (const level of [-3.0103, -20, -45]) {
      const out = new Int16Array(rate);
      new ToneGenerator({ freqs: [1000], levelDbfs: level }, rate).fill(out);
      assert.ok(Math.abs(levelDbfs(out) - level) < 0.02, `${rate} Hz at ${level}: ${levelDbfs(out)}`);
      assert.ok(Math.abs(10 * Math.log10(goertzel(out, rate, 1000)) - level) < 0.02);
    }
  }
  // Two tones at -20 dBFS each: about -17 dBFS together, and each one is at -20.
  const dual = new Int16Array(8000);
  new ToneGenerator({ freqs: [350, 440], levelDbfs: -20 }, 8000).fill(dual);
  assert.ok(Math.abs(levelDbfs(dual) - -16.99) < 0.05, `${levelDbfs(dual)}`);
  assert.ok(Math.abs(10 * Math.log10(goertzel(dual, 8000, 350)) - -20) < 0.1);
  assert.ok(Math.abs(10 * Math.log10(goertzel(dual, 8000, 440)) - -20) < 0.1);
});

test('phase is continuous across frames: any slicing gives the same samples', () => {
  const spec: ToneSpec = { freqs: [440, 480], levelDbfs: -10, cadenceMs: [2000, 4000] };
  const whole = new Int16Array(8000 * 7);
  new ToneGenerator(spec, 8000).fill(whole);

  for (const chunk of [160, 37, 1]) {
    const gen = new ToneGenerator(spec, 8000);
    const sliced = new Int16Array(whole.length);
    const frame = new Int16Array(chunk);
    for (let off = 0; off < sliced.length; off += chunk) {
      gen.fill(frame);
      sliced.set(frame.subarray(0, Math.min(chunk, sliced.length - off)), off);
    }
    assert.deepEqual(sliced, whole, `chunks of ${chunk}`);
  }
  // No jump anywhere inside a burst is larger than the sines' own slope allows.
  const amp = 32768 * Math.SQRT2 * Math.pow(10, -10 / 20);
  const maxStep = amp * 2 * Math.PI * (440 + 480) / 8000 + 2;
  for (let i = 1; i < 16000; i++) assert.ok(Math.abs(whole[i] - whole[i - 1]) <= maxStep, `jump at ${i}`);
});

/** On/off run lengths in ms, judged per 5 ms block (cadence edges fall on block edges). */
function cadenceRuns(samples: Int16Array, rate: number): Array<[boolean, number]> {
  const block = (5 * rate) / 1000;
  const runs: Array<[boolean, number]> = [];
  for (let b = 0; b + block <= samples.length; b += block) {
    const on = samples.subarray(b, b + block).some((s) => s !== 0);
    const last = runs[runs.length - 1];
    if (last && last[0] === on) last[1] += 5;
    else runs.push([on, 5]);
  }
  return runs;
}

test('call-progress cadences have the right on/off lengths at 8, 16 and 48 kHz', () => {
  const cases: Array<[string, ToneSpec, number[]]> = [
    ['US ringback', CALL_PROGRESS_TONES.us.ringback, [2000, 4000]],
    ['EU ringback', CALL_PROGRESS_TONES.eu.ringback, [1000, 4000]],
    ['US busy', CALL_PROGRESS_TONES.us.busy, [500, 500]],
    ['UK ringback', CALL_PROGRESS_TONES.uk.ringback, [400, 200, 400, 2000]],
  ];
  for (const rate of [8000, 16000, 48000]) {
    for (const [name, spec, cadence] of cases) {
      const cycle = cadence.reduce((a, b) => a + b, 0);
      const out = new Int16Array((rate * 2 * cycle) / 1000); // two whole cycles
      new ToneGenerator(spec, rate).fill(out);
      const runs = cadenceRuns(out, rate);
      const expected = [...cadence, ...cadence].map((ms, i): [boolean, number] => [i % 2 === 0, ms]);
      assert.deepEqual(runs, expected, `${name} at ${rate} Hz`);
    }
  }
  assert.deepEqual(CALL_PROGRESS_TONES.us.ringback.freqs, [440, 480]);
  assert.deepEqual(CALL_PROGRESS_TONES.us.busy.freqs, [480, 620]);
  assert.deepEqual(CALL_PROGRESS_TONES.eu.ringback.freqs, [425]);
});

test('ringback bursts carry both 440 and 480 Hz; a steady tone never pauses', () => {
  const burst = new Int16Array(16000);
  new ToneGenerator(CALL_PROGRESS_TONES.us.ringback, 8000).fill(burst);
  const level = CALL_PROGRESS_TONES.us.ringback.levelDbfs;
  for (const f of [440, 480]) assert.ok(Math.abs(10 * Math.log10(goertzel(burst, 8000, f)) - level) < 0.1);

  const dial = new Int16Array(8000 * 30);
  new ToneGenerator(CALL_PROGRESS_TONES.us.dial, 8000).fill(dial);
  assert.deepEqual(cadenceRuns(dial, 8000), [[true, 30000]]);
});

test('bad tone specs are refused', () => {
  assert.throws(() => new ToneGenerator({ freqs: [5000], levelDbfs: -10 }, 8000), /outside/);
  assert.throws(() => new ToneGenerator({ freqs: [400], levelDbfs: -10, cadenceMs: [0, 0] }, 8000), /cadence/);
  assert.throws(() => new ToneGenerator({ freqs: [400], levelDbfs: -10, cadenceMs: [400, 200, 400] }, 8000), /on\/off pairs/);
  assert.throws(() => new ToneGenerator({ freqs: [400], levelDbfs: -10 }, 0), RangeError);
});
