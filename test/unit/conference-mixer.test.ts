/**
 * Conference mixing as participants hear it: everyone but themselves, at
 * the best common rate, muting, silence for a missing frame, no click when
 * someone joins or leaves, clipping only at the end, talking detection.
 * Audio is checked by tone (Goertzel) on what each participant is given.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goertzel } from '../../src/media/dsp/goertzel.js';
import { measureTone } from '../../src/media/dsp/tone-detect.js';
import { powerToDbfs } from '../../src/media/dsp/level.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { ConferenceMixer, MixerError } from '../../src/media/mixer/index.js';
import { CONFERENCE_JOIN, openSource } from '../../src/media/players/index.js';
import { concatFrames } from '../helpers/media.js';

interface Party {
  id: string;
  rate: number;
  gen?: ToneGenerator;
  heard: Int16Array[];
}

function party(id: string, rate: number, hz?: number, levelDbfs = -20): Party {
  return { id, rate, gen: hz === undefined ? undefined : new ToneGenerator({ freqs: [hz], levelDbfs }, rate), heard: [] };
}

/** `ticks` rounds of: everyone with a tone pushes a frame, tick, everyone's frame is kept. */
function run(mixer: ConferenceMixer, parties: Party[], ticks: number): void {
  for (let t = 0; t < ticks; t++) {
    for (const p of parties) {
      if (!p.gen || !mixer.has(p.id)) continue;
      const f = new Int16Array(p.rate / 50);
      p.gen.fill(f);
      mixer.push(p.id, f);
    }
    mixer.tick();
    for (const p of parties) if (mixer.has(p.id)) p.heard.push(mixer.mixFor(p.id).slice());
  }
}

/** Level (dBFS) of `hz` in what `p` heard, skipping the first `skip` frames (fades, resampler delay). */
function heardDb(p: Party, hz: number, skip = 3, upTo = p.heard.length): number {
  return powerToDbfs(goertzel(concatFrames(p.heard.slice(skip, upTo)), p.rate, hz));
}

test('three participants each hear the other two and never themselves', () => {
  const mixer = new ConferenceMixer();
  const tones = { a: 440, b: 700, c: 1100 };
  const parties = Object.entries(tones).map(([id, hz]) => party(id, 8000, hz));
  for (const p of parties) mixer.add(p.id, p.rate);
  assert.equal(mixer.rate, 8000);
  run(mixer, parties, 50);
  for (const p of parties) {
    assert.equal(p.heard.length, 50);
    assert.ok(p.heard.every((f) => f.length === 160));
    for (const [id, hz] of Object.entries(tones)) {
      const db = heardDb(p, hz);
      if (id === p.id) assert.ok(db < -70, `${p.id} hears its own ${hz} Hz at ${db.toFixed(1)} dBFS`);
      else assert.ok(Math.abs(db - -20) < 0.5, `${p.id} hears ${id}'s ${hz} Hz at ${db.toFixed(1)} dBFS`);
    }
  }
});

test('a wideband trio mixes at 16 kHz (a 5 kHz tone survives); an 8 kHz member drops the room to 8 kHz, leaving brings it back', () => {
  const mixer = new ConferenceMixer();
  const rates: number[] = [];
  mixer.on('rate', (r) => rates.push(r));
  const a = party('a', 16000, 5000);
  const b = party('b', 16000, 1000);
  const c = party('c', 48000, 2000);
  for (const p of [a, b, c]) mixer.add(p.id, p.rate);
  assert.equal(mixer.rate, 16000);
  run(mixer, [a, b, c], 25);
  assert.ok(Math.abs(heardDb(b, 5000) - -20) < 1, `b hears a's 5 kHz at ${heardDb(b, 5000).toFixed(1)} dBFS`);
  assert.ok(Math.abs(heardDb(c, 5000) - -20) < 1, `c (48 kHz Opus) hears a's 5 kHz at ${heardDb(c, 5000).toFixed(1)}`);
  assert.ok(c.heard.every((f) => f.length === 960));

  const d = party('d', 8000, 600);
  mixer.add(d.id, d.rate);
  assert.equal(mixer.rate, 8000);
  assert.deepEqual(rates, [16000, 8000]);
  const before = b.heard.length;
  run(mixer, [a, b, c, d], 25);
  const db5k = powerToDbfs(goertzel(concatFrames(b.heard.slice(before + 3)), 16000, 5000));
  const db2k = powerToDbfs(goertzel(concatFrames(b.heard.slice(before + 3)), 16000, 2000));
  assert.ok(db5k < -50, `at 8 kHz the 5 kHz tone is gone: ${db5k.toFixed(1)} dBFS`);
  assert.ok(Math.abs(db2k - -20) < 1, `c's 2 kHz still heard: ${db2k.toFixed(1)}`);
  assert.ok(Math.abs(heardDb(d, 1000) - -20) < 1 && Math.abs(heardDb(d, 2000) - -20) < 1, 'the narrowband member hears the others');

  mixer.remove('d');
  assert.equal(mixer.rate, 16000);
  const back = b.heard.length;
  run(mixer, [a, b, c], 25);
  assert.ok(Math.abs(powerToDbfs(goertzel(concatFrames(b.heard.slice(back + 3)), 16000, 5000)) - -20) < 1, 'wideband again');
});

