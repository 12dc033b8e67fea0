/**
 * Call quality as a listener would score it: the ITU-T G.107 E-model in the
 * simplified form used for VoIP monitoring (as in RTCP XR VoIP metrics,
 * RFC 3611 §4.7.5), from what an RTP receiver measures.
 *
 *   R = (Ro − Is) − Id + A − Ie,eff
 *
 * - Ro − Is is held at 93.2: the G.107 default R, i.e. the default loudness,
 *   noise and sidetone values, and the echo terms Idte/Idle at T = 0. A VoIP
 *   endpoint cancels its echo, so of the delay terms only the pure-delay
 *   impairment Idd moves with delay.
 * - Id = Idd from the one-way mouth-to-ear delay Ta (G.107 (06/2015) §7.4,
 *   with the default delay sensitivity mT = 100 ms, sT = 1).
 * - Ie,eff from the codec's Ie and packet-loss robustness Bpl (G.113
 *   Appendix I) and the loss ratio, with BurstR for bursty loss (G.107 §7.5).
 * - A, the advantage factor, is 0: no allowance for a mobile or satellite
 *   user's lower expectations.
 * - MOS from R by G.107 Annex B.
 *
 * This is the narrowband (R ≤ 100) model: wideband and fullband codecs are
 * scored as if narrowband, which under-rates them (see CODECS).
 */

export type EModelCodec = 'pcmu' | 'pcma' | 'g722' | 'opus';

export interface EModelInput {
  codec: EModelCodec;
  /** Packets lost, percent of those expected (0..100). */
  lossPercent: number;
  /** RFC 3550 interarrival jitter, ms. */
  jitterMs: number;
  /** Network round-trip time, ms; 0 (no network delay) when unknown. */
  rttMs?: number;
  /** Delay the receiver's jitter buffer adds, ms; by default max(20, 2 × jitter), as our jitter buffer sizes itself. */
  jitterBufferMs?: number;
  /** G.107 BurstR: 1 for random loss (default), > 1 when losses come in bursts. */
  burstRatio?: number;
}

export interface EModelResult {
  /** Transmission rating factor R (G.107), 0..100 on the narrowband scale. */
  r: number;
  /** Estimated listening-conversational MOS, 1..4.5. */
  mos: number;
}

/** G.107 default R with all default parameters (Ro − Is − Idte − Idle at T = 0). */
export const DEFAULT_RO_MINUS_IS = 93.2;

interface CodecImpairment {
  /** Equipment impairment factor without loss. */
  ie: number;
  /** Packet-loss robustness factor. */
  bpl: number;
  /** One-way delay the codec adds: packetization (20 ms frames) plus look-ahead / filter delay, ms. */
  delayMs: number;
}

/**
 * Ie and Bpl per codec.
 *
 * G.711 (PCMU, PCMA) with packet-loss concealment (G.711 Appendix I): Ie 0,
 * Bpl 25.1 — G.113 Appendix I, Table I.3. 20 ms packets, no look-ahead.
 *
 * G.722 and Opus have no entry on G.113 Appendix I's narrowband scale
 * (G.722's values live on the wideband scale of G.107.1 / G.113 Appendix IV,
 * and the ITU tables hold none for Opus). We score both by the G.711 + PLC
 * values: their 300–3400 Hz band is at least as clean as G.711's (Ie 0), and
 * their concealment (G.722 Appendix III/IV, Opus's built-in PLC) is taken
 * as no better than G.711 Appendix I's (Bpl 25.1). That is a deliberately
 * conservative narrowband equivalent, never rating them above G.711; the
 * wideband E-model (G.107.1, R up to 129) would rate them higher.
 * Codec delays: G.722's QMF pair delays 23 samples at 16 kHz (≈1.5 ms);
 * Opus at 20 ms frames has 26.5 ms algorithmic delay (RFC 6716 §2: 20 ms
 * frame + 6.5 ms look-ahead).
 */
const CODECS: Readonly<Record<EModelCodec, CodecImpairment>> = {
  pcmu: { ie: 0, bpl: 25.1, delayMs: 20 },
  pcma: { ie: 0, bpl: 25.1, delayMs: 20 },
  g722: { ie: 0, bpl: 25.1, delayMs: 21.5 },
  opus: { ie: 0, bpl: 25.1, delayMs: 26.5 },
};

/** Our jitter buffer never holds less than this (src/media/jitter: minDelayMs default). */
const MIN_JITTER_BUFFER_MS = 20;

/**
 * G.107 §7.4 pure-delay impairment Idd for one-way delay `ta` ms, with the
 * default delay sensitivity (mT = 100 ms, sT = 1):
 *   Ta ≤ 100: 0
 *   Ta > 100: 25 · { (1 + X⁶)^(1/6) − 3·(1 + (X/3)⁶)^(1/6) + 2 },  X = log2(Ta/100)
 */
export function delayImpairment(ta: number): number {
  if (!(ta > 100)) return 0;
  const x = Math.log2(ta / 100);
  return 25 * (Math.pow(1 + x ** 6, 1 / 6) - 3 * Math.pow(1 + (x / 3) ** 6, 1 / 6) + 2);
}

/** G.107 §7.5: Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl / BurstR + Bpl). */
export function effectiveEquipmentImpairment(ie: number, bpl: number, lossPercent: number, burstRatio: number): number {
  return ie + ((95 - ie) * lossPercent) / (lossPercent / burstRatio + bpl);
}

/** G.107 Annex B: MOS (CQE) from R. */
export function mosFromR(r: number): number {
  if (r < 0) return 1;
  if (r > 100) return 4.5;
  return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
}

/** The codec's one-way delay as the E-model counts it (packetization plus look-ahead), ms. */
export function codecDelayMs(codec: EModelCodec): number {
  return codecEntry(codec).delayMs;
}

function codecEntry(codec: EModelCodec): CodecImpairment {
  const c = Object.hasOwn(CODECS, codec) ? CODECS[codec] : undefined;
  if (!c) throw new RangeError(`codec must be one of ${Object.keys(CODECS).join(', ')}, got ${String(codec)}`);
  return c;
}

function check(name: string, v: number, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) {
    throw new RangeError(`${name} must be a finite number in 0..${max}, got ${String(v)}`);
  }
  return v;
}

/** R and MOS for one direction of a call; RangeError naming the field for negative, NaN or out-of-range input. */
export function estimateMos(input: EModelInput): EModelResult {
  const c = codecEntry(input.codec);
  const loss = check('lossPercent', input.lossPercent, 100);
  const jitter = check('jitterMs', input.jitterMs);
  const rtt = input.rttMs === undefined ? 0 : check('rttMs', input.rttMs);
  const jb = input.jitterBufferMs === undefined ? Math.max(MIN_JITTER_BUFFER_MS, 2 * jitter) : check('jitterBufferMs', input.jitterBufferMs);
  const burst = input.burstRatio === undefined ? 1 : check('burstRatio', input.burstRatio);
  if (burst === 0) throw new RangeError('burstRatio must be positive, got 0');
  const ta = rtt / 2 + jb + c.delayMs;
  const r = DEFAULT_RO_MINUS_IS - delayImpairment(ta) - effectiveEquipmentImpairment(c.ie, c.bpl, loss, burst);
  return { r, mos: mosFromR(r) };
}
