import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DtmfDigitEvent } from '../../src/media/dtmf/digits.js';
import { DtmfReceiver } from '../../src/media/dtmf/receiver.js';
import { DtmfSender } from '../../src/media/dtmf/sender.js';
import { decodeEvent, type TelephoneEvent } from '../../src/media/dtmf/telephone-event.js';

const ALL = '0123456789*#ABCD';

interface Sent {
  ev: TelephoneEvent;
  marker: boolean;
  timestamp: number;
  seq: number;
  /** Index of this packet within its key (0 = first), and whether it is the n-th end copy. */
  indexInKey: number;
  endCopy: number;
}

/**
 * Drives a sender frame by frame the way an endpoint would: every 20 ms either a DTMF packet or an audio frame goes out, each
 * with the next sequence number and the running RTP timestamp.
 */
function transmit(digits: string, startTs = 1000, startSeq = 100): Sent[] {
  const sender = new DtmfSender();
  sender.sendDigits(digits);
  const out: Sent[] = [];
  let ts = startTs;
  let seq = startSeq;
  let indexInKey = 0;
  let endCopy = 0;
  let lastKeyTs = -1;
  for (let frame = 0; frame < 10_000 && (sender.busy || frame === 0); frame++) {
    const p = sender.next(ts >>> 0);
    if (p) {
      if (p.timestamp !== lastKeyTs) {
        lastKeyTs = p.timestamp;
        indexInKey = 0;
        endCopy = 0;
      }
      const ev = decodeEvent(p.payload);
      assert.ok(ev);
      out.push({ ev, marker: p.marker, timestamp: p.timestamp, seq: seq & 0xffff, indexInKey: indexInKey++, endCopy: p.end ? ++endCopy : 0 });
    }
    seq++; // an audio frame when no packet: the sequence moves either way
    ts += 160;
  }
  return out;
}

/** Feeds packets into a receiver at 20 ms spacing and returns what it reported. */
function receive(packets: Sent[], opts: { emitOn?: 'start' | 'end'; tickAfterMs?: number } = {}): DtmfDigitEvent[] {
  const got: DtmfDigitEvent[] = [];
  const rx = new DtmfReceiver({ emitOn: opts.emitOn, onDigit: (e) => got.push(e) });
  let now = 0;
  for (const p of packets) {
    now += 20;
    rx.push(p.ev, p.timestamp, p.seq, now);
  }
  if (opts.tickAfterMs !== undefined) rx.tick(now + opts.tickAfterMs);
  return got;
}

const digitsOf = (events: DtmfDigitEvent[]) => events.map((e) => e.digit).join('');

test('one key: marker on the first packet, one timestamp, growing duration, end sent three times, then a gap', () => {
  const sender = new DtmfSender();
  sender.start('5');
  const seen: { marker: boolean; ts: number; off: number; ev: TelephoneEvent }[] = [];
  let ts = 4000;
  for (let i = 0; i < 7; i++, ts += 160) {
    const p = sender.next(ts);
    assert.ok(p, `packet ${i}`);
    seen.push({ marker: p.marker, ts: p.timestamp, off: p.timestampOffset, ev: { ...decodeEvent(p.payload)! } });
  }
  assert.deepEqual(seen.map((s) => s.marker), [true, false, false, false, false, false, false]);
  assert.deepEqual(seen.map((s) => s.ts), Array(7).fill(4000));
  assert.deepEqual(seen.map((s) => s.off), [0, 160, 320, 480, 640, 800, 960]);
  assert.deepEqual(seen.map((s) => s.ev.duration), [160, 320, 480, 640, 800, 800, 800]);
  assert.deepEqual(seen.map((s) => s.ev.end), [false, false, false, false, true, true, true]);
  assert.ok(seen.every((s) => s.ev.event === 5 && s.ev.volume === 10));
  // 40 ms of audio between keys; nothing queued means nothing to send.
  assert.equal(sender.busy, false);
  assert.equal(sender.next(ts), undefined);
  assert.equal(sender.next(ts + 160), undefined);
  assert.equal(sender.next(ts + 320), undefined);
});

test('queued keys each get their own timestamp, separated by the gap', () => {
  const sent = transmit('12#');
  const starts = sent.filter((p) => p.marker);
  assert.equal(starts.length, 3);
  assert.deepEqual(starts.map((p) => p.ev.event), [1, 2, 11]);
  // 7 packets (140 ms) plus a 40 ms gap = 180 ms = 1440 timestamp units from key to key.
  assert.deepEqual(starts.map((p) => p.timestamp - starts[0].timestamp), [0, 1440, 2880]);
  assert.equal(sent.length, 21);
});

test('sender options: duration not a multiple of the frame, other clock, validation', () => {
  const s = new DtmfSender({ clockRate: 16000, frameMs: 20, durationMs: 50, volume: 0, gapMs: 0, endPackets: 2 });
  s.sendDigits('ab');
  const d: number[] = [];
  for (let i = 0; i < 8; i++) {
    const p = s.next();
    if (p) d.push(decodeEvent(p.payload)!.duration * (p.end ? -1 : 1));
  }
  // 50 ms at 16 kHz = 800 units: 320, 640, then end at 800 twice; then the next key with no gap.
  assert.deepEqual(d, [320, 640, -800, -800, 320, 640, -800, -800]);
  assert.throws(() => s.sendDigits('12x'), RangeError);
  assert.equal(s.queued, 0, 'a bad string queues nothing');
  assert.throws(() => new DtmfSender({ durationMs: 9000 }), RangeError);
  assert.throws(() => new DtmfSender({ volume: 64 }), RangeError);
});

