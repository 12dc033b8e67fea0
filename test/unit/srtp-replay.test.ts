import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplayWindow, estimatePacketIndex } from '../../src/media/srtp/replay.js';

test('index estimation (RFC 3711 §3.3.1): same cycle, next cycle after a wrap, previous cycle for stragglers', () => {
  assert.equal(estimatePacketIndex(100, 101), 101);
  assert.equal(estimatePacketIndex(65535, 0), 65536, 'wrap: ROC 0 -> 1');
  assert.equal(estimatePacketIndex(65530, 5), 65541);
  assert.equal(estimatePacketIndex(65536 + 3, 65534), 65534, 'late packet from before the wrap keeps ROC 0');
  assert.equal(estimatePacketIndex(5 * 65536 + 40000, 100), 6 * 65536 + 100);
  assert.equal(estimatePacketIndex(5 * 65536 + 40000, 20000), 5 * 65536 + 20000, 'within half a cycle behind');
  assert.equal(estimatePacketIndex(3, 65534), -2, 'before the first packet of the stream');
});

test('index estimation works near the 48-bit top, beyond 32-bit arithmetic', () => {
  const roc = 0xfffffffe;
  assert.equal(estimatePacketIndex(roc * 65536 + 65535, 1), (roc + 1) * 65536 + 1);
});

test('replay window: accepts new and late-but-unseen indices, rejects repeats and anything 64 or more behind', () => {
  const w = new ReplayWindow();
  assert.ok(w.check(1000));
  w.accept(1000);
  assert.equal(w.check(1000), false);
  assert.ok(w.check(999));
  assert.ok(w.check(937), '63 behind');
  assert.equal(w.check(936), false, '64 behind');
  w.accept(990);
  assert.equal(w.check(990), false);
  w.accept(1030); // shift by 30: 1000 moves to bit 30, 990 to bit 40
  assert.equal(w.check(1000), false);
  assert.equal(w.check(990), false);
  assert.ok(w.check(995));
  w.accept(1062); // shift by 32
  assert.equal(w.check(1030), false);
  assert.equal(w.check(1000), false, '62 behind and seen');
  assert.equal(w.check(998), false, '64 behind');
  assert.ok(w.check(1001));
  w.accept(1200); // jump past the window clears it
  assert.ok(w.check(1199));
  assert.equal(w.check(1062), false, 'far behind');
  assert.equal(w.highest, 1200);
});

test('replay window: every shift distance keeps exactly the accepted indices', () => {
  for (let shift = 1; shift < 70; shift++) {
    const w = new ReplayWindow();
    const seen = new Set<number>();
    for (const i of [100, 97, 80, 60, 40]) {
      w.accept(i);
      seen.add(i);
    }
    w.accept(100 + shift);
    seen.add(100 + shift);
    for (let i = 100 + shift - 70; i <= 100 + shift; i++) {
      const inWindow = 100 + shift - i < 64;
      assert.equal(w.check(i), inWindow && !seen.has(i), `shift ${shift}, index ${i}`);
    }
  }
});

test('replay window: negative indices are never fresh', () => {
  assert.equal(new ReplayWindow().check(-1), false);
});
