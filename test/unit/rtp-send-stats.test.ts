import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VirtualClock } from '../../src/util/clock.js';
import { ntpToWallMs } from '../../src/media/rtp/ntp.js';
import { SendStats } from '../../src/media/rtp/send-stats.js';

test('sender info counts packets and payload octets and stamps both clocks', () => {
  const clock = new VirtualClock();
  const stats = new SendStats(8000);
  assert.equal(stats.hasSent, false);
  for (let i = 0; i < 50; i++) {
    stats.onSent(160, 4000 + i * 160, clock.now());
    clock.advance(20);
  }
  // Last packet (ts 4000 + 49×160 = 11840) went out 20 ms ago: the SR's RTP
  // timestamp is carried forward by 20 ms × 8 units/ms = 160.
  const info = stats.senderInfo(clock.wallNow(), clock.now());
  assert.equal(info.packetCount, 50);
  assert.equal(info.octetCount, 8000);
  assert.equal(info.rtpTimestamp, 12000);
  assert.equal(ntpToWallMs(info.ntpSeconds, info.ntpFraction), clock.wallNow());
  assert.equal(stats.hasSent, true);
});

test('sentSinceLastReport drops after a report until the next packet', () => {
  const stats = new SendStats(48000);
  stats.onSent(100, 0, 0);
  assert.equal(stats.sentSinceLastReport, true);
  stats.senderInfo(0, 0);
  assert.equal(stats.sentSinceLastReport, false);
  assert.equal(stats.hasSent, true);
  stats.onSent(100, 960, 20);
  assert.equal(stats.sentSinceLastReport, true);
});

test('counters and the extrapolated timestamp wrap at 32 bits', () => {
  const stats = new SendStats(8000);
  stats.onSent(4_294_967_000, 0xffffff00, 0);
  stats.onSent(1000, 0xffffff00, 0);
  const info = stats.senderInfo(0, 100); // +800 units
  assert.equal(info.octetCount, 704);
  assert.equal(info.rtpTimestamp, 0x220);
  assert.equal(info.packetCount, 2);
});
