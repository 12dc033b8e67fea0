/**
 * Bodies of SIP INFO DTMF (the de-facto formats, no RFC): `application/dtmf-relay`
 * (Cisco style, "Signal=5\r\nDuration=160") and `application/dtmf` (just the
 * key). Only the body text and its Content-Type are handled here, so this
 * stays free of SIP: the user agent hands both over and gets the shared
 * DtmfDigitEvent back.
 */
import { eventToDigit, toDigit, type DtmfDigitEvent } from './digits.js';

/** Used when the body gives no duration; a typical key press. */
export const DEFAULT_INFO_DURATION_MS = 250;
/** Longer than any real key press; larger values are treated as garbage. */
const MAX_DURATION_MS = 60_000;

/** A key written as a character ('5', '*', 'a') or as its RFC 4733 code ('10' for '*'), as some phones do. */
function parseSignal(value: string): DtmfDigitEvent['digit'] | undefined {
  if (value.length === 1) return toDigit(value);
  if (/^1[0-5]$/.test(value)) return eventToDigit(Number(value));
  return undefined;
}

function parseDuration(value: string): number | undefined {
  if (!/^\d{1,6}$/.test(value)) return undefined;
  const ms = Number(value);
  return ms <= MAX_DURATION_MS ? ms : undefined;
}

/**
 * The key in an INFO body, or undefined when the content type is not a DTMF
 * one or the body is malformed (no or bad Signal, bad Duration).
 */
export function parseDtmfInfo(contentType: string, body: string, defaultDurationMs = DEFAULT_INFO_DURATION_MS): DtmfDigitEvent | undefined {
  const type = contentType.split(';', 1)[0].trim().toLowerCase();
  if (type === 'application/dtmf') {
    const digit = parseSignal(body.trim());
    return digit ? { digit, source: 'info', durationMs: defaultDurationMs } : undefined;
  }
  if (type !== 'application/dtmf-relay') return undefined;

  let digit: DtmfDigitEvent['digit'] | undefined;
  let durationMs: number | undefined;
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) return undefined;
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (key === 'signal') {
      if (digit !== undefined) return undefined; // two keys in one body: ambiguous
      digit = parseSignal(value);
      if (digit === undefined) return undefined;
    } else if (key === 'duration') {
      durationMs = parseDuration(value);
      if (durationMs === undefined) return undefined;
    }
    // Other keys are ignored for forward compatibility.
  }
  if (digit === undefined) return undefined;
  return { digit, source: 'info', durationMs: durationMs ?? defaultDurationMs };
}
