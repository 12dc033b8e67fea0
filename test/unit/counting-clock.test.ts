import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VirtualClock } from '../../src/util/clock.js';
import { CountingClock } from '../../src/util/counting-clock.js';

test('a CountingClock counts timers set and neither fired nor cancelled, once each', () => {
  const inner = new VirtualClock();
  const clock = new CountingClock(inner);
  const fired: string[] = [];
  const a = clock.setTimer(100, () => fired.push('a'));
  const b = clock.setTimer(200, () => fired.push('b'));
  clock.setTimer(300, () => {
    fired.push('c');
    // A timer set from a firing timer counts like any other.
    clock.setTimer(50, () => fired.push('d'));
  });
  assert.equal(clock.live, 3);
  b.cancel();
  b.cancel();
  assert.equal(clock.live, 2, 'a second cancel does not count again');
  inner.advance(150);
  assert.deepEqual(fired, ['a']);
  assert.equal(clock.live, 1);
  a.cancel();
  assert.equal(clock.live, 1, 'cancelling a timer that fired changes nothing');
  inner.advance(1000);
  assert.deepEqual(fired, ['a', 'c', 'd']);
  assert.equal(clock.live, 0);
  assert.equal(inner.pending(), 0);
  assert.equal(clock.now(), inner.now());
  assert.equal(clock.wallNow(), inner.wallNow());
});
