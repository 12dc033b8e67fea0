/**
 * The challenge/credentials grammar shared by WWW-Authenticate, Authorization,
 * Proxy-Authenticate and Proxy-Authorization (RFC 3261 §25.1, RFC 7235 §2.1):
 * `Scheme name=value, name="quoted, value", ...`.
 */
import { SipParseError } from '../errors.js';
import { quote, readQuoted } from '../headers.js';

export interface AuthHeader {
  /** As written (compare case-insensitively: "Digest" and "digest" are the same scheme). */
  scheme: string;
  /** Lower-cased parameter names; quoted values are unquoted and unescaped. */
  params: Map<string, string>;
}

const TOKEN_CHAR = /[A-Za-z0-9.!%*_+`'~-]/;

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/**
 * Parses one challenge or one set of credentials. Throws SipParseError(400)
 * naming the problem, so a server can answer 400 to a broken Authorization.
 */
export function parseAuthHeader(value: string): AuthHeader {
  const n = value.length;
  let i = 0;
  while (isSpace(value[i])) i++;
  const schemeStart = i;
  while (i < n && TOKEN_CHAR.test(value[i])) i++;
  const scheme = value.slice(schemeStart, i);
  if (!scheme) throw new SipParseError(400, 'Missing authentication scheme');
  if (i < n && !isSpace(value[i])) {
    throw new SipParseError(400, `Invalid character "${value[i]}" in authentication scheme`);
  }
  const params = new Map<string, string>();
  // Each pass consumes at least one character or throws, so the loop ends within n passes.
  while (i < n) {
    while (i < n && (isSpace(value[i]) || value[i] === ',')) i++;
    if (i >= n) break;
    const nameStart = i;
    while (i < n && TOKEN_CHAR.test(value[i])) i++;
    const name = value.slice(nameStart, i).toLowerCase();
    if (!name) throw new SipParseError(400, `Invalid character "${value[i]}" where an auth-param name was expected`);
    while (isSpace(value[i])) i++;
    if (value[i] !== '=') throw new SipParseError(400, `Auth-param "${name.slice(0, 40)}" has no "=value"`);
    i++;
    while (isSpace(value[i])) i++;
    let paramValue: string;
    if (value[i] === '"') {
      const q = readQuoted(value, i);
      paramValue = q.value;
      i = q.end;
    } else {
      // Tokens by the grammar, but phones in the field also send bare URIs and
      // base64 here, so anything up to the next separator is taken.
      const valueStart = i;
      while (i < n && value.charCodeAt(i) > 32 && value.charCodeAt(i) !== 127 && value[i] !== ',' && value[i] !== '"') i++;
      paramValue = value.slice(valueStart, i);
      if (!paramValue) throw new SipParseError(400, `Auth-param "${name.slice(0, 40)}" has an empty value`);
    }
    while (isSpace(value[i])) i++;
    if (i < n && value[i] !== ',') {
      throw new SipParseError(400, `Expected "," after auth-param "${name.slice(0, 40)}", found "${value[i]}"`);
    }
    // RFC 7235 §2.2: each parameter name must occur only once; two realms or two
    // responses would leave us guessing which one the client meant.
    if (params.has(name)) throw new SipParseError(400, `Duplicate auth-param "${name.slice(0, 40)}"`);
    params.set(name, paramValue);
  }
  return { scheme, params };
}

/** Which parameters are written as quoted strings (RFC 7616 §3.3, §3.4). */
const QUOTED = new Set(['realm', 'nonce', 'opaque', 'username', 'uri', 'response', 'cnonce', 'domain']);

/**
 * Writes a challenge or credentials. Values of the parameters the RFCs define
 * as quoted-string are quoted; `qop` is quoted in a challenge (a list) and bare
 * in credentials, so the caller passes `quoteQop`.
 */
export function formatAuthHeader(scheme: string, params: [string, string][], quoteQop = false): string {
  const parts = params.map(([k, v]) => {
    const q = QUOTED.has(k) || (k === 'qop' && quoteQop);
    return `${k}=${q ? quote(v) : v}`;
  });
  return `${scheme} ${parts.join(', ')}`;
}
