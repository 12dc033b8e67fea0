import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JitterBuffer, type JitterBufferOptions } from '../../src/media/jitter/jitter-buffer.js';
import { mulberry32 as prng } from '../helpers/prng.js';

const FRAME_MS = 20;
const OPTS: JitterBufferOptions = { clockRate: 8000, frameSamples: 160 };

interface Pkt {
  seq: number;
  ts: number;
  at: number;
  marker?: boolean;
}

interface Played {
  kind: 'frame' | 'missing' | 'waiting';
  seq: number;
  lost: boolean;
  at: number;
  /** For frames: the sequence number written into the payload, to prove the right bytes came out. */
  payloadSeq: number;
}

/** `count` packets of one stream, starting at seq `seq0` and RTP timestamp `ts0`. */
function stream(count: number, arrival: (i: number) => number, seq0 = 1000, ts0 = 123456): Pkt[] {
  const out: Pkt[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ seq: (seq0 + i) & 0xffff, ts: (ts0 + i * 160) >>> 0, at: arrival(i) });
  }
  return out;
}

/**
 * Virtual time: packets are put when their arrival time comes, the player
 * calls `get` every 20 ms from 0 until `endMs`. Results are copied (the
 * buffer reuses its result objects).
 */
function simulate(jb: JitterBuffer, packets: Pkt[], endMs: number): Played[] {
  const sorted = [...packets].sort((a, b) => a.at - b.at);
  const played: Played[] = [];
  let next = 0;
  for (let t = 0; t <= endMs; t += FRAME_MS) {
    while (next < sorted.length && sorted[next].at <= t) {
      const p = sorted[next++];
      jb.put(p.seq, p.ts, Uint8Array.of(p.seq >> 8, p.seq & 0xff), p.at, p.marker ?? false);
    }
    const r = jb.get(t);
    played.push({
      kind: r.kind,
      seq: r.kind === 'waiting' ? -1 : r.seq,
      lost: r.kind === 'missing' && r.lost,
      at: t,
      payloadSeq: r.kind === 'frame' ? (r.payload[0] << 8) | r.payload[1] : -1,
    });
  }
  return played;
}

const frames = (p: Played[]) => p.filter((x) => x.kind === 'frame');

test('an in-order stream plays every frame, in order, about the initial delay after arrival', () => {
  const jb = new JitterBuffer(OPTS);
  const pkts = stream(200, (i) => 5 + i * FRAME_MS);
  const played = simulate(jb, pkts, 200 * FRAME_MS + 200);
  const f = frames(played);
  assert.deepEqual(f.map((x) => x.seq), pkts.map((p) => p.seq));
  assert.deepEqual(f.map((x) => x.payloadSeq), pkts.map((p) => p.seq));
  for (const [i, x] of f.entries()) {
    const delay = x.at - pkts[i].at;
    assert.ok(Math.abs(delay - 60) <= FRAME_MS / 2, `frame ${i} waited ${delay} ms`);
  }
  // Nothing concealed while the stream runs: the only misses are after its end.
  const lastFrameAt = f[f.length - 1].at;
  assert.equal(played.filter((x) => x.kind === 'missing' && x.at < lastFrameAt).length, 0);
  const s = jb.stats();
  assert.equal(s.received, 200);
  assert.equal(s.lost + s.late + s.duplicates + s.overflow + s.driftAdjust, 0);
  assert.ok(Math.abs(s.currentDelayMs - 60) <= FRAME_MS / 2, `currentDelayMs ${s.currentDelayMs}`);
  assert.equal(played[0].kind, 'waiting', 'nothing plays before the buffer has filled');
});

test('pairs arriving swapped are still played in order with nothing lost', () => {
  const jb = new JitterBuffer(OPTS);
  const pkts = stream(300, (i) => 3 + (i % 2 === 0 ? i + 1 : i - 1) * FRAME_MS);
  const played = simulate(jb, pkts, 300 * FRAME_MS + 200);
  const f = frames(played);
  assert.deepEqual(f.map((x) => x.seq), pkts.map((p) => p.seq));
  const lastFrameAt = f[f.length - 1].at;
  assert.equal(played.filter((x) => x.kind === 'missing' && x.at < lastFrameAt).length, 0, 'nothing concealed');
  const s = jb.stats();
  assert.equal(s.lost, 0);
  assert.equal(s.late, 0);
});

test('duplicates, fresh or long after play-out, are dropped and counted', () => {
  const jb = new JitterBuffer(OPTS);
  const pkts = stream(100, (i) => 5 + i * FRAME_MS);
  const dups: Pkt[] = [];
  for (let i = 0; i < 100; i += 7) dups.push({ ...pkts[i], at: pkts[i].at + 3 });
  // Two copies of already played packets, half a second late.
  dups.push({ ...pkts[10], at: pkts[10].at + 500 }, { ...pkts[11], at: pkts[11].at + 500 });
  const f = frames(simulate(jb, [...pkts, ...dups], 100 * FRAME_MS + 200));
  assert.deepEqual(f.map((x) => x.seq), pkts.map((p) => p.seq), 'each frame played once');
  const s = jb.stats();
  assert.equal(s.duplicates, dups.length);
  assert.equal(s.received, pkts.length + dups.length);
  assert.equal(s.late, 0);
});

