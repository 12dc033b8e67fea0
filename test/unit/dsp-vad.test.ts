import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { EnergyVad } from '../../src/media/dsp/vad.js';
import { xorshift32 as prng } from '../helpers/prng.js';

/** Per-frame decisions for `samples` cut into frames of `frame` samples. */
function decisions(vad: EnergyVad, samples: Int16Array, frame: number): boolean[] {
  const out: boolean[] = [];
  for (let off = 0; off + frame <= samples.length; off += frame) out.push(vad.process(samples.subarray(off, off + frame)));
  return out;
}

/** 0.5 s silence, 0.3 s of a -20 dBFS "voice" (a tone), then 1 s silence, at 8 kHz. */
function talkspurt(): Int16Array {
  const s = new Int16Array(8000 * 1.8);
  new ToneGenerator({ freqs: [300, 700], levelDbfs: -23 }, 8000).fill(s.subarray(4000, 6400));
  return s;
}

test('speech starts at once and lasts for the hangover (200 ms) after the last loud frame', () => {
  const d = decisions(new EnergyVad({ sampleRate: 8000 }), talkspurt(), 160);
  // 25 silent frames, 15 loud frames, 10 hangover frames, then silence.
  const expected = [...Array(25).fill(false), ...Array(15).fill(true), ...Array(10).fill(true), ...Array(40).fill(false)];
  assert.deepEqual(d, expected);
});

test('hangover is time, not frames: 10 ms frames give 20 hangover frames', () => {
  const d = decisions(new EnergyVad({ sampleRate: 8000, hangoverMs: 200 }), talkspurt(), 80);
  assert.equal(d.indexOf(true), 50);
  assert.equal(d.lastIndexOf(true), 50 + 30 + 20 - 1);
  const none = decisions(new EnergyVad({ sampleRate: 8000, hangoverMs: 0 }), talkspurt(), 80);
  assert.equal(none.lastIndexOf(true), 50 + 30 - 1);
});

test('silence and background noise below the threshold are not speech', () => {
  const r = prng(99);
  const hiss = Int16Array.from({ length: 8000 }, () => Math.round((r() * 2 - 1) * 30)); // about -64 dBFS
  const vad = new EnergyVad({ sampleRate: 8000 });
  assert.ok(decisions(vad, new Int16Array(8000), 160).every((x) => !x));
  assert.ok(decisions(vad, hiss, 160).every((x) => !x));
  assert.equal(vad.active, false);

  // The same hiss is speech to a VAD set far more sensitive.
  assert.ok(decisions(new EnergyVad({ sampleRate: 8000, thresholdDbfs: -70 }), hiss, 160).every((x) => x));
});

test('reset forgets a talkspurt in progress', () => {
  const vad = new EnergyVad({ sampleRate: 8000 });
  const loud = new Int16Array(160);
  new ToneGenerator({ freqs: [500], levelDbfs: -10 }, 8000).fill(loud);
  assert.equal(vad.process(loud), true);
  vad.reset();
  assert.equal(vad.active, false);
  assert.equal(vad.process(new Int16Array(160)), false);
});
