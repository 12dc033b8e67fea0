/**
 * Opus through @evan/opus: a tone survives the round trip at 48 and 8 kHz,
 * in-band FEC measurably beats plain concealment under seeded 10 % loss,
 * DTX shrinks silence, bad input is refused with an error, not a crash, and
 * two MediaEndpoints on 127.0.0.1 (virtual time) carry a tone over Opus
 * through a relay that drops 5 % of the packets.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { test } from 'node:test';
import { OpusCodec, type OpusOptions, type OpusSampleRate } from '../../src/media/codecs/opus.js';
import { levelDbfs } from '../../src/media/dsp/level.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { MediaEndpoint } from '../../src/media/endpoint/index.js';
import { VirtualClock } from '../../src/util/clock.js';
import { mulberry32 } from '../helpers/prng.js';
import { recorder, sentDatagrams, until } from '../helpers/media.js';

/** Frames skipped before measuring: the encoder's first packets ramp up. */
const SETTLE_FRAMES = 5;

function tone(rate: number, samples: number, freq: number, amplitude: number): Int16Array {
  const pcm = new Int16Array(samples);
  for (let i = 0; i < samples; i++) pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
  return pcm;
}

/** A voice-like test signal: a harmonic tone that hops in pitch every 60 ms, with a 3 Hz syllable envelope. */
function hoppingTone(rate: number, samples: number, seed: number): Int16Array {
  const rnd = mulberry32(seed);
  const pcm = new Int16Array(samples);
  const hop = Math.round(rate * 0.06);
  let phase = 0;
  let f = 500;
  for (let i = 0; i < samples; i++) {
    if (i % hop === 0) f = 300 + rnd() * 1500;
    phase += (2 * Math.PI * f) / rate;
    const env = 0.55 + 0.45 * Math.sin((2 * Math.PI * 3 * i) / rate);
    pcm[i] = Math.round(9000 * env * (Math.sin(phase) + 0.4 * Math.sin(2 * phase + 1)));
  }
  return pcm;
}

function encodeAll(codec: OpusCodec, pcm: Int16Array, frame: number): Uint8Array[] {
  const out = new Uint8Array(1500);
  const packets: Uint8Array[] = [];
  for (let at = 0; at + frame <= pcm.length; at += frame) {
    const n = codec.encode(pcm.subarray(at, at + frame), out);
    packets.push(out.slice(0, n));
  }
  return packets;
}

/** SNR (dB) of `x` against `ref` delayed by `delay` samples, over ref[from..] (or only the ranges in `only`). */
function snrDb(ref: Int16Array, x: Int16Array, delay: number, from: number, only?: (i: number) => boolean): number {
  let sig = 0;
  let err = 0;
  for (let i = from; i + delay < x.length; i++) {
    if (only && !only(i)) continue;
    const d = x[i + delay] - ref[i];
    sig += ref[i] * ref[i];
    err += d * d;
  }
  return 10 * Math.log10(sig / err);
}

/** The codec delay: the shift (≤ 20 ms) at which the decoded signal best matches the input. */
function bestDelay(ref: Int16Array, x: Int16Array, rate: number, from: number): number {
  let best = -Infinity;
  let at = 0;
  for (let d = 0; d < rate / 50; d++) {
    const v = snrDb(ref, x, d, from);
    if (v > best) {
      best = v;
      at = d;
    }
  }
  return at;
}