test('5 % random loss: exactly the lost sequence numbers come out as missing', () => {
  const rand = prng(5);
  const all = stream(3000, (i) => 7 + i * FRAME_MS);
  const lostSeqs = new Set<number>();
  const sent = all.filter((p, i) => {
    const drop = i > 0 && i < all.length - 5 && rand() < 0.05;
    if (drop) lostSeqs.add(p.seq);
    return !drop;
  });
  assert.ok(lostSeqs.size > 100, `${lostSeqs.size} lost`);
  const jb = new JitterBuffer(OPTS);
  const played = simulate(jb, sent, 3000 * FRAME_MS + 200);
  const f = frames(played);
  const lastFrameAt = f[f.length - 1].at;
  // A burst of losses can underrun the buffer first (concealed as lost: false): count each seq once.
  const missing = new Set(played.filter((x) => x.kind === 'missing' && x.at < lastFrameAt).map((x) => x.seq));
  assert.deepEqual([...missing].sort((a, b) => a - b), [...lostSeqs].sort((a, b) => a - b));
  // Every packet that came plays, in order, except the few dropped to shed delay the clean link no longer needs.
  const s = jb.stats();
  const playedSeqs = new Set(f.map((x) => x.seq));
  const notPlayed = sent.filter((p) => !playedSeqs.has(p.seq)).length;
  assert.ok(notPlayed <= s.driftAdjust && notPlayed <= 3, `${notPlayed} received packets never played`);
  assert.ok(f.every((x, i) => i === 0 || x.seq > f[i - 1].seq), 'in order');
  assert.equal(s.lost, lostSeqs.size);
  assert.equal(s.late, 0);
  assert.ok(s.concealed >= lostSeqs.size);
});

test('30 ms of random jitter raises the target from 20 to above 30 ms, keeps late packets under 1 %, and calm shrinks it again', () => {
  const rand = prng(30);
  const jittery = 3000;
  const calm = 2000;
  const pkts = stream(jittery + calm, (i) => 11 + i * FRAME_MS + (i < jittery ? rand() * 30 : 0));
  // Start at the floor, so the target has to learn the jitter.
  const jb = new JitterBuffer({ ...OPTS, initialDelayMs: 20 });
  const sorted = [...pkts].sort((a, b) => a.at - b.at);
  let next = 0;
  let targetAfterJitter = 0;
  let delayAfterJitter = 0;
  let lateDuringJitter = 0;
  const end = (jittery + calm) * FRAME_MS + 200;
  for (let t = 0; t <= end; t += FRAME_MS) {
    while (next < sorted.length && sorted[next].at <= t) {
      const p = sorted[next++];
      jb.put(p.seq, p.ts, Uint8Array.of(1), p.at);
    }
    jb.get(t);
    if (t === jittery * FRAME_MS) {
      ({ targetDelayMs: targetAfterJitter, currentDelayMs: delayAfterJitter, late: lateDuringJitter } = jb.stats());
    }
  }
  assert.ok(targetAfterJitter > 30, `target after jitter ${targetAfterJitter}`);
  assert.ok(delayAfterJitter > 30, `delay after jitter ${delayAfterJitter}`);
  assert.ok(lateDuringJitter < jittery * 0.01, `${lateDuringJitter} late of ${jittery}`);
  const s = jb.stats();
  assert.ok(s.targetDelayMs < targetAfterJitter - 15, `target ${targetAfterJitter} -> ${s.targetDelayMs}`);
  assert.ok(s.currentDelayMs < delayAfterJitter - 10, `delay ${delayAfterJitter} -> ${s.currentDelayMs}`);
  assert.ok(s.targetDelayMs >= 20, 'never below minDelayMs');
});

test('a delay spike raises the target at once', () => {
  const pkts = stream(200, (i) => 5 + i * FRAME_MS + (i >= 100 && i < 110 ? 80 : 0));
  const jb = new JitterBuffer(OPTS);
  simulate(jb, pkts.slice(0, 100), 99 * FRAME_MS);
  const before = jb.stats().targetDelayMs;
  const spike = pkts[100];
  jb.put(spike.seq, spike.ts, Uint8Array.of(1), spike.at);
  assert.ok(before < 60);
  assert.ok(jb.stats().targetDelayMs >= 80, `target ${jb.stats().targetDelayMs} after an 80 ms spike`);
});

