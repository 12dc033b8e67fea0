import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import type { CalendarConfig } from '../../src/config/pbx-schema.js';
import { isOpen, localTime } from '../../src/voice/dialplan/calendar.js';

function calendar(yaml: string): CalendarConfig {
  const c = parseConfig(`domain: a.example\ncalendars:\n  office: ${yaml}\n`, 'x.yaml').pbx.calendars.get('office');
  assert.ok(c);
  return c;
}

const at = (iso: string): number => Date.parse(iso);

test('office hours in Europe/Berlin follow its clock across both daylight saving changes', () => {
  const office = calendar('{ time_zone: Europe/Berlin, hours: ["mon-fri 09:00-17:00"], holidays: ["2026-12-25", "01-01"] }');
  // Winter (CET, UTC+1): Friday 27 March 2026.
  assert.equal(isOpen(office, at('2026-03-27T07:59:00Z')), false, '08:59 CET');
  assert.equal(isOpen(office, at('2026-03-27T08:00:00Z')), true, '09:00 CET');
  assert.equal(isOpen(office, at('2026-03-27T15:59:00Z')), true, '16:59 CET');
  assert.equal(isOpen(office, at('2026-03-27T16:00:00Z')), false, '17:00 CET');
  // Clocks go forward on Sunday 29 March; Monday 30 March is CEST (UTC+2): the same wall-clock hours, an hour earlier in UTC.
  assert.equal(isOpen(office, at('2026-03-30T06:59:00Z')), false, '08:59 CEST');
  assert.equal(isOpen(office, at('2026-03-30T07:00:00Z')), true, '09:00 CEST');
  assert.equal(isOpen(office, at('2026-03-30T14:59:00Z')), true, '16:59 CEST');
  assert.equal(isOpen(office, at('2026-03-30T15:00:00Z')), false, '17:00 CEST');
  // Back to CET after Sunday 25 October.
  assert.equal(isOpen(office, at('2026-10-23T07:00:00Z')), true, 'Friday 09:00 CEST');
  assert.equal(isOpen(office, at('2026-10-26T07:00:00Z')), false, 'Monday 08:00 CET');
  assert.equal(isOpen(office, at('2026-10-26T08:00:00Z')), true, 'Monday 09:00 CET');
  // Weekends and holidays (a date, and a month-day every year).
  assert.equal(isOpen(office, at('2026-03-28T10:00:00Z')), false, 'Saturday');
  assert.equal(isOpen(office, at('2026-12-25T10:00:00Z')), false, 'Christmas 2026 (a Friday)');
  assert.equal(isOpen(office, at('2026-12-24T10:00:00Z')), true, 'the day before');
  assert.equal(isOpen(office, at('2027-01-01T10:00:00Z')), false, 'New Year 2027 (a Friday), from "01-01"');
  assert.equal(isOpen(office, new Date('2027-01-04T10:00:00Z')), true, 'a Date works as well as milliseconds');
});

test('the weekday and the holiday are the zone\'s, not UTC\'s', () => {
  const late = calendar('{ time_zone: Europe/Berlin, hours: ["mon 00:00-02:00", "fri 22:00-24:00"] }');
  // Sunday 23:30 UTC is already Monday 01:30 in Berlin (CEST).
  assert.equal(isOpen(late, at('2026-03-29T23:30:00Z')), true);
  assert.deepEqual(localTime('Europe/Berlin', at('2026-03-29T23:30:00Z')), { date: '2026-03-30', weekday: 1, minutes: 90 });
  assert.equal(isOpen(late, at('2026-03-27T22:59:00Z')), true, 'Friday 23:59 CET is inside 22:00-24:00');
  assert.equal(isOpen(late, at('2026-03-27T23:00:00Z')), false, 'Saturday 00:00');
  const ny = calendar('{ time_zone: America/New_York, hours: ["09:00-17:00"], holidays: ["07-04"] }');
  assert.equal(isOpen(ny, at('2026-07-04T15:00:00Z')), false, 'Independence Day at 11:00 EDT');
  assert.equal(isOpen(ny, at('2026-07-05T02:00:00Z')), false, '22:00 EDT on the 4th: still the 4th there, and closed anyway');
  assert.equal(isOpen(ny, at('2026-07-05T15:00:00Z')), true, 'a Sunday: hours without weekdays mean every day');
  const always = calendar('{ time_zone: UTC, holidays: ["2026-05-01"] }');
  assert.equal(isOpen(always, at('2026-05-02T03:00:00Z')), true, 'no hours: open all the time');
  assert.equal(isOpen(always, at('2026-05-01T23:59:59Z')), false, 'except holidays');
});

test('weekday ranges wrap over the weekend and accept full names', () => {
  const c = calendar('{ time_zone: UTC, hours: ["fri-mon 10:00-11:00", "Wednesday 12:00-13:00"] }');
  assert.deepEqual(c.hours[0].days, [0, 1, 5, 6]);
  assert.deepEqual(c.hours[1].days, [3]);
  assert.equal(isOpen(c, at('2026-03-29T10:30:00Z')), true, 'Sunday');
  assert.equal(isOpen(c, at('2026-03-31T10:30:00Z')), false, 'Tuesday');
  assert.equal(isOpen(c, at('2026-04-01T12:30:00Z')), true, 'Wednesday');
});
