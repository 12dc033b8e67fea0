/**
 * Sample-rate conversion between the telephony rates (8 kHz G.711, 16 kHz
 * G.722, 48 kHz Opus) by a rational factor L/M: conceptually upsample by L
 * (insert zeros), low-pass, keep every M-th sample. The polyphase form only
 * computes the outputs that are kept, and only with the taps that meet
 * non-zero input, so the cost is K multiply-adds per output sample
 * (K = filter length / L).
 *
 * The low-pass is a Kaiser-windowed sinc designed once per instance: -6 dB at
 * 0.45 × the lower rate, passband to 0.4 ×, stopband from 0.5 × (the lower
 * Nyquist) at STOPBAND_DB, so nothing that would alias (down) or image (up)
 * survives above -60 dB. The filter is symmetric (linear phase), so every
 * frequency is delayed by the same `delaySamples`.
 */

/** Designed stopband attenuation; Kaiser's length formula is approximate, so this keeps a margin over the 60 dB we promise. */
const STOPBAND_DB = 66;
/** Input frames deinterleaved per pass; bounds the work buffer so process() never allocates. */
const CHUNK = 1024;
/** Ratios beyond this are not telephony rates (8 → 48 kHz is 6) and would need very long filters. */
const MAX_FACTOR = 12;
/**
 * What a whole file converted once may use (`maxFactor`): 44.1 kHz → 8 kHz is
 * 80:441, 22.05 kHz (espeak-ng) → 16 kHz is 320:441. The filter then has
 * about 18 000 taps (140 KB) and 56-230 multiply-adds per output sample:
 * fine once per file, too much per packet.
 */
export const FILE_MAX_FACTOR = 441;

export interface ResamplerOptions {
  /** Interleaved channels in input and output; default 1. */
  channels?: number;
  /** Largest L or M accepted (default 12, the telephony rates); FILE_MAX_FACTOR for files read once. */
  maxFactor?: number;
}

export class Resampler {
  readonly channels: number;
  /** Upsampling factor L. */
  readonly up: number;
  /** Downsampling factor M. */
  readonly down: number;
  /**
   * Group delay in output sample frames: an event at input time t comes out at
   * output time t + delaySamples / toRate. Always an integer (the filter length
   * is chosen for that) and the same for every frequency in the passband.
   */
  readonly delaySamples: number;
  /** Taps per polyphase branch. */
  readonly tapsPerPhase: number;

