import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blendResumed, concealFrame, estimatePitch } from '../../src/media/jitter/plc.js';

const RATE = 8000;
const FRAME = 160; // 20 ms

function sine(freq: number, start: number, n: number, amp = 10000): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * freq * (start + i)) / RATE));
  return out;
}

/** The test's own period finder: lag (20..120) with the highest normalised autocorrelation, shortest on ties. */
function dominantPeriod(x: Int16Array): number {
  let best = 0;
  let bestLag = 0;
  for (let lag = 20; lag <= 120; lag++) {
    let c = 0;
    let e1 = 0;
    let e2 = 0;
    for (let i = lag; i < x.length; i++) {
      c += x[i] * x[i - lag];
      e1 += x[i] * x[i];
      e2 += x[i - lag] * x[i - lag];
    }
    const r = c / Math.sqrt(e1 * e2 || 1);
    if (r > best + 1e-3) {
      best = r;
      bestLag = lag;
    }
  }
  return bestLag;
}

const energy = (x: Int16Array) => x.reduce((s, v) => s + v * v, 0) / x.length;

test('the pitch of a 200 Hz sine is found at 40 samples, not a multiple', () => {
  assert.equal(estimatePitch(sine(200, 0, 480), RATE), 40);
  assert.equal(estimatePitch(sine(125, 0, 480), RATE), 64);
});

test('a concealed frame continues a 200 Hz sine with the same period and phase', () => {
  const history = sine(200, 0, 480);
  const out = new Int16Array(FRAME);
  concealFrame(history, out, 1, RATE);
  assert.equal(dominantPeriod(out), 40);
  // The first 10 ms are at full level and in phase with the true continuation.
  const truth = sine(200, 480, 80);
  for (let i = 0; i < 80; i++) assert.ok(Math.abs(out[i] - truth[i]) <= 2, `sample ${i}: ${out[i]} vs ${truth[i]}`);
});

test('energy fades over consecutive losses and is silent after 60 ms', () => {
  const history = sine(200, 0, 480);
  const frames = [1, 2, 3, 4, 5].map((k) => {
    const out = new Int16Array(FRAME);
    concealFrame(history, out, k, RATE);
    return out;
  });
  const e = frames.map(energy);
  const full = energy(history);
  assert.ok(e[0] > 0.6 * full, `first frame keeps most energy: ${e[0]} of ${full}`);
  assert.ok(e[0] > e[1] && e[1] > e[2], `fading: ${e.join(', ')}`);
  assert.ok(e[2] > 0, 'still audible 40–60 ms in');
  assert.equal(e[3], 0);
  assert.equal(e[4], 0);
  // Frame 2 picks up where frame 1 ended: still the same period.
  assert.equal(dominantPeriod(frames[1]), 40);
});

test('resumed audio fades in from the concealment instead of jumping', () => {
  const history = sine(200, 0, 480);
  const lostFrame = new Int16Array(FRAME);
  concealFrame(history, lostFrame, 1, RATE);
  // The real signal comes back with a different phase (a quarter-period shift, at a peak): a hard cut would click.
  const resumed = sine(200, 480 + FRAME + 10, FRAME);
  const hardJump = Math.abs(resumed[0] - lostFrame[FRAME - 1]);
  const blended = resumed.slice();
  blendResumed(history, blended, 1, RATE);
  const softJump = Math.abs(blended[0] - lostFrame[FRAME - 1]);
  assert.ok(hardJump > 3000, `test premise: a hard cut jumps ${hardJump}`);
  assert.ok(softJump < hardJump / 3, `blended jump ${softJump} vs ${hardJump}`);
  assert.deepEqual(blended.subarray(32), resumed.subarray(32), 'only the first 4 ms are touched');
  // After a long loss the concealment is silent, so the frame simply fades in from zero.
  const late = resumed.slice();
  blendResumed(history, late, 10, RATE);
  assert.ok(Math.abs(late[0]) < Math.abs(resumed[0]) / 10 + 1);
});

test('a history too short to hold a pitch period conceals with silence, not garbage', () => {
  const out = new Int16Array(FRAME).fill(123);
  concealFrame(new Int16Array(10), out, 1, RATE);
  assert.ok(out.every((v) => v === 0));
});
