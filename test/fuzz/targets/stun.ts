/**
 * STUN datagrams: decodeStun must accept or throw StunParseError; on an
 * accepted message every accessor and the Binding server's answerBinding must
 * work (answerBinding may throw StunParseError only), and re-encoding its
 * attributes with encodeStun must decode to the same message.
 */
import {
  answerBinding, decodeStun, encodeStun, getErrorCode, getMappedAddress, getSoftware, getUnknownAttributes, getUsername,
  getXorMappedAddress, isStun, StunAttr, StunParseError, unknownRequiredAttributes, verifyIntegrity, attributeValue, type StunMessage,
} from '../../../src/stun/index.js';
import { STUN_KEY, stunSeeds } from '../corpus/stun.js';
import { mutateStun } from '../mutate/stun.js';
import type { Rng } from '../rng.js';
import { assertSame, RoundTripError, type ParserTarget, type Verdict } from './target.js';

const OUT = Buffer.alloc(70000);

function shape(m: StunMessage): unknown {
  return {
    method: m.method,
    cls: m.cls,
    transactionId: Buffer.from(m.transactionId),
    fingerprint: m.fingerprint,
    attributes: m.attributes.filter((a) => a.type !== StunAttr.Fingerprint).map((a) => [a.type, Buffer.from(attributeValue(m, a))]),
  };
}

export const stunTarget: ParserTarget = {
  name: 'stun',
  kind: 'parser',
  weight: 8,
  generate(rng: Rng): Buffer {
    return mutateStun(rng, rng.pick(stunSeeds()));
  },
  run(input: Buffer): Verdict {
    isStun(input);
    let m: StunMessage;
    try {
      m = decodeStun(input);
    } catch (err) {
      if (err instanceof StunParseError) return 'rejected';
      throw err;
    }
    getXorMappedAddress(m);
    getMappedAddress(m);
    getSoftware(m);
    getUsername(m);
    getErrorCode(m);
    getUnknownAttributes(m);
    unknownRequiredAttributes(m);
    verifyIntegrity(m, STUN_KEY);
    try {
      answerBinding(input, { address: '127.0.0.1', port: 40000 }, { software: 'fuzz' });
      answerBinding(input, { address: '::1', port: 1 });
    } catch (err) {
      if (!(err instanceof StunParseError)) throw err;
    }
    const attributes = m.attributes
      .filter((a) => a.type !== StunAttr.Fingerprint)
      .map((a) => ({ type: a.type, value: attributeValue(m, a) }));
    const wire = encodeStun({ method: m.method, cls: m.cls, transactionId: m.transactionId, attributes, fingerprint: m.fingerprint }, OUT);
    let again: StunMessage;
    try {
      again = decodeStun(Buffer.from(wire));
    } catch (err) {
      if (err instanceof StunParseError) throw new RoundTripError(`re-encoded message does not decode: ${err.reason} ${err.message}`);
      throw err;
    }
    assertSame('STUN message', shape(m), shape(again));
    return 'accepted';
  },
};
