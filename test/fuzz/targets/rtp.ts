/**
 * RTP packets: parseRtp must accept or throw RtpParseError (readRtp returning
 * the same verdict without throwing); an accepted packet written back with
 * writeRtp from its parsed fields must parse to the same fields, payload and
 * extension (padding bytes other than the count are not kept).
 */
import { isRtcp, parseRtp, readRtp, RtpView, writeRtp } from '../../../src/media/rtp/packet.js';
import { RtpParseError } from '../../../src/media/rtp/errors.js';
import { rtpSeeds } from '../corpus/rtp.js';
import { mutateRtp } from '../mutate/rtp.js';
import type { Rng } from '../rng.js';
import { assertSame, type ParserTarget, type Verdict } from './target.js';

const OUT = Buffer.alloc(140000);

function shape(v: RtpView): unknown {
  return {
    padding: v.padding, paddingLength: v.paddingLength, extension: v.extension, csrcCount: v.csrcCount, marker: v.marker,
    payloadType: v.payloadType, sequence: v.sequence, timestamp: v.timestamp, ssrc: v.ssrc, csrcs: [...v.csrcs],
    extensionProfile: v.extensionProfile, extensionData: v.extensionData && Buffer.from(v.extensionData), payload: Buffer.from(v.payload),
  };
}

export const rtpTarget: ParserTarget = {
  name: 'rtp',
  kind: 'parser',
  weight: 6,
  generate(rng: Rng): Buffer {
    return mutateRtp(rng, rng.pick(rtpSeeds()));
  },
  run(input: Buffer): Verdict {
    isRtcp(input);
    const quiet = readRtp(input, new RtpView());
    let v: RtpView;
    try {
      v = parseRtp(input);
    } catch (err) {
      if (err instanceof RtpParseError && err.reason === quiet) return 'rejected';
      throw err;
    }
    if (quiet !== undefined) throw new Error(`readRtp said ${quiet} where parseRtp accepted`);
    const n = writeRtp(OUT, {
      marker: v.marker, payloadType: v.payloadType, sequence: v.sequence, timestamp: v.timestamp, ssrc: v.ssrc, csrcs: v.csrcs,
      extension: v.extension ? { profile: v.extensionProfile, data: v.extensionData ?? Buffer.alloc(0) } : undefined,
      padding: v.padding ? v.paddingLength : undefined,
    }, v.payload);
    assertSame('RTP packet', shape(v), shape(parseRtp(Buffer.from(OUT.subarray(0, n)))));
    return 'accepted';
  },
};
