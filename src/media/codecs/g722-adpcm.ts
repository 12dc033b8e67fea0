/**
 * The two ADPCM sub-band coders of ITU-T G.722 at 64 kbit/s: a 6-bit coder
 * for the lower band (0–4 kHz) and a 2-bit coder for the higher band
 * (4–8 kHz), each with its own adaptive quantizer scale and the same
 * pole-zero predictor (the standard's "block 4").
 *
 * Names follow the standard (DET, NB, AL1, BL1, DLT1, PLT1, RLT1 ...) so the
 * code can be read against its block diagrams. All values are the
 * standard's 16-bit two's-complement words kept in plain JS numbers; where
 * the standard limits a sum to 16 bits, so do we (sat16).
 *
 * One band's state is an Int32Array laid out by the offsets below, so an
 * encoder or decoder is two small typed arrays and nothing is allocated per
 * sample.
 */

/** Offsets into one band's state. */
const S = 0; // SL / SH: predicted signal
const SZ = 1; // SZL / SZH: zero-section part of the prediction
const DET = 2; // DETL / DETH: quantizer scale factor
const NB = 3; // NBL / NBH: logarithmic scale factor
const A1 = 4;
const A2 = 5;
const B1 = 6; // B1..B6 at 6..11
const D1 = 12; // DLT1..DLT6 (quantized differences) at 12..17
const P1 = 18; // PLT1, PLT2 (partial reconstructions) at 18..19
const R1 = 20; // RLT1, RLT2 (reconstructions) at 20..21
export const BAND_STATE_SIZE = 22;

/** DETL and DETH after reset (the smallest scale each band can have). */
const DET_LOW_INIT = 32;
const DET_HIGH_INIT = 8;

/** QUANTL's lower-band decision levels (×DETL/4096) for magnitude intervals 1..29. */
const Q6 = Int32Array.of(
  0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339,
  1458, 1612, 1765, 1980, 2195, 2557, 2919,
);
/** 6-bit code of magnitude interval 1..30, negative and positive differences. */
const ILN = Int32Array.of(
  0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4,
);
const ILP = Int32Array.of(
  0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33,
  32,
);

/** Inverse quantizer outputs (×DET/32768): 6-bit (decoder output, mode 1) ... */
const QM6 = Int32Array.of(
  -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
  -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728, 24808,
  21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008,
  3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
);
/** ... 4-bit (the lower band's prediction loop uses only the 4 MSBs of IL, so the decoder can drop bits) ... */
const QM4 = Int32Array.of(0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0);
/** ... and 2-bit (higher band). */
const QM2 = Int32Array.of(-7408, -1616, 7408, 1616);

/** Log scale factor multipliers: lower band by magnitude of the 4-bit code, higher band by the 2-bit code. */
const RIL4 = Int32Array.of(0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0);
const WL = Int32Array.of(-60, -30, 58, 172, 334, 538, 1198, 3042);
const WH_BY_IH = Int32Array.of(798, -214, 798, -214);

/** 2^(i/32)·2048: the antilog table that turns NB back into DET. */
const ILB = Int32Array.of(
  2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025,
  3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
);

const NB_LOW_MAX = 18432;
const NB_HIGH_MAX = 22528;

function sat16(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}

export function resetBand(st: Int32Array, high: boolean): void {
  st.fill(0);
  st[DET] = high ? DET_HIGH_INIT : DET_LOW_INIT;
}

/** QUANTL: 6-bit code of the lower-band difference EL. */
export function quantizeLow(st: Int32Array, xl: number): number {
  const el = sat16(xl - st[S]);
  // One's complement for negatives, as the standard does: -1 falls in the smallest interval.
  const wd = el >= 0 ? el : ~el;
  const det = st[DET];
  // Decision levels rise with the index: binary search for the first one above wd.
  let lo = 1;
  let hi = 30;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (wd < (Q6[mid] * det) >> 12) hi = mid;
    else lo = mid + 1;
  }
  return el >= 0 ? ILP[lo] : ILN[lo];
}

/** QUANTH: 2-bit code of the higher-band difference EH. */
export function quantizeHigh(st: Int32Array, xh: number): number {
  const eh = sat16(xh - st[S]);
  const wd = eh >= 0 ? eh : ~eh;
  const big = wd >= (564 * st[DET]) >> 12;
  return eh >= 0 ? (big ? 2 : 3) : big ? 0 : 1;
}

/**
 * Lower-band decoder output for code `il` (INVQBL then RECONS, limited to
 * 15 bits); call before adaptLow() for the same code.
 */
export function reconstructLow(st: Int32Array, il: number): number {
  const rl = st[S] + ((QM6[il] * st[DET]) >> 15);
  return rl > 16383 ? 16383 : rl < -16384 ? -16384 : rl;
}

/** Higher-band decoder output for code `ih`; call before adaptHigh(). */
export function reconstructHigh(st: Int32Array, ih: number): number {
  const rh = st[S] + ((QM2[ih] * st[DET]) >> 15);
  return rh > 16383 ? 16383 : rh < -16384 ? -16384 : rh;
}

/** DET from the log scale factor NB; `shiftBase` is 8 (lower band) or 10 (higher band). */
function scale(nb: number, shiftBase: number): number {
  const wd1 = ILB[(nb >> 6) & 31];
  const wd2 = shiftBase - (nb >> 11);
  return (wd2 >= 0 ? wd1 >> wd2 : wd1 << -wd2) << 2;
}