test('sequence numbers and timestamps wrapping (65535 -> 0, 2^32 -> 0) change nothing', () => {
  const jb = new JitterBuffer(OPTS);
  const pkts = stream(100, (i) => 5 + i * FRAME_MS, 65500, 2 ** 32 - 160 * 40);
  // 65535 is held up and arrives after 0.
  const a = pkts.findIndex((p) => p.seq === 65535);
  pkts[a].at += 25;
  const f = frames(simulate(jb, pkts, 100 * FRAME_MS + 200));
  assert.deepEqual(f.map((x) => x.seq), pkts.map((p) => p.seq));
  assert.ok(f.some((x) => x.seq === 0) && f.some((x) => x.seq === 65535));
  const s = jb.stats();
  assert.equal(s.lost + s.late + s.driftAdjust, 0);
});

for (const [name, rate] of [['fast', 1.005], ['slow', 1 / 1.005]] as const) {
  test(`a sender clock 0.5 % ${name} for 60 s: the delay stays bounded through drift adjustments`, () => {
    // The sender stamps 20 ms of audio every 20/rate ms of our time.
    const count = Math.floor((60_000 * rate) / FRAME_MS);
    const pkts = stream(count, (i) => 5 + (i * FRAME_MS) / rate);
    const jb = new JitterBuffer(OPTS);
    const sorted = [...pkts].sort((x, y) => x.at - y.at);
    let next = 0;
    let maxDelay = 0;
    let minDelay = Infinity;
    for (let t = 0; t <= 60_000; t += FRAME_MS) {
      while (next < sorted.length && sorted[next].at <= t) {
        const p = sorted[next++];
        jb.put(p.seq, p.ts, Uint8Array.of(1), p.at);
      }
      if (jb.get(t).kind === 'frame' && t > 1000) {
        maxDelay = Math.max(maxDelay, jb.stats().currentDelayMs);
        minDelay = Math.min(minDelay, jb.stats().currentDelayMs);
      }
    }
    const s = jb.stats();
    // 0.5 % of 3000 frames is 15 frames (300 ms) that had to go or come.
    assert.ok(s.driftAdjust >= 12 && s.driftAdjust <= 40, `driftAdjust ${s.driftAdjust}`);
    assert.ok(maxDelay <= 100, `delay grew to ${maxDelay}`);
    assert.ok(minDelay >= 10, `delay fell to ${minDelay}`);
    assert.ok(s.late <= count * 0.01, `late ${s.late}`);
  });
}

test('the buffer is bounded: a flood without play-out drops the oldest packets', () => {
  const jb = new JitterBuffer(OPTS);
  const pkts = stream(100, (i) => i);
  for (const p of pkts) jb.put(p.seq, p.ts, Uint8Array.of(p.seq >> 8, p.seq & 0xff), p.at);
  const s = jb.stats();
  assert.ok(s.overflow > 0 && s.overflow < 100, `overflow ${s.overflow}`);
  const f = frames(simulate(jb, [], 3000));
  const after = jb.stats();
  // A flood like this also reads as a huge clock drift, so a few frames may be dropped to catch up.
  assert.equal(f.length + after.overflow + after.driftAdjust, 100, 'every packet overflowed, was dropped, or plays');
  assert.equal(f[0].seq, pkts[s.overflow].seq, 'the oldest were dropped, the newest kept');
  assert.ok(f.every((x, i) => i === 0 || x.seq > f[i - 1].seq), 'in order');
});

test('a talk spurt after silence starts at the current target without drift adjustments', () => {
  const rand = prng(7);
  // Spurt 1: jittery, teaches a large target.  Then 5 s of silence (no packets),
  // spurt 2 starts with the marker bit and a timestamp jump of 5 s.
  const s1 = stream(500, (i) => 5 + i * FRAME_MS + rand() * 60);
  const gapMs = 5000;
  const s2 = stream(200, (i) => 5 + (500 + i) * FRAME_MS + gapMs, 1500, 123456 + 500 * 160 + gapMs * 8);
  s2[0].marker = true;
  const jb = new JitterBuffer(OPTS);
  const played = simulate(jb, [...s1, ...s2], (700 * FRAME_MS) + gapMs + 300);
  const target = jb.stats().targetDelayMs;
  const first2 = played.find((x) => x.kind === 'frame' && x.seq === 1500);
  assert.ok(first2);
  const waited = first2.at - s2[0].at;
  assert.ok(Math.abs(waited - target) <= FRAME_MS, `first frame of spurt 2 waited ${waited}, target ${target}`);
  assert.deepEqual(frames(played).filter((x) => x.seq >= 1500).map((x) => x.seq), s2.map((p) => p.seq));
  // The silence between spurts is 'waiting', not a run of concealed frames.
  const inGap = played.filter((x) => x.at > s1[499].at + 300 && x.at < s2[0].at);
  assert.ok(inGap.length > 200 && inGap.every((x) => x.kind === 'waiting'));
});