  /** Branch p occupies [p·K, (p+1)·K), reversed so the inner loop walks history forward. */
  private readonly taps: Float64Array;
  /**
   * Per channel: K-1 samples of history followed by up to CHUNK new ones.
   * Held as doubles, converted once on the way in: reading Int16 inside the
   * multiply-add loop made it about twice as slow.
   */
  private readonly buf: Float64Array;
  private readonly stride: number;
  /** Input index (relative to the start of the next input) of the newest sample the next output needs. */
  private next = 0;
  /** Polyphase branch of the next output: its position on the upsampled grid mod L. */
  private phase = 0;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    options: ResamplerOptions = {},
  ) {
    const channels = options.channels ?? 1;
    if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`channels must be a positive integer, got ${channels}`);
    if (!Number.isInteger(fromRate) || !Number.isInteger(toRate) || fromRate <= 0 || toRate <= 0) {
      throw new RangeError(`sample rates must be positive integers, got ${fromRate} → ${toRate}`);
    }
    const g = gcd(fromRate, toRate);
    const up = toRate / g;
    const down = fromRate / g;
    const maxFactor = options.maxFactor ?? MAX_FACTOR;
    if (up > maxFactor || down > maxFactor) {
      throw new RangeError(`unsupported ratio ${fromRate} → ${toRate} Hz (${up}:${down}); factors up to ${maxFactor} only`);
    }
    this.channels = channels;
    this.up = up;
    this.down = down;

    if (up === 1 && down === 1) {
      // Same rate: a copy, no filter and no delay, so callers need not special-case it.
      this.taps = new Float64Array(0);
      this.tapsPerPhase = 1;
      this.delaySamples = 0;
    } else {
      const lower = Math.min(fromRate, toRate);
      const h = kaiserLowpass(fromRate * up, 0.45 * lower, 0.1 * lower, STOPBAND_DB, down);
      const k = Math.ceil(h.length / up);
      this.tapsPerPhase = k;
      this.taps = new Float64Array(up * k);
      // Gain L: zero-stuffing divides the signal energy among L images.
      for (let p = 0; p < up; p++) {
        for (let m = 0; m < k; m++) {
          const idx = p + (k - 1 - m) * up;
          this.taps[p * k + m] = idx < h.length ? h[idx] * up : 0;
        }
      }
      // (N-1)/2 samples on the upsampled grid; N was chosen so that divides by M.
      this.delaySamples = (h.length - 1) / 2 / down;
    }
    this.stride = this.tapsPerPhase - 1 + CHUNK;
    this.buf = new Float64Array(this.stride * channels);
  }

  /** Group delay in milliseconds. */
  get delayMs(): number {
    return (this.delaySamples * 1000) / this.toRate;
  }

  /**
   * How many Int16 values process() will write for `inputLength` interleaved
   * input values, given the current state (it varies by one frame between
   * calls when the input length is not a multiple of M).
   */
  outputLength(inputLength: number): number {
    const frames = Math.floor(inputLength / this.channels);
    const start = this.next * this.up + this.phase;
    const count = Math.max(0, Math.ceil((frames * this.up - start) / this.down));
    return count * this.channels;
  }

  /**
   * Takes over `other`'s history and position (same rates and channels), so
   * this instance's next output continues `other`'s stream without a seam:
   * a conference listener moving from the shared mix to a mix of their own.
   */
  copyStateFrom(other: Resampler): void {
    if (other.fromRate !== this.fromRate || other.toRate !== this.toRate || other.channels !== this.channels || other.buf.length !== this.buf.length) {
      throw new RangeError(`cannot copy the state of a ${other.fromRate} → ${other.toRate} Hz resampler into a ${this.fromRate} → ${this.toRate} Hz one`);
    }
    this.buf.set(other.buf);
    this.next = other.next;
    this.phase = other.phase;
  }

  /** Forget all history, as if newly constructed (e.g. after a stream restarts). */
  reset(): void {
    this.buf.fill(0);
    this.next = 0;
    this.phase = 0;
  }

  /**
   * Converts `input` (interleaved) into `out` and returns the number of Int16
   * values written. Filter state carries over, so feeding a stream in frames
   * of any size gives the same samples as one call with all of it.
   */
  process(input: Int16Array, out: Int16Array): number {
    const ch = this.channels;
    if (input.length % ch !== 0) throw new RangeError(`input length ${input.length} is not a multiple of ${ch} channels`);
    const need = this.outputLength(input.length);
    if (out.length < need) throw new RangeError(`output buffer holds ${out.length} samples, ${need} needed`);
    if (this.up === 1 && this.down === 1) {
      out.set(input);
      return input.length;
    }
    const { buf, stride, taps, up, down } = this;
    const k = this.tapsPerPhase;
    const hist = k - 1;
    const frames = input.length / ch;
    let o = 0;
    for (let start = 0; start < frames; start += CHUNK) {
      const n = Math.min(CHUNK, frames - start);
      for (let c = 0; c < ch; c++) {
        const base = c * stride + hist;
        for (let i = 0, j = start * ch + c; i < n; i++, j += ch) buf[base + i] = input[j];
      }
      let next = this.next;
      let phase = this.phase;
      while (next < n) {
        // Output needs inputs next-(K-1) .. next, which sit at buf[next .. next+K-1].
        const t0 = phase * k;
        for (let c = 0; c < ch; c++) {
          const s = Math.round(dot(taps, t0, buf, c * stride + next, k));
          out[o + c] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
        }
        o += ch;
        phase += down;
        if (phase >= up) {
          next += (phase / up) | 0;
          phase %= up;
        }
      }
      this.next = next - n;
      this.phase = phase;
      for (let c = 0; c < ch; c++) {
        const base = c * stride;
        buf.copyWithin(base, base + n, base + n + hist);
      }
    }
    return o;
  }
}

/** Σ taps[t+m]·x[b+m] for m < k; four accumulators so the adds do not wait on each other. */
function dot(taps: Float64Array, t: number, x: Float64Array, b: number, k: number): number {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  let m = 0;
  for (; m + 3 < k; m += 4) {
    a0 += taps[t + m] * x[b + m];
    a1 += taps[t + m + 1] * x[b + m + 1];
    a2 += taps[t + m + 2] * x[b + m + 2];
    a3 += taps[t + m + 3] * x[b + m + 3];
  }
  for (; m < k; m++) a0 += taps[t + m] * x[b + m];
  return a0 + a1 + (a2 + a3);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Kaiser-windowed sinc low-pass at sample rate `rate`: -6 dB at `cutoff`,
 * transition `width` Hz wide, `attenuationDb` in the stopband (Kaiser's
 * formulas for β and length). The length is odd and (N-1)/2 a multiple of
 * `delayMultiple`, so the delay is a whole number of output samples after
 * decimating by that factor. Taps sum to 1 (unity gain at DC).
 */
export function kaiserLowpass(rate: number, cutoff: number, width: number, attenuationDb: number, delayMultiple = 1): Float64Array {
  const dw = (2 * Math.PI * width) / rate;
  const minLength = Math.ceil((attenuationDb - 7.95) / (2.285 * dw)) + 1;
  const half = Math.ceil((minLength - 1) / 2 / delayMultiple) * delayMultiple;
  const n = 2 * half + 1;
  const beta =
    attenuationDb > 50
      ? 0.1102 * (attenuationDb - 8.7)
      : attenuationDb >= 21
        ? 0.5842 * Math.pow(attenuationDb - 21, 0.4) + 0.07886 * (attenuationDb - 21)
        : 0;
  const fc = cutoff / rate;
  const h = new Float64Array(n);
  const i0Beta = besselI0(beta);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = i - half;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const r = x / half;
    const w = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0Beta;
    h[i] = sinc * w;
    sum += h[i];
  }
  for (let i = 0; i < n; i++) h[i] /= sum;
  return h;
}

/** Modified Bessel function of the first kind, order 0, by its power series (converges fast for the β we use). */
function besselI0(x: number): number {
  let term = 1;
  let sum = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 100 && term > sum * 1e-17; k++) {
    term *= q / (k * k);
    sum += term;
  }
  return sum;
}
