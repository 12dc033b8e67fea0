/**
 * Signal levels in dBFS, measured as RMS relative to a full-scale square wave
 * (RMS 32768): a full-scale sine reads -3.01 dBFS. Every level in `dsp/`
 * (tone generator, Goertzel power, VAD threshold) uses this one scale, so a
 * tone generated at -20 dBFS measures -20 dBFS.
 */

const FULL_SCALE = 32768;

/**
 * 0 dBm0 in this scale: the G.711 digital milliwatt is a sine 3.14 dB below
 * a full-scale sine (G.711 / G.168), i.e. -3.14 - 3.01.
 */
export const DBM0_IN_DBFS = -6.15;

/** RMS level of 16-bit samples in dBFS; -Infinity for digital silence or an empty frame. */
export function levelDbfs(frame: Int16Array): number {
  return rangeLevelDbfs(frame, 0, frame.length);
}

/** Mean power of samples [start, end) in full-scale units (1 = square wave at full scale). */
export function meanPower(frame: Int16Array, start: number, end: number): number {
  const n = end - start;
  if (n <= 0) return 0;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const x = frame[i];
    sum += x * x;
  }
  return sum / (n * FULL_SCALE * FULL_SCALE);
}

export function rangeLevelDbfs(frame: Int16Array, start: number, end: number): number {
  return powerToDbfs(meanPower(frame, start, end));
}

export function powerToDbfs(power: number): number {
  return power > 0 ? 10 * Math.log10(power) : -Infinity;
}

/** Peak amplitude in 16-bit sample units of a sine whose level is `dbfs`. */
export function sineAmplitude(dbfs: number): number {
  return FULL_SCALE * Math.SQRT2 * Math.pow(10, dbfs / 20);
}
