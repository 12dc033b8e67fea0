/**
 * The small SDP facts a WebRTC leg needs beyond what src/sdp negotiates:
 * recognising a browser's description, the ICE credentials and DTLS
 * fingerprints it carries, and rewriting the direction and version of our
 * own last description for re-offers (werift is not asked again: hold and
 * resume keep ICE and DTLS as they are).
 */
import type { Direction } from '../sdp/index.js';

const DIRECTION_LINE = /^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m;

/** A WebRTC description: DTLS-SRTP profile, or ICE credentials with a DTLS fingerprint. */
export function isWebRtcSdp(sdp: string): boolean {
  if (/^m=\S+ \d+(?:\/\d+)? UDP\/TLS\/RTP\/SAVPF? /im.test(sdp)) return true;
  return /^a=fingerprint:/im.test(sdp) && /^a=ice-ufrag:/im.test(sdp);
}

/** The first a=ice-ufrag (session or media level), which BUNDLE makes the only one that counts. */
export function iceUfragOf(sdp: string): string | undefined {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
}

export interface SdpFingerprint {
  algorithm: string;
  /** Upper-case hex pairs joined by ':'. */
  value: string;
}

export function fingerprintsOf(sdp: string): SdpFingerprint[] {
  const out: SdpFingerprint[] = [];
  for (const m of sdp.matchAll(/^a=fingerprint:(\S+)\s+([0-9A-Fa-f:]+)/gm)) {
    out.push({ algorithm: m[1].toLowerCase(), value: m[2].toUpperCase() });
  }
  return out;
}

/**
 * `sdp` with its (one) media section's direction set to `direction` and the
 * o= version raised to `version` (RFC 3264 §8: a changed description
 * carries a higher version).
 */
export function withDirection(sdp: string, direction: Direction, version: number): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const out: string[] = [];
  /** -1 before the first m=, then the index of the current media section. */
  let section = -1;
  let written = false;
  const finishFirst = (): void => {
    if (section !== 0 || written) return;
    out.push(`a=${direction}`);
    written = true;
  };
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('o=')) {
      const f = line.split(' ');
      if (f.length >= 6) f[2] = String(version);
      out.push(f.join(' '));
      continue;
    }
    if (line.startsWith('m=')) {
      finishFirst();
      section++;
    } else if (line === '' && section === 0) {
      finishFirst();
    }
    if (DIRECTION_LINE.test(line) && section <= 0) {
      // A session-level direction goes (the media one decides); the first section's is replaced.
      if (section === 0 && !written) {
        out.push(`a=${direction}`);
        written = true;
      }
      continue;
    }
    out.push(line);
  }
  if (section === 0 && !written) out.push(`a=${direction}`);
  return out.join(eol);
}

/** The o= version of a description, as a number (0 when unreadable). */
export function originVersionOf(sdp: string): number {
  const m = /^o=\S+ \S+ (\d+) /m.exec(sdp);
  return m ? Number(m[1]) : 0;
}
