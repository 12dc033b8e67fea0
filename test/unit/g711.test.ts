import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  PcmaCodec,
  PcmuCodec,
  alawToLinear,
  decodeAlaw,
  decodeUlaw,
  encodeAlaw,
  encodeUlaw,
  linearToAlaw,
  linearToUlaw,
  ulawToLinear,
} from '../../src/media/codecs/g711.js';

/*
 * The expectations below are written from the G.711 tables (segment,
 * quantization step, decision and reconstruction values), independently of
 * the bit tricks in the implementation.
 */

/** µ-law: polarity bit 1 = positive; the other 7 bits are sent inverted. */
function ulawRef(code: number): number {
  const positive = (code & 0x80) !== 0;
  const v = ~code & 0x7f;
  const seg = v >> 4;
  const q = v & 0x0f;
  // Reconstruction value in 14-bit units, times 4 for 16-bit PCM.
  const y = Math.pow(2, seg) * (2 * q + 33) - 33;
  return positive ? y * 4 : 0 - y * 4;
}

/** A-law: the even bits are sent inverted (XOR 0x55). */
function alawRef(code: number): number {
  const c = code ^ 0x55;
  const positive = (c & 0x80) !== 0;
  const seg = (c >> 4) & 7;
  const q = c & 0x0f;
  // Reconstruction value in 13-bit units, times 8 for 16-bit PCM.
  const y = seg === 0 ? 2 * q + 1 : (2 * q + 33) * Math.pow(2, seg - 1);
  return positive ? y * 8 : 0 - y * 8;
}

interface Interval {
  seg: number;
  q: number;
  lo: number;
  hi: number;
}

/** µ-law quantization intervals [lo, hi) of the magnitude, 14-bit units. */
const ULAW_INTERVALS: Interval[] = [];
/** A-law quantization intervals [lo, hi) of the magnitude, 13-bit units. */
const ALAW_INTERVALS: Interval[] = [];
for (let seg = 0; seg < 8; seg++) {
  for (let q = 0; q < 16; q++) {
    if (seg === 0 && q === 0) ULAW_INTERVALS.push({ seg, q, lo: 0, hi: 1 });
    else if (seg === 0) ULAW_INTERVALS.push({ seg, q, lo: 2 * q - 1, hi: 2 * q + 1 });
    else {
      const r = Math.pow(2, seg) * (2 * q + 33) - 33;
      ULAW_INTERVALS.push({ seg, q, lo: r - Math.pow(2, seg), hi: r + Math.pow(2, seg) });
    }
    if (seg === 0) ALAW_INTERVALS.push({ seg, q, lo: 2 * q, hi: 2 * q + 2 });
    else {
      const r = (2 * q + 33) * Math.pow(2, seg - 1);
      ALAW_INTERVALS.push({ seg, q, lo: r - Math.pow(2, seg - 1), hi: r + Math.pow(2, seg - 1) });
    }
  }
}

function findInterval(list: Interval[], m: number): Interval {
  const hit = list.find((iv) => m >= iv.lo && m < iv.hi);
  return hit ?? list[list.length - 1]; // beyond the last decision value: overload
}

/**
 * 16-bit sample -> µ-law by searching the intervals. The 2 low bits are
 * dropped; negative values are taken as -x-1 (one's complement), the ITU
 * G.191 reference convention.
 */
function ulawEncodeRef(x: number): number {
  const m = x >= 0 ? Math.floor(x / 4) : Math.floor((-x - 1) / 4);
  const iv = findInterval(ULAW_INTERVALS, m);
  return (x >= 0 ? 0x80 : 0) | (~((iv.seg << 4) | iv.q) & 0x7f);
}

function alawEncodeRef(x: number): number {
  const m = x >= 0 ? Math.floor(x / 8) : Math.floor((-x - 1) / 8);
  const iv = findInterval(ALAW_INTERVALS, m);
  return ((x >= 0 ? 0x80 : 0) | (iv.seg << 4) | iv.q) ^ 0x55;
}

const ALL_CODES = Uint8Array.from({ length: 256 }, (_, i) => i);
const ALL_SAMPLES = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);

function decodeAll(decode: (b: Uint8Array, o: Int16Array) => number): Int16Array {
  const out = new Int16Array(256);
  assert.equal(decode(ALL_CODES, out), 256);
  return out;
}

function encodeAll(encode: (p: Int16Array, o: Uint8Array) => number): Uint8Array {
  const out = new Uint8Array(65536);
  assert.equal(encode(ALL_SAMPLES, out), 65536);
  return out;
}

test('µ-law decode table equals the G.711 reconstruction values for all 256 codes', () => {
  const table = decodeAll(decodeUlaw);
  for (let c = 0; c < 256; c++) {
    assert.equal(table[c], ulawRef(c), `code 0x${c.toString(16)}`);
    assert.equal(ulawToLinear(c), ulawRef(c));
  }
});

test('A-law decode table equals the G.711 reconstruction values for all 256 codes', () => {
  const table = decodeAll(decodeAlaw);
  for (let c = 0; c < 256; c++) {
    assert.equal(table[c], alawRef(c), `code 0x${c.toString(16)}`);
    assert.equal(alawToLinear(c), alawRef(c));
  }
});

