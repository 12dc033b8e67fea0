/**
 * Packet-loss concealment for 16-bit PCM by pitch repetition, in the spirit
 * of ITU-T G.711 Appendix I: voiced speech is nearly periodic over tens of
 * milliseconds, so repeating the last pitch period of the good audio hides a
 * lost frame far better than silence. Repetition turns buzzy if it goes on, so
 * the output is faded: full level for the first 10 ms of a loss, then down to
 * silence at 60 ms. When real audio comes back, its first milliseconds are
 * cross-faded with what the concealment would have played next, so there is
 * no click at the seam.
 *
 * The functions are stateless: the caller keeps the last good audio (at least
 * 2 × 15 ms, e.g. the last 30–40 ms played before the loss) and passes the same
 * history for every frame of one loss, with the loss counter. The concealed
 * signal is the periodic continuation of that history, so frame k of a loss
 * picks up exactly where frame k − 1 ended. Nothing is allocated.
 */

/** Pitch search range (ms): 67–400 Hz covers adult and child voices. */
export const MIN_PITCH_MS = 2.5;
export const MAX_PITCH_MS = 15;
/** Full level for this long into a loss, then a linear fade… */
export const FADE_START_MS = 10;
/** …reaching silence here. */
export const SILENCE_AFTER_MS = 60;
/** Length of the cross-fade into resumed audio. */
export const RESUME_OVERLAP_MS = 4;

/**
 * The pitch period (samples) of the end of `history`, by normalised
 * autocorrelation over lags of 2.5–15 ms; 0 when the history is too short.
 * Multiples of the true period correlate almost as well, so the shortest lag
 * within 10 % of the best score wins.
 */
export function estimatePitch(history: Int16Array, sampleRate = 8000): number {
  const n = history.length;
  const minLag = Math.max(1, Math.round((MIN_PITCH_MS * sampleRate) / 1000));
  const maxLag = Math.min(Math.round((MAX_PITCH_MS * sampleRate) / 1000), Math.floor(n / 2));
  if (maxLag < minLag) return 0;
  // Compare the last `win` samples with the `win` samples `lag` earlier.
  const win = Math.min(n - maxLag, maxLag);
  const start = n - win;
  let energyA = 0;
  for (let i = start; i < n; i++) energyA += history[i] * history[i];
  if (energyA === 0) return minLag;

  // First pass: the best score. Second pass: the first local peak within 10 % of it.
  let best = -Infinity;
  for (let lag = minLag; lag <= maxLag; lag++) best = Math.max(best, score(history, start, win, lag, energyA));
  if (best <= 0) return maxLag;
  let prev = -Infinity;
  let cur = score(history, start, win, minLag, energyA);
  for (let lag = minLag; lag <= maxLag; lag++) {
    const next = lag < maxLag ? score(history, start, win, lag + 1, energyA) : -Infinity;
    if (cur >= 0.9 * best && cur >= prev && cur >= next) return lag;
    prev = cur;
    cur = next;
  }
  return maxLag;
}

function score(x: Int16Array, start: number, win: number, lag: number, energyA: number): number {
  let cross = 0;
  let energyB = 0;
  for (let i = start; i < start + win; i++) {
    const b = x[i - lag];
    cross += x[i] * b;
    energyB += b * b;
  }
  return energyB === 0 ? 0 : cross / Math.sqrt(energyA * energyB);
}

/** Gain `t` ms into a loss. */
function fadeGain(tMs: number): number {
  if (tMs <= FADE_START_MS) return 1;
  if (tMs >= SILENCE_AFTER_MS) return 0;
  return 1 - (tMs - FADE_START_MS) / (SILENCE_AFTER_MS - FADE_START_MS);
}

/** Sample `j` samples past the end of `history`, continuing its last period, faded. */
function continuation(history: Int16Array, period: number, j: number, sampleRate: number): number {
  if (period === 0) return 0;
  const n = history.length;
  const sample = history[n - period + (j % period)];
  return sample * fadeGain((j * 1000) / sampleRate);
}

/**
 * Fills `out` with the concealment for the `consecutiveLost`-th lost frame in
 * a row (1 for the first), all frames being `out.length` samples long.
 */
export function concealFrame(history: Int16Array, out: Int16Array, consecutiveLost: number, sampleRate = 8000): void {
  const period = estimatePitch(history, sampleRate);
  const offset = Math.max(0, consecutiveLost - 1) * out.length;
  for (let i = 0; i < out.length; i++) out[i] = Math.round(continuation(history, period, offset + i, sampleRate));
}

/**
 * Smooths the first good frame after `consecutiveLost` concealed ones
 * (in place): its first 4 ms fade in from where the concealment would have
 * gone on, so the waveform does not jump.
 */
export function blendResumed(history: Int16Array, frame: Int16Array, consecutiveLost: number, sampleRate = 8000): void {
  if (consecutiveLost <= 0) return;
  const period = estimatePitch(history, sampleRate);
  const offset = consecutiveLost * frame.length;
  const overlap = Math.min(frame.length, Math.round((RESUME_OVERLAP_MS * sampleRate) / 1000));
  for (let i = 0; i < overlap; i++) {
    const w = (i + 1) / (overlap + 1);
    const v = (1 - w) * continuation(history, period, offset + i, sampleRate) + w * frame[i];
    frame[i] = Math.round(v);
  }
}
