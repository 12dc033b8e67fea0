/**
 * The strongest frequency in a frame, for checking what a peer sent when the
 * expected tone is not known in advance (Goertzel needs the frequency).
 */
import { RealFft } from './fft.js';

interface Workspace {
  fft: RealFft;
  windowed: Float64Array;
  power: Float64Array;
  im: Float64Array;
}

// One workspace per FFT size: frames of a stream all have the same length.
const workspaces = new Map<number, Workspace>();

function workspace(size: number): Workspace {
  let w = workspaces.get(size);
  if (!w) {
    const fft = new RealFft(size);
    w = { fft, windowed: new Float64Array(size), power: new Float64Array(fft.bins), im: new Float64Array(fft.bins) };
    workspaces.set(size, w);
  }
  return w;
}

export interface DominantFrequencyOptions {
  /** Ignore peaks below this frequency (default 50 Hz: hum and DC). */
  minHz?: number;
  maxHz?: number;
  /** FFT size, a power of two (default 256); doubled until it holds the frame, which is zero-padded. */
  fftSize?: number;
}

/**
 * Frequency (Hz) of the strongest spectral peak of `frame`, refined between
 * bins by parabolic interpolation of the log power; null for silence.
 * A Hann window keeps a strong tone's leakage from hiding a weaker one.
 */
export function dominantFrequency(frame: Int16Array, sampleRate: number, opts: DominantFrequencyOptions = {}): number | null {
  const n = frame.length;
  if (n < 2) return null;
  let size = opts.fftSize ?? 256;
  while (size < n) size <<= 1;
  const w = workspace(size);
  const x = w.windowed;
  for (let i = 0; i < n; i++) x[i] = frame[i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)));
  x.fill(0, n);
  w.fft.power(x, w.power, w.im);
  const binHz = sampleRate / size;
  const lo = Math.max(1, Math.ceil((opts.minHz ?? 50) / binHz));
  const hi = Math.min(w.fft.bins - 2, Math.floor((opts.maxHz ?? sampleRate / 2) / binHz));
  let best = -1;
  let bestPower = 0;
  for (let k = lo; k <= hi; k++) {
    if (w.power[k] > bestPower) {
      bestPower = w.power[k];
      best = k;
    }
  }
  if (best < 0) return null;
  const a = Math.log(w.power[best - 1] || Number.MIN_VALUE);
  const b = Math.log(bestPower);
  const c = Math.log(w.power[best + 1] || Number.MIN_VALUE);
  const denom = a - 2 * b + c;
  const offset = denom < 0 ? (0.5 * (a - c)) / denom : 0;
  return (best + Math.max(-0.5, Math.min(0.5, offset))) * binHz;
}