test('known decode values (the widely published CCITT/Sun tables)', () => {
  const u = decodeAll(decodeUlaw);
  assert.deepEqual(Array.from(u.subarray(0, 8)), [-32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956]);
  assert.equal(u[0x10], -15996);
  assert.equal(u[0x80], 32124);
  assert.equal(u[0xff], 0);
  assert.equal(u[0x7f], 0); // "negative zero" decodes to 0
  assert.equal(u[0xfe], 8);
  assert.equal(u[0x7e], -8);
  assert.deepEqual(Array.from(u.subarray(0xf0, 0x100)), [120, 112, 104, 96, 88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 0]);

  const a = decodeAll(decodeAlaw);
  assert.deepEqual(Array.from(a.subarray(0, 8)), [-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736]);
  assert.equal(a[0x20], -22016);
  assert.equal(a[0x2a], -32256); // most negative
  assert.equal(a[0xaa], 32256); // most positive
  assert.equal(a[0x55], -8); // the even-bit inversion: 0x55 is the smallest negative step
  assert.equal(a[0xd5], 8);
  assert.deepEqual(Array.from(a.subarray(80, 88)), [-88, -72, -120, -104, -24, -8, -56, -40]);
});

test('known encode values', () => {
  const cases: Array<[number, number, number]> = [
    // [sample, µ-law, A-law]
    [0, 0xff, 0xd5],
    [-1, 0x7f, 0x55],
    [32767, 0x80, 0xaa],
    [-32768, 0x00, 0x2a],
    [8, 0xfe, 0xd5],
    [-8, 0x7e, 0x55],
    [16, 0xfd, 0xd4],
    [1000, 0xce, 0xfa],
    [-1000, 0x4e, 0x7a],
  ];
  const pcm = Int16Array.from(cases.map((c) => c[0]));
  const u = new Uint8Array(pcm.length);
  const a = new Uint8Array(pcm.length);
  encodeUlaw(pcm, u);
  encodeAlaw(pcm, a);
  cases.forEach(([x, eu, ea], i) => {
    assert.equal(u[i], eu, `µ-law of ${x}: got 0x${u[i].toString(16)}`);
    assert.equal(a[i], ea, `A-law of ${x}: got 0x${a[i].toString(16)}`);
    assert.equal(ulawRef(eu), ulawToLinear(eu));
  });
  // 1000 lands in µ-law segment 3 (step 32): reconstruction 988.
  assert.equal(ulawToLinear(0xce), 988);
  assert.equal(alawToLinear(0xfa), 1008);
});

test('encoders agree with the G.711 decision intervals for every 16-bit input', () => {
  const u = encodeAll(encodeUlaw);
  const a = encodeAll(encodeAlaw);
  for (let i = 0; i < 65536; i++) {
    const x = ALL_SAMPLES[i];
    if (u[i] !== ulawEncodeRef(x)) assert.fail(`µ-law of ${x}: 0x${u[i].toString(16)} != 0x${ulawEncodeRef(x).toString(16)}`);
    if (a[i] !== alawEncodeRef(x)) assert.fail(`A-law of ${x}: 0x${a[i].toString(16)} != 0x${alawEncodeRef(x).toString(16)}`);
    // The table path and the computed path are the same function.
    if (u[i] !== linearToUlaw(x) || a[i] !== linearToAlaw(x)) assert.fail(`table/computed differ at ${x}`);
  }
});

test('encode∘decode is the identity on codes (µ-law -0 becomes +0), decode∘encode∘decode is idempotent', () => {
  const du = decodeAll(decodeUlaw);
  const da = decodeAll(decodeAlaw);
  const reu = new Uint8Array(256);
  const rea = new Uint8Array(256);
  encodeUlaw(du, reu);
  encodeAlaw(da, rea);
  for (let c = 0; c < 256; c++) {
    assert.equal(reu[c], c === 0x7f ? 0xff : c, `µ-law 0x${c.toString(16)}`);
    assert.equal(rea[c], c, `A-law 0x${c.toString(16)}`);
    assert.equal(ulawToLinear(reu[c]), du[c]);
    assert.equal(alawToLinear(rea[c]), da[c]);
  }
});

test('companding is monotonic: a larger input never decodes smaller', () => {
  for (const [enc, dec] of [
    [encodeUlaw, decodeUlaw],
    [encodeAlaw, decodeAlaw],
  ] as const) {
    const codes = encodeAll(enc);
    const back = new Int16Array(65536);
    dec(codes, back);
    for (let i = 1; i < 65536; i++) {
      if (back[i] < back[i - 1]) assert.fail(`not monotonic at ${ALL_SAMPLES[i]}: ${back[i - 1]} then ${back[i]}`);
    }
  }
});