for (const rate of [48000, 8000] as const) {
  test(`1 kHz tone round trip at ${rate / 1000} kHz: detected in every frame, level kept, waveform close`, () => {
    const codec = new OpusCodec({ sampleRate: rate });
    const frame = codec.frameSamples(20);
    assert.equal(frame, (rate / 1000) * 20);
    const input = tone(rate, frame * 50, 1000, 8000);
    const decoded = new Int16Array(input.length);
    const pcm = new Int16Array(frame);
    encodeAll(codec, input, frame).forEach((p, k) => {
      assert.equal(codec.decode(p, pcm), frame);
      decoded.set(pcm, k * frame);
    });
    const settled = decoded.subarray(SETTLE_FRAMES * frame);
    assert.equal(tonePresence(settled, rate, 1000), 1);
    assert.ok(tonePresence(settled, rate, 1500) === 0, 'and not some other tone');
    const drop = levelDbfs(input) - levelDbfs(settled);
    assert.ok(Math.abs(drop) < 1, `level changed by ${drop.toFixed(2)} dB`);
    const from = SETTLE_FRAMES * frame;
    const snr = snrDb(input, decoded, bestDelay(input, decoded, rate, from), from);
    assert.ok(snr > 15, `SNR ${snr.toFixed(1)} dB`);
    codec.close();
  });
}

test('FEC: with 10 % of packets lost, concealing from the next packet beats plain concealment by a measured margin', () => {
  const rate = 48000;
  const frame = 960;
  const frames = 250;
  const input = hoppingTone(rate, frame * frames, 7);
  const run = (encOpts: OpusOptions): { fec: number; plc: number; fecLost: number; plcLost: number } => {
    const packets = encodeAll(new OpusCodec(encOpts), input, frame);
    const rnd = mulberry32(1234);
    // Never the first frames (nothing to conceal from yet) nor the last (no next packet).
    const lost = packets.map((_, k) => k > SETTLE_FRAMES && k < frames - 1 && rnd() < 0.1);
    const decode = (useNext: boolean | undefined): Int16Array => {
      const d = new OpusCodec();
      const out = new Int16Array(frame * frames);
      for (let k = 0; k < frames; k++) {
        const o = out.subarray(k * frame, (k + 1) * frame);
        if (useNext !== undefined && lost[k]) d.conceal(o, useNext && !lost[k + 1] ? packets[k + 1] : undefined);
        else d.decode(packets[k], o);
      }
      if (useNext) assert.ok(d.concealed.fromNext > 0);
      return out;
    };
    const from = SETTLE_FRAMES * frame;
    const delay = bestDelay(input, decode(undefined), rate, from);
    const inLost = (i: number): boolean => lost[Math.floor((i + delay) / frame)];
    const withFec = decode(true);
    const withoutFec = decode(false);
    assert.equal(
      lost.filter((x) => x).length,
      25,
      'the seeded PRNG drops the same 25 packets every run',
    );
    return {
      fec: snrDb(input, withFec, delay, from),
      plc: snrDb(input, withoutFec, delay, from),
      fecLost: snrDb(input, withFec, delay, from, inLost),
      plcLost: snrDb(input, withoutFec, delay, from, inLost),
    };
  };
  const on = run({ fec: true, expectedLossPercent: 10 });
  // Measured: whole signal 6.1 vs 3.1 dB, lost frames alone 3.8 vs -0.3 dB.
  assert.ok(on.fec - on.plc >= 1.5, `whole signal: FEC ${on.fec.toFixed(2)} dB, PLC ${on.plc.toFixed(2)} dB`);
  assert.ok(on.fecLost - on.plcLost >= 2.5, `lost frames: FEC ${on.fecLost.toFixed(2)} dB, PLC ${on.plcLost.toFixed(2)} dB`);
  // The gain comes from the redundancy: a sender without FEC gives the next packet nothing to offer.
  const off = run({ fec: false });
  assert.ok(Math.abs(off.fecLost - off.plcLost) < 1, `without FEC: ${off.fecLost.toFixed(2)} vs ${off.plcLost.toFixed(2)} dB`);
});

