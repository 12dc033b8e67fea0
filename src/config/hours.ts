/** Opening hours as written in calendars: `mon-fri 09:00-17:00`, `sat 10:00-12:00,13:00-16:00`. */
import type { OpenHours } from './pbx-schema.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export const HOURS_EXAMPLE = '"mon-fri 09:00-17:00", "sat 10:00-14:00" or "09:00-17:00" (every day)';

function day(word: string): number {
  const w = word.toLowerCase();
  // `monday` and `mon` both name Monday.
  const i = DAYS.findIndex((d) => w === d || (w.length > 3 && d === w.slice(0, 3) && /^[a-z]+day$/.test(w)));
  if (i < 0) throw new Error(`"${word}" is not a weekday (use ${DAYS.join(', ')})`);
  return i;
}

function minutes(text: string, isEnd: boolean): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a time of day (HH:MM)`);
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && (min > 0 || !isEnd))) throw new Error(`"${text}" is not a time of day (00:00 to 24:00)`);
  return h * 60 + min;
}

/** Weekdays from `mon-fri`, `sat,sun`, `fri-mon` (wrapping over the weekend). */
function days(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [a, b, extra] = part.split('-');
    if (extra !== undefined || !a) throw new Error(`"${part}" is not a weekday or a range of them such as mon-fri`);
    const from = day(a);
    const to = b === undefined ? from : day(b);
    for (let d = from; ; d = (d + 1) % 7) {
      out.add(d);
      if (d === to) break;
    }
  }
  return [...out].sort((x, y) => x - y);
}

/** Parses one `hours` entry; throws an Error whose message says what is wrong. */
export function parseHours(text: string): OpenHours[] {
  const parts = text.trim().split(/\s+/);
  if (parts.length > 2 || parts[0] === '') throw new Error(`expected weekdays and times, e.g. ${HOURS_EXAMPLE}`);
  const dayList = parts.length === 2 ? days(parts[0]) : [0, 1, 2, 3, 4, 5, 6];
  const times = parts[parts.length - 1];
  return times.split(',').map((range) => {
    const m = /^([^-]+)-([^-]+)$/.exec(range);
    if (!m) throw new Error(`"${range}" is not a time range such as 09:00-17:00`);
    const from = minutes(m[1], false);
    const to = minutes(m[2], true);
    if (to <= from) {
      throw new Error(`"${range}" ends before it starts; a range over midnight is two entries, e.g. "fri 22:00-24:00" and "sat 00:00-06:00"`);
    }
    return { days: dayList, from, to };
  });
}

/** `2026-12-25` (that date) or `12-25` (every year); throws when it is not a date. */
export function checkHoliday(text: string): void {
  const m = /^(?:(\d{4})-)?(\d{2})-(\d{2})$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a date: use YYYY-MM-DD for one day or MM-DD for the same day every year`);
  const year = m[1] === undefined ? 2024 : Number(m[1]); // a leap year, so 02-29 is a valid yearly date
  const month = Number(m[2]);
  const dayOfMonth = Number(m[3]);
  const d = new Date(Date.UTC(year, month - 1, dayOfMonth));
  if (month < 1 || month > 12 || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== dayOfMonth) {
    throw new Error(`"${text}" is not a date in the calendar`);
  }
}
