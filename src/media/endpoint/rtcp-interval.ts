/**
 * When the next RTCP report goes out. RFC 3550 §6.3.1 randomises each
 * interval to 0.5–1.5× the deterministic one so that many participants
 * started together do not report in lock-step, and §6.2 halves the very first
 * interval so a new participant is reported on quickly. A two-party call has
 * a fixed bandwidth share, so the full §A.7 computation reduces to this.
 */
export function rtcpDelayMs(meanMs: number, random: () => number, first: boolean): number {
  const base = first ? meanMs / 2 : meanMs;
  return base * (0.5 + random());
}
