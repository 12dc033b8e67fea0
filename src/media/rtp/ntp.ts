/**
 * NTP timestamps as RTCP uses them (RFC 3550 §4): 32 bits of seconds since
 * 1900 plus 32 bits of fraction. Kept as two uint32 numbers instead of a
 * bigint so sender reports are built without BigInt arithmetic.
 *
 * LSR/DLSR and round-trip times use the "middle 32 bits" (16.16 fixed point
 * seconds, units of 1/65536 s), called NTP short format here.
 */

/** Seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch). */
export const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_32 = 4_294_967_296;
/** 2^32 / 1000: fraction units per millisecond. */
const FRAC_PER_MS = TWO_32 / 1000;
/** NTP short format units per millisecond (65536 / 1000). */
const SHORT_PER_MS = 65.536;

export interface NtpTimestamp {
  /** Seconds since 1900, modulo 2^32 (era 1 starts in February 2036). */
  seconds: number;
  /** Fraction of a second in units of 2^-32 s. */
  fraction: number;
}

/** Whole NTP seconds (mod 2^32) for a wall-clock time in Unix milliseconds. */
export function ntpSeconds(wallMs: number): number {
  return (Math.floor(wallMs / 1000) + NTP_UNIX_OFFSET_S) % TWO_32;
}

/** NTP fraction for a wall-clock time; split from the seconds so sub-ms precision survives. */
export function ntpFraction(wallMs: number): number {
  const rem = wallMs - Math.floor(wallMs / 1000) * 1000;
  return Math.min(TWO_32 - 1, Math.floor(rem * FRAC_PER_MS));
}

export function wallMsToNtp(wallMs: number): NtpTimestamp {
  return { seconds: ntpSeconds(wallMs), fraction: ntpFraction(wallMs) };
}

/**
 * Back to Unix milliseconds. Seconds with the top bit clear are taken to be
 * in NTP era 1 (after 2036-02-07), as RFC 4330 §3 suggests, so the helper
 * keeps working across the 2036 rollover.
 */
export function ntpToWallMs(seconds: number, fraction: number): number {
  const era = seconds < 0x8000_0000 ? TWO_32 : 0;
  return (seconds + era - NTP_UNIX_OFFSET_S) * 1000 + fraction / FRAC_PER_MS;
}

/** The middle 32 bits of a 64-bit NTP timestamp: what LSR carries. */
export function ntpMiddle32(seconds: number, fraction: number): number {
  return (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}

/** Middle 32 bits of the NTP timestamp for a wall-clock time, without allocating. */
export function wallMsToNtpMiddle32(wallMs: number): number {
  return ntpMiddle32(ntpSeconds(wallMs), ntpFraction(wallMs));
}

/** A duration in NTP short units (1/65536 s), e.g. a DLSR, as milliseconds. */
export function ntpShortToMs(units: number): number {
  return units / SHORT_PER_MS;
}

/** A duration in milliseconds as NTP short units, floored and capped to 32 bits (DLSR). */
export function msToNtpShort(ms: number): number {
  if (ms <= 0) return 0;
  return Math.min(TWO_32 - 1, Math.floor(ms * SHORT_PER_MS));
}
