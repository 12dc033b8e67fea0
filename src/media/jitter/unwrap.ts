/**
 * Extending RTP's wrapping counters (16-bit sequence numbers, 32-bit
 * timestamps) to plain increasing numbers, so the buffer can order and
 * subtract them without caring where the wrap falls. Each value is placed at
 * the nearest point to a reference already extended, which is right as long as
 * packets are less than half the counter's range apart — always true for a
 * jitter buffer holding well under a second.
 */

/** Extends a 16-bit sequence number relative to an extended reference. */
export function extendSeq(seq: number, refExt: number): number {
  const delta = ((((seq - refExt) & 0xffff) + 0x8000) & 0xffff) - 0x8000;
  return refExt + delta;
}

/** Extends a 32-bit RTP timestamp relative to an extended reference. */
export function extendTimestamp(ts: number, refExt: number): number {
  // `| 0` turns the modular 32-bit difference into its signed value.
  const delta = (ts - refExt) | 0;
  return refExt + delta;
}
