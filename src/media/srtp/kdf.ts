/**
 * SRTP key derivation (RFC 3711 §4.3): the AES-CM PRF turns one master key and
 * master salt into separate encryption, authentication and salt keys for SRTP
 * and for SRTCP. Only key derivation rate 0 is supported (derive once per
 * master key), which is what SDES (RFC 4568) and DTLS-SRTP (RFC 5764) use.
 */
import { AesCm } from './aes-cm.js';

/** The `label` octet of §4.3.1 / §4.3.2. */
export const SRTP_LABEL = {
  rtpEncryption: 0x00,
  rtpAuthentication: 0x01,
  rtpSalt: 0x02,
  rtcpEncryption: 0x03,
  rtcpAuthentication: 0x04,
  rtcpSalt: 0x05,
} as const;

export interface SessionKeys {
  /** AES-128 session key k_e. */
  readonly encryptionKey: Buffer;
  /** HMAC-SHA1 session key k_a (20 octets). */
  readonly authKey: Buffer;
  /** Session salt k_s (14 octets). */
  readonly salt: Buffer;
}

/**
 * One session key of `length` octets for `label`. With kdr 0 the key_id is
 * just the label followed by 48 zero bits, XORed into the salt's low 56 bits;
 * the PRF is the AES-CM keystream from IV = x * 2^16 under the master key.
 */
export function deriveSrtpKey(masterKey: Uint8Array, masterSalt: Uint8Array, label: number, length: number): Buffer {
  if (masterSalt.length !== 14) throw new RangeError(`SRTP master salt must be 14 octets, got ${masterSalt.length}`);
  const iv = Buffer.alloc(16);
  iv.set(masterSalt, 0);
  iv[7] ^= label;
  const out = Buffer.alloc(length);
  new AesCm(masterKey).apply(iv, out, 0, length);
  return out;
}

/** The three session keys for SRTP (`rtp`) or SRTCP (`rtcp`). */
export function deriveSessionKeys(masterKey: Uint8Array, masterSalt: Uint8Array, kind: 'rtp' | 'rtcp'): SessionKeys {
  const rtp = kind === 'rtp';
  return {
    encryptionKey: deriveSrtpKey(masterKey, masterSalt, rtp ? SRTP_LABEL.rtpEncryption : SRTP_LABEL.rtcpEncryption, 16),
    authKey: deriveSrtpKey(masterKey, masterSalt, rtp ? SRTP_LABEL.rtpAuthentication : SRTP_LABEL.rtcpAuthentication, 20),
    salt: deriveSrtpKey(masterKey, masterSalt, rtp ? SRTP_LABEL.rtpSalt : SRTP_LABEL.rtcpSalt, 14),
  };
}
