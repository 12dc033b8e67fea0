/**
 * SIP messages as one datagram: parseMessage + validateMessage must accept
 * or throw SipParseError with a status a server can answer; whatever is
 * accepted must round-trip and survive what the stack does with it.
 */
import { checkMessage } from '../../../src/sip/check.js';
import { parseMessage, validateMessage, type SipMessage } from '../../../src/sip/message.js';
import { parseUri } from '../../../src/sip/uri.js';
import { sipSeeds } from '../corpus/sip.js';
import { mutateSip } from '../mutate/sip.js';
import type { Rng } from '../rng.js';
import { exerciseAccepted, isDeclaredSipError, sipRoundTrip } from './sip-shape.js';
import type { ParserTarget, Verdict } from './target.js';

let seeds: Buffer[] | undefined;

export const sipMessageTarget: ParserTarget = {
  name: 'sip-message',
  kind: 'parser',
  weight: 28,
  generate(rng: Rng): Buffer {
    seeds ??= sipSeeds();
    return mutateSip(rng, rng.pick(seeds), rng.pick(seeds));
  },
  run(input: Buffer): Verdict {
    // Over a stream the framer has cut the message already; the body rules differ.
    try {
      validateMessage(parseMessage(input, { datagram: false }));
    } catch (err) {
      if (!isDeclaredSipError(err)) throw err;
    }
    const checked = checkMessage(input);
    if (checked.exitCode !== 0 && checked.json.valid === false && /^Unparseable message/.test(checked.json.reason)) {
      throw new Error(`sip check hit a parser bug: ${checked.json.reason}`);
    }
    let msg: SipMessage;
    try {
      msg = parseMessage(input, { datagram: true });
      validateMessage(msg);
    } catch (err) {
      if (isDeclaredSipError(err)) return 'rejected';
      throw err;
    }
    exerciseAccepted(msg);
    if (msg.isRequest) {
      try {
        parseUri(msg.uri);
      } catch (err) {
        if (!isDeclaredSipError(err)) throw err;
      }
    }
    sipRoundTrip(msg);
    return 'accepted';
  },
};
