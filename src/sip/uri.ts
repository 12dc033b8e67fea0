/** sip:, sips: and tel: URIs (RFC 3261 §19.1, RFC 3966) with parameters, headers and IPv6 hosts. */
import { excerpt, SipParseError } from './errors.js';
import { formatParams, parseParams, type Params } from './headers.js';

export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel';
  user?: string;
  password?: string;
  /** Host as written; IPv6 keeps its brackets. For tel: the number. */
  host: string;
  port?: number;
  params: Params;
  headers: Map<string, string>;
}

export function parseUri(text: string): SipUri {
  const t = text.trim();
  const colon = t.indexOf(':');
  if (colon < 0) throw new SipParseError(400, `Malformed URI "${excerpt(t)}"`);
  const scheme = t.slice(0, colon).toLowerCase();
  if (scheme === 'tel') {
    const semi = t.indexOf(';', colon);
    const number = semi < 0 ? t.slice(colon + 1) : t.slice(colon + 1, semi);
    if (!/^\+?[0-9A-Fa-f*#().-]+$/.test(number)) throw new SipParseError(400, `Malformed tel URI "${excerpt(t)}"`);
    return { scheme: 'tel', user: number, host: number, params: semi < 0 ? new Map() : parseParams(t, semi), headers: new Map() };
  }
  if (scheme !== 'sip' && scheme !== 'sips') {
    throw new SipParseError(416, `Unsupported URI scheme "${excerpt(scheme, 20)}"`);
  }
  let rest = t.slice(colon + 1);
  // The user part may itself hold `?`, `;` and `:` (RFC 3261 user-unreserved,
  // RFC 4475 intmeth and semiuri) but never an unescaped `@`, so the first `@`
  // ends the userinfo; parameters and headers are only looked for after it.
  let user: string | undefined;
  let password: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const pc = userinfo.indexOf(':');
    user = pc < 0 ? userinfo : userinfo.slice(0, pc);
    if (pc >= 0) password = userinfo.slice(pc + 1);
    if (!user) throw new SipParseError(400, 'Empty user part in URI');
  }
  const headers = new Map<string, string>();
  const q = rest.indexOf('?');
  if (q >= 0) {
    for (const pair of rest.slice(q + 1).split('&')) {
      if (!pair) continue;
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      headers.set(safeDecode(name), eq < 0 ? '' : safeDecode(pair.slice(eq + 1)));
    }
    rest = rest.slice(0, q);
  }
  const semi = rest.indexOf(';');
  const hostport = semi < 0 ? rest : rest.slice(0, semi);
  const params = semi < 0 ? new Map() : parseParams(rest, semi);
  let host: string;
  let portText: string | undefined;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) throw new SipParseError(400, 'Unterminated IPv6 reference in URI');
    host = hostport.slice(0, close + 1);
    const after = hostport.slice(close + 1);
    if (after) {
      if (after[0] !== ':') throw new SipParseError(400, 'Garbage after IPv6 reference in URI');
      portText = after.slice(1);
    }
    if (!/^\[[0-9A-Fa-f:.]+\]$/.test(host)) throw new SipParseError(400, 'Malformed IPv6 reference in URI');
  } else {
    const pc = hostport.indexOf(':');
    host = pc < 0 ? hostport : hostport.slice(0, pc);
    if (pc >= 0) portText = hostport.slice(pc + 1);
    if (!/^[A-Za-z0-9.-]+$/.test(host)) throw new SipParseError(400, `Malformed host in URI "${excerpt(hostport)}"`);
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new SipParseError(400, `Bad port in URI "${excerpt(portText, 10)}"`);
    }
    port = Number(portText);
  }
  return { scheme, user, password, host, port, params, headers };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function formatUri(u: SipUri): string {
  if (u.scheme === 'tel') return `tel:${u.user ?? u.host}${formatParams(u.params)}`;
  const userinfo = u.user !== undefined ? `${u.user}${u.password !== undefined ? ':' + u.password : ''}@` : '';
  const port = u.port !== undefined ? `:${u.port}` : '';
  let hdrs = '';
  for (const [k, v] of u.headers) hdrs += (hdrs ? '&' : '?') + `${encodeURIComponent(k)}=${encodeURIComponent(v)}`;
  return `${u.scheme}:${userinfo}${u.host}${port}${formatParams(u.params)}${hdrs}`;
}

/** Host without IPv6 brackets, for socket calls. */
export function bareHost(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

export { uriHost } from '../util/listen.js';
