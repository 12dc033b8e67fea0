/** Multipart bodies (RFC 2046) with wrong, missing or odd boundaries, deep nesting and broken part headers. */
import type { Rng } from '../rng.js';
import { inject } from './inject.js';
import { boundaryOf, findHeaders, type SipDraft } from './sip-draft.js';

/** Wraps the current body (or nothing) as a multipart body, possibly nested `depth` levels deep. */
export function wrapMultipart(rng: Rng, d: SipDraft): void {
  const depth = rng.chance(0.7) ? 1 : rng.range(2, rng.chance(0.8) ? 10 : 500);
  let body = d.body.toString('latin1');
  let type = findHeaders(d, 'content-type', 'c')[0]?.value ?? 'application/sdp';
  for (let i = 0; i < depth; i++) {
    const b = `b${i}x${rng.int(1000)}`;
    const extra = rng.chance(0.5) ? `--${b}\r\nContent-Type: text/plain\r\n\r\nhello\r\n` : '';
    body = `--${b}\r\nContent-Type: ${type}\r\n\r\n${body}\r\n${extra}--${b}--\r\n`;
    type = `multipart/mixed;boundary=${b}`;
  }
  d.body = Buffer.from(body, 'latin1');
  const ct = findHeaders(d, 'content-type', 'c');
  if (ct.length) ct[0].value = type;
  else d.headers.push({ name: 'Content-Type', value: type, sep: ': ' });
}

export function mutateMultipart(rng: Rng, d: SipDraft): void {
  let boundary = boundaryOf(d);
  if (!boundary) {
    wrapMultipart(rng, d);
    boundary = boundaryOf(d);
    if (!boundary) return;
  }
  const ct = findHeaders(d, 'content-type', 'c')[0];
  let body = d.body.toString('latin1');
  const delim = `--${boundary}`;
  switch (rng.int(9)) {
    case 0:
      // The closing delimiter goes missing.
      body = body.replace(`${delim}--`, '');
      break;
    case 1:
      if (ct?.value !== undefined) ct.value = ct.value.replace(/boundary=("?)[^";]+/i, `boundary=$1${rng.pick(['', 'nomatch', '"', boundary + 'x', ' ', 'x'.repeat(rng.range(70, 5000))])}`);
      break;
    case 2:
      if (ct?.value !== undefined) ct.value = ct.value.replace(/;?\s*boundary=[^;]*/i, '');
      break;
    case 3:
      // Thousands of empty parts.
      body = `${delim}\r\n\r\n\r\n`.repeat(rng.range(100, 5000)) + body;
      break;
    case 4:
      // The delimiter without the CRLF that must precede it, or with LF only.
      body = body.split('\r\n').join(rng.pick(['', '\n', '\r']));
      break;
    case 5:
      body = inject(rng, body);
      break;
    case 6:
      // Part headers blown up or broken.
      body = body.replace(/Content-Type:[^\r\n]*/i, (m) => rng.pick([m + 'x'.repeat(rng.range(1000, 60000)), 'Content-Type', ':', m.replace(':', '')]));
      break;
    case 7:
      body = body.slice(0, rng.int(body.length + 1));
      break;
    default:
      wrapMultipart(rng, d);
      return;
  }
  d.body = Buffer.from(body, 'latin1');
}
