/**
 * Which host a TLS certificate speaks for, read the SIP way (RFC 5922 §7.1,
 * §7.2): `sip:` URI entries of subjectAltName first (without a user part,
 * their host is the identity), DNS entries only when there is no such URI,
 * the subject CN only when there is neither; IP entries for IP literals.
 * Names compare exactly, case-insensitively: a wildcard (`*.example.com`)
 * is never expanded, as RFC 5922 §7.2 asks.
 */
import { isIP } from 'node:net';
import { bareHost, parseUri } from '../uri.js';

export interface CertificateNames {
  /** Hosts of `URI:sip:host` entries (lowercase; entries with a user part are not identities). */
  sipUris: string[];
  /** `DNS:` entries (lowercase, trailing dot removed). */
  dns: string[];
  /** `IP Address:` entries, normalised (IPv6 fully expanded). */
  ips: string[];
  /** The subject's common name, when there is one. */
  commonName?: string;
}

/**
 * Reads names from what node's X509Certificate shows: `subjectAltName`
 * (`DNS:a, URI:sip:b, IP Address:1.2.3.4`, values with odd characters
 * JSON-quoted) and `subject` (one `KEY=value` per line).
 */
export function certificateNames(subjectAltName: string | undefined, subject: string | undefined): CertificateNames {
  const names: CertificateNames = { sipUris: [], dns: [], ips: [] };
  for (const entry of splitAltNames(subjectAltName ?? '')) {
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const kind = entry.slice(0, colon);
    const value = unquote(entry.slice(colon + 1));
    if (kind === 'DNS') names.dns.push(normalizeName(value));
    else if (kind === 'IP Address') {
      const ip = normalizeIp(value);
      if (ip) names.ips.push(ip);
    } else if (kind === 'URI') {
      const host = sipUriHost(value);
      if (host) names.sipUris.push(host);
    }
  }
  for (const line of (subject ?? '').split('\n')) {
    if (line.startsWith('CN=')) {
      names.commonName = normalizeName(unquote(line.slice(3)));
      break;
    }
  }
  return names;
}

/** Does the certificate speak for `host` (a name or an IP literal, IPv6 with or without brackets)? */
export function matchesHost(host: string, names: CertificateNames): boolean {
  return identitiesFor(host, names).includes(identityOf(host));
}

/**
 * Why the certificate does not speak for `host`, in words a user can act on
 * (`certificate is for other.example, not 127.0.0.1`), or undefined when it does.
 */
export function hostMismatch(host: string, names: CertificateNames): string | undefined {
  if (matchesHost(host, names)) return undefined;
  const shown = presentedNames(names);
  if (shown.length === 0) return `certificate names no host at all (no subjectAltName, no CN), not ${bareHost(host)}`;
  const list = shown.length > 6 ? `${shown.slice(0, 6).join(', ')} and ${shown.length - 6} more` : shown.join(', ');
  return `certificate is for ${list}, not ${bareHost(host)}`;
}

/** Every name the certificate presents, for messages: URI hosts, DNS names, addresses, else the CN. */
export function presentedNames(names: CertificateNames): string[] {
  const all = [...names.sipUris, ...names.dns, ...names.ips.map(displayIp)];
  if (all.length === 0 && names.commonName) all.push(names.commonName);
  return [...new Set(all)];
}

function identitiesFor(host: string, names: CertificateNames): string[] {
  const bare = bareHost(host);
  if (isIP(bare)) {
    // An address is what was dialled: IP entries, and sip: URIs written with that address.
    return [...names.ips, ...names.sipUris.map((h) => normalizeIp(h) ?? '').filter(Boolean)];
  }
  if (names.sipUris.length > 0) return names.sipUris;
  if (names.dns.length > 0) return names.dns;
  return names.commonName ? [names.commonName] : [];
}

function identityOf(host: string): string {
  const bare = bareHost(host);
  return isIP(bare) ? (normalizeIp(bare) ?? bare) : normalizeName(bare);
}

function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

function sipUriHost(value: string): string | undefined {
  if (!/^sip:/i.test(value)) return undefined;
  try {
    const u = parseUri(value);
    // RFC 5922 §7.1: a URI with a user part names a user, not a domain.
    if (u.user !== undefined) return undefined;
    const host = bareHost(u.host);
    return isIP(host) ? host : normalizeName(host);
  } catch {
    return undefined;
  }
}

/** IPv4 as is; IPv6 expanded to eight lowercase groups without leading zeros, so any spelling compares equal. */
export function normalizeIp(text: string): string | undefined {
  const a = bareHost(text.trim());
  const family = isIP(a);
  if (family === 4) return a;
  if (family !== 6) return undefined;
  let s = a.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const [p, q, r, t] = v4[1].split('.').map(Number);
    s = s.slice(0, -v4[1].length) + `${((p << 8) | q).toString(16)}:${((r << 8) | t).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16).toString(16)).join(':');
}

function displayIp(ip: string): string {
  // Show IPv6 the short way a user typed it, e.g. ::1.
  if (!ip.includes(':')) return ip;
  const groups = ip.split(':');
  let best = { at: -1, len: 0 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.len < 2) return ip;
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** Splits node's `A:x, B:"y, z"` list on the commas between entries, not those inside quotes. */
function splitAltNames(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = text.slice(start).trim();
  if (last) out.push(last);
  return out;
}

function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  try {
    return JSON.parse(value) as string;
  } catch {
    return value.slice(1, -1);
  }
}