test('mute: nobody hears the muted participant, who still hears everyone', () => {
  const mixer = new ConferenceMixer();
  const parties = [party('a', 8000, 440), party('b', 8000, 700), party('c', 16000, 1100)];
  for (const p of parties) mixer.add(p.id, p.rate);
  run(mixer, parties, 10);
  mixer.mute('a', true);
  assert.equal(mixer.isMuted('a'), true);
  const from = parties.map((p) => p.heard.length);
  run(mixer, parties, 25);
  const [a, b, c] = parties;
  assert.ok(heardDb(b, 440, from[1] + 2) < -70 && heardDb(c, 440, from[2] + 2) < -70, 'a is not heard');
  assert.ok(Math.abs(heardDb(a, 700, from[0] + 2) - -20) < 0.5 && Math.abs(heardDb(a, 1100, from[0] + 2) - -20) < 0.5, 'a hears b and c');
  mixer.mute('a', false);
  const again = b.heard.length;
  run(mixer, parties, 25);
  assert.ok(Math.abs(heardDb(b, 440, again + 2) - -20) < 0.5, 'unmuted, heard again');
});

test('a participant with no frame this tick is silence; frames in a burst are spread over the ticks', () => {
  const mixer = new ConferenceMixer();
  mixer.add('a', 8000);
  mixer.add('b', 8000);
  const f = new Int16Array(160).fill(1000);
  mixer.push('a', f);
  mixer.push('a', f);
  mixer.tick();
  assert.ok(mixer.mixFor('b').subarray(40).every((s) => s === 1000), 'first frame (after the fade-in)');
  mixer.tick();
  assert.ok(mixer.mixFor('b').every((s) => s === 1000), 'the second frame of the burst, one tick later');
  mixer.tick();
  assert.ok(mixer.mixFor('b').subarray(40).every((s) => s === 0), 'nothing queued: silence');
  assert.equal(mixer.participants().find((p) => p.id === 'a')?.missed, 1);
  assert.ok(mixer.mixFor('a').every((s) => s === 0), 'b sent nothing at all');

  // More than three frames queued: the oldest go, so the delay stays at most 60 ms.
  for (let i = 0; i < 5; i++) mixer.push('a', new Int16Array(160).fill(i * 100));
  assert.equal(mixer.participants().find((p) => p.id === 'a')?.dropped, 2);
  mixer.tick();
  assert.equal(mixer.mixFor('b')[100], 200);
  assert.equal(mixer.push('nobody', f), false, 'a frame that raced a hang-up is ignored');
});

test('joining, leaving and muting do not click: the waveform never jumps', () => {
  // A 200 Hz cosine, starting and ending every 20 ms frame near its peak: a hard cut would step by ~A.
  const A = 12000;
  const cosFrame = (t: number) => Int16Array.from({ length: 160 }, (_, i) => Math.round(A * Math.cos((2 * Math.PI * 200 * (t * 160 + i)) / 8000)));
  const maxStep = (x: Int16Array) => {
    let m = 0;
    for (let i = 1; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - x[i - 1]));
    return m;
  };
  const natural = 2 * A * Math.sin((Math.PI * 200) / 8000); // steepest step of the tone itself
  const mixer = new ConferenceMixer();
  mixer.add('listener', 8000);
  mixer.add('listener16', 16000);
  const heard: Int16Array[] = [];
  const heard16: Int16Array[] = [];
  let t = 0;
  const tick = (push: boolean) => {
    if (push) mixer.push('talker', cosFrame(t));
    t++;
    mixer.tick();
    heard.push(mixer.mixFor('listener').slice());
    heard16.push(mixer.mixFor('listener16').slice());
  };
  tick(false);
  mixer.add('talker', 8000);
  for (let i = 0; i < 5; i++) tick(true);
  mixer.mute('talker', true);
  for (let i = 0; i < 3; i++) tick(true);
  mixer.mute('talker', false);
  for (let i = 0; i < 5; i++) tick(true);
  tick(false); // a lost frame
  for (let i = 0; i < 5; i++) tick(true);
  mixer.remove('talker');
  for (let i = 0; i < 3; i++) tick(false);

  const all = concatFrames(heard);
  assert.ok(Math.max(...all) > A * 0.95, 'the tone was heard at full level');
  assert.ok(maxStep(all) <= natural * 1.2, `largest step ${maxStep(all)}, the tone's own ${natural.toFixed(0)}`);
  const all16 = concatFrames(heard16);
  assert.ok(maxStep(all16) <= (natural / 2) * 1.3, `at 16 kHz: largest step ${maxStep(all16)}`);
  assert.ok(heard.at(-1)!.every((s) => s === 0) && heard16.at(-1)!.every((s) => s === 0), 'silent once the talker has gone');
});

