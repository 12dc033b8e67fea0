/**
 * "Has the caller stopped talking?" for voicemail and the record verb: N
 * seconds without a frame above the threshold (counted from the start too,
 * so a caller who says nothing is also let go), and where the last sound
 * ended, so the trailing silence can be cut from what is kept. Frames are
 * classed by the energy VAD; time is counted in samples.
 */
import { EnergyVad } from './vad.js';

export interface SilenceDetectorOptions {
  sampleRate: number;
  /** Seconds of silence after which process() says so (0: never). */
  seconds: number;
  /** Level above which a frame is sound, dBFS (default -42: above a quiet line's noise, below soft speech). */
  thresholdDbfs?: number;
  /** Kept after the last sound when trimming, ms (default 300: word endings and breath). */
  padMs?: number;
}

export class SilenceDetector {
  readonly sampleRate: number;
  private readonly vad: EnergyVad;
  private readonly limit: number;
  private readonly pad: number;
  private total = 0;
  /** Sample index just after the last frame with sound; -1 before any. */
  private soundEnd = -1;

  constructor(opts: SilenceDetectorOptions) {
    if (!(opts.seconds >= 0)) throw new RangeError(`silence of ${opts.seconds} s: must be 0 or more`);
    this.sampleRate = opts.sampleRate;
    // No hangover here: a frame is sound or not; the padding below does the hangover's job when trimming.
    this.vad = new EnergyVad({ sampleRate: opts.sampleRate, thresholdDbfs: opts.thresholdDbfs ?? -42, hangoverMs: 0 });
    this.limit = opts.seconds > 0 ? Math.round(opts.seconds * opts.sampleRate) : Infinity;
    this.pad = Math.round(((opts.padMs ?? 300) * opts.sampleRate) / 1000);
  }

  /** Classifies the next frame; true once `seconds` of silence have gone by (since the last sound, or the start). */
  process(frame: Int16Array): boolean {
    this.total += frame.length;
    if (this.vad.process(frame)) this.soundEnd = this.total;
    return this.silentSamples >= this.limit;
  }

  get silentSamples(): number {
    return this.total - Math.max(0, this.soundEnd);
  }

  get silentSeconds(): number {
    return this.silentSamples / this.sampleRate;
  }

  get heardSound(): boolean {
    return this.soundEnd >= 0;
  }

  get samples(): number {
    return this.total;
  }

  /** How much to keep when trimming the trailing silence: up to the last sound plus the padding (0 when there was none). */
  keepSamples(): number {
    return this.soundEnd < 0 ? 0 : Math.min(this.total, this.soundEnd + this.pad);
  }
}
