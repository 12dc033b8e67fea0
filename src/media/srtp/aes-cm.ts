/**
 * AES Counter Mode as SRTP uses it (RFC 3711 §4.1.1), on node:crypto alone.
 *
 * Node offers 'aes-128-ctr', but that needs a fresh cipher object per packet
 * (the IV changes every packet). Instead one long-lived AES-ECB cipher per
 * session key encrypts a run of counter blocks that we lay out ourselves in a
 * reused scratch buffer; the result is the keystream, XORed into the packet.
 * The only per-packet allocation left is the buffer `update` returns.
 */
import { createCipheriv, type Cipher } from 'node:crypto';

const BLOCK = 16;

export class AesCm {
  readonly #ecb: Cipher;
  #counters: Buffer = Buffer.alloc(BLOCK * 96);

  constructor(key: Uint8Array) {
    if (key.length !== 16) throw new RangeError(`AES-128 key must be 16 octets, got ${key.length}`);
    this.#ecb = createCipheriv('aes-128-ecb', key, null);
    // Whole blocks only, and never final(): the cipher stays usable forever.
    this.#ecb.setAutoPadding(false);
  }

  /** XORs the keystream that starts at counter `iv` (16 octets) into `buf[start, end)`. */
  apply(iv: Uint8Array, buf: Uint8Array, start: number, end: number): void {
    const length = end - start;
    if (length <= 0) return;
    const blocks = Math.ceil(length / BLOCK);
    const need = blocks * BLOCK;
    if (this.#counters.length < need) this.#counters = Buffer.alloc(need);
    const ctr = this.#counters;
    // Counter j is iv + j modulo 2^128; add j to the low 32 bits and carry upward.
    const low = ((iv[12] << 24) | (iv[13] << 16) | (iv[14] << 8) | iv[15]) >>> 0;
    for (let j = 0, off = 0; j < blocks; j++, off += BLOCK) {
      for (let k = 0; k < 12; k++) ctr[off + k] = iv[k];
      const sum = low + j;
      ctr.writeUInt32BE(sum >>> 0, off + 12);
      if (sum > 0xffffffff) {
        for (let k = 11; k >= 0; k--) {
          ctr[off + k] = (ctr[off + k] + 1) & 0xff;
          if (ctr[off + k] !== 0) break;
        }
      }
    }
    const ks = this.#ecb.update(ctr.subarray(0, need));
    for (let i = 0; i < length; i++) buf[start + i] ^= ks[i];
  }
}

/**
 * Fills `out` (16 octets) with the SRTP/SRTCP counter-mode IV (RFC 3711 §4.1.1):
 * IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16), where the index is
 * the 48-bit SRTP packet index or the 31-bit SRTCP index.
 */
export function writeSrtpIv(out: Uint8Array, salt: Uint8Array, ssrc: number, index: number): void {
  for (let k = 0; k < 14; k++) out[k] = salt[k];
  out[14] = 0;
  out[15] = 0;
  out[4] ^= ssrc >>> 24;
  out[5] ^= (ssrc >>> 16) & 0xff;
  out[6] ^= (ssrc >>> 8) & 0xff;
  out[7] ^= ssrc & 0xff;
  // The index is up to 48 bits: too wide for bitwise operators, so split it.
  const hi = Math.floor(index / 0x100000000);
  const lo = index >>> 0;
  out[8] ^= (hi >>> 8) & 0xff;
  out[9] ^= hi & 0xff;
  out[10] ^= lo >>> 24;
  out[11] ^= (lo >>> 16) & 0xff;
  out[12] ^= (lo >>> 8) & 0xff;
  out[13] ^= lo & 0xff;
}