test('DTX: silence goes out as packets of at most 2 bytes, a fraction of the bytes without DTX', () => {
  const count = (dtx: boolean): { bytes: number; tiny: number } => {
    const codec = new OpusCodec({ dtx });
    const silence = new Int16Array(960 * 100);
    const packets = encodeAll(codec, silence, 960);
    return {
      bytes: packets.reduce((n, p) => n + p.length, 0),
      tiny: packets.filter((p) => p.length <= 2).length,
    };
  };
  const on = count(true);
  const off = count(false);
  assert.ok(on.tiny >= 80, `${on.tiny} of 100 silent packets were DTX-sized`);
  assert.ok(on.bytes * 2 < off.bytes, `DTX ${on.bytes} bytes vs ${off.bytes} without`);
  // What the decoder makes of DTX packets is still silence, not noise bursts.
  const codec = new OpusCodec({ dtx: true });
  const out = new Int16Array(960);
  for (const p of encodeAll(codec, new Int16Array(960 * 20), 960)) codec.decode(p, out);
  assert.ok(levelDbfs(out) < -60, `decoded DTX level ${levelDbfs(out)} dBFS`);
});

test('both encoder builds (native addon, WebAssembly) make packets the other decodes', () => {
  for (const encoder of ['native', 'wasm'] as const) {
    let codec: OpusCodec;
    try {
      codec = new OpusCodec({ encoder, sampleRate: 16000 });
    } catch (err) {
      // The addon is prebuilt for x64/arm64 Linux, macOS and x64 Windows only.
      assert.equal(encoder, 'native', String(err));
      continue;
    }
    assert.equal(codec.options.encoder, encoder);
    const input = tone(16000, 320 * 30, 1000, 8000);
    const decoded = new Int16Array(input.length);
    const dec = new OpusCodec({ sampleRate: 16000, encoder: 'wasm' });
    encodeAll(codec, input, 320).forEach((p, k) => dec.decode(p, decoded.subarray(k * 320, (k + 1) * 320)));
    assert.equal(tonePresence(decoded.subarray(320 * SETTLE_FRAMES), 16000, 1000), 1, encoder);
  }
});

test('a caller-owned subarray encodes the same as a copy (byte offset honoured)', () => {
  const input = tone(48000, 960 * 3, 1000, 8000);
  const a = encodeAll(new OpusCodec(), input, 960);
  const padded = new Int16Array(input.length + 7);
  padded.set(input, 7);
  const b = encodeAll(new OpusCodec(), padded.subarray(7), 960);
  assert.deepEqual(b, a);
});

test('bad input is refused with an error and the codec keeps working', () => {
  const codec = new OpusCodec();
  const pkt = new Uint8Array(1500);
  assert.throws(() => codec.encode(new Int16Array(900), pkt), RangeError, 'not an Opus frame length');
  assert.throws(() => codec.encode(new Int16Array(960), new Uint8Array(2)), RangeError);
  const n = codec.encode(tone(48000, 960, 1000, 8000), pkt);
  assert.throws(() => codec.decode(pkt.subarray(0, n), new Int16Array(480)), RangeError, 'output shorter than the packet');
  assert.throws(() => codec.decode(new Uint8Array(0), new Int16Array(960)), RangeError);
  // A TOC code 3 packet whose frame count byte says 0 frames is malformed (RFC 6716 §3.2.5).
  assert.throws(() => codec.decode(Uint8Array.of(0x03, 0x00), new Int16Array(5760)));
  const rnd = mulberry32(6716);
  const junk = new Uint8Array(200);
  for (let i = 0; i < 200; i++) {
    for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rnd() * 256);
    try {
      codec.decode(junk.subarray(0, 1 + (i % 200)), new Int16Array(5760));
    } catch (err) {
      assert.ok(err instanceof Error);
    }
  }
  assert.equal(codec.decode(pkt.subarray(0, n), new Int16Array(960)), 960);
  assert.throws(() => codec.frameSamples(0), RangeError);
  assert.throws(() => new OpusCodec({ sampleRate: 44100 as OpusSampleRate }), RangeError);
  assert.throws(() => new OpusCodec({ complexity: 11 }), RangeError);
  codec.close();
  assert.throws(() => codec.decode(pkt.subarray(0, n), new Int16Array(960)), /closed/);
});

