/**
 * SDES key parameters (RFC 4568 §6.1, §9.2): the `inline:` part of an
 * `a=crypto` attribute, carrying base64(master key || master salt) and an
 * optional lifetime and MKI. This file deals in key material only; finding
 * the attribute in an SDP body is the `sdp/` layer's job.
 */
import { randomBytes } from 'node:crypto';
import { SRTP_SUITES, type SrtpSuite } from './suites.js';

export interface SdesKey {
  masterKey: Buffer;
  masterSalt: Buffer;
  /** Packets the master key may protect (the `|2^31` field), when given. */
  lifetime?: number;
  /** Master key identifier (the `|1:4` field), when given. */
  mki?: { value: number; length: number };
}

export class SdesKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SdesKeyError';
  }
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const LIFETIME = /^(2\^)?(\d{1,15})$/;
const MKI = /^(\d{1,10}):(\d{1,3})$/;

/**
 * Parses `inline:BASE64[|lifetime][|MKI:length]` (the `inline:` prefix may be
 * omitted) for the given suite's key and salt lengths. Throws SdesKeyError on
 * anything malformed: the caller answers the offer without that crypto line.
 */
export function parseSdesKey(inline: string, suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80'): SdesKey {
  const params = SRTP_SUITES[suite];
  const text = inline.trim().replace(/^inline:/i, '');
  const fields = text.split('|');
  if (fields.length > 3) throw new SdesKeyError(`SDES key has ${fields.length} '|'-separated fields, at most 3 allowed`);
  const b64 = fields[0];
  if (!BASE64.test(b64)) throw new SdesKeyError('SDES key is not base64');
  const raw = Buffer.from(b64, 'base64');
  const want = params.keyLength + params.saltLength;
  if (raw.length !== want) throw new SdesKeyError(`SDES key must hold ${want} octets of key and salt, got ${raw.length}`);
  const key: SdesKey = {
    masterKey: Buffer.from(raw.subarray(0, params.keyLength)),
    masterSalt: Buffer.from(raw.subarray(params.keyLength)),
  };
  for (let i = 1; i < fields.length; i++) {
    const field = fields[i];
    const mki = MKI.exec(field);
    if (mki) {
      if (key.mki) throw new SdesKeyError('SDES key has two MKI fields');
      const length = Number(mki[2]);
      if (length < 1 || length > 128) throw new SdesKeyError(`SDES MKI length must be 1..128, got ${length}`);
      key.mki = { value: Number(mki[1]), length };
      continue;
    }
    const life = LIFETIME.exec(field);
    // The lifetime comes before the MKI when both are present.
    if (life && i === 1) {
      const n = Number(life[2]);
      const lifetime = life[1] ? 2 ** n : n;
      if (life[1] && n > 48) throw new SdesKeyError(`SDES lifetime 2^${n} exceeds the SRTP maximum 2^48`);
      key.lifetime = lifetime;
      continue;
    }
    throw new SdesKeyError(`SDES key field '${field}' is neither a lifetime nor an MKI`);
  }
  return key;
}

/** Like parseSdesKey but returns undefined for malformed input. */
export function tryParseSdesKey(inline: string, suite?: SrtpSuite): SdesKey | undefined {
  try {
    return parseSdesKey(inline, suite);
  } catch (err) {
    if (err instanceof SdesKeyError) return undefined;
    throw err;
  }
}

/** Formats key material as `inline:BASE64[|2^n or n][|MKI:length]`. */
export function formatSdesKey(key: SdesKey): string {
  let out = `inline:${Buffer.concat([key.masterKey, key.masterSalt]).toString('base64')}`;
  if (key.lifetime !== undefined) {
    const exp = Math.log2(key.lifetime);
    out += Number.isInteger(exp) ? `|2^${exp}` : `|${key.lifetime}`;
  }
  if (key.mki) out += `|${key.mki.value}:${key.mki.length}`;
  return out;
}

/** Fresh random master key and salt for an offer or answer, with its `inline:` text. */
export function generateSdesKey(suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80'): SdesKey & { inline: string } {
  const params = SRTP_SUITES[suite];
  const raw = randomBytes(params.keyLength + params.saltLength);
  const key: SdesKey = { masterKey: raw.subarray(0, params.keyLength), masterSalt: raw.subarray(params.keyLength) };
  return { ...key, inline: formatSdesKey(key) };
}