test('sums clip once, on what is heard, never wrap around', () => {
  const mixer = new ConferenceMixer();
  for (const id of ['a', 'b', 'c', 'd']) mixer.add(id, 8000);
  for (let t = 0; t < 2; t++) {
    mixer.push('a', new Int16Array(160).fill(30000));
    mixer.push('b', new Int16Array(160).fill(30000));
    mixer.push('c', new Int16Array(160).fill(-20000));
    mixer.tick();
  }
  // d hears 30000 + 30000 - 20000 = 40000 → 32767; a hears 30000 - 20000 = 10000 exactly (not a clipped sum minus a).
  assert.ok(mixer.mixFor('d').every((s) => s === 32767));
  assert.ok(mixer.mixFor('a').every((s) => s === 10000));
  assert.ok(mixer.mixFor('c').every((s) => s === 32767));
  assert.ok(mixer.roomMix().every((s) => s === 32767));
});

test('talking: reported when someone starts, and after the hangover when they stop', () => {
  const mixer = new ConferenceMixer({ talkHangoverMs: 100 });
  const events: string[] = [];
  mixer.on('talking', (id, on) => events.push(`${id}:${on}`));
  const a = party('a', 8000, 500, -25);
  mixer.add('a', 8000);
  mixer.add('b', 8000);
  run(mixer, [a, party('b', 8000)], 3);
  assert.deepEqual(events, ['a:true']);
  assert.equal(mixer.talking('a'), true);
  a.gen = undefined;
  run(mixer, [a], 5);
  assert.deepEqual(events, ['a:true'], 'still talking within the 100 ms hangover');
  run(mixer, [a], 2);
  assert.deepEqual(events, ['a:true', 'a:false']);
  // A quiet line is not talking.
  const quiet = party('b', 8000, 500, -50);
  run(mixer, [quiet], 10);
  assert.deepEqual(events, ['a:true', 'a:false']);
  assert.equal(mixer.participants().find((p) => p.id === 'b')!.talking, false);
});

test('a join tone plays to everyone but the one joining; rooms refuse duplicates and rates they cannot mix', () => {
  const mixer = new ConferenceMixer();
  mixer.add('a', 8000);
  mixer.add('b', 16000);
  mixer.add('c', 8000);
  mixer.play(CONFERENCE_JOIN, { except: 'c' });
  const a: Int16Array[] = [];
  const b: Int16Array[] = [];
  const c: Int16Array[] = [];
  for (let t = 0; t < 20; t++) {
    mixer.tick();
    a.push(mixer.mixFor('a').slice());
    b.push(mixer.mixFor('b').slice());
    c.push(mixer.mixFor('c').slice());
  }
  const joinDb = (frames: Int16Array[], rate: number) => powerToDbfs(goertzel(concatFrames(frames.slice(0, 6)), rate, 440));
  assert.ok(joinDb(a, 8000) > -25 && joinDb(b, 16000) > -25, `a and b hear it: ${joinDb(a, 8000).toFixed(1)}, ${joinDb(b, 16000).toFixed(1)}`);
  assert.ok(concatFrames(c).every((s) => s === 0), 'the joiner does not');
  assert.ok(a.slice(-3).every((f) => f.every((s) => s === 0)), 'and it ends');

  assert.throws(() => mixer.add('a', 8000), MixerError);
  assert.throws(() => mixer.add('x', 44100), RangeError);
  assert.throws(() => mixer.add('y', 8001), /whole 20 ms frames/);
  assert.throws(() => mixer.mixFor('nobody'), /no participant nobody/);
});