test('conceal before any packet gives silence; a long loss fades instead of buzzing on', () => {
  const codec = new OpusCodec({ sampleRate: 8000 });
  const out = new Int16Array(160).fill(123);
  assert.equal(codec.conceal(out), 160);
  assert.ok(out.every((x) => x === 0));
  const input = tone(8000, 160 * 20, 1000, 8000);
  const pcm = new Int16Array(160);
  for (const p of encodeAll(codec, input, 160)) codec.decode(p, pcm);
  codec.conceal(out);
  const first = levelDbfs(out);
  for (let i = 0; i < 15; i++) codec.conceal(out);
  assert.ok(first > -25, `first concealed frame carries on the tone (${first.toFixed(1)} dBFS)`);
  assert.ok(levelDbfs(out) < first - 20, `after 320 ms of loss: ${levelDbfs(out).toFixed(1)} dBFS`);
  assert.deepEqual(codec.concealed, { fromNext: 0, plc: 17 });
});

test('two MediaEndpoints speaking Opus through a relay dropping 5 % of RTP: the tone arrives, losses rebuilt from FEC', async () => {
  const HOST = '127.0.0.1';
  const clock = new VirtualClock();
  const relay = createSocket('udp4');
  await new Promise<void>((r) => relay.bind(0, HOST, r));
  const open = { clock, random: () => 0.5, rtcpIntervalMs: 1000 };
  const heard = recorder();
  const a = await MediaEndpoint.open(open);
  const b = await MediaEndpoint.open({ ...open, handlers: heard });
  const rnd = mulberry32(5);
  const seen = { fromA: 0, fromB: 0, toA: 0, toB: 0, dropped: 0 };
  // Losses stop 200 ms before the end, so every one has been played (concealed) when we look.
  let lossy = true;
  relay.on('message', (m, r) => {
    if (r.port === a.localPort) {
      seen.fromA++;
      const isRtp = m[1] < 192 || m[1] > 223;
      if (isRtp && lossy && rnd() < 0.05) {
        seen.dropped++;
        return;
      }
      seen.toB++;
      relay.send(m, b.localPort, HOST);
    } else {
      seen.fromB++;
      seen.toA++;
      relay.send(m, a.localPort, HOST);
    }
  });
  const closeRelay = (s: Socket): Promise<void> => new Promise((r) => s.close(() => r()));
  try {
    const port = relay.address().port;
    const atB = new OpusCodec();
    a.configure({ remote: { address: HOST, port }, codec: new OpusCodec(), payloadType: 111 });
    b.configure({ remote: { address: HOST, port }, codec: atB, payloadType: 111 });
    const gen = new ToneGenerator({ freqs: [1000], levelDbfs: -12 }, 48000);
    a.start(() => {
      const f = new Int16Array(960);
      gen.fill(f);
      return f;
    });
    for (let t = 0; t < 3000; t += 20) {
      lossy = t < 2800;
      clock.advance(20);
      const relayed = (): boolean => seen.fromA === sentDatagrams(a.stats()) && seen.fromB === sentDatagrams(b.stats());
      assert.ok(await until(() => relayed() && b.stats().received.datagrams === seen.toB && a.stats().received.datagrams === seen.toA));
    }
    const sb = b.stats();
    assert.ok(seen.dropped >= 4, `the relay dropped ${seen.dropped} packets`);
    assert.equal(sb.lost, seen.dropped);
    assert.equal(sb.concealed, seen.dropped);
    // Each lost packet was followed by one already in the jitter buffer, so FEC rebuilt it.
    assert.equal(atB.concealed.fromNext, seen.dropped);
    const pcm = heard.heard();
    assert.ok(pcm.length >= 960 * 140, `B played ${pcm.length / 960} frames`);
    const presence = tonePresence(pcm.subarray(960 * SETTLE_FRAMES), 48000, 1000);
    assert.ok(presence >= 0.97, `1 kHz in ${(presence * 100).toFixed(1)} % of frames`);
  } finally {
    await a.close();
    await b.close();
    await closeRelay(relay);
  }
});
