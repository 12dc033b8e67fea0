/**
 * Energy voice-activity detection with hangover: a frame is speech when its
 * level is above a threshold, and speech continues for a hangover time after
 * the last loud frame so word endings and short pauses are not clipped.
 * Time is counted in samples, so any frame size works.
 */
import { levelDbfs } from './level.js';

export interface VadOptions {
  sampleRate: number;
  /** Level above which a frame is speech, dBFS (default -40). */
  thresholdDbfs?: number;
  /** How long speech lasts after the last loud frame, ms (default 200). */
  hangoverMs?: number;
}

export class EnergyVad {
  readonly thresholdDbfs: number;
  private readonly hangoverSamples: number;
  /** Samples since the last frame above the threshold; starts "long ago". */
  private quietFor = Infinity;

  constructor(opts: VadOptions) {
    if (!(opts.sampleRate > 0)) throw new RangeError(`sample rate must be positive, got ${opts.sampleRate}`);
    this.thresholdDbfs = opts.thresholdDbfs ?? -40;
    this.hangoverSamples = Math.round(((opts.hangoverMs ?? 200) * opts.sampleRate) / 1000);
  }

  /** Classifies the next frame; true while speech (or its hangover) lasts. */
  process(frame: Int16Array): boolean {
    if (levelDbfs(frame) > this.thresholdDbfs) this.quietFor = 0;
    else this.quietFor += frame.length;
    return this.active;
  }

  /** Whether the last frame processed counted as speech. */
  get active(): boolean {
    return this.quietFor <= this.hangoverSamples;
  }

  reset(): void {
    this.quietFor = Infinity;
  }
}
