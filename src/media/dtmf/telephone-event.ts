/**
 * RFC 4733 §2.3 telephone-event payload: one 4-octet block
 *
 *    0                   1                   2                   3
 *   |     event     |E|R| volume    |          duration             |
 *
 * Encoding writes into a buffer the caller owns; decoding fills an object
 * the caller may reuse, so the RTP loop allocates nothing per packet.
 */

export const TELEPHONE_EVENT_LENGTH = 4;
/** The duration field is 16 bits (RFC 4733 §2.5.1.3: longer events are split). */
export const MAX_EVENT_DURATION = 0xffff;

export interface TelephoneEvent {
  /** 0-255; 0-15 are the DTMF keys (see digits.ts). */
  event: number;
  /** E bit: this packet ends the event. */
  end: boolean;
  /** Power level of the tone in -dBm0, 0-63 (RFC 4733 §2.3.4). */
  volume: number;
  /** Duration so far in RTP timestamp units, 0-65535. */
  duration: number;
}

/**
 * Writes `ev` at `out[offset..offset+4)` and returns 4. Throws RangeError on a
 * field out of range or a buffer too small: that is a bug in the caller, not
 * bad network input.
 */
export function encodeEvent(ev: TelephoneEvent, out: Uint8Array, offset = 0): number {
  if (!Number.isInteger(ev.event) || ev.event < 0 || ev.event > 255) {
    throw new RangeError(`telephone-event: event ${ev.event} not in 0-255`);
  }
  if (!Number.isInteger(ev.volume) || ev.volume < 0 || ev.volume > 63) {
    throw new RangeError(`telephone-event: volume ${ev.volume} not in 0-63`);
  }
  if (!Number.isInteger(ev.duration) || ev.duration < 0 || ev.duration > MAX_EVENT_DURATION) {
    throw new RangeError(`telephone-event: duration ${ev.duration} not in 0-65535`);
  }
  if (offset < 0 || offset + TELEPHONE_EVENT_LENGTH > out.length) {
    throw new RangeError('telephone-event: output buffer too small');
  }
  out[offset] = ev.event;
  // R (reserved) is sent as zero (§2.3.3).
  out[offset + 1] = (ev.end ? 0x80 : 0) | ev.volume;
  out[offset + 2] = ev.duration >>> 8;
  out[offset + 3] = ev.duration & 0xff;
  return TELEPHONE_EVENT_LENGTH;
}

/**
 * Reads a telephone-event payload. Returns undefined unless it is exactly
 * 4 octets (a single event — RFC 2198 redundancy is unwrapped before this),
 * so a malformed packet is dropped rather than thrown at the RTP loop.
 * The R bit is ignored on receipt, as §2.3.3 asks. Pass `into` to reuse an object.
 */
export function decodeEvent(payload: Uint8Array, into?: TelephoneEvent): TelephoneEvent | undefined {
  if (payload.length !== TELEPHONE_EVENT_LENGTH) return undefined;
  const ev = into ?? { event: 0, end: false, volume: 0, duration: 0 };
  ev.event = payload[0];
  ev.end = (payload[1] & 0x80) !== 0;
  ev.volume = payload[1] & 0x3f;
  ev.duration = (payload[2] << 8) | payload[3];
  return ev;
}
