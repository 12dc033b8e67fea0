import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkReferences, hasVariables, lookupIn, slice, substitute } from '../../src/voice/dialplan/substitute.js';

const call = lookupIn({ EXTEN: '12345', 'CALLERID(num)': '1001', 'CALLERID(name)': 'Alice Archer', QUEUE: 'support' });

test('${EXTEN} with offsets and lengths, as Asterisk cuts them', () => {
  const s = (text: string): string => substitute(text, call);
  assert.equal(s('${EXTEN}'), '12345');
  assert.equal(s('${EXTEN:1}'), '2345');
  assert.equal(s('${EXTEN:-4}'), '2345');
  assert.equal(s('${EXTEN:1:3}'), '234');
  assert.equal(s('${EXTEN:-4:2}'), '23');
  assert.equal(s('${EXTEN:1:-1}'), '234', 'a negative length leaves that many off the end');
  assert.equal(s('${EXTEN:0:0}'), '');
  assert.equal(s('${EXTEN:10}'), '');
  assert.equal(s('${EXTEN:-10}'), '12345');
  assert.equal(s('${EXTEN:2:-10}'), '');
  assert.equal(s('+49${EXTEN:1}@trunk'), '+492345@trunk');
  assert.equal(s('${EXTEN:0:2}-${EXTEN:2}'), '12-345');
});

test('${CALLERID} is the number; (num) and (name); any variable of the lookup; unknown ones are empty', () => {
  const s = (text: string): string => substitute(text, call);
  assert.equal(s('${CALLERID}'), '1001');
  assert.equal(s('${CALLERID(num)}'), '1001');
  assert.equal(s('${CALLERID(number)}'), '1001');
  assert.equal(s('${CALLERID(name)}'), 'Alice Archer');
  assert.equal(s('${CALLERID(num):-2}'), '01');
  assert.equal(s('queue ${QUEUE}'), 'queue support');
  assert.equal(s('[${NOT_SET}]'), '[]');
  assert.equal(s('no references, $EXTEN or {EXTEN}'), 'no references, $EXTEN or {EXTEN}');
  assert.equal(substitute('${X}', lookupIn(new Map([['X', 'from a map']]))), 'from a map');
  assert.equal(substitute('${toString}', lookupIn({})), '', 'only own keys of a plain object');
  // The lookup is asked at each substitution, so values set by `set` show up.
  const vars = new Map<string, string>();
  const live = lookupIn(vars);
  assert.equal(substitute('${TRIES}', live), '');
  vars.set('TRIES', '2');
  assert.equal(substitute('${TRIES}', live), '2');
});

test('malformed references are found when the dialplan loads; hasVariables and slice', () => {
  assert.equal(checkReferences('${EXTEN} and ${EXTEN:1:2} and ${CALLERID(name)}'), undefined);
  assert.equal(checkReferences('plain text'), undefined);
  assert.match(checkReferences('${EXTEN') ?? '', /"\$\{EXTEN" has no closing \}/);
  assert.match(checkReferences('${EX TEN}') ?? '', /"\$\{EX TEN\}" is not a variable reference; write \$\{NAME\}/);
  assert.match(checkReferences('${EXTEN:x}') ?? '', /is not a variable reference/);
  assert.match(checkReferences('ok ${A} then ${}') ?? '', /"\$\{\}" is not/);
  assert.ok(hasVariables('a${B}') && !hasVariables('a$B'));
  assert.equal(slice('abcdef', -3, 2), 'de');
});
