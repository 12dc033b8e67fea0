/**
 * The structure-aware fuzzer against the parsers, in-process: 18,000 cases
 * with a fixed seed (test/interop/fuzz-server.test.ts sends 2,000 more to a
 * running server, 20,000 in all). Zero crashes, hangs and round-trip
 * failures; every target produced inputs its parser accepted and inputs it
 * refused, so a mutator that stopped mutating (or broke everything) fails
 * here too. The engine itself: a case replays from (seed, index), and the
 * watchdog ends a case that never returns.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { caseInput, targetOf } from '../fuzz/case.js';
import { escapeInput } from '../fuzz/escape.js';
import { runFuzz, type Failure } from '../fuzz/engine.js';
import { TARGETS } from '../fuzz/targets/index.js';

const CI_SEED = 20260101;
const PARSERS = TARGETS.filter((t) => t.kind === 'parser').map((t) => t.name);

function describe(failures: Failure[]): string {
  return failures.slice(0, 5).map((f) => `${f.kind} ${f.target} seed=${f.seed} index=${f.index}: ${f.message}\n  ${escapeInput(f.input, 300)}`).join('\n');
}

test('18,000 parser cases (seed 20260101): no crash, no hang, everything accepted round-trips', { timeout: 300_000 }, async () => {
  const s = await runFuzz({ cases: 18_000, seed: CI_SEED, targets: PARSERS });
  const bad = Object.values(s.targets).reduce((n, t) => n + t.crashes + t.hangs + t.roundTrip, 0);
  assert.equal(bad, 0, describe(s.failures));
  assert.deepEqual(Object.keys(s.targets).sort(), [...PARSERS].sort());
  for (const [name, t] of Object.entries(s.targets)) {
    assert.ok(t.cases > 300, `${name} ran only ${t.cases} cases`);
    assert.ok(t.accepted > t.cases / 20, `${name}: only ${t.accepted} of ${t.cases} mutated inputs were accepted`);
    assert.ok(t.rejected > t.cases / 5, `${name}: only ${t.rejected} of ${t.cases} mutated inputs were refused`);
  }
});

test('a case is a function of (seed, index) alone: same input every time, different for another seed', () => {
  for (const index of [0, 1, 17, 4711, 99_999]) {
    const a = caseInput(7, index);
    const b = caseInput(7, index);
    assert.equal(a.target.name, b.target.name);
    assert.ok(a.input.equals(b.input), `case ${index} of seed 7 differs between two generations`);
  }
  const differ = [0, 1, 2, 3, 4, 5, 6, 7].filter((i) => !caseInput(7, i).input.equals(caseInput(8, i).input) || targetOf(7, i) !== targetOf(8, i));
  assert.ok(differ.length >= 6, 'another seed should give other cases');
});

test('the watchdog ends a case stuck in a loop, reports it as a hang with its input, and the run goes on', { timeout: 60_000 }, async () => {
  const cases = 300;
  const first = await runFuzz({ cases, seed: 5, targets: ['rtp'] });
  const stuck = 120;
  const s = await runFuzz({ cases, seed: 5, targets: ['rtp'], stallAt: stuckIndex(stuck), watchdogMs: 500 });
  assert.equal(s.targets.rtp.hangs, 1);
  assert.equal(s.targets.rtp.cases, cases, 'the cases after the stuck one still ran');
  assert.equal(s.failures.length, 1);
  assert.equal(s.failures[0].kind, 'hang');
  assert.equal(s.failures[0].index, stuckIndex(stuck));
  assert.ok(s.failures[0].input.equals(caseInput(5, stuckIndex(stuck)).input));
  assert.equal(s.targets.rtp.accepted + s.targets.rtp.rejected, first.targets.rtp.accepted + first.targets.rtp.rejected - 1);
});

/** The case index of the n-th rtp case of seed 5. */
function stuckIndex(n: number): number {
  let seen = 0;
  for (let i = 0; ; i++) {
    if (targetOf(5, i).name !== 'rtp') continue;
    if (seen++ === n) return i;
  }
}

