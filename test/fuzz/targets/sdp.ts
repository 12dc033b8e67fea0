/**
 * SDP bodies: parseSdp must accept or throw SdpError; an accepted one must
 * round-trip (parse -> format -> parse gives the same model), and offer/answer
 * on it (createAnswer, then negotiated on the pair, withDirection for hold)
 * must end in an answer or an SdpError, with usable ports in what it
 * negotiated. Every a=crypto key is read by the SRTP layer's parseSdesKey,
 * which may only throw SdesKeyError.
 */
import { SdesKeyError, parseSdesKey, isSrtpSuite } from '../../../src/media/srtp/index.js';
import { createAnswer, cryptosOf, formatSdp, negotiated, parseSdp, SdpError, withDirection, type SessionDescription } from '../../../src/sdp/index.js';
import { sdpSeeds } from '../corpus/sdp.js';
import { mutateBytes } from '../mutate/bytes.js';
import { mutateSdp } from '../mutate/sdp.js';
import type { Rng } from '../rng.js';
import { assertSame, RoundTripError, type ParserTarget, type Verdict } from './target.js';

const ANSWER_OPTS = {
  address: '127.0.0.1',
  port: 40000,
  sessionId: '1',
  codecs: [
    { name: 'opus', clockRate: 48000, channels: 2 },
    { name: 'G722', clockRate: 8000 },
    { name: 'PCMU', clockRate: 8000 },
    { name: 'PCMA', clockRate: 8000 },
  ],
  telephoneEvent: true,
  rtcpMux: true,
  crypto: [
    { suite: 'AES_CM_128_HMAC_SHA1_80', keySalt: 'PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR' },
    { suite: 'AES_CM_128_HMAC_SHA1_32', keySalt: 'NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj' },
  ],
};

function sdpOrRejected<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    if (err instanceof SdpError) return undefined;
    throw err;
  }
}

function checkPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`negotiated ${what} ${port} is not a usable UDP port`);
}

function offerAnswer(offer: SessionDescription): void {
  const answer = sdpOrRejected(() => createAnswer(offer, ANSWER_OPTS));
  if (answer) {
    // What we answer must itself be valid SDP.
    try {
      parseSdp(formatSdp(answer));
    } catch (err) {
      if (err instanceof SdpError) throw new RoundTripError(`our answer does not parse: ${err.message}`);
      throw err;
    }
    for (const [local, remote] of [[answer, offer], [offer, answer]] as const) {
      const n = sdpOrRejected(() => negotiated(local, remote));
      if (!n) continue;
      checkPort('RTP port', n.remotePort);
      checkPort('RTCP port', n.remoteRtcpPort);
    }
  }
  sdpOrRejected(() => withDirection(offer, 'sendonly'));
  for (const m of offer.media) {
    for (const c of cryptosOf(m)) {
      if (!isSrtpSuite(c.suite)) continue;
      for (const key of c.keys) {
        try {
          parseSdesKey(`${key.method}:${key.keySalt}${key.lifetime !== undefined ? '|' + key.lifetime : ''}${key.mki ? `|${key.mki.value}:${key.mki.length}` : ''}`, c.suite);
        } catch (err) {
          if (!(err instanceof SdesKeyError)) throw err;
        }
      }
    }
  }
}

export const sdpTarget: ParserTarget = {
  name: 'sdp',
  kind: 'parser',
  weight: 16,
  generate(rng: Rng): Buffer {
    const seed = rng.pick(sdpSeeds());
    const text = rng.chance(0.1) ? seed : mutateSdp(rng, seed);
    const buf = Buffer.from(text, 'latin1');
    return rng.chance(0.15) ? mutateBytes(rng, buf) : buf;
  },
  run(input: Buffer): Verdict {
    // The SIP layer hands the body over as UTF-8 text.
    const text = input.toString('utf8');
    const sd = sdpOrRejected(() => parseSdp(text));
    if (!sd) return 'rejected';
    const written = formatSdp(sd);
    let again: SessionDescription;
    try {
      again = parseSdp(written);
    } catch (err) {
      if (err instanceof SdpError) throw new RoundTripError(`formatted SDP no longer parses: ${err.message}`);
      throw err;
    }
    assertSame('SDP', sd, again);
    offerAnswer(sd);
    return 'accepted';
  },
};
