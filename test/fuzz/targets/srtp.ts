/**
 * SRTP and SRTCP unprotect: a packet protected with a known key, then
 * mutated (or left alone), must come back as the original packet or be
 * dropped (undefined, counted in stats) — never throw.
 */
import { SrtpContext } from '../../../src/media/srtp/index.js';
import { rtcpSeeds, rtpSeeds } from '../corpus/rtp.js';
import { mutateBytes } from '../mutate/bytes.js';
import { mutateRtcp, mutateRtp } from '../mutate/rtp.js';
import type { Rng } from '../rng.js';
import { RoundTripError, type ParserTarget, type Verdict } from './target.js';

const KEY = { suite: 'AES_CM_128_HMAC_SHA1_80' as const, masterKey: Buffer.alloc(16, 0x2b), masterSalt: Buffer.alloc(14, 0x7e) };

// The first input byte says what the rest is: 0 SRTP, 1 SRTCP; 2 and 3 the same but untouched since protection.
export const srtpTarget: ParserTarget = {
  name: 'srtp',
  kind: 'parser',
  weight: 4,
  generate(rng: Rng): Buffer {
    const rtcp = rng.chance(0.4);
    const plain = rtcp ? rng.pick(rtcpSeeds()) : rng.pick(rtpSeeds());
    const sender = new SrtpContext(KEY);
    const wire = rtcp ? sender.protectRtcp(plain) : sender.protectRtp(plain);
    const intact = rng.chance(0.2);
    let body = wire;
    if (!intact) {
      body = rng.weighted([
        [3, () => mutateBytes(rng, wire)],
        [2, () => (rtcp ? mutateRtcp(rng, wire) : mutateRtp(rng, wire))],
        [1, () => wire.subarray(0, rng.int(wire.length))],
      ] as const)();
    }
    return Buffer.concat([Buffer.from([(rtcp ? 1 : 0) + (intact ? 2 : 0)]), body, intact ? plain : Buffer.alloc(0)]);
  },
  run(input: Buffer): Verdict {
    if (input.length === 0) return 'rejected';
    const rtcp = (input[0] & 1) === 1;
    const intact = (input[0] & 2) === 2;
    const receiver = new SrtpContext(KEY);
    let packet = input.subarray(1);
    let plain: Buffer | undefined;
    if (intact) {
      const tag = rtcp ? receiver.rtcpOverhead : receiver.rtpOverhead;
      // Protected and plain halves: the protected one is the plain length plus the overhead.
      const plainLength = (packet.length - tag) / 2;
      plain = packet.subarray(plainLength + tag);
      packet = packet.subarray(0, plainLength + tag);
    }
    const out = rtcp ? receiver.unprotectRtcp(Buffer.from(packet)) : receiver.unprotectRtp(Buffer.from(packet));
    const inPlace = Buffer.from(packet);
    const n = rtcp ? new SrtpContext(KEY).unprotectRtcpInPlace(inPlace) : new SrtpContext(KEY).unprotectRtpInPlace(inPlace);
    if ((out === undefined) !== (n === undefined)) throw new Error('unprotect and unprotect-in-place disagree');
    if (plain) {
      if (!out || !out.equals(plain)) throw new RoundTripError(`an intact ${rtcp ? 'SRTCP' : 'SRTP'} packet did not unprotect to the original`);
    }
    return out ? 'accepted' : 'rejected';
  },
};
