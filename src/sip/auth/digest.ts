/**
 * The Digest computations of RFC 2617 §3.2.2 and RFC 7616 §3.4 (MD5, SHA-256
 * and their -sess variants), with qop=auth and the RFC 2069 form without qop.
 * Strings are hashed as UTF-8.
 */
import { createHash } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'SHA-256';
export type DigestAlgorithmName = DigestAlgorithm | 'MD5-sess' | 'SHA-256-sess';

/**
 * How a user's secret is configured: a plain password, or HA1 = H(user:realm:password)
 * precomputed per algorithm so the password itself need not be stored.
 */
export interface Credential {
  password?: string;
  ha1?: { MD5?: string; 'SHA-256'?: string };
}

const NODE_HASH: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };
const HEX_LENGTH: Record<DigestAlgorithm, number> = { MD5: 32, 'SHA-256': 64 };

const ALGORITHM_NAMES: Record<string, DigestAlgorithmName> = {
  md5: 'MD5', 'sha-256': 'SHA-256', 'md5-sess': 'MD5-sess', 'sha-256-sess': 'SHA-256-sess',
};

/** The algorithm named by an `algorithm=` parameter (case-insensitive), or undefined if we do not speak it. */
export function algorithmFromParam(value: string | undefined): DigestAlgorithmName | undefined {
  // RFC 2617 §3.2.1: absent means MD5.
  if (value === undefined) return 'MD5';
  return ALGORITHM_NAMES[value.toLowerCase()];
}

/** The hash function under a (possibly -sess) algorithm name. */
export function baseAlgorithm(alg: DigestAlgorithmName): DigestAlgorithm {
  return alg === 'MD5' || alg === 'MD5-sess' ? 'MD5' : 'SHA-256';
}

export function isSess(alg: DigestAlgorithmName): boolean {
  return alg.endsWith('-sess');
}

export function hash(alg: DigestAlgorithm, data: string): string {
  return createHash(NODE_HASH[alg]).update(data, 'utf8').digest('hex');
}

export function ha1(user: string, realm: string, password: string, alg: DigestAlgorithm): string {
  return hash(alg, `${user}:${realm}:${password}`);
}

/**
 * HA1 for a configured credential: the precomputed one when present (it must be
 * hex of the right length), else computed from the password. Undefined when the
 * credential holds neither for this algorithm (e.g. only an MD5 HA1 is stored
 * and the client chose SHA-256).
 */
export function credentialHa1(cred: Credential, user: string, realm: string, alg: DigestAlgorithm): string | undefined {
  const stored = cred.ha1?.[alg];
  if (stored !== undefined) {
    const lower = stored.trim().toLowerCase();
    return lower.length === HEX_LENGTH[alg] && /^[0-9a-f]+$/.test(lower) ? lower : undefined;
  }
  if (cred.password !== undefined) return ha1(user, realm, cred.password, alg);
  return undefined;
}

export interface DigestInput {
  alg: DigestAlgorithmName;
  /** H(user:realm:password) under the base algorithm; for -sess it is turned into the session key here. */
  ha1: string;
  nonce: string;
  /** Eight hex digits as sent on the wire, e.g. "00000001". Required with qop. */
  nc?: string;
  /** Required with qop and with -sess algorithms. */
  cnonce?: string;
  /** Absent: the RFC 2069 form, response = H(HA1:nonce:HA2). */
  qop?: 'auth';
  method: string;
  uri: string;
}

/** The request-digest ("response" parameter) as lower-case hex. */
export function digestResponse(input: DigestInput): string {
  const base = baseAlgorithm(input.alg);
  let key = input.ha1.toLowerCase();
  if (isSess(input.alg)) {
    if (input.cnonce === undefined) throw new Error(`${input.alg} needs a cnonce`);
    key = hash(base, `${key}:${input.nonce}:${input.cnonce}`);
  }
  const ha2 = hash(base, `${input.method}:${input.uri}`);
  if (input.qop === undefined) return hash(base, `${key}:${input.nonce}:${ha2}`);
  if (input.nc === undefined || input.cnonce === undefined) throw new Error('qop=auth needs nc and cnonce');
  return hash(base, `${key}:${input.nonce}:${input.nc}:${input.cnonce}:${input.qop}:${ha2}`);
}

/** nc as written on the wire: eight lower-case hex digits. */
export function formatNc(nc: number): string {
  if (!Number.isInteger(nc) || nc < 1 || nc > 0xffffffff) throw new RangeError(`nonce count ${nc} out of range 1..ffffffff`);
  return nc.toString(16).padStart(8, '0');
}
