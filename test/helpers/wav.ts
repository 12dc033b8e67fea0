/**
 * Test audio without sox: a PCM WAV writer for the tones real peers play
 * (baresip's aufile wants exactly the codec's rate and channel count, e.g.
 * 8 kHz mono for PCMU), a reader for what they recorded (baresip's sndfile
 * writes WAV), and a Goertzel detector to tell whether a tone came through.
 */
import { readFile, writeFile } from 'node:fs/promises';

export interface ToneOptions {
  freqHz?: number;
  sampleRate?: number;
  channels?: number;
  seconds?: number;
  /** Peak level, 0..1 of full scale. */
  amplitude?: number;
}

/** A 16-bit PCM WAV file holding a sine tone (defaults: 440 Hz, 8 kHz mono, 5 s, 0.3). */
export function toneWav(opts: ToneOptions = {}): Buffer {
  const freq = opts.freqHz ?? 440;
  const rate = opts.sampleRate ?? 8000;
  const channels = opts.channels ?? 1;
  const frames = Math.round(rate * (opts.seconds ?? 5));
  const peak = Math.round(32767 * (opts.amplitude ?? 0.3));
  const dataBytes = frames * channels * 2;
  const buf = Buffer.alloc(44 + dataBytes);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataBytes, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16); // fmt chunk size
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(channels, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * channels * 2, 28); // byte rate
  buf.writeUInt16LE(channels * 2, 32); // block align
  buf.writeUInt16LE(16, 34); // bits per sample
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataBytes, 40);
  let off = 44;
  for (let i = 0; i < frames; i++) {
    const v = Math.round(peak * Math.sin((2 * Math.PI * freq * i) / rate));
    for (let c = 0; c < channels; c++, off += 2) buf.writeInt16LE(v, off);
  }
  return buf;
}

export async function writeToneWav(file: string, opts: ToneOptions = {}): Promise<string> {
  await writeFile(file, toneWav(opts));
  return file;
}

export interface Pcm {
  sampleRate: number;
  channels: number;
  /** Interleaved samples. */
  samples: Int16Array;
}

/** Parses a 16-bit PCM WAV (walking the chunks, since writers add LIST and others). */
export function parseWav(buf: Buffer): Pcm {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let fmt: { channels: number; rate: number; bits: number; format: number } | null = null;
  let off = 12;
  // Each step advances by at least 8 bytes, so this ends.
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    let size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      fmt = {
        format: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        rate: buf.readUInt32LE(body + 4),
        bits: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (!fmt) throw new Error('WAV data chunk before fmt chunk');
      if (fmt.bits !== 16 || (fmt.format !== 1 && fmt.format !== 0xfffe)) {
        throw new Error(`only 16-bit PCM WAV is supported (format ${fmt.format}, ${fmt.bits} bits)`);
      }
      // A writer killed mid-call leaves the size at 0 or too large: take what is there.
      if (size === 0 || body + size > buf.length) size = buf.length - body;
      const n = Math.floor(size / 2);
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = buf.readInt16LE(body + 2 * i);
      return { sampleRate: fmt.rate, channels: fmt.channels, samples };
    }
    off = body + size + (size % 2);
  }
  throw new Error('WAV file has no data chunk');
}

export async function readWav(file: string): Promise<Pcm> {
  return parseWav(await readFile(file));
}

/**
 * Share of the signal's power at `freqHz` (Goertzel over the first channel),
 * 0..1: a clean tone gives about 1, silence or noise about 0.
 */
export function toneShare(pcm: Pcm, freqHz: number): number {
  const step = pcm.channels;
  const n = Math.floor(pcm.samples.length / step);
  if (n === 0) return 0;
  const k = (2 * Math.PI * freqHz) / pcm.sampleRate;
  const coeff = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const x = pcm.samples[i * step] / 32768;
    energy += x * x;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  if (energy === 0) return 0;
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  // A sine of amplitude A over N samples has energy N*A^2/2 and Goertzel
  // power (N*A/2)^2 = N * energy / 2, so that ratio is 1 for a pure tone.
  return Math.min(1, power / ((n * energy) / 2));
}
