/**
 * Business hours: whether a calendar (config `calendars.NAME`) is open at an
 * instant, judged by the wall clock of its time zone (Intl, so daylight
 * saving time moves with the zone's rules, not the host's).
 */
import type { CalendarConfig } from '../../config/pbx-schema.js';

/** The wall clock of a zone at one instant. */
export interface LocalTime {
  /** `YYYY-MM-DD`. */
  date: string;
  /** 0 = Sunday ... 6 = Saturday. */
  weekday: number;
  /** Minutes after local midnight. */
  minutes: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formats = new Map<string, Intl.DateTimeFormat>();

function format(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formats.set(zone, f);
  }
  return f;
}

export function localTime(zone: string, at: Date | number): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of format(zone).formatToParts(at)) parts[p.type] = p.value;
  // Some ICU versions write midnight as 24 even with h23.
  const hour = Number(parts.hour) % 24;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday: WEEKDAYS[parts.weekday],
    minutes: hour * 60 + Number(parts.minute),
  };
}

/** Whether `cal` is open at the instant `at` (a Date or milliseconds since the epoch, e.g. from the injected clock). */
export function isOpen(cal: CalendarConfig, at: Date | number): boolean {
  const t = localTime(cal.timeZone, at);
  const monthDay = t.date.slice(5);
  if (cal.holidays.some((h) => h === t.date || h === monthDay)) return false;
  if (cal.hours.length === 0) return true;
  return cal.hours.some((h) => h.days.includes(t.weekday) && t.minutes >= h.from && t.minutes < h.to);
}
