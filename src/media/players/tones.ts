/**
 * The PBX's named sounds in one place: the voicemail beep, conference join
 * and leave, call-progress tones by region, and the `350+440` / `1000/250`
 * text form that --play and the dialplan's `tone:` use.
 */
import { CALL_PROGRESS_TONES, type CallProgressTone, type ToneRegion } from '../dsp/tone.js';
import type { AudioSourceSpec, ToneSourceSpec } from './source.js';

/** Highest frequency a tone may name: half the highest rate we play at (48 kHz Opus). */
const MAX_TONE_HZ = 24000;

/** The beep before a voicemail recording (Asterisk's is 1 kHz too). */
export const BEEP: ToneSourceSpec = Object.freeze({ kind: 'tone', freqs: Object.freeze([1000]), ms: 250 });

/** Quieter than prompts: it plays over people talking. */
const CONFERENCE_TONE_DBFS = -16;

/** Someone joined: two notes rising a fifth (A4, E5); every note is far from the DTMF pairs' high group. */
export const CONFERENCE_JOIN: AudioSourceSpec = Object.freeze({
  kind: 'sequence',
  items: Object.freeze([
    Object.freeze({ kind: 'tone', freqs: Object.freeze([440]), ms: 120, levelDbfs: CONFERENCE_TONE_DBFS }),
    Object.freeze({ kind: 'silence', ms: 30 }),
    Object.freeze({ kind: 'tone', freqs: Object.freeze([660]), ms: 160, levelDbfs: CONFERENCE_TONE_DBFS }),
  ]),
} as const);

/** Someone left: the same two notes falling. */
export const CONFERENCE_LEAVE: AudioSourceSpec = Object.freeze({
  kind: 'sequence',
  items: Object.freeze([
    Object.freeze({ kind: 'tone', freqs: Object.freeze([660]), ms: 120, levelDbfs: CONFERENCE_TONE_DBFS }),
    Object.freeze({ kind: 'silence', ms: 30 }),
    Object.freeze({ kind: 'tone', freqs: Object.freeze([440]), ms: 160, levelDbfs: CONFERENCE_TONE_DBFS }),
  ]),
} as const);

/** Ringback, busy, congestion or dial tone as the region's phones play it, with its cadence; `ms` limits it. */
export function progressTone(name: CallProgressTone, region: ToneRegion = 'us', ms?: number): ToneSourceSpec {
  const t = CALL_PROGRESS_TONES[region][name];
  return { kind: 'tone', freqs: t.freqs, levelDbfs: t.levelDbfs, cadenceMs: 'cadenceMs' in t ? t.cadenceMs : undefined, ms };
}

const TONE_TEXT = /^(\d+(?:\.\d+)?(?:\+\d+(?:\.\d+)?)*)(?:\/(\d+))?$/;

/**
 * `440`, `350+440` (frequencies mixed), `1000/250` (250 ms, then it ends).
 * Throws a RangeError saying what is wrong.
 */
export function parseToneText(text: string): { freqs: number[]; ms?: number } {
  const m = TONE_TEXT.exec(text.trim());
  if (!m) throw new RangeError(`"${text}" is not a tone: write HZ, HZ+HZ or HZ/MS`);
  const freqs = m[1].split('+').map(Number);
  for (const hz of freqs) {
    if (!(hz > 0 && hz < MAX_TONE_HZ)) throw new RangeError(`tone ${hz} Hz: the frequency must be between 0 and ${MAX_TONE_HZ} Hz`);
  }
  if (m[2] === undefined) return { freqs };
  const ms = Number(m[2]);
  if (!(ms > 0)) throw new RangeError(`tone "${text}": the length must be more than 0 ms`);
  return { freqs, ms };
}

/** A spec for `parseToneText` text. */
export function toneSpec(text: string, levelDbfs?: number): ToneSourceSpec {
  const { freqs, ms } = parseToneText(text);
  return { kind: 'tone', freqs, ms, levelDbfs };
}
