import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeUlaw, encodeUlaw } from '../../src/media/codecs/g711.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { WavError, parseWav, readWav, readWavFile, wavHeader, writeWav, writeWavFile } from '../../src/media/wav.js';

function tone(rate: number, channels: number, seconds: number): Int16Array {
  const frames = Math.round(rate * seconds);
  const mono = new Int16Array(frames);
  new ToneGenerator({ freqs: [1000], levelDbfs: -10 }, rate).fill(mono);
  const out = new Int16Array(frames * channels);
  // Channel c carries the tone scaled differently, so a channel swap would show.
  for (let i = 0; i < frames; i++) for (let c = 0; c < channels; c++) out[i * channels + c] = mono[i] >> c;
  return out;
}

/** A WAV file put together by hand, chunk by chunk (each padded to even length). */
function riff(chunks: Array<[string, Uint8Array]>, riffSizeOverride?: number): Uint8Array {
  const parts: number[] = [];
  const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  const str = (s: string) => Array.from(s, (ch) => ch.charCodeAt(0));
  for (const [id, body] of chunks) {
    parts.push(...str(id), ...u32(body.length), ...body);
    if (body.length & 1) parts.push(0);
  }
  return Uint8Array.from([...str('RIFF'), ...u32(riffSizeOverride ?? parts.length + 4), ...str('WAVE'), ...parts]);
}

function fmtChunk(tag: number, channels: number, rate: number, bits: number, extra: number[] = []): Uint8Array {
  const b = new Uint8Array(16 + extra.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, tag, true);
  v.setUint16(2, channels, true);
  v.setUint32(4, rate, true);
  v.setUint32(8, (rate * channels * bits) / 8, true);
  v.setUint16(12, (channels * bits) / 8, true);
  v.setUint16(14, bits, true);
  b.set(extra, 16);
  return b;
}

function pcmBytes(samples: Int16Array): Uint8Array {
  const b = new Uint8Array(samples.length * 2);
  const v = new DataView(b.buffer);
  samples.forEach((s, i) => v.setInt16(2 * i, s, true));
  return b;
}

test('16-bit PCM round trips at 8, 16 and 48 kHz, mono and stereo, with a standard 44-byte header', () => {
  for (const rate of [8000, 16000, 48000]) {
    for (const channels of [1, 2]) {
      const samples = tone(rate, channels, 0.25);
      const file = writeWav({ sampleRate: rate, channels, samples });
      assert.equal(file.length, 44 + samples.length * 2);
      const v = new DataView(file.buffer);
      assert.equal(v.getUint16(20, true), 1); // PCM
      assert.equal(v.getUint32(28, true), rate * channels * 2); // byte rate
      assert.equal(v.getUint32(4, true), file.length - 8);
      const back = readWav(file);
      assert.deepEqual(back, { encoding: 'pcm16', sampleRate: rate, channels, samples });
    }
  }
});

test('µ-law WAV: format 7 with a fact chunk; decoded via G.711 it matches the original within quantization error', () => {
  const samples = tone(8000, 1, 1);
  samples[5] = 31000; // loud
  samples[6] = -3; // tiny
  const file = writeWav({ sampleRate: 8000, channels: 1, samples }, 'ulaw');
  const info = parseWav(file);
  assert.equal(info.encoding, 'ulaw');
  assert.equal(info.frames, 8000);
  assert.equal(new DataView(file.buffer).getUint16(20, true), 7);
  assert.equal(new TextDecoder().decode(file.subarray(38, 42)), 'fact');
  assert.equal(new DataView(file.buffer).getUint32(46, true), 8000);
  const expectedBytes = new Uint8Array(8000);
  encodeUlaw(samples, expectedBytes);
  assert.deepEqual(info.data, expectedBytes); // ready to send as PCMU as is

  const decoded = new Int16Array(8000);
  decodeUlaw(info.data, decoded);
  assert.deepEqual(readWav(file).samples, decoded);
  for (let i = 0; i < samples.length; i++) {
    // Half a µ-law step at that amplitude (4 · 2^segment in 16-bit units).
    const bound = (Math.abs(samples[i]) + 132) / 32 + 1;
    assert.ok(Math.abs(decoded[i] - samples[i]) <= bound, `sample ${i}: ${samples[i]} -> ${decoded[i]}`);
  }
  assert.equal(tonePresence(decoded, 8000, 1000), 1);
});

test('A-law stereo round trips; an odd µ-law length is padded and read back exactly', () => {
  const stereo = tone(8000, 2, 0.1);
  const back = readWav(writeWav({ sampleRate: 8000, channels: 2, samples: stereo }, 'alaw'));
  assert.equal(back.encoding, 'alaw');
  assert.equal(back.channels, 2);
  for (let i = 0; i < stereo.length; i++) assert.ok(Math.abs(back.samples[i] - stereo[i]) <= 512);

  const odd = tone(8000, 1, 0.1).subarray(0, 161);
  const file = writeWav({ sampleRate: 8000, channels: 1, samples: odd }, 'ulaw');
  assert.equal(file.length % 2, 0);
  assert.equal(new DataView(file.buffer).getUint32(4, true), file.length - 8);
  assert.equal(readWav(file).samples.length, 161);
});

