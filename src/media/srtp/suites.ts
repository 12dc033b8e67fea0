/**
 * The SDES crypto suites this implementation speaks (RFC 4568 §6.2). Both use
 * AES-128 in counter mode and HMAC-SHA1; they differ only in how much of the
 * HMAC an SRTP packet carries. SRTCP always carries 80 bits, even for the _32
 * suite (RFC 4568 §6.2.2 / RFC 3711 §5.2): RTCP is rare enough that the
 * bandwidth saving is not worth weaker integrity on it.
 */

export type SrtpSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';

export interface SrtpSuiteParams {
  /** Master key and session encryption key, octets. */
  readonly keyLength: number;
  /** Master salt and session salt, octets. */
  readonly saltLength: number;
  /** Session HMAC-SHA1 key, octets. */
  readonly authKeyLength: number;
  /** Octets of HMAC appended to each SRTP packet. */
  readonly rtpTagLength: number;
  /** Octets of HMAC appended to each SRTCP packet. */
  readonly rtcpTagLength: number;
}

export const SRTP_SUITES: Readonly<Record<SrtpSuite, SrtpSuiteParams>> = {
  AES_CM_128_HMAC_SHA1_80: { keyLength: 16, saltLength: 14, authKeyLength: 20, rtpTagLength: 10, rtcpTagLength: 10 },
  AES_CM_128_HMAC_SHA1_32: { keyLength: 16, saltLength: 14, authKeyLength: 20, rtpTagLength: 4, rtcpTagLength: 10 },
};

export function isSrtpSuite(name: string): name is SrtpSuite {
  return Object.prototype.hasOwnProperty.call(SRTP_SUITES, name);
}
