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

export const serverUdpTarget: Target = {
  name: 'server-udp',
  kind: 'server',
  weight: 5,
  generate(rng: Rng, ctx: CaseContext): Buffer {
    const seeds = seedsFor(ctx, 'UDP');
    const out = mutateSip(rng, rng.pick(seeds), rng.pick(seeds));
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
      parts.push(rng.chance(0.25) ? rng.pick(seeds) : mutateSip(rng, rng.pick(seeds), rng.pick(seeds)));
    }
    return Buffer.concat(parts);
  },
};
