/**
 * A small radix-2 FFT for real input: an n/2-point complex FFT of the
 * even/odd samples packed as re/im, then one split pass. Tables and scratch
 * are built once per size, so transforming a frame allocates nothing.
 */
export class RealFft {
  /** Bins in the output spectrum: DC .. Nyquist. */
  readonly bins: number;
  private readonly half: number;
  private readonly rev: Uint32Array;
  /** cos/sin of 2πk/half, k < half/2: the complex FFT's twiddles. */
  private readonly cosHalf: Float64Array;
  private readonly sinHalf: Float64Array;
  /** cos/sin of 2πk/n, k <= half: the split pass's twiddles. */
  private readonly cosFull: Float64Array;
  private readonly sinFull: Float64Array;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 4 || (size & (size - 1)) !== 0) {
      throw new RangeError(`FFT size must be a power of two >= 4, got ${size}`);
    }
    const half = size >> 1;
    this.half = half;
    this.bins = half + 1;
    const bits = Math.log2(half);
    this.rev = new Uint32Array(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
    this.cosHalf = new Float64Array(Math.max(1, half >> 1));
    this.sinHalf = new Float64Array(Math.max(1, half >> 1));
    for (let k = 0; k < half >> 1; k++) {
      this.cosHalf[k] = Math.cos((2 * Math.PI * k) / half);
      this.sinHalf[k] = Math.sin((2 * Math.PI * k) / half);
    }
    this.cosFull = new Float64Array(half + 1);
    this.sinFull = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.cosFull[k] = Math.cos((2 * Math.PI * k) / size);
      this.sinFull[k] = Math.sin((2 * Math.PI * k) / size);
    }
    this.zr = new Float64Array(half);
    this.zi = new Float64Array(half);
  }

  /**
   * Spectrum X[0..size/2] of `input` (length `size`) into `re`/`im`
   * (length >= size/2 + 1), unnormalized: X[k] = Σ x[n]·e^(-2πikn/size).
   */
  forward(input: ArrayLike<number>, re: Float64Array, im: Float64Array): void {
    if (input.length !== this.size) throw new RangeError(`FFT input has ${input.length} samples, expected ${this.size}`);
    if (re.length < this.bins || im.length < this.bins) throw new RangeError(`FFT output needs ${this.bins} bins`);
    const { half, rev, zr, zi } = this;
    for (let j = 0; j < half; j++) {
      const r = rev[j];
      zr[r] = input[2 * j];
      zi[r] = input[2 * j + 1];
    }
    for (let len = 2; len <= half; len <<= 1) {
      const h = len >> 1;
      const step = half / len;
      for (let i = 0; i < half; i += len) {
        for (let j = 0; j < h; j++) {
          const wr = this.cosHalf[j * step];
          const wi = -this.sinHalf[j * step];
          const a = i + j;
          const b = a + h;
          const tr = zr[b] * wr - zi[b] * wi;
          const ti = zr[b] * wi + zi[b] * wr;
          zr[b] = zr[a] - tr;
          zi[b] = zi[a] - ti;
          zr[a] += tr;
          zi[a] += ti;
        }
      }
    }
    // Z = E + iO, with E/O the spectra of the even/odd samples:
    // E[k] = (Z[k] + conj Z[half-k]) / 2, O[k] = (Z[k] - conj Z[half-k]) / 2i,
    // and X[k] = E[k] + e^(-2πik/size)·O[k].
    for (let k = 0; k <= half; k++) {
      const a = k === half ? 0 : k;
      const b = k === 0 ? 0 : half - k;
      const er = (zr[a] + zr[b]) / 2;
      const ei = (zi[a] - zi[b]) / 2;
      const or = (zi[a] + zi[b]) / 2;
      const oi = -(zr[a] - zr[b]) / 2;
      const c = this.cosFull[k];
      const s = this.sinFull[k];
      re[k] = er + c * or + s * oi;
      im[k] = ei + c * oi - s * or;
    }
  }

  /** |X[k]|² for k = 0..size/2 into `out` (length >= size/2 + 1). */
  power(input: ArrayLike<number>, out: Float64Array, scratchIm: Float64Array = this.scratch()): void {
    this.forward(input, out, scratchIm);
    for (let k = 0; k < this.bins; k++) out[k] = out[k] * out[k] + scratchIm[k] * scratchIm[k];
  }

  private scratchBuf: Float64Array | null = null;
  private scratch(): Float64Array {
    return (this.scratchBuf ??= new Float64Array(this.bins));
  }
}