test('line noise below the gate is not mixed (forty idle phones do not add up); quiet speech above it is', () => {
  const noise = (level: number, seed: number) => {
    let s = seed;
    const amp = Math.round(32768 * Math.pow(10, level / 20) * Math.sqrt(3));
    return () => Int16Array.from({ length: 160 }, () => {
      s = (s * 1103515245 + 12345) >>> 0;
      return Math.round(((s / 2 ** 32) * 2 - 1) * amp);
    });
  };
  for (const gateDbfs of [-50, -Infinity]) {
    const mixer = new ConferenceMixer({ gateDbfs });
    mixer.add('listener', 8000);
    const lines = Array.from({ length: 40 }, (_, i) => noise(-60, i + 1));
    lines.forEach((_, i) => mixer.add(`idle${i}`, 8000));
    const speaker = party('speaker', 8000, 900, -45);
    mixer.add('speaker', 8000);
    const heard: Int16Array[] = [];
    for (let t = 0; t < 30; t++) {
      lines.forEach((line, i) => mixer.push(`idle${i}`, line()));
      const f = new Int16Array(160);
      speaker.gen!.fill(f);
      mixer.push('speaker', f);
      mixer.tick();
      heard.push(mixer.mixFor('listener').slice());
    }
    const m = measureTone(concatFrames(heard.slice(3)), 8000, 900);
    assert.ok(Math.abs(m.toneDbfs - -45) < 0.5, `gate ${gateDbfs}: the -45 dBFS speaker heard at ${m.toneDbfs.toFixed(1)}`);
    // Forty lines at -60 dBFS add up to -44 dBFS of noise, louder than the speaker.
    if (gateDbfs === -50) assert.ok(m.ratio > 0.999, `gated: nothing but the speaker (${m.ratio})`);
    else assert.ok(m.ratio < 0.6 && m.levelDbfs > -43, `ungated: the noise adds up (${m.levelDbfs.toFixed(1)} dBFS in all)`);
  }
});

test('a resampled listener who starts and stops talking hears the room without a seam', () => {
  // Mixed at 16 kHz; the Opus listener hears the shared mix while quiet and a mix of its own
  // (without itself) while talking: the switches must not show in the tone it hears.
  const mixer = new ConferenceMixer();
  mixer.add('talker', 16000);
  mixer.add('opus', 48000);
  const tone = new ToneGenerator({ freqs: [310], levelDbfs: -10 }, 16000);
  const own = new ToneGenerator({ freqs: [3000], levelDbfs: -20 }, 48000);
  const heard: Int16Array[] = [];
  for (let t = 0; t < 200; t++) {
    const f = new Int16Array(320);
    tone.fill(f);
    mixer.push('talker', f);
    // Talks in bursts of 0.4 s, with 1 s pauses (longer than the gate's hangover).
    if (t % 70 >= 25 && t % 70 < 45) {
      const g = new Int16Array(960);
      own.fill(g);
      mixer.push('opus', g);
    }
    mixer.tick();
    heard.push(mixer.mixFor('opus').slice());
  }
  const all = concatFrames(heard.slice(3));
  let A = 0;
  for (const v of all) A = Math.max(A, v);
  let step = 0;
  for (let i = 1; i < all.length; i++) step = Math.max(step, Math.abs(all[i] - all[i - 1]));
  const natural = 2 * A * Math.sin((Math.PI * 310) / 48000);
  assert.ok(step <= natural * 1.1, `largest step ${step}, the tone's own ${natural.toFixed(0)}`);
  assert.ok(powerToDbfs(goertzel(all, 48000, 3000)) < -70, 'never itself');
});

test('sourceFor: a participant\'s mix as a call\'s audio source, at its ptime, ending when they leave', () => {
  const mixer = new ConferenceMixer();
  mixer.add('a', 8000);
  mixer.add('b', 8000);
  const src = openSource(mixer.sourceFor('b'), 8000, 240); // 30 ms ptime
  assert.equal(src.read(), undefined, 'nothing mixed yet: nothing to send');
  const gen = new ToneGenerator({ freqs: [500], levelDbfs: -20 }, 8000);
  const heard: Int16Array[] = [];
  for (let t = 0; t < 30; t++) {
    const f = new Int16Array(160);
    gen.fill(f);
    mixer.push('a', f);
    mixer.tick();
    // The call reads every 30 ms: twice every three ticks.
    if (t % 3 !== 0) {
      const got = src.read();
      assert.ok(got && got.length === 240, `read after tick ${t}`);
      heard.push(got.slice());
    }
  }
  assert.equal(heard.length, 20);
  assert.ok(Math.abs(powerToDbfs(goertzel(concatFrames(heard.slice(1)), 8000, 500)) - -20) < 0.5, 'b hears a');
  assert.throws(() => openSource(mixer.sourceFor('b'), 16000, 320), /added at 8000 Hz, not 16000 Hz/);
  mixer.remove('b');
  assert.equal(src.ended, true);
  assert.equal(src.read(), undefined);
});
