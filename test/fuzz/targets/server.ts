/**
 * Cases for a running Switchboard: mutated SIP messages addressed to it, one
 * datagram each over UDP, or over TCP a connection's worth of several
 * messages with stray CRLFs, garbage between them and broken framing (the
 * driver also splits the writes). What the server must do with them is the
 * driver's check: stay alive and answer a valid OPTIONS.
 */
import { builtSipMessages, sipFixtures } from '../corpus/sip.js';
import { mutateSip } from '../mutate/sip.js';
import type { Rng } from '../rng.js';
import type { CaseContext, Target } from './target.js';

/** Largest UDP payload on IPv4. */
export const MAX_DATAGRAM = 65507;

const cache = new Map<string, Buffer[]>();

function seedsFor(ctx: CaseContext, transport: 'UDP' | 'TCP'): Buffer[] {
  const key = `${ctx.sipPort}/${ctx.localPort}/${transport}`;
  let seeds = cache.get(key);
  if (!seeds) {
    const target = `127.0.0.1:${ctx.sipPort}`;
    // The fixtures' hosts (example.com and friends) become the server, so requests reach its own logic.
    const fixtures = sipFixtures().map((f) =>
      Buffer.from(f.toString('latin1').replace(/\b[a-z0-9.-]+\.(?:example\.(?:com|org|net)|com|org|net|test)(?::\d+)?/gi, target), 'latin1'),
    );
    seeds = [...builtSipMessages({ target, local: `127.0.0.1:${ctx.localPort}`, transport }), ...fixtures];
    cache.set(key, seeds);
  }
  return seeds;
}

/**
 * A seed with its own transaction and call: every Via branch and the Call-ID
 * get a tag drawn for this case. With the seed's fixed ones, every case after
 * the first would be absorbed as a retransmission (same branch) or refused as
 * an old CSeq of the same registration (same Call-ID), never reaching the
 * proxy's logic.
 */
function fresh(rng: Rng, seed: Buffer): Buffer {
  const tag = rng.int(0x7fffffff).toString(36);
  const text = seed
    .toString('latin1')
    .replace(/branch=z9hG4bK([^;,\s]*)/gi, `branch=z9hG4bK$1-${tag}`)
    .replace(/^(Call-ID|i):[ \t]*/gim, `$1: ${tag}-`);
  return Buffer.from(text, 'latin1');
}

export const serverUdpTarget: Target = {
  name: 'server-udp',
  kind: 'server',
  weight: 5,
  generate(rng: Rng, ctx: CaseContext): Buffer {
    const seeds = seedsFor(ctx, 'UDP');
    // Requests with credentials (REGISTER, INVITE with Proxy-Authorization) more often: the
    // driver makes their credentials valid, so they reach the registrar and the forwarding.
    const withAuth = seeds.filter((s) => /\r\n(?:Proxy-)?Authorization: /.test(s.toString('latin1')));
    const out = mutateSip(rng, fresh(rng, rng.chance(0.3) ? rng.pick(withAuth) : rng.pick(seeds)), rng.pick(seeds));
    return out.length > MAX_DATAGRAM ? out.subarray(0, MAX_DATAGRAM) : out;
  },
};

export const serverTcpTarget: Target = {
  name: 'server-tcp',
  kind: 'server',
  weight: 5,
  generate(rng: Rng, ctx: CaseContext): Buffer {
    const seeds = seedsFor(ctx, 'TCP');
    const parts: Buffer[] = [];
    const n = rng.range(1, 5);
    for (let i = 0; i < n; i++) {
      if (rng.chance(0.15)) parts.push(Buffer.from(rng.pick(['\r\n', '\r\n\r\n', '\r\n\r\n\r\n\r\n'])));
      if (rng.chance(0.05)) parts.push(rng.bytes(rng.size(300)));
      parts.push(rng.chance(0.25) ? fresh(rng, rng.pick(seeds)) : mutateSip(rng, fresh(rng, rng.pick(seeds)), rng.pick(seeds)));
    }
    return Buffer.concat(parts);
  },
};
