/**
 * RTCP compounds: parseRtcp (lenient and strict) must accept or throw
 * RtcpParseError, and tryParseRtcp must agree. An accepted compound that
 * writeRtcp can write must parse back to the same packets. Two things the
 * model does not keep make some accepted compounds unwritable, which is
 * counted but not a failure: padding (removed on parse, so an opaque body or
 * report extension may no longer fill whole words) and SDES/BYE text that
 * was not UTF-8 (decoded with replacement characters, which may then exceed
 * 255 octets). Nothing in Switchboard writes back a parsed compound.
 */
import { RtcpParseError } from '../../../src/media/rtp/errors.js';
import { parseRtcp, rtcpLength, tryParseRtcp, writeRtcp, type RtcpPacket } from '../../../src/media/rtp/rtcp.js';
import { rtcpSeeds } from '../corpus/rtp.js';
import { mutateRtcp } from '../mutate/rtp.js';
import type { Rng } from '../rng.js';
import { assertSame, type ParserTarget, type Verdict } from './target.js';

function parsed(input: Buffer, strict: boolean): RtcpPacket[] | undefined {
  try {
    return parseRtcp(input, { strict });
  } catch (err) {
    if (err instanceof RtcpParseError) return undefined;
    throw err;
  }
}

export const rtcpTarget: ParserTarget = {
  name: 'rtcp',
  kind: 'parser',
  weight: 6,
  generate(rng: Rng): Buffer {
    const seeds = rtcpSeeds();
    return mutateRtcp(rng, rng.pick(seeds), rng.pick(seeds));
  },
  run(input: Buffer): Verdict {
    parsed(input, true);
    const packets = parsed(input, false);
    if ((tryParseRtcp(input) === undefined) !== (packets === undefined)) throw new Error('tryParseRtcp and parseRtcp disagree');
    if (!packets) return 'rejected';
    let out: Buffer;
    try {
      out = Buffer.alloc(rtcpLength(packets));
      writeRtcp(out, packets);
    } catch (err) {
      if (err instanceof RangeError) return 'accepted';
      throw err;
    }
    const again = parseRtcp(out);
    // Packet bodies are views into different buffers; compare their bytes.
    assertSame('RTCP compound', packets, again);
    return 'accepted';
  },
};
