import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canMatchLonger, comparePatterns, matches, parsePattern, PatternError } from '../../src/voice/dialplan/pattern.js';

/** The pattern that wins for `exten` among `patterns`, the way the dialplan picks it. */
function winner(patterns: string[], exten: string): string | undefined {
  return patterns
    .map(parsePattern)
    .filter((p) => matches(p, exten))
    .sort(comparePatterns)[0]?.text;
}

test('X, Z, N, sets, . and ! match what Asterisk says they match', () => {
  const m = (pattern: string, exten: string): boolean => matches(parsePattern(pattern), exten);
  assert.ok(m('_1XXX', '1000') && m('_1XXX', '1999'));
  assert.ok(!m('_1XXX', '100') && !m('_1XXX', '10000') && !m('_1XXX', '2000') && !m('_1XXX', '1a00'));
  assert.ok(m('_Z', '1') && !m('_Z', '0'));
  assert.ok(m('_N', '2') && !m('_N', '1') && !m('_N', '0'));
  assert.ok(m('_[1-5]', '3') && !m('_[1-5]', '6'));
  assert.ok(m('_[a-c,7]', 'b') && m('_[a-c,7]', '7') && !m('_[a-c,7]', ',') && !m('_[a-c,7]', 'd'));
  assert.ok(m('_[15-7]', '1') && m('_[15-7]', '6') && !m('_[15-7]', '3'), 'a set mixes single characters and ranges');
  assert.ok(m('_9.', '91') && m('_9.', '9123456') && !m('_9.', '9'), '. is one or more');
  assert.ok(m('_9!', '9') && m('_9!', '9123'), '! is zero or more');
  assert.ok(m('_1xxx', '1234') && m('_nxx', '234') && m('_z', '9'), 'lower-case wildcards as in Asterisk');
  assert.ok(m('_1-800-NXX-XXXX', '18002345678'), '- is ignored');
  assert.ok(m('_*72.', '*721002') && m('_+49.', '+4930') && m('_#X', '#5'));
  assert.ok(m('500', '500') && !m('500', '5000') && m('s', 's') && m('*98', '*98'));
  assert.ok(!m('_X.', 's') && !m('_X.', 'i'), 'X is digits only');
});

test('bad patterns are refused with a message saying what is wrong', () => {
  const why = (p: string): string => {
    try {
      parsePattern(p);
    } catch (err) {
      assert.ok(err instanceof PatternError);
      return err.message;
    }
    assert.fail(`${p} was accepted`);
  };
  assert.match(why('_1[2-'), /the set opened at position 3 has no closing \]/);
  assert.match(why('_1[]'), /the set \[\] is empty/);
  assert.match(why('_1[5-1]'), /the range 5-1 runs backwards; write 1-5/);
  assert.match(why('_1.X'), /\. matches the rest of the number, so it must come last/);
  assert.match(why('_1!2'), /! matches the rest of the number, so it must come last/);
  assert.match(why('_'), /nothing after the _/);
  assert.match(why('_12%'), /"%" cannot be in a pattern; patterns start with _ and hold digits/);
  assert.match(why('_X./1234'), /caller's number \(\/\.\.\.\) is not supported/);
  assert.match(why('_1[[2]'), /sets cannot be nested/);
  assert.match(why('5%0'), /an exact extension holds letters, digits/);
  assert.match(why(''), /cannot be empty/);
});

test('most specific wins, as in Asterisk: 1001 vs _1NXX vs _1XXX vs _X.', () => {
  const all = ['_X.', '_1XXX', '_1NXX', '1001'];
  for (const order of [all, [...all].reverse()]) {
    assert.equal(winner(order, '1001'), '1001', 'an exact extension beats every pattern');
    assert.equal(winner(order, '1234'), '_1NXX', 'N (8 digits) at the second position beats X (10)');
    assert.equal(winner(order, '1034'), '_1XXX', '0 is not N');
    assert.equal(winner(order, '2000'), '_X.');
    assert.equal(winner(order, '10'), '_X.');
  }
  // Set size decides, position by position: [2-4] (3) before N (8); a literal before any set.
  const sets = ['_NXX', '_[2-4]XX', '_2XX', '_ZXX', '_XXX'];
  assert.equal(winner(sets, '234'), '_2XX');
  assert.equal(winner(sets, '334'), '_[2-4]XX');
  assert.equal(winner(sets, '534'), '_NXX');
  assert.equal(winner(sets, '134'), '_ZXX');
  assert.equal(winner(sets, '034'), '_XXX');
  // The first position that differs decides, even against a longer literal tail: _1NX. beats _1XXX for 1234.
  assert.equal(winner(['_1XXX', '_1NX.'], '1234'), '_1NX.');
  // . and ! come last, . before !; a pattern that ends beats one that may go on.
  assert.equal(winner(['_1!', '_1.', '_1X'], '12'), '_1X');
  assert.equal(winner(['_1!', '_1.'], '123'), '_1.');
  assert.equal(winner(['_1X!', '_1X'], '12'), '_1X');
  assert.equal(winner(['_1!', '_1X.'], '1'), '_1!');
  // Equal size and first character: a fixed order, whatever the file's order.
  assert.equal(winner(['_[13]', '_[12]'], '1'), winner(['_[12]', '_[13]'], '1'));
});

test('comparePatterns is a consistent order (antisymmetric, exact before patterns)', () => {
  const ps = ['500', '_5XX', '_[5-6]XX', '_NXX', '_X.', '_X!', '_5.', '_50X', '_5[0-1]X'].map(parsePattern);
  for (const a of ps) {
    for (const b of ps) {
      assert.equal(Math.sign(comparePatterns(a, b)), -Math.sign(comparePatterns(b, a)) || 0, `${a.text} vs ${b.text}`);
    }
  }
  assert.ok(comparePatterns(parsePattern('500'), parsePattern('_5XX')) < 0);
});

test('canMatchLonger: whether more digits could still complete a match (for IVR digit collection)', () => {
  const c = (pattern: string, prefix: string): boolean => canMatchLonger(parsePattern(pattern), prefix);
  assert.ok(c('_1XXX', '1') && c('_1XXX', '100') && c('_1XXX', ''));
  assert.ok(!c('_1XXX', '1000'), 'complete: nothing longer matches');
  assert.ok(!c('_1XXX', '2') && !c('_1XXX', '10000'));
  assert.ok(c('_9.', '9') && c('_9.', '9123'), '. always takes more');
  assert.ok(c('_9!', '9'));
  assert.ok(c('500', '5') && c('500', '50') && !c('500', '500') && !c('500', '6'));
});
