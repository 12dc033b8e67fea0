/**
 * Writes a SessionDescription in RFC 8866 line order with CRLF endings.
 * Lines we do not model (ExtraLine) go at the end of their section, which is
 * where the ones seen in the field (GB28181 y=/f=) live anyway.
 */
import type { Attribute, Bandwidth, Connection, ExtraLine, MediaDescription, SessionDescription } from './model.js';

const CRLF = '\r\n';

export function formatSdp(sd: SessionDescription): string {
  const out: string[] = [];
  const o = sd.origin;
  out.push(`v=${sd.version}`);
  out.push(`o=${o.username} ${o.sessId} ${o.sessVersion} ${o.netType} ${o.addrType} ${o.address}`);
  out.push(`s=${sd.sessionName}`);
  if (sd.information !== undefined) out.push(`i=${sd.information}`);
  if (sd.uri !== undefined) out.push(`u=${sd.uri}`);
  for (const e of sd.emails) out.push(`e=${e}`);
  for (const p of sd.phones) out.push(`p=${p}`);
  if (sd.connection) out.push(connectionLine(sd.connection));
  bandwidthLines(out, sd.bandwidths);
  // t= is mandatory; a description built by hand without one gets "0 0".
  if (sd.timing.length === 0) out.push('t=0 0');
  for (const t of sd.timing) {
    out.push(`t=${t.start} ${t.stop}`);
    for (const r of t.repeats) out.push(`r=${r}`);
  }
  if (sd.timeZones !== undefined) out.push(`z=${sd.timeZones}`);
  if (sd.key !== undefined) out.push(`k=${sd.key}`);
  attributeLines(out, sd.attributes);
  extraLines(out, sd.extra);
  for (const m of sd.media) mediaLines(out, m);
  return out.join(CRLF) + CRLF;
}

function mediaLines(out: string[], m: MediaDescription): void {
  const port = m.numPorts === undefined ? String(m.port) : `${m.port}/${m.numPorts}`;
  out.push(`m=${m.type} ${port} ${m.proto} ${m.formats.join(' ')}`);
  if (m.information !== undefined) out.push(`i=${m.information}`);
  if (m.connection) out.push(connectionLine(m.connection));
  bandwidthLines(out, m.bandwidths);
  if (m.key !== undefined) out.push(`k=${m.key}`);
  attributeLines(out, m.attributes);
  extraLines(out, m.extra);
}

function connectionLine(c: Connection): string {
  return `c=${c.netType} ${c.addrType} ${c.address}`;
}

function bandwidthLines(out: string[], list: readonly Bandwidth[]): void {
  for (const b of list) out.push(`b=${b.type}:${b.value}`);
}

function attributeLines(out: string[], list: readonly Attribute[]): void {
  for (const a of list) out.push(a.value === undefined ? `a=${a.name}` : `a=${a.name}:${a.value}`);
}

function extraLines(out: string[], list: readonly ExtraLine[]): void {
  for (const e of list) out.push(`${e.type}=${e.value}`);
}
