/**
 * RFC 4568 SDES: `a=crypto:<tag> <suite> <key-params> [<session-params>...]`
 * with key-params `inline:<base64 key||salt>[|<lifetime>][|<mki>:<length>]`,
 * several joined by ';'. Only the SDP syntax lives here; what a suite means
 * is the media layer's business.
 */

export interface CryptoKey {
  /** Key method; 'inline' is the only one RFC 4568 defines. */
  method: string;
  /** Base64 of master key || master salt, as written. */
  keySalt: string;
  /** Lifetime as written ("2^31" or a decimal number). */
  lifetime?: string;
  mki?: { value: number; length: number };
}

export interface CryptoAttribute {
  tag: number;
  suite: string;
  keys: CryptoKey[];
  sessionParams: string[];
}

const TAG = /^[0-9]{1,9}$/;
const SUITE = /^[A-Za-z0-9_]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const LIFETIME = /^(?:[0-9]+|2\^[0-9]+)$/;
const MKI = /^([0-9]{1,10}):([0-9]{1,3})$/;

/** Parses the value after `a=crypto:`; undefined when it breaks the grammar. */
export function parseCrypto(value: string): CryptoAttribute | undefined {
  const parts = value.split(' ').filter((p) => p !== '');
  if (parts.length < 3) return undefined;
  const [tag, suite, keyParams, ...sessionParams] = parts;
  if (!TAG.test(tag) || !SUITE.test(suite)) return undefined;
  const keys: CryptoKey[] = [];
  for (const param of keyParams.split(';')) {
    const key = parseKeyParam(param);
    if (!key) return undefined;
    keys.push(key);
  }
  return { tag: Number(tag), suite, keys, sessionParams };
}

function parseKeyParam(param: string): CryptoKey | undefined {
  const colon = param.indexOf(':');
  if (colon <= 0) return undefined;
  const method = param.slice(0, colon);
  const [keySalt, ...rest] = param.slice(colon + 1).split('|');
  if (method.toLowerCase() !== 'inline') {
    // Other key methods are opaque to us but still well-formed key-params.
    return keySalt ? { method, keySalt: param.slice(colon + 1) } : undefined;
  }
  if (!BASE64.test(keySalt) || rest.length > 2) return undefined;
  const key: CryptoKey = { method, keySalt };
  for (const part of rest) {
    const mki = MKI.exec(part);
    if (mki && key.mki === undefined) key.mki = { value: Number(mki[1]), length: Number(mki[2]) };
    else if (LIFETIME.test(part) && key.lifetime === undefined && key.mki === undefined) key.lifetime = part;
    else return undefined;
  }
  return key;
}

/** The value for `a=crypto:` (without the attribute name). */
export function formatCrypto(c: CryptoAttribute): string {
  const keys = c.keys.map((k) => {
    let s = `${k.method}:${k.keySalt}`;
    if (k.lifetime !== undefined) s += `|${k.lifetime}`;
    if (k.mki !== undefined) s += `|${k.mki.value}:${k.mki.length}`;
    return s;
  });
  return [String(c.tag), c.suite, keys.join(';'), ...c.sessionParams].join(' ');
}
