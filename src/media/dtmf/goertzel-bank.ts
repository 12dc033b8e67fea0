/**
 * A bank of Goertzel filters that runs across frame boundaries, for the
 * in-band DTMF detector only (private to this folder: src/media/dsp has the
 * general one). Frames from the network need not line up with analysis
 * blocks, so state is kept between `feed()` calls instead of copying samples
 * into a block buffer.
 */
const FULL_SCALE = 32768;

export class GoertzelBank {
  private readonly coeffs: Float64Array;
  private readonly s1: Float64Array;
  private readonly s2: Float64Array;
  private sumSq = 0;
  private n = 0;

  constructor(freqs: readonly number[], sampleRate: number) {
    this.coeffs = new Float64Array(freqs.length);
    for (let k = 0; k < freqs.length; k++) this.coeffs[k] = 2 * Math.cos((2 * Math.PI * freqs[k]) / sampleRate);
    this.s1 = new Float64Array(freqs.length);
    this.s2 = new Float64Array(freqs.length);
  }

  /** Samples counted since the last reset. */
  get count(): number {
    return this.n;
  }

  /** Runs samples [start, end) through every filter. */
  feed(x: Int16Array, start: number, end: number): void {
    // Filter-major order keeps each filter's two state values in registers.
    for (let k = 0; k < this.coeffs.length; k++) {
      const c = this.coeffs[k];
      let s1 = this.s1[k];
      let s2 = this.s2[k];
      for (let i = start; i < end; i++) {
        const s0 = x[i] + c * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      this.s1[k] = s1;
      this.s2[k] = s2;
    }
    let sq = 0;
    for (let i = start; i < end; i++) sq += x[i] * x[i];
    this.sumSq += sq;
    this.n += end - start;
  }

  /**
   * Squared peak amplitude of filter k's frequency relative to full scale:
   * a sine at L dBFS (peak, 0 dBFS = amplitude 32768) gives 10^(L/10).
   */
  power(k: number): number {
    if (this.n === 0) return 0;
    const s1 = this.s1[k];
    const s2 = this.s2[k];
    const mag2 = s1 * s1 + s2 * s2 - this.coeffs[k] * s1 * s2;
    // |X|^2 of a sine with amplitude A over N samples is (N·A/2)^2.
    return (4 * mag2) / (this.n * this.n * FULL_SCALE * FULL_SCALE);
  }

  /** Total power on the same scale as power(): a lone sine gives the same value from both. */
  totalPower(): number {
    return this.n === 0 ? 0 : (2 * this.sumSq) / (this.n * FULL_SCALE * FULL_SCALE);
  }

  reset(): void {
    this.s1.fill(0);
    this.s2.fill(0);
    this.sumSq = 0;
    this.n = 0;
  }
}
