/**
 * STUN messages (RFC 5389): the 20-byte header with the magic cookie and a
 * 96-bit transaction id, then type-length-value attributes padded to 4
 * bytes. Decoding never copies the datagram: attributes are offsets into it.
 * A datagram that is not well-formed STUN throws a StunParseError whose
 * `reason` is a short fixed string, so a receive loop can count it and move on.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { addressFamily, formatIPv4, formatIPv6, writeIPv4, writeIPv6, type StunAddress } from './address.js';

export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_LENGTH = 20;
export const TRANSACTION_ID_LENGTH = 12;
const FINGERPRINT_XOR = 0x5354554e;
const INTEGRITY_LENGTH = 20;

export const StunMethod = { Binding: 0x001 } as const;

export const StunAttr = {
  MappedAddress: 0x0001,
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  Realm: 0x0014,
  Nonce: 0x0015,
  XorMappedAddress: 0x0020,
  Priority: 0x0024,
  UseCandidate: 0x0025,
  Software: 0x8022,
  AlternateServer: 0x8023,
  Fingerprint: 0x8028,
  IceControlled: 0x8029,
  IceControlling: 0x802a,
} as const;

/** Comprehension-required attributes (< 0x8000) this code understands; others earn a 420. */
export const KNOWN_REQUIRED_ATTRIBUTES: ReadonlySet<number> = new Set([
  StunAttr.MappedAddress,
  StunAttr.Username,
  StunAttr.MessageIntegrity,
  StunAttr.ErrorCode,
  StunAttr.UnknownAttributes,
  StunAttr.Realm,
  StunAttr.Nonce,
  StunAttr.XorMappedAddress,
  StunAttr.Priority,
  StunAttr.UseCandidate,
]);

export type StunClass = 'request' | 'indication' | 'success' | 'error';
const CLASS_BITS: Record<StunClass, number> = { request: 0, indication: 1, success: 2, error: 3 };
const CLASSES: readonly StunClass[] = ['request', 'indication', 'success', 'error'];

export type StunErrorReason =
  | 'too-short' // fewer than 20 bytes
  | 'not-stun' // one of the two top bits is set (RTP, DTLS, SIP ...)
  | 'bad-cookie' // no magic cookie (RFC 3489 or not STUN at all)
  | 'bad-length' // length field not a multiple of 4 or not the datagram's size
  | 'truncated-attribute' // an attribute header or value runs past the end
  | 'bad-address' // (XOR-)MAPPED-ADDRESS with a wrong family or length
  | 'bad-error-code' // ERROR-CODE too short or out of 300..699
  | 'bad-integrity' // MESSAGE-INTEGRITY is not 20 bytes
  | 'bad-fingerprint' // FINGERPRINT wrong size or CRC mismatch
  | 'fingerprint-not-last'; // an attribute follows FINGERPRINT

export class StunParseError extends Error {
  constructor(
    readonly reason: StunErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'StunParseError';
  }
}

export interface StunAttribute {
  type: number;
  /** Offset of the value inside `StunMessage.raw`. */
  offset: number;
  length: number;
}

export interface StunMessage {
  method: number;
  cls: StunClass;
  /** The 12 bytes after the cookie (a view into `raw`). */
  transactionId: Buffer;
  /** Attributes in wire order; anything after MESSAGE-INTEGRITY other than FINGERPRINT is left out (RFC 5389 §15.4). */
  attributes: StunAttribute[];
  /** The datagram. */
  raw: Buffer;
  /** Offset of the MESSAGE-INTEGRITY attribute header, -1 when absent. */
  integrityOffset: number;
  /** True when a FINGERPRINT was present (and, since decoding succeeded, correct). */
  fingerprint: boolean;
}

export interface StunErrorCode {
  code: number;
  reason: string;
}

/**
 * Quick demultiplexing test for a socket that also carries SIP, RTP or DTLS:
 * first byte 0..3 (RFC 7983 §7; methods below 0x100), magic cookie, and a
 * length field that matches the datagram.
 */
