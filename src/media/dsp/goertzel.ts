/**
 * Goertzel: the power of one frequency in a block of samples, in O(N) with
 * no buffers, which is what tone and DTMF detection need per 20 ms frame.
 */

const FULL_SCALE = 32768;

/**
 * Power at `freq` Hz of samples [start, end), on the same scale as
 * meanPower(): a sine of level L dBFS at `freq` gives 10^(L/10), so
 * 10·log10(result) is that tone's level in dBFS. The frequency need not sit
 * on a DFT bin.
 */
export function goertzelRange(samples: Int16Array, start: number, end: number, sampleRate: number, freq: number): number {
  const n = end - start;
  if (n <= 0) return 0;
  const coeff = 2 * Math.cos((2 * Math.PI * freq) / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (let i = start; i < end; i++) {
    const s0 = samples[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  // |X(f)|^2; a sine of amplitude A gives (N·A/2)^2, and its mean power is A^2/2.
  const mag2 = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * mag2) / (n * n * FULL_SCALE * FULL_SCALE);
}

/** goertzelRange() over the whole of `samples`. */
export function goertzel(samples: Int16Array, sampleRate: number, freq: number): number {
  return goertzelRange(samples, 0, samples.length, sampleRate, freq);
}
