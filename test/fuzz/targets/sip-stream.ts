/**
 * SIP over a stream: several mutated messages, stray CRLFs and garbage in one
 * byte stream, cut by the StreamFramer. Framing must not depend on how the
 * bytes were split into reads (the same stream pushed whole and in small
 * pieces gives the same messages and the same error), a framing error must
 * carry 400 or 513, and every framed message must parse or be refused with a
 * declared status, then round-trip.
 */
import { crc32 } from '../../../src/stun/message.js';
import { parseMessage, validateMessage, type SipMessage } from '../../../src/sip/message.js';
import { StreamFramer } from '../../../src/sip/transport/framer.js';
import { sipSeeds } from '../corpus/sip.js';
import { mutateSip } from '../mutate/sip.js';
import { Rng } from '../rng.js';
import { exerciseAccepted, isDeclaredSipError, sipRoundTrip } from './sip-shape.js';
import { assertSame, RoundTripError, type ParserTarget, type Verdict } from './target.js';

let seeds: Buffer[] | undefined;

interface Framed {
  messages: Buffer[];
  pings: number;
  error?: { status: number; head: Buffer };
}

function frame(input: Buffer, chunks: number[]): Framed {
  const out: Framed = { messages: [], pings: 0 };
  const framer = new StreamFramer({
    message: (data) => out.messages.push(Buffer.from(data)),
    ping: () => out.pings++,
    error: (status, _reason, head) => {
      if (out.error) throw new RoundTripError('framer reported a second error after failing');
      out.error = { status, head: Buffer.from(head) };
    },
  });
  let pos = 0;
  for (const n of chunks) {
    framer.push(input.subarray(pos, pos + n));
    pos += n;
  }
  if (pos < input.length) framer.push(input.subarray(pos));
  return out;
}

/** Read sizes derived from the input itself, so a case replays the same way. */
function chunking(input: Buffer): number[] {
  const rng = new Rng(crc32(input));
  const sizes: number[] = [];
  let total = 0;
  while (total < input.length) {
    const n = rng.chance(0.3) ? 1 : rng.range(1, 1500);
    sizes.push(n);
    total += n;
  }
  return sizes;
}

export const sipStreamTarget: ParserTarget = {
  name: 'sip-stream',
  kind: 'parser',
  weight: 8,
  generate(rng: Rng): Buffer {
    seeds ??= sipSeeds({ transport: 'TCP' });
    const parts: Buffer[] = [];
    const n = rng.range(1, 4);
    for (let i = 0; i < n; i++) {
      if (rng.chance(0.15)) parts.push(Buffer.from(rng.pick(['\r\n', '\r\n\r\n', '\n', '\r\n\r\n\r\n'])));
      if (rng.chance(0.05)) parts.push(rng.bytes(rng.size(200)));
      parts.push(rng.chance(0.3) ? rng.pick(seeds) : mutateSip(rng, rng.pick(seeds), rng.pick(seeds)));
    }
    return Buffer.concat(parts);
  },
  run(input: Buffer): Verdict {
    const whole = frame(input, [input.length]);
    const pieces = frame(input, chunking(input));
    assertSame('framing in one read vs many', whole, pieces);
    if (whole.error && whole.error.status !== 400 && whole.error.status !== 513) {
      throw new Error(`framer failed with status ${whole.error.status}`);
    }
    let accepted = false;
    for (const data of whole.messages) {
      let msg: SipMessage;
      try {
        msg = parseMessage(data, { datagram: false });
        validateMessage(msg);
      } catch (err) {
        if (isDeclaredSipError(err)) continue;
        throw err;
      }
      exerciseAccepted(msg);
      sipRoundTrip(msg);
      accepted = true;
    }
    return accepted ? 'accepted' : 'rejected';
  },
};
