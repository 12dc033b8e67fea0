/**
 * Transcoding between registry codecs: a 1 kHz tone stays detectable through
 * every pair and through chains (PCMU → Opus → PCMU, G.722 ↔ PCMA), lost
 * input packets are concealed instead of leaving holes, and a steady stream
 * keeps the same packet sizes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PcmuCodec } from '../../src/media/codecs/g711.js';
import { OpusCodec } from '../../src/media/codecs/opus.js';
import { CODEC_NAMES, createCodec, type CodecName } from '../../src/media/codecs/registry.js';
import type { Codec } from '../../src/media/codecs/types.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { createTranscoder, Transcoder } from '../../src/media/transcode.js';
import { mulberry32 } from '../helpers/prng.js';

const FRAMES = 50;
/** Frames skipped before measuring: codec start-up plus resampler and Opus delay. */
const SETTLE = 5;

/** FRAMES packets of a -12 dBFS 1 kHz tone, 20 ms each, encoded by a fresh `name` codec. */
function tonePackets(name: CodecName): Uint8Array[] {
  const codec = createCodec(name);
  const gen = new ToneGenerator({ freqs: [1000], levelDbfs: -12 }, codec.sampleRate);
  const frame = new Int16Array(codec.frameSamples(20));
  const out = new Uint8Array(1500);
  const packets: Uint8Array[] = [];
  for (let k = 0; k < FRAMES; k++) {
    gen.fill(frame);
    packets.push(out.slice(0, codec.encode(frame, out)));
  }
  return packets;
}

function pass(t: Transcoder, packets: (Uint8Array | undefined)[]): Uint8Array[] {
  const out = new Uint8Array(1500);
  return packets.map((p, k) => {
    const n = p ? t.transcode(p, out) : t.conceal(out, packets[k + 1]);
    return out.slice(0, n);
  });
}

/** Decodes with a fresh `codec` and returns the share of 20 ms frames (after SETTLE) holding the 1 kHz tone. */
function presence(codec: Codec, packets: Uint8Array[]): number {
  const frame = codec.frameSamples(20);
  const pcm = new Int16Array(frame * packets.length);
  packets.forEach((p, k) => assert.equal(codec.decode(p, pcm.subarray(k * frame, (k + 1) * frame)), frame));
  return tonePresence(pcm.subarray(frame * SETTLE), codec.sampleRate, 1000);
}

test('every registry codec to every other keeps a 1 kHz tone in ≥ 95 % of frames', () => {
  for (const from of CODEC_NAMES) {
    const input = tonePackets(from);
    for (const to of CODEC_NAMES) {
      const t = createTranscoder(from, to);
      const out = pass(t, input);
      // 20 ms in, 20 ms out: G.711 is 160 bytes, G.722 160 bytes, Opus whatever it chose.
      if (to !== 'opus') assert.ok(out.every((p) => p.length === 160), `${from}→${to}`);
      const p = presence(createCodec(to), out);
      assert.ok(p >= 0.95, `${from}→${to}: tone in ${(p * 100).toFixed(0)} % of frames`);
    }
  }
});

test('PCMU → Opus → PCMU keeps the tone; Opus runs at 8 kHz there, so no resampler is involved', () => {
  const toOpus = createTranscoder('pcmu', 'opus');
  const back = createTranscoder('opus', 'pcmu');
  assert.equal(toOpus.to.sampleRate, 8000);
  assert.equal(back.from.sampleRate, 8000);
  assert.equal(toOpus.delayMs + back.delayMs, 0);
  const out = pass(back, pass(toOpus, tonePackets('pcmu')));
  const p = presence(new PcmuCodec(), out);
  assert.ok(p >= 0.95, `tone in ${(p * 100).toFixed(0)} % of frames`);
});

test('G.722 ↔ PCMA keeps the tone both ways, through the 16 ↔ 8 kHz resampler', () => {
  const down = createTranscoder('g722', 'pcma');
  assert.ok(down.delayMs > 0, 'resampling on this path');
  const p1 = presence(createCodec('pcma'), pass(down, tonePackets('g722')));
  assert.ok(p1 >= 0.95, `G.722→PCMA: ${(p1 * 100).toFixed(0)} %`);
  const up = createTranscoder('pcma', 'g722');
  const p2 = presence(createCodec('g722'), pass(up, tonePackets('pcma')));
  assert.ok(p2 >= 0.95, `PCMA→G.722: ${(p2 * 100).toFixed(0)} %`);
  const round = presence(createCodec('pcma'), pass(createTranscoder('g722', 'pcma'), pass(createTranscoder('pcma', 'g722'), tonePackets('pcma'))));
  assert.ok(round >= 0.95, `PCMA→G.722→PCMA: ${(round * 100).toFixed(0)} %`);
});

test('48 kHz Opus → PCMU through an explicit resampling Transcoder', () => {
  const t = new Transcoder(new OpusCodec(), new PcmuCodec());
  assert.ok(t.delayMs > 0);
  const p = presence(new PcmuCodec(), pass(t, tonePackets('opus')));
  assert.ok(p >= 0.95, `tone in ${(p * 100).toFixed(0)} % of frames`);
});

test('lost input packets (10 %, seeded) are concealed: the output has no holes and the tone carries on', () => {
  const rnd = mulberry32(42);
  for (const [from, to] of [
    ['pcmu', 'opus'],
    ['opus', 'pcmu'],
    ['g722', 'pcma'],
  ] as const) {
    const input: (Uint8Array | undefined)[] = tonePackets(from).map((p, k) => (k > SETTLE && rnd() < 0.1 ? undefined : p));
    const lost = input.filter((p) => !p).length;
    assert.ok(lost >= 3, `${from}→${to}: ${lost} lost`);
    const t = createTranscoder(from, to);
    const out = pass(t, input);
    assert.equal(out.length, FRAMES, 'one packet out for every packet in, lost or not');
    const p = presence(createCodec(to), out);
    assert.ok(p >= 0.95, `${from}→${to} with ${lost} lost: tone in ${(p * 100).toFixed(0)} % of frames`);
    if (from === 'opus') {
      const opus = t.from as OpusCodec;
      assert.equal(opus.concealed.fromNext + opus.concealed.plc, lost);
      assert.ok(opus.concealed.fromNext > 0, 'the next packet was used');
    }
  }
});

test('a packet that does not decode throws, and the transcoder goes on with the next one', () => {
  const t = createTranscoder('opus', 'pcmu');
  const input = tonePackets('opus');
  const out = new Uint8Array(1500);
  assert.equal(t.transcode(input[0], out), 160);
  assert.throws(() => t.transcode(new Uint8Array(0), out), RangeError);
  assert.equal(t.conceal(out), 160);
  assert.equal(t.transcode(input[1], out), 160);
  assert.throws(() => new Transcoder(createCodec('pcmu'), { ...createCodec('pcma'), channels: 2 }), RangeError);
});
