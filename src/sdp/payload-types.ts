/** An RTP payload format as named by a=rtpmap (or implied by a static type). */
export interface RtpFormat {
  name: string;
  clockRate: number;
  channels: number;
}

const f = (name: string, clockRate: number, channels = 1): RtpFormat => ({ name, clockRate, channels });

/**
 * RFC 3551 §6 static payload types, known without a=rtpmap. G722 is listed at
 * 8000 Hz on purpose: its RTP clock runs at 8 kHz although it samples 16 kHz
 * audio, an error in RFC 1890 kept for compatibility.
 */
export const STATIC_PAYLOAD_TYPES: ReadonlyMap<number, RtpFormat> = new Map([
  [0, f('PCMU', 8000)],
  [3, f('GSM', 8000)],
  [4, f('G723', 8000)],
  [5, f('DVI4', 8000)],
  [6, f('DVI4', 16000)],
  [7, f('LPC', 8000)],
  [8, f('PCMA', 8000)],
  [9, f('G722', 8000)],
  [10, f('L16', 44100, 2)],
  [11, f('L16', 44100)],
  [12, f('QCELP', 8000)],
  [13, f('CN', 8000)],
  [14, f('MPA', 90000)],
  [15, f('G728', 8000)],
  [16, f('DVI4', 11025)],
  [17, f('DVI4', 22050)],
  [18, f('G729', 8000)],
  [25, f('CelB', 90000)],
  [26, f('JPEG', 90000)],
  [28, f('nv', 90000)],
  [31, f('H261', 90000)],
  [32, f('MPV', 90000)],
  [33, f('MP2T', 90000)],
  [34, f('H263', 90000)],
]);

/** The static payload type for a format, if RFC 3551 assigns one. */
export function staticPayloadType(name: string, clockRate: number, channels = 1): number | undefined {
  for (const [pt, fmt] of STATIC_PAYLOAD_TYPES) {
    if (sameFormat(fmt, { name, clockRate, channels })) return pt;
  }
  return undefined;
}

/** Encoding names compare case-insensitively (RFC 4855 §3); a missing channel count means 1. */
export function sameFormat(a: RtpFormat, b: RtpFormat): boolean {
  return (
    a.clockRate === b.clockRate &&
    (a.channels || 1) === (b.channels || 1) &&
    a.name.toLowerCase() === b.name.toLowerCase()
  );
}

/**
 * Formats that ride along with a voice codec but cannot carry the call alone:
 * DTMF events, comfort noise, redundancy and FEC wrappers, retransmission.
 */
export function isAuxiliaryFormat(name: string): boolean {
  switch (name.toLowerCase()) {
    case 'telephone-event':
    case 'cn':
    case 'red':
    case 'ulpfec':
    case 'flexfec-03':
    case 'rtx':
      return true;
    default:
      return false;
  }
}