test('reading skips LIST and other chunks, honours odd-size padding, and accepts fmt after data', () => {
  const samples = Int16Array.from([1, -2, 300, -32768, 32767, 0]);
  const list = new TextEncoder().encode('INFOISFT\x05\x00\x00\x00Lavf\x00'); // odd length: 17
  const odd = Uint8Array.from([1, 2, 3]);
  const file = riff([
    ['LIST', list],
    ['fmt ', fmtChunk(1, 1, 16000, 16)],
    ['junk', odd],
    ['data', pcmBytes(samples)],
    ['LIST', list],
  ]);
  assert.deepEqual(readWav(file), { encoding: 'pcm16', sampleRate: 16000, channels: 1, samples });

  const dataFirst = riff([
    ['data', pcmBytes(samples)],
    ['fmt ', fmtChunk(1, 2, 8000, 16)],
  ]);
  const r = readWav(dataFirst);
  assert.equal(r.channels, 2);
  assert.deepEqual(r.samples, samples);

  // Inside a larger buffer at an odd offset (e.g. a slice of a network read).
  const shifted = new Uint8Array(file.length + 1);
  shifted.set(file, 1);
  assert.deepEqual(readWav(shifted.subarray(1)).samples, samples);
});

test('WAVE_FORMAT_EXTENSIBLE 16-bit PCM is read', () => {
  const samples = Int16Array.from([5, 6, 7, 8]);
  // cbSize 22, valid bits 16, channel mask 3, then the PCM sub-format GUID.
  const ext = [22, 0, 16, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71];
  const file = riff([
    ['fmt ', fmtChunk(0xfffe, 2, 48000, 16, ext)],
    ['data', pcmBytes(samples)],
  ]);
  assert.deepEqual(readWav(file), { encoding: 'pcm16', sampleRate: 48000, channels: 2, samples });
});

test('a recording cut off before its sizes were fixed up is read as far as it goes', () => {
  const samples = tone(8000, 1, 0.05);
  const full = writeWav({ sampleRate: 8000, channels: 1, samples });
  // Streaming writer placeholder sizes: 0 for data.
  const unfixed = full.slice();
  new DataView(unfixed.buffer).setUint32(40, 0, true);
  assert.deepEqual(readWav(unfixed).samples, samples);
  // Truncated mid-sample: the partial sample is dropped.
  const cut = full.subarray(0, 44 + 101);
  assert.deepEqual(readWav(cut).samples, samples.subarray(0, 50));
});

test('wavHeader + data written separately make a valid file (the recorder path)', () => {
  const bytes = Uint8Array.from({ length: 99 }, (_, i) => i);
  const h = wavHeader({ encoding: 'ulaw', sampleRate: 8000, channels: 1 }, bytes.length);
  const file = new Uint8Array(h.length + 100);
  file.set(h);
  file.set(bytes, h.length);
  const info = parseWav(file);
  assert.deepEqual([info.encoding, info.frames, info.data], ['ulaw', 99, bytes]);
});

test('unsupported files get an error naming what was found and how to convert', () => {
  const data: [string, Uint8Array] = ['data', new Uint8Array(12)];
  const err = (re: RegExp) => (e: unknown) => e instanceof WavError && re.test(e.message);
  assert.throws(() => readWav(riff([['fmt ', fmtChunk(1, 1, 8000, 24)], data])), {
    name: 'WavError',
    message: '24-bit PCM is not supported; convert with: sox in.wav -b 16 out.wav',
  });
  assert.throws(() => readWav(riff([['fmt ', fmtChunk(1, 1, 8000, 8)], data])), err(/^8-bit PCM is not supported/));
  assert.throws(() => readWav(riff([['fmt ', fmtChunk(3, 1, 8000, 32)], data])), err(/32-bit floating-point.*sox in\.wav -b 16/));
  assert.throws(() => readWav(riff([['fmt ', fmtChunk(0x55, 1, 8000, 0)], data])), err(/format 0x0055 \(MPEG Layer 3\) is not supported; convert with: sox/));
  assert.throws(() => readWav(riff([['fmt ', fmtChunk(1, 0, 8000, 16)], data])), err(/0 channels/));
  assert.throws(() => readWav(riff([['fmt ', fmtChunk(1, 1, 8000, 16)]])), err(/no data chunk/));
  assert.throws(() => readWav(riff([data])), err(/no fmt chunk/));
  assert.throws(() => readWav(new TextEncoder().encode('ID3\x03 this is an mp3 file')), err(/not a WAV file: starts with "ID3/));
  assert.throws(() => readWav(new Uint8Array(4)), err(/only 4 bytes/));
});

test('files on disk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wav-'));
  try {
    const samples = tone(16000, 2, 0.1);
    await writeWavFile(join(dir, 'a.wav'), { sampleRate: 16000, channels: 2, samples });
    assert.deepEqual((await readWavFile(join(dir, 'a.wav'))).samples, samples);
    await writeWavFile(join(dir, 'b.wav'), { sampleRate: 8000, channels: 1, samples: new Int16Array(3) }, 'ulaw');
    assert.equal((await readWavFile(join(dir, 'b.wav'))).encoding, 'ulaw');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
