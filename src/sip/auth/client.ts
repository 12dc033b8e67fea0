/**
 * The answering side: turn a 401/407 challenge into Authorization or
 * Proxy-Authorization. Used by the softphone, the registration client and tests.
 */
import { randomBytes } from 'node:crypto';
import { SipParseError } from '../errors.js';
import { algorithmFromParam, baseAlgorithm, digestResponse, formatNc, ha1, isSess, type DigestAlgorithmName } from './digest.js';
import { formatAuthHeader, parseAuthHeader, type AuthHeader } from './parse.js';

/** Best first: what we pick when a server offers several (RFC 8760 §2.4). */
const PREFERENCE: readonly DigestAlgorithmName[] = ['SHA-256', 'SHA-256-sess', 'MD5', 'MD5-sess'];

/**
 * Of the WWW-Authenticate (or Proxy-Authenticate) values of one response, the
 * Digest challenge with the strongest algorithm we support that offers qop=auth
 * or no qop, optionally restricted to one realm. Undefined when none is usable.
 * Malformed values are skipped: one broken challenge must not hide a good one.
 */
export function selectChallenge(values: string[], realm?: string): string | undefined {
  let best: { value: string; rank: number } | undefined;
  for (const value of values) {
    let parsed: AuthHeader;
    try {
      parsed = parseAuthHeader(value);
    } catch {
      continue;
    }
    if (parsed.scheme.toLowerCase() !== 'digest') continue;
    if (realm !== undefined && parsed.params.get('realm') !== realm) continue;
    const alg = algorithmFromParam(parsed.params.get('algorithm'));
    if (!alg || !qopUsable(parsed.params.get('qop'))) continue;
    const rank = PREFERENCE.indexOf(alg);
    if (!best || rank < best.rank) best = { value, rank };
  }
  return best?.value;
}

function offersAuth(qop: string): boolean {
  return qop.split(',').some((q) => q.trim().toLowerCase() === 'auth');
}

function qopUsable(qop: string | undefined): boolean {
  return qop === undefined || offersAuth(qop);
}

/**
 * The Authorization (or Proxy-Authorization) value answering one challenge.
 * `nc` counts the requests sent with this challenge's nonce, starting at 1.
 * Throws SipParseError when the challenge is malformed, and Error when it asks
 * for something we do not do (another scheme or algorithm, qop=auth-int only).
 */
export function buildAuthorization(
  challengeValue: string,
  cred: { user: string; password: string },
  method: string,
  uri: string,
  nc: number,
  cnonce?: string,
): string {
  const challenge = parseAuthHeader(challengeValue);
  if (challenge.scheme.toLowerCase() !== 'digest') throw new Error(`Unsupported authentication scheme ${challenge.scheme}`);
  const p = challenge.params;
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  if (realm === undefined) throw new SipParseError(400, 'Challenge lacks "realm"');
  if (nonce === undefined) throw new SipParseError(400, 'Challenge lacks "nonce"');
  const alg = algorithmFromParam(p.get('algorithm'));
  if (!alg) throw new Error(`Unsupported digest algorithm ${p.get('algorithm')}`);
  const qopOffer = p.get('qop');
  if (qopOffer !== undefined && !offersAuth(qopOffer)) throw new Error(`Unsupported qop "${qopOffer}"`);
  const withQop = qopOffer !== undefined;
  if (isSess(alg) && !withQop) throw new Error(`${alg} challenge without qop`);

  const ncText = withQop ? formatNc(nc) : undefined;
  const cn = withQop ? (cnonce ?? randomBytes(12).toString('base64url')) : undefined;
  const response = digestResponse({
    alg,
    ha1: ha1(cred.user, realm, cred.password, baseAlgorithm(alg)),
    nonce,
    nc: ncText,
    cnonce: cn,
    qop: withQop ? 'auth' : undefined,
    method,
    uri,
  });

  const params: [string, string][] = [
    ['username', cred.user], ['realm', realm], ['nonce', nonce], ['uri', uri], ['response', response],
  ];
  // Echo algorithm only when the server named one: an RFC 2069 server may not know the parameter.
  if (p.has('algorithm')) params.push(['algorithm', alg]);
  if (withQop && ncText !== undefined && cn !== undefined) params.push(['qop', 'auth'], ['nc', ncText], ['cnonce', cn]);
  const opaque = p.get('opaque');
  if (opaque !== undefined) params.push(['opaque', opaque]);
  return formatAuthHeader('Digest', params);
}
