/**
 * Packet index bookkeeping for one SSRC: index estimation across sequence
 * number wrap (RFC 3711 §3.3.1) and the sliding replay window (§3.3.2).
 *
 * Indices are up to 48 bits (SRTP) or 31 bits (SRTCP), exact in a double.
 * The 64-packet window is two 32-bit words so no BigInt is allocated per packet.
 */

export const REPLAY_WINDOW_SIZE = 64;

/**
 * The packet index that sequence number `seq` most likely has, given the
 * highest index seen so far (s_l and ROC in the RFC's terms). Guesses the
 * ROC of the previous, current or next 16-bit cycle, whichever puts `seq`
 * within half a cycle of s_l. Negative when `seq` would fall before index 0.
 */
export function estimatePacketIndex(highest: number, seq: number): number {
  const sl = highest % 0x10000;
  const roc = (highest - sl) / 0x10000;
  let v = roc;
  if (sl < 0x8000) {
    if (seq - sl > 0x8000) v = roc - 1;
  } else if (sl - 0x8000 > seq) {
    v = roc + 1;
  }
  return v * 0x10000 + seq;
}

export class ReplayWindow {
  /** Highest index accepted so far; meaningless until the first `accept`. */
  highest = 0;
  started = false;
  // Bit k set: index highest - k was accepted. lo holds k = 0..31, hi k = 32..63.
  #lo = 0;
  #hi = 0;

  /** False when `index` was already accepted or is too old for the window to tell. */
  check(index: number): boolean {
    if (index < 0) return false;
    if (!this.started) return true;
    const delta = this.highest - index;
    if (delta < 0) return true;
    if (delta >= REPLAY_WINDOW_SIZE) return false;
    const bit = delta < 32 ? (this.#lo >>> delta) & 1 : (this.#hi >>> (delta - 32)) & 1;
    return bit === 0;
  }

  /** Records `index` as received; call only after the packet authenticated. */
  accept(index: number): void {
    if (!this.started) {
      this.started = true;
      this.highest = index;
      this.#lo = 1;
      this.#hi = 0;
      return;
    }
    const delta = index - this.highest;
    if (delta > 0) {
      if (delta >= 64) {
        this.#lo = 0;
        this.#hi = 0;
      } else if (delta >= 32) {
        this.#hi = this.#lo << (delta - 32);
        this.#lo = 0;
      } else {
        this.#hi = (this.#hi << delta) | (this.#lo >>> (32 - delta));
        this.#lo = this.#lo << delta;
      }
      this.#lo |= 1;
      this.highest = index;
    } else {
      const back = -delta;
      if (back < 32) this.#lo |= 1 << back;
      else if (back < 64) this.#hi |= 1 << (back - 32);
    }
  }
}
