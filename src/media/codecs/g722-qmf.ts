/**
 * The quadrature mirror filters of ITU-T G.722 (transmit and receive): 24
 * symmetric taps, in units of 2^-13, that split 16 kHz audio into a lower
 * and a higher band at 8 kHz each and put them back together.
 *
 * Sub-band signals are 15-bit (a 16-bit input halved), as the ADPCM coders
 * expect. Delay lines are rings written twice (at i and i + length), so the
 * filter always reads one contiguous window without wrapping.
 */

/** h(0)..h(23). */
const H = Int32Array.of(
  3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876, 3876, 951, -805, -210, 362, 32, -156, 12, 53, -11, -11, 3,
);

export class QmfAnalysis {
  /** Input x(j-23..j) twice over. */
  private readonly x = new Int32Array(48);
  private pos = 0;
  /** Outputs of the last split(): xL and xH. */
  low = 0;
  high = 0;

  reset(): void {
    this.x.fill(0);
    this.pos = 0;
    this.low = 0;
    this.high = 0;
  }

  /** Takes two consecutive 16 kHz samples (x0 older) and sets `low` and `high`. */
  split(x0: number, x1: number): void {
    const x = this.x;
    let p = this.pos;
    x[p] = x[p + 24] = x0;
    p = p === 23 ? 0 : p + 1;
    x[p] = x[p + 24] = x1;
    // Newest sample x(j) now sits at p + 24, x(j - k) at p + 24 - k.
    const j = p + 24;
    this.pos = p === 23 ? 0 : p + 1;
    let xa = 0; // Σ h(2i)·x(j-2i)
    let xb = 0; // Σ h(2i+1)·x(j-2i-1)
    for (let i = 0; i < 24; i += 2) {
      xa += H[i] * x[j - i];
      xb += H[i + 1] * x[j - i - 1];
    }
    // 2^-13 for the taps and 2^-1 to 15 bits.
    this.low = (xa + xb) >> 14;
    this.high = (xa - xb) >> 14;
  }
}

export class QmfSynthesis {
  /** xd(j) = rL - rH and xs(j) = rL + rH, last 12 of each, twice over. */
  private readonly xd = new Int32Array(24);
  private readonly xs = new Int32Array(24);
  private pos = 0;

  reset(): void {
    this.xd.fill(0);
    this.xs.fill(0);
    this.pos = 0;
  }

  /** Merges one pair of sub-band samples into two 16 kHz samples at out[at], out[at + 1]. */
  merge(rl: number, rh: number, out: Int16Array, at: number): void {
    const p = this.pos;
    this.xd[p] = this.xd[p + 12] = rl - rh;
    this.xs[p] = this.xs[p + 12] = rl + rh;
    this.pos = p === 11 ? 0 : p + 1;
    const j = p + 12;
    let o0 = 0; // Σ h(2i)·xd(j-i)
    let o1 = 0; // Σ h(2i+1)·xs(j-i)
    for (let i = 0; i < 12; i++) {
      o0 += H[2 * i] * this.xd[j - i];
      o1 += H[2 * i + 1] * this.xs[j - i];
    }
    // ×2 in the standard, 2^-13 for the taps, ×2 back from 15 to 16 bits.
    o0 >>= 11;
    o1 >>= 11;
    out[at] = o0 > 32767 ? 32767 : o0 < -32768 ? -32768 : o0;
    out[at + 1] = o1 > 32767 ? 32767 : o1 < -32768 ? -32768 : o1;
  }
}
