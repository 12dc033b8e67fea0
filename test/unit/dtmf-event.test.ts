import assert from 'node:assert/strict';
import { test } from 'node:test';
import { digitToEvent, eventToDigit, toDigit } from '../../src/media/dtmf/digits.js';
import { parseDtmfInfo } from '../../src/media/dtmf/info-body.js';
import { decodeEvent, encodeEvent, type TelephoneEvent } from '../../src/media/dtmf/telephone-event.js';

const KEYS = '0123456789*#ABCD';

test('the sixteen keys map to RFC 4733 codes 0-15 and back', () => {
  for (let i = 0; i < 16; i++) {
    assert.equal(digitToEvent(KEYS[i]), i);
    assert.equal(eventToDigit(i), KEYS[i]);
  }
  assert.equal(digitToEvent('b'), 13);
  assert.equal(toDigit('d'), 'D');
  for (const bad of ['E', 'w', '', '12', ' ']) assert.equal(digitToEvent(bad), -1, bad);
  assert.equal(eventToDigit(16), undefined); // flash is not a key
});

test('a hand-written telephone-event payload decodes field by field', () => {
  // event 11 (#), E=1 R=0 volume 10, duration 800
  const ev = decodeEvent(Uint8Array.from([0x0b, 0x8a, 0x03, 0x20]));
  assert.deepEqual(ev, { event: 11, end: true, volume: 10, duration: 800 });
});

test('encode/decode round-trips every key, both E values and edge volumes and durations', () => {
  const buf = new Uint8Array(6);
  const into: TelephoneEvent = { event: 0, end: false, volume: 0, duration: 0 };
  let n = 0;
  for (let event = 0; event < 16; event++) {
    for (const end of [false, true]) {
      for (const volume of [0, 10, 63]) {
        for (const duration of [0, 160, 0x1234, 0xffff]) {
          assert.equal(encodeEvent({ event, end, volume, duration }, buf, 2), 4);
          assert.equal(decodeEvent(buf.subarray(2), into), into);
          assert.deepEqual(into, { event, end, volume, duration });
          n++;
        }
      }
    }
  }
  assert.equal(n, 16 * 2 * 3 * 4);
});

test('the reserved bit is sent as zero and ignored on receipt', () => {
  const buf = new Uint8Array(4);
  encodeEvent({ event: 5, end: false, volume: 63, duration: 1 }, buf);
  assert.equal(buf[1] & 0x40, 0);
  assert.deepEqual(decodeEvent(Uint8Array.from([5, 0xc0 | 7, 0, 1])), { event: 5, end: true, volume: 7, duration: 1 });
});

test('encodeEvent rejects out-of-range fields and short buffers', () => {
  const buf = new Uint8Array(4);
  const ok: TelephoneEvent = { event: 1, end: false, volume: 10, duration: 160 };
  assert.throws(() => encodeEvent({ ...ok, event: 256 }, buf), RangeError);
  assert.throws(() => encodeEvent({ ...ok, event: -1 }, buf), RangeError);
  assert.throws(() => encodeEvent({ ...ok, volume: 64 }, buf), RangeError);
  assert.throws(() => encodeEvent({ ...ok, duration: 65536 }, buf), RangeError);
  assert.throws(() => encodeEvent({ ...ok, duration: 1.5 }, buf), RangeError);
  assert.throws(() => encodeEvent(ok, buf, 1), RangeError);
  assert.throws(() => encodeEvent(ok, new Uint8Array(3)), RangeError);
});

test('decodeEvent refuses payloads that are not exactly 4 octets', () => {
  for (const len of [0, 1, 3, 5, 8]) assert.equal(decodeEvent(new Uint8Array(len)), undefined, `length ${len}`);
});

test('application/dtmf-relay bodies give the key and its duration', () => {
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n'), { digit: '5', source: 'info', durationMs: 160 });
  assert.deepEqual(parseDtmfInfo('Application/DTMF-Relay; charset=utf-8', 'signal = #\nduration= 250'), { digit: '#', source: 'info', durationMs: 250 });
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=*\r\nDuration=100'), { digit: '*', source: 'info', durationMs: 100 });
  // Codes instead of characters, as some phones send them.
  assert.equal(parseDtmfInfo('application/dtmf-relay', 'Signal=10\r\nDuration=100')?.digit, '*');
  assert.equal(parseDtmfInfo('application/dtmf-relay', 'Signal=11\r\nDuration=100')?.digit, '#');
  assert.equal(parseDtmfInfo('application/dtmf-relay', 'Signal=c\r\nDuration=100')?.digit, 'C');
  // No Duration: the default, which the caller may choose.
  assert.deepEqual(parseDtmfInfo('application/dtmf-relay', 'Signal=1', 90), { digit: '1', source: 'info', durationMs: 90 });
});

test('application/dtmf bodies are just the key', () => {
  assert.deepEqual(parseDtmfInfo('application/dtmf', '7\r\n', 120), { digit: '7', source: 'info', durationMs: 120 });
  assert.equal(parseDtmfInfo('application/dtmf', 'a')?.digit, 'A');
  assert.equal(parseDtmfInfo('application/dtmf', '11')?.digit, '#');
});

test('malformed or foreign INFO bodies give undefined', () => {
  const relay = (body: string) => parseDtmfInfo('application/dtmf-relay', body);
  for (const body of [
    '',
    'Duration=160',
    'Signal=\r\nDuration=160',
    'Signal=E\r\nDuration=160',
    'Signal=16\r\nDuration=160',
    'Signal=55\r\nDuration=160',
    'Signal=5\r\nDuration=abc',
    'Signal=5\r\nDuration=-5',
    'Signal=5\r\nDuration=9999999',
    'Signal=5\r\nSignal=6',
    'Signal 5',
  ]) {
    assert.equal(relay(body), undefined, JSON.stringify(body));
  }
  for (const body of ['', 'x', '55', ' ', '5 6']) assert.equal(parseDtmfInfo('application/dtmf', body), undefined, JSON.stringify(body));
  assert.equal(parseDtmfInfo('application/sdp', 'Signal=5\r\nDuration=160'), undefined);
  assert.equal(parseDtmfInfo('text/plain', '5'), undefined);
});
