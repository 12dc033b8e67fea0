/** Numbers at and past every limit a parser might assume: 0, negatives, 2^31, 2^32, 2^53, 2^64, overflowing floats, junk. */
import type { Rng } from '../rng.js';

const EDGE = [
  '0', '-0', '-1', '1', '00000000000000000070', '255', '256', '65535', '65536', '99999', '100000',
  '2147483647', '2147483648', '4294967295', '4294967296', '4294967297', '9007199254740991',
  '9007199254740993', '18446744073709551616', '99999999999999999999999999999999', '1e3', '1e309',
  '0x10', '1.5', '.5', '+1', ' 1 ', 'NaN', 'Infinity', '-2147483649', '\uff11', '1,2', '1 2', '', '-',
];

export function hugeNumber(rng: Rng): string {
  if (rng.chance(0.85)) return rng.pick(EDGE);
  return '9'.repeat(rng.range(10, 400));
}

/** Replaces one (or every) run of digits in `s` with an edge value. */
export function replaceNumber(rng: Rng, s: string): string {
  const runs: [number, number][] = [];
  const re = /\d+/g;
  for (let m = re.exec(s); m; m = re.exec(s)) runs.push([m.index, m.index + m[0].length]);
  if (runs.length === 0) return s + hugeNumber(rng);
  if (rng.chance(0.2)) return s.replace(/\d+/g, () => hugeNumber(rng));
  const [a, b] = rng.pick(runs);
  return s.slice(0, a) + hugeNumber(rng) + s.slice(b);
}
