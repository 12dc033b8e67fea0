/**
 * "Is the other side's tone there?": per frame, the tone must be loud enough
 * and must carry most of the frame's energy, so speech, noise or another
 * tone at the same level does not count.
 */
import { goertzelRange } from './goertzel.js';
import { meanPower, powerToDbfs } from './level.js';

export interface ToneMeasurement {
  /** Level of the component at the asked frequency, dBFS. */
  toneDbfs: number;
  /** Level of the whole frame, dBFS. */
  levelDbfs: number;
  /** Share of the frame's power at the asked frequency, 0..1 (about 1 for a clean tone). */
  ratio: number;
}

export interface ToneDetectOptions {
  /** Quietest tone that counts, dBFS (default -45). */
  minDbfs?: number;
  /** Least share of the frame's power the tone must hold (default 0.5). */
  minRatio?: number;
}

const DEFAULT_MIN_DBFS = -45;
const DEFAULT_MIN_RATIO = 0.5;

export function measureToneRange(
  samples: Int16Array,
  start: number,
  end: number,
  sampleRate: number,
  freq: number,
): ToneMeasurement {
  const total = meanPower(samples, start, end);
  const tone = goertzelRange(samples, start, end, sampleRate, freq);
  // Leakage can push the Goertzel estimate a hair above the total.
  const ratio = total > 0 ? Math.min(1, tone / total) : 0;
  return { toneDbfs: powerToDbfs(tone), levelDbfs: powerToDbfs(total), ratio };
}

export function measureTone(frame: Int16Array, sampleRate: number, freq: number): ToneMeasurement {
  return measureToneRange(frame, 0, frame.length, sampleRate, freq);
}

function detectRange(
  samples: Int16Array,
  start: number,
  end: number,
  sampleRate: number,
  freq: number,
  opts: ToneDetectOptions,
): boolean {
  const m = measureToneRange(samples, start, end, sampleRate, freq);
  return m.toneDbfs >= (opts.minDbfs ?? DEFAULT_MIN_DBFS) && m.ratio >= (opts.minRatio ?? DEFAULT_MIN_RATIO);
}

/** True when a tone at `freq` Hz is present in `frame` (see ToneDetectOptions). */
export function detectTone(frame: Int16Array, sampleRate: number, freq: number, opts: ToneDetectOptions = {}): boolean {
  return detectRange(frame, 0, frame.length, sampleRate, freq, opts);
}

export interface TonePresenceOptions extends ToneDetectOptions {
  /** Frame length in milliseconds (default 20). */
  frameMs?: number;
}

/**
 * Share (0..1) of the whole frames of `samples` in which the tone is
 * detected — what a test asserts as "the tone is present in ≥ 90% of 20 ms
 * frames". A trailing partial frame is ignored; no frames gives 0.
 */
export function tonePresence(samples: Int16Array, sampleRate: number, freq: number, opts: TonePresenceOptions = {}): number {
  const frame = Math.round(((opts.frameMs ?? 20) * sampleRate) / 1000);
  if (frame <= 0) throw new RangeError(`frame of ${opts.frameMs} ms is empty at ${sampleRate} Hz`);
  const frames = Math.floor(samples.length / frame);
  if (frames === 0) return 0;
  let hits = 0;
  for (let f = 0; f < frames; f++) {
    if (detectRange(samples, f * frame, (f + 1) * frame, sampleRate, freq, opts)) hits++;
  }
  return hits / frames;
}