test('clear() drops queued keys but lets the current key end properly', () => {
  const s = new DtmfSender();
  s.sendDigits('123');
  s.next();
  s.clear();
  const ends: boolean[] = [];
  for (let p = s.next(); p; p = s.next()) ends.push(p.end);
  assert.deepEqual(ends, [false, false, false, true, true, true]);
  assert.equal(s.busy, false);
});

test('sender → receiver: all sixteen keys arrive once each, in order, 100 ms long', () => {
  const got = receive(transmit(ALL));
  assert.equal(digitsOf(got), ALL);
  assert.ok(got.every((e) => e.source === 'rfc4733' && e.durationMs === 100));
});

test('the first packet of every key lost: still each key once', () => {
  const got = receive(transmit(ALL).filter((p) => p.indexInKey !== 0));
  assert.equal(digitsOf(got), ALL);
  assert.ok(got.every((e) => e.durationMs === 100));
});

test('every packet duplicated: still each key once', () => {
  const got = receive(transmit(ALL).flatMap((p) => [p, p]));
  assert.equal(digitsOf(got), ALL);
});

test('two of the three end packets lost (either the first two or the last two): still each key once', () => {
  const sent = transmit(ALL);
  assert.equal(digitsOf(receive(sent.filter((p) => p.endCopy !== 1 && p.endCopy !== 2))), ALL);
  assert.equal(digitsOf(receive(sent.filter((p) => p.endCopy !== 2 && p.endCopy !== 3))), ALL);
});

test('all end packets lost: the next key closes the previous one, tick() closes the last', () => {
  const sent = transmit(ALL).filter((p) => p.endCopy === 0);
  const noTick = receive(sent);
  assert.equal(digitsOf(noTick), ALL.slice(0, -1), 'the last key is still held without a tick');
  const got = receive(sent, { tickAfterMs: 300 });
  assert.equal(digitsOf(got), ALL);
  // The last update the receiver saw said 640 units = 80 ms.
  assert.ok(got.every((e) => e.durationMs === 80));
});

test('tick() waits for the timeout before closing a held key', () => {
  const got: string[] = [];
  const rx = new DtmfReceiver({ timeoutMs: 250, onDigit: (e) => got.push(e.digit) });
  rx.push({ event: 9, end: false, volume: 10, duration: 160 }, 5000, 1, 1000);
  rx.tick(1200);
  assert.deepEqual(got, []);
  assert.equal(rx.pressed, true);
  rx.push({ event: 9, end: false, volume: 10, duration: 320 }, 5000, 2, 1220);
  rx.tick(1400);
  assert.deepEqual(got, [], 'a fresh packet restarts the wait');
  rx.tick(1470);
  assert.deepEqual(got, ['9']);
  // The end packets arriving after the timeout must not report the key again.
  rx.push({ event: 9, end: true, volume: 10, duration: 800 }, 5000, 3, 1480);
  rx.push({ event: 9, end: true, volume: 10, duration: 800 }, 5000, 4, 1500);
  assert.deepEqual(got, ['9']);
});

test("emitOn 'start' reports at the first packet, once", () => {
  const got: DtmfDigitEvent[] = [];
  const rx = new DtmfReceiver({ emitOn: 'start', onDigit: (e) => got.push(e) });
  rx.push({ event: 3, end: false, volume: 10, duration: 160 }, 800, 10, 0);
  assert.deepEqual(got, [{ digit: '3', source: 'rfc4733', durationMs: 20 }]);
  rx.push({ event: 3, end: false, volume: 10, duration: 320 }, 800, 11, 20);
  rx.push({ event: 3, end: true, volume: 10, duration: 800 }, 800, 12, 40);
  rx.push({ event: 3, end: true, volume: 10, duration: 800 }, 800, 13, 60);
  assert.equal(got.length, 1);
  const all = receive(transmit(ALL).flatMap((p) => [p, p]), { emitOn: 'start' });
  assert.equal(digitsOf(all), ALL);
});

test('a late packet of an older key is ignored; a stream restart with a lower timestamp is not', () => {
  const got: string[] = [];
  const rx = new DtmfReceiver({ onDigit: (e) => got.push(e.digit) });
  rx.push({ event: 1, end: true, volume: 10, duration: 800 }, 10_000, 50, 0);
  rx.push({ event: 2, end: false, volume: 10, duration: 160 }, 11_440, 58, 20);
  // Reordered: a packet of key 1 (older timestamp, older sequence) arrives now.
  rx.push({ event: 1, end: false, volume: 10, duration: 640 }, 10_000, 49, 40);
  rx.push({ event: 2, end: true, volume: 10, duration: 800 }, 11_440, 62, 60);
  assert.deepEqual(got, ['1', '2']);
  // The far end restarted its timestamps (re-INVITE) but the sequence moves on.
  rx.push({ event: 4, end: true, volume: 10, duration: 800 }, 160, 70, 80);
  assert.deepEqual(got, ['1', '2', '4']);
  assert.ok(rx.ignored >= 1);
});

test('timestamps and sequence numbers that wrap around still work', () => {
  const got = receive(transmit('159#', 0xffffffff - 2000, 0xfff0));
  assert.equal(digitsOf(got), '159#');
});

test('non-key events (flash) are ignored', () => {
  const got: string[] = [];
  const rx = new DtmfReceiver({ onDigit: (e) => got.push(e.digit) });
  rx.push({ event: 16, end: true, volume: 10, duration: 800 }, 100, 1, 0);
  assert.deepEqual(got, []);
  assert.equal(rx.ignored, 1);
});
