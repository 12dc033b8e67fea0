/**
 * Test audio without sox, on the media layer's own WAV and DSP code: tone
 * files for real peers to play (baresip's aufile wants exactly the codec's
 * rate and channel count, e.g. 8 kHz mono for PCMU), and a measure of how
 * much of a recording is a given tone.
 */
import { goertzel } from '../../src/media/dsp/goertzel.js';
import { meanPower } from '../../src/media/dsp/level.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { readWavFile, writeWavFile, type PcmAudio } from '../../src/media/wav.js';

export interface ToneOptions {
  freqHz?: number;
  sampleRate?: number;
  channels?: number;
  seconds?: number;
  /** Peak level, 0..1 of full scale. */
  amplitude?: number;
}

/** A sine tone (defaults: 440 Hz, 8 kHz mono, 5 s, peak 0.3), every channel the same. */
export function toneAudio(opts: ToneOptions = {}): PcmAudio {
  const sampleRate = opts.sampleRate ?? 8000;
  const channels = opts.channels ?? 1;
  const frames = Math.round(sampleRate * (opts.seconds ?? 5));
  // The generator takes an RMS level: a sine's RMS is its peak / sqrt(2).
  const levelDbfs = 20 * Math.log10((opts.amplitude ?? 0.3) / Math.SQRT2);
  const mono = new Int16Array(frames);
  new ToneGenerator({ freqs: [opts.freqHz ?? 440], levelDbfs }, sampleRate).fill(mono);
  const samples = new Int16Array(frames * channels);
  for (let i = 0; i < frames; i++) for (let c = 0; c < channels; c++) samples[i * channels + c] = mono[i];
  return { sampleRate, channels, samples };
}

export async function writeToneWav(file: string, opts: ToneOptions = {}): Promise<string> {
  await writeWavFile(file, toneAudio(opts));
  return file;
}

export const readWav = readWavFile;

/**
 * Share of the first channel's power that is at `freqHz`, 0..1: a clean tone
 * gives about 1, silence or noise about 0.
 */
export function toneShare(pcm: PcmAudio, freqHz: number): number {
  const n = Math.floor(pcm.samples.length / pcm.channels);
  const first = new Int16Array(n);
  for (let i = 0; i < n; i++) first[i] = pcm.samples[i * pcm.channels];
  const total = meanPower(first, 0, n);
  if (total === 0) return 0;
  return Math.min(1, goertzel(first, pcm.sampleRate, freqHz) / total);
}
