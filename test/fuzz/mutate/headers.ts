/** Header lines dropped, duplicated, reordered, truncated and blown up (huge values, thousands of headers). */
import type { Rng } from '../rng.js';
import type { DraftHeader, SipDraft } from './sip-draft.js';

const MANDATORY = ['via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq', 'max-forwards', 'contact', 'm', 'content-type', 'c'];

function someHeader(rng: Rng, d: SipDraft): DraftHeader | undefined {
  if (d.headers.length === 0) return undefined;
  if (rng.chance(0.5)) {
    const important = d.headers.filter((h) => MANDATORY.includes(h.name.trim().toLowerCase()));
    if (important.length) return rng.pick(important);
  }
  return rng.pick(d.headers);
}

export function dropHeader(rng: Rng, d: SipDraft): void {
  const h = someHeader(rng, d);
  if (!h) return;
  if (rng.chance(0.2)) {
    // Every header of that name.
    const name = h.name.toLowerCase();
    d.headers = d.headers.filter((x) => x.name.toLowerCase() !== name);
  } else {
    d.headers.splice(d.headers.indexOf(h), 1);
  }
}

export function duplicateHeader(rng: Rng, d: SipDraft): void {
  const h = someHeader(rng, d);
  if (!h) return;
  const copies = Math.min(rng.chance(0.8) ? 1 : rng.range(2, 50), Math.max(1, Math.floor(200_000 / (h.name.length + (h.value?.length ?? 0) + 1))));
  for (let i = 0; i < copies; i++) {
    const copy = { ...h };
    // A duplicate that disagrees is the interesting one (two CSeqs, two Call-IDs).
    if (rng.chance(0.4) && copy.value !== undefined) copy.value = copy.value.replace(/\d/, String(rng.int(10))) + (rng.chance(0.5) ? 'x' : '');
    d.headers.splice(rng.int(d.headers.length + 1), 0, copy);
  }
}

export function reorderHeaders(rng: Rng, d: SipDraft): void {
  if (d.headers.length < 2) return;
  if (rng.chance(0.3)) {
    rng.shuffle(d.headers);
    return;
  }
  const [h] = d.headers.splice(rng.int(d.headers.length), 1);
  d.headers.splice(rng.int(d.headers.length + 1), 0, h);
}

export function truncateHeader(rng: Rng, d: SipDraft): void {
  const h = someHeader(rng, d);
  if (!h) return;
  if (h.value !== undefined && rng.chance(0.7)) h.value = h.value.slice(0, rng.int(h.value.length + 1));
  else {
    h.name = h.name.slice(0, rng.int(h.name.length + 1));
    if (rng.chance(0.3)) h.sep = rng.pick(['', ':', ' :', '::', '\t:\t', ' ']);
  }
}

/** One huge value, a huge name, or thousands of extra header lines. */
export function blowUpHeaders(rng: Rng, d: SipDraft): void {
  switch (rng.int(5)) {
    case 0: {
      const h = someHeader(rng, d);
      if (h && h.value !== undefined) {
        const len = rng.range(1000, 70000);
        h.value = h.value.slice(0, len).repeat(rng.range(2, 20)).slice(0, len).padEnd(len, 'x');
      }
      return;
    }
    case 1: {
      const n = rng.range(500, 6000);
      const names = ['X-Junk', 'Via', 'Route', 'Record-Route', 'Contact', 'Allow', 'Supported', 'P', 'a'];
      const name = rng.pick(names);
      for (let i = 0; i < n; i++) {
        const value = name === 'Via' ? `SIP/2.0/UDP 127.0.0.1:${1000 + (i % 60000)};branch=z9hG4bK${i}` : name.includes('oute') || name === 'Contact' ? `<sip:127.0.0.1:${i % 65536};lr>` : `v${i}`;
        d.headers.splice(rng.int(d.headers.length + 1), 0, { name, value, sep: ': ' });
      }
      return;
    }
    case 2:
      d.headers.push({ name: 'X-' + 'N'.repeat(rng.range(100, 70000)), value: 'v', sep: ': ' });
      return;
    case 3: {
      // One header folded over many continuation lines.
      const h = someHeader(rng, d);
      if (h && h.value !== undefined) h.value += '\r\n '.concat('fold').repeat(rng.range(10, 5000));
      return;
    }
    default: {
      // A comma list of thousands of elements in one line.
      const h = someHeader(rng, d);
      if (h && h.value !== undefined) {
        const count = Math.min(rng.range(100, 5000), Math.floor(200_000 / (h.value.length + 1)));
        h.value = Array.from({ length: count }, () => h.value).join(',');
      }
    }
  }
}

/** Header names changed: compact forms, case, unknown names, non-token characters. */
export function renameHeader(rng: Rng, d: SipDraft): void {
  const h = someHeader(rng, d);
  if (!h) return;
  const compact: Record<string, string> = { via: 'v', from: 'f', to: 't', 'call-id': 'i', contact: 'm', 'content-length': 'l', 'content-type': 'c' };
  const lower = h.name.toLowerCase();
  const choices = [compact[lower] ?? lower, h.name.toUpperCase(), h.name + ' ', ' ' + h.name, h.name + '\t', 'X-' + h.name, h.name.replace(/-/g, '_'), h.name + '@', '', 'Content-Length', 'l', 'CSeq', 'Max-Forwards'];
  h.name = rng.pick(choices);
}
