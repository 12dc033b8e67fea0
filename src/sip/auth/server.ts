/**
 * The authenticating side: a registrar (401 + WWW-Authenticate) or a proxy
 * (407 + Proxy-Authenticate). RFC 8760 §2.4: one challenge per algorithm, the
 * preferred (SHA-256) first, so new phones pick it and old MD5-only phones
 * still find one they understand.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../util/clock.js';
import { SipParseError } from '../errors.js';
import type { SipMessage } from '../message.js';
import { parseUri } from '../uri.js';
import {
  algorithmFromParam, baseAlgorithm, credentialHa1, digestResponse, ha1, isSess,
  type Credential, type DigestAlgorithmName,
} from './digest.js';
import { NonceManager } from './nonce.js';
import { formatAuthHeader, parseAuthHeader, type AuthHeader } from './parse.js';

export interface DigestServerOptions {
  realm: string;
  clock: Clock;
  /** Offered in this order. */
  algorithms?: DigestAlgorithmName[];
  /** Share one between servers (or processes, via its secret) that must accept each other's nonces. */
  nonces?: NonceManager;
  /**
   * Also accept a digest uri naming this server itself (SIPp and some phones
   * put the proxy's address there instead of the Request-URI). The response
   * is still bound to the uri they hashed, and nonce counts stop replays.
   */
  isLocalUri?: (uri: string) => boolean;
}

export type VerifyResult =
  | { ok: true; user: string }
  /**
   * `reason` is for logs only; never send it to the client (it tells unknown
   * users from wrong passwords). `user` is the name the credentials claimed;
   * without credentials (the first request of a login) it is undefined.
   */
  | { ok: false; stale: boolean; reason: string; user?: string };

const NC_RE = /^[0-9a-fA-F]{8}$/;

export class DigestServer {
  readonly realm: string;
  readonly algorithms: readonly DigestAlgorithmName[];
  readonly nonces: NonceManager;
  private readonly isLocalUri?: (uri: string) => boolean;

  constructor(opts: DigestServerOptions) {
    this.isLocalUri = opts.isLocalUri;
    this.realm = opts.realm;
    this.algorithms = opts.algorithms && opts.algorithms.length > 0 ? [...opts.algorithms] : ['SHA-256', 'MD5'];
    this.nonces = opts.nonces ?? new NonceManager({ clock: opts.clock });
  }

  /** Headers to add to a 401 (proxy=false) or 407 (proxy=true). */
  challenge(proxy: boolean, stale = false): [string, string][] {
    const name = proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate';
    const nonce = this.nonces.issue();
    return this.algorithms.map((alg) => {
      const params: [string, string][] = [['realm', this.realm], ['nonce', nonce], ['algorithm', alg], ['qop', 'auth']];
      if (stale) params.push(['stale', 'true']);
      return [name, formatAuthHeader('Digest', params, true)];
    });
  }