export function isStun(buf: Uint8Array): boolean {
  if (buf.length < HEADER_LENGTH || buf[0] > 3) return false;
  if (buf[4] !== 0x21 || buf[5] !== 0x12 || buf[6] !== 0xa4 || buf[7] !== 0x42) return false;
  const len = (buf[2] << 8) | buf[3];
  return (len & 3) === 0 && len + HEADER_LENGTH === buf.length;
}

export function newTransactionId(): Buffer {
  return randomBytes(TRANSACTION_ID_LENGTH);
}

export function messageType(method: number, cls: StunClass): number {
  const c = CLASS_BITS[cls];
  return ((method & 0xf80) << 2) | ((method & 0x070) << 1) | (method & 0x00f) | ((c & 2) << 7) | ((c & 1) << 4);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as used by FINGERPRINT) of `buf[from, to)`. */
export function crc32(buf: Uint8Array, from = 0, to = buf.length): number {
  let c = 0xffffffff;
  for (let i = from; i < to; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** HMAC-SHA1 over the message up to `end`, with the header length field set to `lengthField`. */
function integrityHmac(key: Uint8Array, buf: Uint8Array, end: number, lengthField: number): Buffer {
  const len = Buffer.from([lengthField >> 8, lengthField & 0xff]);
  return createHmac('sha1', key).update(buf.subarray(0, 2)).update(len).update(buf.subarray(4, end)).digest();
}

function fail(reason: StunErrorReason, message: string): never {
  throw new StunParseError(reason, message);
}

function checkAddress(buf: Buffer, off: number, len: number, name: string): void {
  const family = len >= 2 ? buf[off + 1] : 0;
  if (!((family === 1 && len === 8) || (family === 2 && len === 20))) {
    fail('bad-address', `${name}: family ${family} with ${len} bytes (want 1/8 or 2/20)`);
  }
}

/** Parses one STUN message that fills the whole datagram. Throws StunParseError on anything malformed. */
export function decodeStun(buf: Buffer): StunMessage {
  if (buf.length < HEADER_LENGTH) fail('too-short', `STUN needs 20 header bytes, got ${buf.length}`);
  if ((buf[0] & 0xc0) !== 0) fail('not-stun', `first byte 0x${buf[0].toString(16)} has a top bit set`);
  if (buf.readUInt32BE(4) !== MAGIC_COOKIE) fail('bad-cookie', `magic cookie 0x${buf.readUInt32BE(4).toString(16)}`);
  const length = buf.readUInt16BE(2);
  if ((length & 3) !== 0 || length + HEADER_LENGTH !== buf.length) {
    fail('bad-length', `length field ${length} does not fit a ${buf.length}-byte datagram`);
  }
  const type = buf.readUInt16BE(0);
  const method = ((type & 0x3e00) >> 2) | ((type & 0x00e0) >> 1) | (type & 0x000f);
  const cls = CLASSES[((type >> 7) & 2) | ((type >> 4) & 1)];

  const attributes: StunAttribute[] = [];
  let integrityOffset = -1;
  let fingerprint = false;
  let pos = HEADER_LENGTH;
  const end = buf.length;
  // Each pass advances at least 4 bytes, so the loop is bounded by the datagram size.
  while (pos < end) {
    if (fingerprint) fail('fingerprint-not-last', `attribute after FINGERPRINT at offset ${pos}`);
    if (pos + 4 > end) fail('truncated-attribute', `attribute header at offset ${pos} runs past the end`);
    const at = buf.readUInt16BE(pos);
    const len = buf.readUInt16BE(pos + 2);
    const off = pos + 4;
    if (off + len > end) fail('truncated-attribute', `attribute 0x${at.toString(16)} of ${len} bytes runs past the end`);
    const next = off + ((len + 3) & ~3);
    if (next > end) fail('truncated-attribute', `padding of attribute 0x${at.toString(16)} runs past the end`);

    if (at === StunAttr.Fingerprint) {
      if (len !== 4) fail('bad-fingerprint', `FINGERPRINT of ${len} bytes`);
      const want = (crc32(buf, 0, pos) ^ FINGERPRINT_XOR) >>> 0;
      if (buf.readUInt32BE(off) !== want) fail('bad-fingerprint', 'FINGERPRINT does not match the message');
      fingerprint = true;
    } else if (integrityOffset >= 0) {
      pos = next;
      continue;
    } else if (at === StunAttr.MessageIntegrity) {
      if (len !== INTEGRITY_LENGTH) fail('bad-integrity', `MESSAGE-INTEGRITY of ${len} bytes`);
      integrityOffset = pos;
    } else if (at === StunAttr.XorMappedAddress) {
      checkAddress(buf, off, len, 'XOR-MAPPED-ADDRESS');
    } else if (at === StunAttr.MappedAddress || at === StunAttr.AlternateServer) {
      checkAddress(buf, off, len, 'MAPPED-ADDRESS');
    } else if (at === StunAttr.ErrorCode) {
      const code = len >= 4 ? (buf[off + 2] & 7) * 100 + buf[off + 3] : 0;
      if (len < 4 || code < 300 || code > 699 || buf[off + 3] > 99) fail('bad-error-code', `ERROR-CODE ${code} in ${len} bytes`);
    }
    attributes.push({ type: at, offset: off, length: len });
    pos = next;
  }
  return { method, cls, transactionId: buf.subarray(8, HEADER_LENGTH), attributes, raw: buf, integrityOffset, fingerprint };
}

export function findAttribute(msg: StunMessage, type: number): StunAttribute | undefined {
  for (const a of msg.attributes) if (a.type === type) return a;
  return undefined;
}

export function attributeValue(msg: StunMessage, attr: StunAttribute): Buffer {
  return msg.raw.subarray(attr.offset, attr.offset + attr.length);
}

function readAddress(msg: StunMessage, attr: StunAttribute, xor: boolean): StunAddress {
  const b = msg.raw;
  const off = attr.offset;
  let port = b.readUInt16BE(off + 2);
  if (b[off + 1] === 1) {
    if (!xor) return { address: formatIPv4(b, off + 4), port };
    const v = Buffer.allocUnsafe(4);
    for (let i = 0; i < 4; i++) v[i] = b[off + 4 + i] ^ b[4 + i];
    return { address: formatIPv4(v, 0), port: port ^ (MAGIC_COOKIE >>> 16) };
  }
  if (!xor) return { address: formatIPv6(b, off + 4), port };
  // IPv6 is XORed with the cookie and the transaction id: header bytes 4..19.
  const v = Buffer.allocUnsafe(16);
  for (let i = 0; i < 16; i++) v[i] = b[off + 4 + i] ^ b[4 + i];
  port ^= MAGIC_COOKIE >>> 16;
  return { address: formatIPv6(v, 0), port };
}

export function getXorMappedAddress(msg: StunMessage): StunAddress | undefined {
  const a = findAttribute(msg, StunAttr.XorMappedAddress);
  return a && readAddress(msg, a, true);
}

export function getMappedAddress(msg: StunMessage): StunAddress | undefined {
  const a = findAttribute(msg, StunAttr.MappedAddress);
  return a && readAddress(msg, a, false);
}

function getText(msg: StunMessage, type: number): string | undefined {
  const a = findAttribute(msg, type);
  return a && attributeValue(msg, a).toString('utf8');
}

export const getSoftware = (msg: StunMessage): string | undefined => getText(msg, StunAttr.Software);
export const getUsername = (msg: StunMessage): string | undefined => getText(msg, StunAttr.Username);

export function getErrorCode(msg: StunMessage): StunErrorCode | undefined {
  const a = findAttribute(msg, StunAttr.ErrorCode);
  if (!a) return undefined;
  const v = attributeValue(msg, a);
  return { code: (v[2] & 7) * 100 + v[3], reason: v.subarray(4).toString('utf8') };
}

export function getUnknownAttributes(msg: StunMessage): number[] {
  const a = findAttribute(msg, StunAttr.UnknownAttributes);
  if (!a) return [];
  const out: number[] = [];
  for (let i = 0; i + 1 < a.length; i += 2) out.push(msg.raw.readUInt16BE(a.offset + i));
  return out;
}

/** Comprehension-required attributes (type < 0x8000) not in `known`: a server answers 420 listing them. */
export function unknownRequiredAttributes(msg: StunMessage, known: ReadonlySet<number> = KNOWN_REQUIRED_ATTRIBUTES): number[] {
  const out: number[] = [];
  for (const a of msg.attributes) if (a.type < 0x8000 && !known.has(a.type)) out.push(a.type);
  return out;
}

/**
 * Checks MESSAGE-INTEGRITY with `key` (short-term credentials: the password's
 * UTF-8 bytes, RFC 5389 §15.4). False when the attribute is absent.
 */
export function verifyIntegrity(msg: StunMessage, key: Uint8Array): boolean {
  if (msg.integrityOffset < 0) return false;
  const end = msg.integrityOffset;
  const mac = integrityHmac(key, msg.raw, end, end + 4 + INTEGRITY_LENGTH - HEADER_LENGTH);
  return timingSafeEqual(mac, msg.raw.subarray(end + 4, end + 4 + INTEGRITY_LENGTH));
}

/**
 * Builds one message into a caller-provided buffer (reused between messages
 * on a hot path). Attributes are written in call order; `integrity` and
 * `fingerprint` must come last, in that order.
 */
export class StunWriter {
  private pos = HEADER_LENGTH;

  constructor(private readonly buf: Buffer = Buffer.allocUnsafe(576)) {}

  begin(method: number, cls: StunClass, transactionId: Uint8Array): this {
    if (transactionId.length !== TRANSACTION_ID_LENGTH) throw new RangeError('a STUN transaction id has 12 bytes');
    this.room(HEADER_LENGTH);
    this.buf.writeUInt16BE(messageType(method, cls), 0);
    this.buf.writeUInt16BE(0, 2);
    this.buf.writeUInt32BE(MAGIC_COOKIE, 4);
    this.buf.set(transactionId, 8);
    this.pos = HEADER_LENGTH;
    return this;
  }

  private room(n: number): void {
    if (this.pos + n > this.buf.length) throw new RangeError(`STUN message does not fit a ${this.buf.length}-byte buffer`);
  }

  /** Starts an attribute of `len` value bytes and returns the value's offset; zero-fills the padding. */
  private attr(type: number, len: number): number {
    if (len > 0xffff) throw new RangeError(`STUN attribute 0x${type.toString(16)} too long (${len})`);
    const padded = (len + 3) & ~3;
    this.room(4 + padded);
    this.buf.writeUInt16BE(type, this.pos);
    this.buf.writeUInt16BE(len, this.pos + 2);
    const off = this.pos + 4;
    this.buf.fill(0, off + len, off + padded);
    this.pos = off + padded;
    return off;
  }

  bytes(type: number, value: Uint8Array): this {
    this.buf.set(value, this.attr(type, value.length));
    return this;
  }

  text(type: number, value: string): this {
    const len = Buffer.byteLength(value, 'utf8');
    this.buf.write(value, this.attr(type, len), len, 'utf8');
    return this;
  }

  uint32(type: number, value: number): this {
    this.buf.writeUInt32BE(value >>> 0, this.attr(type, 4));
    return this;
  }

  address(type: number, addr: StunAddress, xor: boolean): this {
    const family = addressFamily(addr.address);
    const off = this.attr(type, family === 1 ? 8 : 20);
    const b = this.buf;
    b[off] = 0;
    b[off + 1] = family;
    b.writeUInt16BE((xor ? addr.port ^ (MAGIC_COOKIE >>> 16) : addr.port) & 0xffff, off + 2);
    if (family === 1) writeIPv4(addr.address, b, off + 4);
    else writeIPv6(addr.address, b, off + 4);
    if (xor) for (let i = 0; i < (family === 1 ? 4 : 16); i++) b[off + 4 + i] ^= b[4 + i];
    return this;
  }

  xorMappedAddress(addr: StunAddress): this {
    return this.address(StunAttr.XorMappedAddress, addr, true);
  }

  mappedAddress(addr: StunAddress): this {
    return this.address(StunAttr.MappedAddress, addr, false);
  }

  software(value: string): this {
    return this.text(StunAttr.Software, value);
  }

  username(value: string): this {
    return this.text(StunAttr.Username, value);
  }

  errorCode(code: number, reason: string): this {
    if (code < 300 || code > 699) throw new RangeError(`STUN error code ${code} outside 300..699`);
    const len = Buffer.byteLength(reason, 'utf8');
    const off = this.attr(StunAttr.ErrorCode, 4 + len);
    this.buf.writeUInt16BE(0, off);
    this.buf[off + 2] = Math.floor(code / 100);
    this.buf[off + 3] = code % 100;
    this.buf.write(reason, off + 4, len, 'utf8');
    return this;
  }

  unknownAttributes(types: readonly number[]): this {
    const off = this.attr(StunAttr.UnknownAttributes, types.length * 2);
    types.forEach((t, i) => this.buf.writeUInt16BE(t, off + i * 2));
    return this;
  }

  /** MESSAGE-INTEGRITY (HMAC-SHA1 with `key`) over everything written so far. */
  integrity(key: Uint8Array): this {
    const start = this.pos;
    this.room(4 + INTEGRITY_LENGTH);
    const mac = integrityHmac(key, this.buf, start, start + 4 + INTEGRITY_LENGTH - HEADER_LENGTH);
    this.bytes(StunAttr.MessageIntegrity, mac);
    return this;
  }

  fingerprint(): this {
    const start = this.pos;
    this.room(8);
    this.buf.writeUInt16BE(start + 8 - HEADER_LENGTH, 2);
    const crc = (crc32(this.buf, 0, start) ^ FINGERPRINT_XOR) >>> 0;
    this.uint32(StunAttr.Fingerprint, crc);
    return this;
  }

  /** Sets the header length and returns the message: a view into the writer's buffer. */
  finish(): Buffer {
    this.buf.writeUInt16BE(this.pos - HEADER_LENGTH, 2);
    return this.buf.subarray(0, this.pos);
  }
}

export interface StunMessageInit {
  method?: number;
  cls: StunClass;
  transactionId: Uint8Array;
  username?: string;
  mappedAddress?: StunAddress;
  xorMappedAddress?: StunAddress;
  errorCode?: StunErrorCode;
  unknownAttributes?: readonly number[];
  software?: string;
  /** Further attributes, written as given after the ones above. */
  attributes?: ReadonlyArray<{ type: number; value: Uint8Array }>;
  /** Adds MESSAGE-INTEGRITY keyed with these bytes. */
  integrityKey?: Uint8Array;
  fingerprint?: boolean;
}

/** Encodes a whole message; with `out` the bytes land there (the result is a view of it). */
export function encodeStun(init: StunMessageInit, out?: Buffer): Buffer {
  const w = new StunWriter(out).begin(init.method ?? StunMethod.Binding, init.cls, init.transactionId);
  if (init.username !== undefined) w.username(init.username);
  if (init.mappedAddress) w.mappedAddress(init.mappedAddress);
  if (init.xorMappedAddress) w.xorMappedAddress(init.xorMappedAddress);
  if (init.errorCode) w.errorCode(init.errorCode.code, init.errorCode.reason);
  if (init.unknownAttributes) w.unknownAttributes(init.unknownAttributes);
  if (init.software !== undefined) w.software(init.software);
  for (const a of init.attributes ?? []) w.bytes(a.type, a.value);
  if (init.integrityKey) w.integrity(init.integrityKey);
  if (init.fingerprint) w.fingerprint();
  return w.finish();
}
