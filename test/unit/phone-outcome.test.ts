/** How `switchboard phone call` reports a failed call: words for people, an exit code for scripts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXIT, exitCodeFor, statusWords } from '../../src/cli/phone/outcome.js';

test('statusWords: the status, the reason given, and plain words', () => {
  const busy = statusWords(486, 'Busy Here');
  assert.match(busy, /^486 Busy Here/);
  assert.match(busy, /busy/);
  assert.match(statusWords(404, 'Not Found'), /no such user/);
  assert.match(statusWords(603, 'Decline'), /declined/);
  assert.match(statusWords(401), /check --user and --password/);
  assert.match(statusWords(488, 'Not Acceptable Here'), /codec/);
  assert.equal(statusWords(404), '404 — no such user or number');
});

test('statusWords: an unknown status falls back to its reason phrase, or "failed"', () => {
  assert.match(statusWords(499, 'Custom Thing'), /^499 Custom Thing — custom thing$/);
  assert.match(statusWords(499), /^499 — failed$/);
});

test('exitCodeFor: one documented code per outcome', () => {
  const cases: Array<[number, number]> = [
    [200, EXIT.ok],
    [202, EXIT.ok],
    [486, EXIT.busy],
    [600, EXIT.busy],
    [603, EXIT.declined],
    [404, EXIT.notFound],
    [604, EXIT.notFound],
    [410, EXIT.notFound],
    [408, EXIT.noAnswer],
    [480, EXIT.noAnswer],
    [487, EXIT.noAnswer],
    [500, EXIT.failed],
    [503, EXIT.failed],
    [488, EXIT.failed],
  ];
  for (const [status, code] of cases) assert.equal(exitCodeFor(status), code, `status ${status}`);
});

test('exit codes are the documented numbers (scripts depend on them)', () => {
  assert.deepEqual(
    [EXIT.ok, EXIT.error, EXIT.usage, EXIT.noAnswer, EXIT.busy, EXIT.declined, EXIT.notFound, EXIT.failed, EXIT.registrationFailed],
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  );
  // Every failure code differs from success and from each other.
  assert.equal(new Set(Object.values(EXIT)).size, Object.keys(EXIT).length);
});