  /**
   * Checks the request's Authorization (or Proxy-Authorization) for our realm.
   * Throws SipParseError(400) when those credentials are malformed, so the
   * caller answers 400 instead of challenging again. On `stale: true` the
   * caller re-challenges with `challenge(proxy, true)` and the phone retries
   * without asking its user.
   */
  verify(req: SipMessage, proxy: boolean, lookup: (user: string) => Credential | undefined): VerifyResult {
    const creds = this.findCredentials(req, proxy);
    if (!creds) return { ok: false, stale: false, reason: `no Digest credentials for realm "${this.realm}"` };
    const p = creds.params;

    const user = required(p, 'username');
    const nonce = required(p, 'nonce');
    const uri = required(p, 'uri');
    const response = required(p, 'response');
    const alg = algorithmFromParam(p.get('algorithm'));
    if (!alg || !this.algorithms.includes(alg)) {
      return { ok: false, stale: false, user, reason: `algorithm ${p.get('algorithm')} not offered` };
    }

    const qopParam = p.get('qop');
    let nc: number | undefined;
    let ncText: string | undefined;
    let cnonce: string | undefined;
    if (qopParam !== undefined) {
      if (qopParam.toLowerCase() !== 'auth') return { ok: false, stale: false, user, reason: `qop ${qopParam} not offered` };
      ncText = required(p, 'nc');
      cnonce = required(p, 'cnonce');
      if (!NC_RE.test(ncText)) throw new SipParseError(400, `Malformed nc "${ncText.slice(0, 20)}" in credentials`);
      nc = parseInt(ncText, 16);
      if (nc === 0) throw new SipParseError(400, 'nc must start at 00000001');
    } else if (isSess(alg)) {
      // The session key is built from the cnonce, which only exists with qop.
      return { ok: false, stale: false, user, reason: `${alg} without qop` };
    }

    if (!sameRequestUri(uri, req.uri) && !this.isLocalUri?.(uri)) {
      return { ok: false, stale: false, user, reason: `digest uri "${uri}" does not match Request-URI "${req.uri}"` };
    }

    const nonceState = this.nonces.check(nonce);
    if (nonceState === 'invalid') return { ok: false, stale: false, user, reason: 'nonce not issued by us' };

    // Unknown users go through the same hashing with a throwaway secret, so
    // neither the answer nor its timing tells them apart from a wrong password.
    const cred = lookup(user);
    const base = baseAlgorithm(alg);
    const key = (cred && credentialHa1(cred, user, this.realm, base)) ?? ha1(user, this.realm, randomBytes(16).toString('hex'), base);
    const expected = digestResponse({
      alg, ha1: key, nonce, nc: ncText, cnonce, qop: qopParam === undefined ? undefined : 'auth', method: req.method, uri,
    });
    const matches = constantTimeEqual(expected, response.toLowerCase());
    if (!cred) return { ok: false, stale: false, user, reason: `unknown user "${user}"` };
    if (!matches) return { ok: false, stale: false, user, reason: `wrong response for user "${user}"` };

    // RFC 2617 §3.2.1: stale only when the digest itself was right, so the
    // phone retries silently with the same password but never loops on a wrong one.
    if (nonceState === 'stale') return { ok: false, stale: true, user, reason: 'nonce expired' };
    if (nc !== undefined && !this.nonces.useCount(nonce, nc)) {
      // A genuine client that reuses a count gets a fresh nonce; a replaying
      // attacker gains nothing from one.
      return { ok: false, stale: true, user, reason: `nonce count ${ncText} replayed` };
    }
    return { ok: true, user };
  }

  /** The Digest credentials addressed to our realm, if the request carries any. */
  private findCredentials(req: SipMessage, proxy: boolean): AuthHeader | undefined {
    const values = req.getAll(proxy ? 'proxy-authorization' : 'authorization');
    // Bounded by the header count of one message (at most 64 KiB of headers).
    for (const value of values) {
      const parsed = parseAuthHeader(value);
      if (parsed.scheme.toLowerCase() !== 'digest') continue;
      if (parsed.params.get('realm') === this.realm) return parsed;
    }
    return undefined;
  }
}

function required(params: Map<string, string>, name: string): string {
  const v = params.get(name);
  if (v === undefined || v === '') throw new SipParseError(400, `Credentials lack "${name}"`);
  return v;
}

function constantTimeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ba.length !== bb.length) {
    // Still spend one comparison so a length mismatch is not faster.
    timingSafeEqual(ba, ba);
    return false;
  }
  return timingSafeEqual(ba, bb);
}

/**
 * The digest uri names the Request-URI (RFC 2617 §3.2.2.5). Phones differ in
 * how they spell it (host case, dropped parameters), so SIP URIs compare by
 * scheme, user, host and port; anything else must match exactly.
 */
function sameRequestUri(digestUri: string, requestUri: string): boolean {
  if (digestUri === requestUri) return true;
  try {
    const a = parseUri(digestUri);
    const b = parseUri(requestUri);
    if (a.scheme === 'tel' || b.scheme === 'tel') return false;
    return a.scheme === b.scheme && a.user === b.user && a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port;
  } catch {
    return false;
  }
}
