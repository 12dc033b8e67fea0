/**
 * A SIP message cut into editable parts (start line, header lines, body) by
 * a deliberately naive splitter, so that mutators can work on structure and
 * the result is written back byte for byte. Text is handled as latin1: one
 * character per byte, so injected control bytes and broken UTF-8 survive.
 */

export interface DraftHeader {
  name: string;
  /** Undefined for a line without a colon (kept as it was). */
  value?: string;
  /** What stands between name and value; ': ' unless a mutator changed it. */
  sep: string;
}

export interface SipDraft {
  /** Bytes before the start line (stray CRLFs). */
  prefix: string;
  start: string;
  headers: DraftHeader[];
  body: Buffer;
  /** Line end used when writing. */
  eol: string;
  /** Whether the blank line after the headers is written. */
  blank: boolean;
  /** Set by mutators that break Content-Length on purpose, so it is not recomputed. */
  keepLength: boolean;
}

export function splitSip(raw: Buffer): SipDraft {
  const text = raw.toString('latin1');
  let headEnd = text.indexOf('\r\n\r\n');
  let sepLen = 4;
  const lf = text.indexOf('\n\n');
  if (headEnd < 0 || (lf >= 0 && lf < headEnd)) {
    headEnd = lf;
    sepLen = 2;
  }
  const head = headEnd < 0 ? text : text.slice(0, headEnd);
  const body = headEnd < 0 ? Buffer.alloc(0) : raw.subarray(headEnd + sepLen);
  const lines = head.split(/\r?\n/);
  let i = 0;
  let prefix = '';
  while (i < lines.length - 1 && lines[i] === '') {
    prefix += '\r\n';
    i++;
  }
  const start = lines[i++] ?? '';
  const headers: DraftHeader[] = [];
  for (; i < lines.length; i++) {
    const line = lines[i];
    const prev = headers[headers.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && prev && prev.value !== undefined) {
      prev.value += '\r\n' + line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) headers.push({ name: line, sep: '' });
    else headers.push({ name: line.slice(0, colon).trimEnd(), value: line.slice(colon + 1).trimStart(), sep: ': ' });
  }
  return { prefix, start, headers, body: Buffer.from(body), eol: '\r\n', blank: headEnd >= 0, keepLength: false };
}

export function writeSip(d: SipDraft): Buffer {
  if (!d.keepLength) fixContentLength(d);
  let head = d.prefix + d.start + d.eol;
  for (const h of d.headers) head += (h.value === undefined ? h.name : h.name + h.sep + h.value) + d.eol;
  if (d.blank) head += d.eol;
  return Buffer.concat([Buffer.from(head, 'latin1'), d.body]);
}

export function isHeader(h: DraftHeader, ...names: string[]): boolean {
  const n = h.name.trim().toLowerCase();
  return names.includes(n);
}

export function findHeaders(d: SipDraft, ...names: string[]): DraftHeader[] {
  return d.headers.filter((h) => h.value !== undefined && isHeader(h, ...names));
}

/** Sets every Content-Length to the body's size (adds none when there was none). */
export function fixContentLength(d: SipDraft): void {
  for (const h of findHeaders(d, 'content-length', 'l')) h.value = String(d.body.length);
}

export function contentType(d: SipDraft): string {
  return (findHeaders(d, 'content-type', 'c')[0]?.value ?? '').toLowerCase();
}

/** The multipart boundary named in Content-Type, if any. */
export function boundaryOf(d: SipDraft): string | undefined {
  const ct = findHeaders(d, 'content-type', 'c')[0]?.value ?? '';
  const m = /boundary="?([^";]+)"?/i.exec(ct);
  return m ? m[1] : undefined;
}
