/** URIs and parameter lists made deep, long or broken: thousands of params, huge values, nested brackets and quotes. */
import type { Rng } from '../rng.js';
import { hugeNumber } from './numbers.js';

const PARAM_NAMES = ['lr', 'transport', 'branch', 'tag', 'rport', 'received', 'maddr', 'ttl', 'user', 'method', 'expires', 'q', 'ob', 'x'];

function param(rng: Rng): string {
  const name = rng.chance(0.8) ? rng.pick(PARAM_NAMES) : 'p'.repeat(rng.range(1, 2000));
  switch (rng.int(6)) {
    case 0:
      return `;${name}`;
    case 1:
      return `;${name}=${hugeNumber(rng)}`;
    case 2:
      return `;${name}="${'q'.repeat(rng.size(5000))}"`;
    case 3:
      return `;${name}=${'v'.repeat(rng.size(5000))}`;
    case 4:
      return `;${name}=`;
    default:
      return `;${name}=${rng.pick(['udp', 'tcp', 'tls', 'sctp', 'ws', 'z9hG4bK', '"', '""', '"\\"', '%41'])}`;
  }
}

/** Appends one to thousands of parameters. */
export function addParams(rng: Rng, s: string): string {
  const n = rng.chance(0.7) ? rng.range(1, 5) : rng.range(100, 5000);
  let extra = '';
  for (let i = 0; i < n && extra.length < 100_000; i++) extra += param(rng);
  // Before a closing '>' when there is one, else at the end.
  const gt = s.lastIndexOf('>');
  return gt >= 0 && rng.chance(0.6) ? s.slice(0, gt) + extra + s.slice(gt) : s + extra;
}

/** Deep nesting and long runs of the characters URI and name-addr parsers track. */
export function deepen(rng: Rng, s: string): string {
  const depth = rng.chance(0.5) ? rng.range(2, 20) : rng.range(100, 20000);
  switch (rng.int(8)) {
    case 0:
      return '<'.repeat(depth) + s + '>'.repeat(depth);
    case 1:
      return '"'.repeat(depth) + s;
    case 2:
      return s + '?' + Array.from({ length: Math.min(depth, 3000) }, (_, i) => `h${i}=v${i}`).join('&');
    case 3:
      return s.replace('@', '@'.repeat(depth));
    case 4:
      return s.replace(/(sips?:)/i, `$1${'%41'.repeat(depth)}`);
    case 5:
      return s.replace(/(@|sip:)/i, `$1[${':'.repeat(Math.min(depth, 5000))}]`);
    case 6:
      return `"${'\\"'.repeat(depth)}" ` + s;
    default:
      return s + ','.repeat(depth) + s;
  }
}

/** A URI of another scheme or shape in place of the one in `s`. */
export function swapScheme(rng: Rng, s: string): string {
  const schemes = ['sips:', 'tel:', 'mailto:', 'http:', 'urn:', 'SIP:', 'sip:', 's:', ':', 'x-very-long-scheme-'.repeat(rng.range(1, 50)) + ':'];
  return s.replace(/sips?:/i, rng.pick(schemes));
}
