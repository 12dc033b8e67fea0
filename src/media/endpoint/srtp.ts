/**
 * The endpoint's SRTP: one SrtpContext under our key for what we send and
 * one under the peer's key for what we receive (SDES keys each direction
 * separately, RFC 4568 §6.1). Failures are turned into the endpoint's drop
 * reasons so the receive loop counts them like any other bad datagram.
 */
import { timingSafeEqual } from 'node:crypto';
import { SRTP_SUITES, SrtpContext } from '../srtp/index.js';
import type { DropReason, MediaEndpointSrtpConfig, SrtpKeyMaterial } from './types.js';

/** Largest SRTP tag of the suites we speak: send buffers keep this much room after the RTP packet. */
export const MAX_SRTP_RTP_OVERHEAD = Math.max(...Object.values(SRTP_SUITES).map((p) => p.rtpTagLength));

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function sameKey(a: SrtpKeyMaterial, b: SrtpKeyMaterial): boolean {
  return sameBytes(a.masterKey, b.masterKey) && sameBytes(a.masterSalt, b.masterSalt);
}

export class EndpointSrtp {
  readonly send: SrtpContext;
  readonly receive: SrtpContext;
  /** Copies, so a caller reusing its key buffers cannot change what `matches` compares against. */
  private readonly config: MediaEndpointSrtpConfig;

  constructor(cfg: MediaEndpointSrtpConfig) {
    const copy = (k: SrtpKeyMaterial): SrtpKeyMaterial => ({ masterKey: Uint8Array.from(k.masterKey), masterSalt: Uint8Array.from(k.masterSalt) });
    this.config = { suite: cfg.suite, local: copy(cfg.local), remote: copy(cfg.remote) };
    this.send = new SrtpContext({ suite: cfg.suite, ...this.config.local });
    this.receive = new SrtpContext({ suite: cfg.suite, ...this.config.remote });
  }

  /**
   * Same suite and keys: a re-INVITE that kept the crypto lines. The
   * contexts must then carry over, since fresh ones would restart the
   * rollover counter and forget the replay window.
   */
  matches(cfg: MediaEndpointSrtpConfig): boolean {
    return cfg.suite === this.config.suite && sameKey(cfg.local, this.config.local) && sameKey(cfg.remote, this.config.remote);
  }

  /** Decrypts an SRTP packet in place: the RTP length, or why it must be dropped. */
  unprotectRtp(buf: Buffer): number | DropReason {
    const st = this.receive.stats;
    const auth = st.authFailures;
    const replays = st.replays;
    const len = this.receive.unprotectRtpInPlace(buf);
    if (len !== undefined) return len;
    return failure(st.authFailures > auth, st.replays > replays, 'malformed-rtp');
  }

  /** Decrypts an SRTCP compound in place: the RTCP length, or why it must be dropped. */
  unprotectRtcp(buf: Buffer): number | DropReason {
    const st = this.receive.stats;
    const auth = st.authFailures;
    const replays = st.replays;
    const len = this.receive.unprotectRtcpInPlace(buf);
    if (len !== undefined) return len;
    return failure(st.authFailures > auth, st.replays > replays, 'malformed-rtcp');
  }
}

function failure(auth: boolean, replay: boolean, malformed: DropReason): DropReason {
  if (replay) return 'srtp-replay';
  if (auth) return 'srtp-auth';
  return malformed;
}