/** INVQAL, LOGSCL, SCALEL and block 4 for one lower-band code: the state moves to the next sample. */
export function adaptLow(st: Int32Array, il: number): void {
  const ril = il >> 2;
  const dlt = (QM4[ril] * st[DET]) >> 15;
  let nb = ((st[NB] * 32512) >> 15) + WL[RIL4[ril]];
  nb = nb < 0 ? 0 : nb > NB_LOW_MAX ? NB_LOW_MAX : nb;
  st[NB] = nb;
  st[DET] = scale(nb, 8);
  predictor(st, dlt);
}

/** INVQAH, LOGSCH, SCALEH and block 4 for one higher-band code. */
export function adaptHigh(st: Int32Array, ih: number): void {
  const dh = (QM2[ih] * st[DET]) >> 15;
  let nb = ((st[NB] * 32512) >> 15) + WH_BY_IH[ih];
  nb = nb < 0 ? 0 : nb > NB_HIGH_MAX ? NB_HIGH_MAX : nb;
  st[NB] = nb;
  st[DET] = scale(nb, 10);
  predictor(st, dh);
}

/**
 * Block 4: reconstruct, adapt the two pole and six zero coefficients by
 * sign-sign LMS with leakage, shift the delay lines, and predict the next
 * sample. Coefficients are in units of 2^-14; a sign is negative only below
 * zero (the standard takes X >> 15).
 */
function predictor(st: Int32Array, d: number): void {
  const r = sat16(st[S] + d); // RECONS
  const p = sat16(d + st[SZ]); // PARREC
  const p1 = st[P1];
  const sg0 = p >> 31;
  const sg1 = p1 >> 31;
  const sg2 = st[P1 + 1] >> 31;
  const a1 = st[A1];

  // UPPOL2: the a1 term is clipped (f(a1) = 4·a1, limited to 16 bits).
  let wd2 = sat16(a1 * 4);
  if (sg0 === sg1) wd2 = sat16(-wd2);
  let apl2 = (wd2 >> 7) + (sg0 === sg2 ? 128 : -128) + ((st[A2] * 32512) >> 15);
  apl2 = apl2 > 12288 ? 12288 : apl2 < -12288 ? -12288 : apl2;

  // UPPOL1: keep the pole pair stable, |a1| <= 1 - 2^-4 - a2.
  let apl1 = sat16((sg0 === sg1 ? 192 : -192) + ((a1 * 32640) >> 15));
  const lim = 15360 - apl2;
  apl1 = apl1 > lim ? lim : apl1 < -lim ? -lim : apl1;

  // UPZERO: sign-sign update with leakage; b stays within 16 bits without
  // limiting (leak 1 - 2^-8 against a step of 2^-7), and |DLT| <= 10228, so
  // 2·DLT needs no limit in FILTEZ either. Unrolled: this is the hot loop.
  const sgd = d >> 31;
  const step = d === 0 ? 0 : 128;
  const d1 = st[D1];
  const d2 = st[D1 + 1];
  const d3 = st[D1 + 2];
  const d4 = st[D1 + 3];
  const d5 = st[D1 + 4];
  const d6 = st[D1 + 5];
  const b1 = (sgd === d1 >> 31 ? step : -step) + ((st[B1] * 32640) >> 15);
  const b2 = (sgd === d2 >> 31 ? step : -step) + ((st[B1 + 1] * 32640) >> 15);
  const b3 = (sgd === d3 >> 31 ? step : -step) + ((st[B1 + 2] * 32640) >> 15);
  const b4 = (sgd === d4 >> 31 ? step : -step) + ((st[B1 + 3] * 32640) >> 15);
  const b5 = (sgd === d5 >> 31 ? step : -step) + ((st[B1 + 4] * 32640) >> 15);
  const b6 = (sgd === d6 >> 31 ? step : -step) + ((st[B1 + 5] * 32640) >> 15);

  // DELAYA
  st[B1] = b1;
  st[B1 + 1] = b2;
  st[B1 + 2] = b3;
  st[B1 + 3] = b4;
  st[B1 + 4] = b5;
  st[B1 + 5] = b6;
  st[D1 + 5] = d5;
  st[D1 + 4] = d4;
  st[D1 + 3] = d3;
  st[D1 + 2] = d2;
  st[D1 + 1] = d1;
  st[D1] = d;
  st[A1] = apl1;
  st[A2] = apl2;
  st[P1 + 1] = p1;
  st[P1] = p;
  const r1 = st[R1];
  st[R1 + 1] = r1;
  st[R1] = r;

  // FILTEZ, FILTEP, PREDIC with the new coefficients.
  const sz = sat16(
    ((b1 * 2 * d) >> 15) +
      ((b2 * 2 * d1) >> 15) +
      ((b3 * 2 * d2) >> 15) +
      ((b4 * 2 * d3) >> 15) +
      ((b5 * 2 * d4) >> 15) +
      ((b6 * 2 * d5) >> 15),
  );
  const sp = sat16(((apl1 * sat16(r * 2)) >> 15) + ((apl2 * sat16(r1 * 2)) >> 15));
  st[SZ] = sz;
  st[S] = sat16(sp + sz);
}
