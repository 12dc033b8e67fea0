/**
 * Typed parse failures for RTP and RTCP. Malformed media packets are routine
 * (port scanners, stale streams, broken middleboxes): the receive loop drops
 * them and bumps a counter keyed by `reason`, so the reasons are a closed set
 * of short strings rather than free text.
 */

export type RtpErrorReason =
  | 'too-short' // fewer than the 12 fixed header octets
  | 'bad-version' // version field is not 2
  | 'truncated-csrc' // CC says more CSRCs than the packet holds
  | 'bad-extension' // header extension header or body runs past the end
  | 'bad-padding'; // padding count is 0 or larger than what follows the header

export type RtcpErrorReason =
  | 'too-short' // fewer than 4 octets left for a common header
  | 'bad-version' // version field is not 2
  | 'bad-length' // length field runs past the end of the compound packet
  | 'bad-padding' // padding count is 0, not a multiple of 4 or too large
  | 'bad-first-packet' // strict mode: compound does not start with SR or RR (RFC 3550 A.2)
  | 'bad-sr' // SR too short for its report blocks
  | 'bad-rr' // RR too short for its report blocks
  | 'bad-sdes' // SDES chunk or item runs past the end
  | 'bad-bye'; // BYE source list or reason runs past the end

export class RtpParseError extends Error {
  constructor(
    readonly reason: RtpErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'RtpParseError';
  }
}

export class RtcpParseError extends Error {
  constructor(
    readonly reason: RtcpErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'RtcpParseError';
  }
}
