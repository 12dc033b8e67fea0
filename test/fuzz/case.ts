/** One case from (seed, index): its target and its input. */
import { caseSeed, Rng } from './rng.js';
import { TARGETS, targetIndexOf } from './targets/index.js';
import { IN_PROCESS, type CaseContext, type ParserTarget, type Target } from './targets/target.js';

/** The target of case `index`; drawn from a hash separate from the case's own generator. */
export function targetOf(seed: number, index: number): Target {
  return TARGETS[targetIndexOf(caseSeed(seed ^ 0x5bd1e995, index))];
}

export function caseInput(seed: number, index: number, ctx: CaseContext = IN_PROCESS): { target: Target; input: Buffer } {
  const target = targetOf(seed, index);
  return { target, input: target.generate(new Rng(caseSeed(seed, index)), ctx) };
}

export function isParserTarget(t: Target): t is ParserTarget {
  return t.kind === 'parser';
}
