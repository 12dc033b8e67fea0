/**
 * Tones for players and call progress: one or more sines at a level in
 * dBFS, switched on and off by a cadence counted in samples (never timers),
 * so the output is the same however the caller slices it into frames.
 */
import { DBM0_IN_DBFS, sineAmplitude } from './level.js';

export interface ToneSpec {
  /** Frequencies in Hz, mixed together (e.g. [440, 480] for US ringback). */
  freqs: readonly number[];
  /** Level of each frequency, dBFS (see level.ts); two tones together read about 3 dB higher. */
  levelDbfs: number;
  /**
   * Milliseconds on, off, on, off ... (pairs), repeated; the first entry is "on".
   * Omitted or empty: a steady tone.
   */
  cadenceMs?: readonly number[];
}

/** G.711 levels in dBm0 (as tone plans state them) on our dBFS scale. */
const dbm0 = (level: number) => level + DBM0_IN_DBFS;

/**
 * Call-progress tones by region. US: the Precise Tone Plan (dial 350+440,
 * ringback 440+480 2 s on / 4 s off, busy 480+620 0.5/0.5, reorder
 * 0.25/0.25). EU: the CEPT/ETSI 425 Hz tones (ringback 1 s on / 4 s off).
 * UK: 400+450 double ring (0.4 on, 0.2 off, 0.4 on, 2 off).
 */
export const CALL_PROGRESS_TONES = {
  us: {
    dial: { freqs: [350, 440], levelDbfs: dbm0(-13) },
    ringback: { freqs: [440, 480], levelDbfs: dbm0(-19), cadenceMs: [2000, 4000] },
    busy: { freqs: [480, 620], levelDbfs: dbm0(-24), cadenceMs: [500, 500] },
    congestion: { freqs: [480, 620], levelDbfs: dbm0(-24), cadenceMs: [250, 250] },
  },
  eu: {
    dial: { freqs: [425], levelDbfs: dbm0(-10) },
    ringback: { freqs: [425], levelDbfs: dbm0(-10), cadenceMs: [1000, 4000] },
    busy: { freqs: [425], levelDbfs: dbm0(-10), cadenceMs: [500, 500] },
    congestion: { freqs: [425], levelDbfs: dbm0(-10), cadenceMs: [250, 250] },
  },
  uk: {
    dial: { freqs: [350, 440], levelDbfs: dbm0(-13) },
    ringback: { freqs: [400, 450], levelDbfs: dbm0(-19), cadenceMs: [400, 200, 400, 2000] },
    busy: { freqs: [400], levelDbfs: dbm0(-10), cadenceMs: [375, 375] },
    congestion: { freqs: [400], levelDbfs: dbm0(-10), cadenceMs: [400, 350, 225, 525] },
  },
} as const satisfies Record<string, Record<'dial' | 'ringback' | 'busy' | 'congestion', ToneSpec>>;

export type ToneRegion = keyof typeof CALL_PROGRESS_TONES;
export type CallProgressTone = keyof (typeof CALL_PROGRESS_TONES)['us'];

export class ToneGenerator {
  /** 2·cos(ω) per sine: sin(θ+ω) = 2cos(ω)·sin(θ) - sin(θ-ω), one multiply per sample instead of Math.sin. */
  private readonly coeff: Float64Array;
  private readonly omega: Float64Array;
  /** sin of each sine's last two phases (θ, θ-ω); in double precision the recurrence stays exact (0 LSB off after 1 h at 48 kHz). */
  private readonly y1: Float64Array;
  private readonly y2: Float64Array;
  private readonly amplitude: number;
  /** Cadence segment lengths in samples; empty for a steady tone. */
  private readonly segments: number[];
  private seg = 0;
  private left = 0;

  constructor(
    readonly spec: ToneSpec,
    readonly sampleRate: number,
  ) {
    if (!(sampleRate > 0)) throw new RangeError(`sample rate must be positive, got ${sampleRate}`);
    for (const f of spec.freqs) {
      if (!(f > 0 && f < sampleRate / 2)) throw new RangeError(`tone ${f} Hz is outside 0..${sampleRate / 2} Hz`);
    }
    this.omega = Float64Array.from(spec.freqs, (f) => (2 * Math.PI * f) / sampleRate);
    this.coeff = this.omega.map((w) => 2 * Math.cos(w));
    this.y1 = new Float64Array(spec.freqs.length);
    this.y2 = new Float64Array(spec.freqs.length);
    this.amplitude = sineAmplitude(spec.levelDbfs);
    const cadence = spec.cadenceMs ?? [];
    this.segments = cadence.map((ms) => Math.round((ms * sampleRate) / 1000));
    const bad =
      this.segments.length % 2 !== 0 ||
      this.segments.some((s) => !(s >= 0)) ||
      (this.segments.length > 0 && this.segments.every((s) => s === 0));
    if (bad) {
      throw new RangeError(`bad cadence ${JSON.stringify(cadence)}: expected on/off pairs of milliseconds, not all zero`);
    }
    this.reset();
  }

  /** Back to the start of the first "on" segment. */
  reset(): void {
    this.seg = 0;
    this.left = this.segments.length > 0 ? this.segments[0] : Infinity;
    this.restartPhase();
  }

  /** The next sample is sin(0): seed the recurrence with sin(-ω), sin(-2ω). */
  private restartPhase(): void {
    for (let j = 0; j < this.omega.length; j++) {
      this.y1[j] = Math.sin(-this.omega[j]);
      this.y2[j] = Math.sin(-2 * this.omega[j]);
    }
  }

  /** Whether the next sample is in an "on" segment of the cadence. */
  get on(): boolean {
    return this.seg % 2 === 0;
  }

  /** Fills `out` with the next `out.length` samples (mono). */
  fill(out: Int16Array): void {
    let i = 0;
    const n = out.length;
    while (i < n) {
      while (this.left === 0) this.nextSegment();
      const run = Math.min(n - i, this.left);
      if (this.on) this.sines(out, i, i + run);
      else out.fill(0, i, i + run);
      i += run;
      this.left -= run;
    }
  }

  private nextSegment(): void {
    this.seg = (this.seg + 1) % this.segments.length;
    this.left = this.segments[this.seg];
    // Each burst starts at phase 0, as a cadenced tone from a switch does,
    // so every burst is identical and starts without a click.
    if (this.on) this.restartPhase();
  }

  private sines(out: Int16Array, from: number, to: number): void {
    const k = this.coeff.length;
    const amp = this.amplitude;
    const { coeff, y1, y2 } = this;
    for (let i = from; i < to; i++) {
      let v = 0;
      for (let j = 0; j < k; j++) {
        const y = coeff[j] * y1[j] - y2[j];
        y2[j] = y1[j];
        y1[j] = y;
        v += y;
      }
      const s = Math.round(v * amp);
      out[i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
    }
  }
}
