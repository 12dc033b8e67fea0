/**
 * The sixteen DTMF keys and the one event shape every DTMF source (RFC 4733
 * telephone-events, SIP INFO, in-band tones) reports, so call control above
 * handles "the caller pressed 5" the same way whichever path it came by.
 */

export type DtmfDigit =
  | '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9'
  | '*' | '#' | 'A' | 'B' | 'C' | 'D';

export type DtmfSource = 'rfc4733' | 'info' | 'inband';

export interface DtmfDigitEvent {
  digit: DtmfDigit;
  source: DtmfSource;
  /** How long the key was held, in milliseconds (as measured or as announced by the sender). */
  durationMs: number;
}

export type DtmfListener = (event: DtmfDigitEvent) => void;

/** RFC 4733 §3.2 table 1: event codes 0-15 in this order. */
const DIGITS: readonly DtmfDigit[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D'];

/** The digit for an RFC 4733 event code, or undefined for anything that is not a DTMF key (e.g. 16, flash). */
export function eventToDigit(event: number): DtmfDigit | undefined {
  return Number.isInteger(event) && event >= 0 && event < 16 ? DIGITS[event] : undefined;
}

/** The RFC 4733 event code of a key; lower-case a-d are accepted. -1 when `ch` is not a DTMF key. */
export function digitToEvent(ch: string): number {
  if (ch.length !== 1) return -1;
  const c = ch.charCodeAt(0);
  if (c >= 0x30 && c <= 0x39) return c - 0x30; // '0'-'9'
  if (c === 0x2a) return 10; // '*'
  if (c === 0x23) return 11; // '#'
  if (c >= 0x41 && c <= 0x44) return 12 + c - 0x41; // 'A'-'D'
  if (c >= 0x61 && c <= 0x64) return 12 + c - 0x61; // 'a'-'d'
  return -1;
}

/** The canonical (upper-case) digit for a key character, or undefined. */
export function toDigit(ch: string): DtmfDigit | undefined {
  return eventToDigit(digitToEvent(ch));
}
