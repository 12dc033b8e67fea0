/**
 * The small SDP facts a WebRTC leg needs beyond what src/sdp negotiates:
 * recognising a browser's description, the ICE credentials and DTLS
 * fingerprints it carries, and rewriting the direction and version of our
 * own last description for re-offers (werift is not asked again: hold and
 * resume keep ICE and DTLS as they are).
 */
import { codecNameForRtpmap, type CodecName } from '../media/codecs/registry.js';
import { codecsOf, parseSdp, type Direction } from '../sdp/index.js';

const DIRECTION_LINE = /^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m;

/** A WebRTC description: DTLS-SRTP profile, or ICE credentials with a DTLS fingerprint. */
export function isWebRtcSdp(sdp: string): boolean {
  if (/^m=\S+ \d+(?:\/\d+)? UDP\/TLS\/RTP\/SAVPF? /im.test(sdp)) return true;
  return /^a=fingerprint:/im.test(sdp) && /^a=ice-ufrag:/im.test(sdp);
}

/**
 * Why a browser's description cannot carry a WebRTC leg that speaks
 * `codecs` (when given), or undefined when it can. werift takes a
 * description without ICE credentials or a fingerprint and then waits for
 * checks and a handshake that can never succeed; the gateway answers 488
 * instead, before anyone's phone rings.
 */
export function webRtcSdpProblem(sdp: string, codecs?: readonly CodecName[]): string | undefined {
  const missing: string[] = [];
  if (!/^a=ice-ufrag:\S/m.test(sdp)) missing.push('a=ice-ufrag');
  if (!/^a=ice-pwd:\S/m.test(sdp)) missing.push('a=ice-pwd');
  if (fingerprintsOf(sdp).length === 0) missing.push('a=fingerprint');
  if (missing.length > 0) return `no ${missing.join(', ')}`;
  if (!codecs) return undefined;
  let audio;
  try {
    audio = parseSdp(sdp).media.filter((m) => m.type === 'audio' && m.port !== 0);
  } catch (err) {
    return `unreadable SDP: ${(err as Error).message}`;
  }
  if (audio.length === 0) return 'no audio stream';
  const offered = audio.flatMap((m) => codecsOf(m)).map((c) => codecNameForRtpmap(c.name, c.clockRate, c.channels));
  if (!offered.some((n) => n !== undefined && codecs.includes(n))) return `no codec in common (we speak ${codecs.join(', ')})`;
  return undefined;
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
