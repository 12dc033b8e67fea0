import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NTP_UNIX_OFFSET_S,
  msToNtpShort,
  ntpMiddle32,
  ntpShortToMs,
  ntpToWallMs,
  wallMsToNtp,
  wallMsToNtpMiddle32,
} from '../../src/media/rtp/ntp.js';

test('the Unix epoch is NTP second 2208988800', () => {
  assert.deepEqual(wallMsToNtp(0), { seconds: NTP_UNIX_OFFSET_S, fraction: 0 });
  assert.equal(ntpToWallMs(NTP_UNIX_OFFSET_S, 0), 0);
});

test('milliseconds become a 32-bit binary fraction and come back', () => {
  const t = Date.UTC(2026, 0, 1, 12, 0, 0) + 250;
  const ntp = wallMsToNtp(t);
  assert.equal(ntp.seconds, Date.UTC(2026, 0, 1, 12, 0, 0) / 1000 + NTP_UNIX_OFFSET_S);
  assert.equal(ntp.fraction, 0x40000000, 'a quarter second');
  assert.equal(ntpToWallMs(ntp.seconds, ntp.fraction), t);
  const odd = Date.UTC(2026, 5, 30) + 123.456;
  const back = ntpToWallMs(wallMsToNtp(odd).seconds, wallMsToNtp(odd).fraction);
  assert.ok(Math.abs(back - odd) < 1e-5, String(back - odd));
});

test('NTP era 1: seconds wrap in February 2036 and still convert back', () => {
  const rollover = Date.UTC(2036, 1, 7, 6, 28, 16); // NTP second 2^32
  assert.deepEqual(wallMsToNtp(rollover), { seconds: 0, fraction: 0 });
  assert.deepEqual(wallMsToNtp(rollover - 500), { seconds: 0xffffffff, fraction: 0x80000000 });
  assert.equal(ntpToWallMs(0, 0), rollover);
  assert.equal(ntpToWallMs(0xffffffff, 0x80000000), rollover - 500);
});

test('middle 32 bits: low 16 bits of seconds, high 16 of the fraction', () => {
  assert.equal(ntpMiddle32(0x1234b710, 0x8000abcd), 0xb7108000);
  const t = Date.UTC(2026, 0, 1) + 1500;
  const ntp = wallMsToNtp(t);
  assert.equal(wallMsToNtpMiddle32(t), ntpMiddle32(ntp.seconds, ntp.fraction));
  assert.equal(wallMsToNtpMiddle32(t) & 0xffff, 0x8000, 'half a second');
});

test('NTP short durations: 65536 units per second', () => {
  assert.equal(ntpShortToMs(0x00054000), 5250);
  assert.equal(msToNtpShort(5250), 0x00054000);
  assert.equal(msToNtpShort(-3), 0, 'a negative delay is reported as none');
  assert.equal(msToNtpShort(1e12), 0xffffffff, 'capped to the field');
});
