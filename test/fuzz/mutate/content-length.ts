/** Content-Length made negative, huge, non-numeric, doubled or wrong for the body, which is how stream framing breaks. */
import type { Rng } from '../rng.js';
import { hugeNumber } from './numbers.js';
import { findHeaders, type SipDraft } from './sip-draft.js';

export function breakContentLength(rng: Rng, d: SipDraft): void {
  d.keepLength = true;
  const existing = findHeaders(d, 'content-length', 'l');
  const len = d.body.length;
  const values = [
    '-1', `-${len}`, String(len + rng.range(1, 10)), String(Math.max(0, len - rng.range(1, 10))), String(len * 2 + 1),
    '0', hugeNumber(rng), `${len}x`, `0x${len.toString(16)}`, ` ${len} `, `${len}\t`, `${len} ${len}`, `${len},${len}`, '', 'abc', `+${len}`, `00000000000${len}`,
  ];
  switch (rng.int(4)) {
    case 0:
      d.headers = d.headers.filter((h) => !existing.includes(h));
      return;
    case 1:
      // A second Content-Length, agreeing or not.
      d.headers.splice(rng.int(d.headers.length + 1), 0, { name: rng.pick(['Content-Length', 'l', 'content-length']), value: rng.chance(0.3) ? String(len) : rng.pick(values), sep: ': ' });
      return;
    default:
      if (existing.length === 0) d.headers.push({ name: 'Content-Length', value: rng.pick(values), sep: ': ' });
      else rng.pick(existing).value = rng.pick(values);
  }
}