test('maximum quantization error per segment is half the step', () => {
  const maxErr = (
    enc: (p: Int16Array, o: Uint8Array) => number,
    dec: (b: Uint8Array, o: Int16Array) => number,
    segOf: (code: number) => number,
    overload: (x: number) => boolean,
  ) => {
    const codes = encodeAll(enc);
    const back = new Int16Array(65536);
    dec(codes, back);
    const perSeg = new Array<number>(8).fill(0);
    let over = 0;
    for (let i = 0; i < 65536; i++) {
      const e = Math.abs(back[i] - ALL_SAMPLES[i]);
      if (overload(ALL_SAMPLES[i])) over = Math.max(over, e);
      else perSeg[segOf(codes[i])] = Math.max(perSeg[segOf(codes[i])], e);
    }
    return { perSeg, over };
  };
  // µ-law: step 2^(s+1) in 14-bit units = 8 << s in 16-bit; inputs past
  // the last decision value (8159 in 14-bit units) overload.
  const u = maxErr(encodeUlaw, decodeUlaw, (c) => (~c >> 4) & 7, (x) => x >= 32636 || x <= -32637);
  assert.deepEqual(u.perSeg, [4, 8, 16, 32, 64, 128, 256, 512]);
  assert.equal(u.over, 32768 - 32124);
  // A-law: segments 0 and 1 share step 16 (16-bit); then 32, 64, ... 1024.
  const a = maxErr(encodeAlaw, decodeAlaw, (c) => ((c ^ 0x55) >> 4) & 7, () => false);
  assert.deepEqual(a.perSeg, [8, 8, 16, 32, 64, 128, 256, 512]);
});

test('a 1004 Hz test tone at -20 dBFS survives G.711 with > 35 dB signal-to-quantization-noise', () => {
  const n = 8000;
  const pcm = new Int16Array(n);
  const amp = 32768 * Math.SQRT2 * Math.pow(10, -20 / 20);
  for (let i = 0; i < n; i++) pcm[i] = Math.round(amp * Math.sin((2 * Math.PI * 1004 * i) / 8000));
  for (const codec of [new PcmuCodec(), new PcmaCodec()]) {
    const bytes = new Uint8Array(n);
    const back = new Int16Array(n);
    codec.decode(bytes.subarray(0, codec.encode(pcm, bytes)), back);
    let s = 0;
    let e = 0;
    for (let i = 0; i < n; i++) {
      s += pcm[i] * pcm[i];
      e += (back[i] - pcm[i]) ** 2;
    }
    const snr = 10 * Math.log10(s / e);
    assert.ok(snr > 35, `${codec.name} SNR ${snr.toFixed(1)} dB`);
  }
});

test('PCMU/PCMA codecs: names, payload types, frame sizes, caller-owned buffers', () => {
  const pcmu = new PcmuCodec();
  const pcma = new PcmaCodec();
  assert.deepEqual([pcmu.name, pcmu.payloadType, pcmu.clockRate, pcmu.sampleRate, pcmu.channels], ['PCMU', 0, 8000, 8000, 1]);
  assert.deepEqual([pcma.name, pcma.payloadType, pcma.clockRate, pcma.sampleRate, pcma.channels], ['PCMA', 8, 8000, 8000, 1]);
  assert.equal(pcmu.frameSamples(20), 160);
  assert.equal(pcma.frameSamples(30), 240);
  assert.throws(() => pcmu.frameSamples(0), RangeError);

  // Encoding into a view in the middle of a larger packet buffer (after an RTP header).
  const packet = new Uint8Array(12 + 160).fill(0xee);
  const pcm = Int16Array.from({ length: 160 }, (_, i) => (i * 397) % 20000 - 10000);
  assert.equal(pcmu.encode(pcm, packet.subarray(12)), 160);
  assert.equal(packet[11], 0xee);
  const back = new Int16Array(320).fill(7);
  assert.equal(pcmu.decode(packet.subarray(12), back), 160);
  assert.equal(back[160], 7);
  for (let i = 0; i < 160; i++) assert.ok(Math.abs(back[i] - pcm[i]) <= 512);

  assert.throws(() => pcma.encode(pcm, new Uint8Array(159)), RangeError);
  assert.throws(() => pcma.decode(new Uint8Array(160), new Int16Array(100)), RangeError);
});

test('encoder speed (measured, not asserted)', (t) => {
  // 100 streams x 1 s of 8 kHz audio.
  const pcm = Int16Array.from({ length: 8000 }, (_, i) => Math.round(12000 * Math.sin(i * 0.7)));
  const out = new Uint8Array(8000);
  const time = (fn: () => void) => {
    fn(); // warm up
    const t0 = performance.now();
    for (let s = 0; s < 100; s++) fn();
    return performance.now() - t0;
  };
  const table = time(() => encodeUlaw(pcm, out));
  const computed = time(() => {
    for (let i = 0; i < pcm.length; i++) out[i] = linearToUlaw(pcm[i]);
  });
  const decode = time(() => decodeUlaw(out, pcm));
  t.diagnostic(
    `µ-law, 100 streams x 1 s: encode table ${table.toFixed(2)} ms, encode computed ${computed.toFixed(2)} ms, decode ${decode.toFixed(2)} ms`,
  );
  assert.ok(out.some((b) => b !== 0));
});
