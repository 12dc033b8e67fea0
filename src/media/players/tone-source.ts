/** Tones as sources: one or more frequencies, a cadence, and an optional length after which the source ends. */
import { ToneGenerator } from '../dsp/tone.js';
import { SampleSource } from './sample-source.js';

/** Tones at -10 dBFS: loud enough for any detector, far from clipping after any codec. */
export const DEFAULT_TONE_DBFS = -10;
/** A timed tone fades out over its last 3 ms, so it never ends on a click. */
const RELEASE_MS = 3;

export interface ToneParams {
  freqs: readonly number[];
  levelDbfs?: number;
  /** Total length in ms (cadence pauses included); undefined: forever. */
  ms?: number;
  cadenceMs?: readonly number[];
}

export class ToneSource extends SampleSource {
  private readonly gen: ToneGenerator;
  private readonly total: number;
  private readonly release: number;
  private pos = 0;

  constructor(p: ToneParams, sampleRate: number, frameSamples: number) {
    super(frameSamples);
    checkToneParams(p, sampleRate);
    this.gen = new ToneGenerator({ freqs: p.freqs, levelDbfs: p.levelDbfs ?? DEFAULT_TONE_DBFS, cadenceMs: p.cadenceMs }, sampleRate);
    this.total = p.ms === undefined ? Infinity : Math.round((p.ms * sampleRate) / 1000);
    this.release = Math.min(Math.round((RELEASE_MS * sampleRate) / 1000), Math.floor(this.total / 2));
    if (this.total === 0) this.ended = true;
  }

  fill(out: Int16Array, from: number): number {
    const n = Math.min(out.length - from, this.total - this.pos);
    if (n <= 0) {
      this.ended = true;
      return from;
    }
    this.gen.fill(out.subarray(from, from + n));
    const fadeFrom = this.total - this.release;
    for (let i = Math.max(this.pos, fadeFrom); i < this.pos + n; i++) {
      const k = from + i - this.pos;
      out[k] = Math.round((out[k] * (this.total - i)) / (this.release + 1));
    }
    this.pos += n;
    if (this.pos >= this.total) this.ended = true;
    return from + n;
  }
}

/** Throws a RangeError that names the bad value; a tone above the codec's band is a user error, not aliasing. */
export function checkToneParams(p: ToneParams, sampleRate: number): void {
  if (p.freqs.length === 0) throw new RangeError('a tone needs at least one frequency');
  for (const hz of p.freqs) {
    if (!(hz > 0)) throw new RangeError(`tone frequency ${hz} Hz: must be above 0`);
    if (hz >= sampleRate / 2) throw new RangeError(`tone ${hz} Hz cannot pass a codec sampled at ${sampleRate} Hz`);
  }
  if (p.ms !== undefined && !(p.ms >= 0 && Number.isFinite(p.ms))) throw new RangeError(`tone length ${p.ms} ms: must be 0 or more`);
}
