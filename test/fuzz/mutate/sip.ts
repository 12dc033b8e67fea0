/**
 * One mutated SIP message from a valid one: one to a few structural
 * mutations (headers, values, Content-Length, start line, bodies), and
 * sometimes byte-level noise on top. Content-Length is kept right unless a
 * mutation broke it on purpose, so most cases get past framing and reach the
 * deeper checks.
 */
import type { Rng } from '../rng.js';
import { mutateBytes } from './bytes.js';
import { breakContentLength } from './content-length.js';
import { blowUpHeaders, dropHeader, duplicateHeader, renameHeader, reorderHeaders, truncateHeader } from './headers.js';
import { inject, overwrite } from './inject.js';
import { mutateMultipart } from './multipart.js';
import { replaceNumber } from './numbers.js';
import { mutateSdp } from './sdp.js';
import { contentType, findHeaders, splitSip, writeSip, type SipDraft } from './sip-draft.js';
import { mutateStartLine } from './start-line.js';
import { addParams, deepen, swapScheme } from './uri.js';

/** The headers whose numbers parsers convert: CSeq, Max-Forwards, Expires, ports in Via and Contact... */
const NUMERIC = ['cseq', 'max-forwards', 'expires', 'min-expires', 'via', 'v', 'contact', 'm', 'content-length', 'l', 'rseq', 'rack', 'session-expires', 'x', 'min-se', 'retry-after', 'timestamp'];
const ADDRESSES = ['via', 'v', 'from', 'f', 'to', 't', 'contact', 'm', 'route', 'record-route', 'refer-to', 'r', 'referred-by', 'b', 'p-asserted-identity', 'path'];

function mutateValue(rng: Rng, d: SipDraft): void {
  const pool = rng.chance(0.5) ? findHeaders(d, ...ADDRESSES) : d.headers.filter((h) => h.value !== undefined);
  if (pool.length === 0) return;
  const h = rng.pick(pool);
  const v = h.value ?? '';
  h.value = rng.pick([inject, overwrite, addParams, deepen, swapScheme, replaceNumber])(rng, v);
}

function hugeNumbers(rng: Rng, d: SipDraft): void {
  const pool = findHeaders(d, ...NUMERIC);
  if (pool.length === 0 || rng.chance(0.2)) {
    d.headers.push({ name: rng.pick(['Expires', 'Max-Forwards', 'CSeq', 'Min-Expires', 'RSeq']), value: replaceNumber(rng, '1'), sep: ': ' });
    return;
  }
  const h = rng.pick(pool);
  h.value = replaceNumber(rng, h.value ?? '');
  // Contact ;expires= and Via ;rport= carry numbers too.
  if (rng.chance(0.3)) h.value += rng.pick([';expires=', ';rport=', ';ttl=', ';q=']) + replaceNumber(rng, '1');
}

function mutateName(rng: Rng, d: SipDraft): void {
  if (d.headers.length === 0) return;
  if (rng.chance(0.5)) renameHeader(rng, d);
  else {
    const h = rng.pick(d.headers);
    h.name = inject(rng, h.name);
  }
}

function mutateBody(rng: Rng, d: SipDraft): void {
  const ct = contentType(d);
  if (ct.includes('multipart') || rng.chance(0.3)) {
    mutateMultipart(rng, d);
    return;
  }
  if (ct.includes('sdp') || d.body.length === 0) {
    d.body = Buffer.from(mutateSdp(rng, d.body.toString('latin1') || 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n'), 'latin1');
    if (!ct) d.headers.push({ name: 'Content-Type', value: 'application/sdp', sep: ': ' });
    return;
  }
  d.body = mutateBytes(rng, d.body);
}

function lineEnds(rng: Rng, d: SipDraft): void {
  switch (rng.int(4)) {
    case 0:
      d.eol = rng.pick(['\n', '\r', '\r\r\n', '\n\r']);
      return;
    case 1:
      d.blank = !d.blank;
      return;
    case 2:
      d.prefix = rng.pick(['\r\n', '\r\n\r\n', '\n', ' ', '\r\n'.repeat(rng.range(2, 5000))]);
      return;
    default: {
      // Blank lines or stray continuation lines among the headers.
      const at = rng.int(d.headers.length + 1);
      d.headers.splice(at, 0, { name: rng.pick(['', ' ', ' folded', '\t', ' :x']), sep: '' });
    }
  }
}

const MUTATORS: readonly (readonly [number, (rng: Rng, d: SipDraft) => void])[] = [
  [10, dropHeader],
  [8, duplicateHeader],
  [5, reorderHeaders],
  [6, truncateHeader],
  [4, blowUpHeaders],
  [8, breakContentLength],
  [12, mutateValue],
  [10, hugeNumbers],
  [4, mutateName],
  [8, mutateStartLine],
  [10, mutateBody],
  [4, lineEnds],
];

/** Past this a message only repeats what smaller ones test (the parser stops at 64 KiB of headers). */
const MAX_SIZE = 300_000;

function size(d: SipDraft): number {
  let n = d.start.length + d.body.length;
  for (const h of d.headers) n += h.name.length + (h.value?.length ?? 0) + 4;
  return n;
}

export function mutateSip(rng: Rng, seed: Buffer, donor?: Buffer): Buffer {
  const d = splitSip(seed);
  // A few cases stay valid: the round-trip check needs accepted messages too.
  const n = rng.chance(0.1) ? 0 : rng.chance(0.65) ? 1 : rng.range(2, 4);
  for (let i = 0; i < n && size(d) < MAX_SIZE; i++) rng.weighted(MUTATORS)(rng, d);
  let out = writeSip(d);
  if (rng.chance(0.2)) out = mutateBytes(rng, out, donor);
  return out.length > MAX_SIZE ? out.subarray(0, MAX_SIZE) : out;
}
