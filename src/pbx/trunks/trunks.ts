/**
 * Every configured trunk: registering ones each with their own agent
 * (sip-trunk.ts), IP-authenticated ones reached from the PBX agent through
 * our proxy (which forwards its out-of-domain requests and recognises the
 * carrier's calls by source address). Here are the answers the PBX needs
 * about them: where a number goes on a trunk, which agent places the call,
 * which context a DID starts in, and the state the console shows.
 */
import type { TrunkConfig } from '../../config/pbx-schema.js';
import type { CodecName } from '../../media/codecs/registry.js';
import { uriHost } from '../../util/listen.js';
import type { IncomingCall } from '../../ua/incoming.js';
import type { MediaFactory } from '../../ua/media-handler.js';
import type { UserAgent } from '../../ua/user-agent.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import type { BackoffOptions } from './backoff.js';
import { SipTrunk } from './sip-trunk.js';

export interface TrunkStatus {
  name: string;
  /** `register` (it registers to the carrier) or `ip` (known by source address). */
  kind: 'register' | 'ip';
  server: string;
  /** `registered`, `registering`, `failed: 403 Forbidden, retrying in 40 s`; `ip` trunks: `ip-authenticated`. */
  state: string;
  /** Seconds the registration was granted for (registered trunks). */
  expires?: number;
  /** Where this trunk's agent listens (registering trunks), `udp:127.0.0.1:40123`. */
  local?: string;
  /** Live legs on the trunk (both directions). */
  calls: number;
  maxCalls: number;
}

export interface TrunksOptions {
  trunks: ReadonlyMap<string, TrunkConfig>;
  /** Where registering trunks' agents bind unless trunks.NAME.listen says otherwise. */
  defaultHost: string;
  /** The address written in a trunk agent's Contact and Via when it binds a wildcard (sip.advertise). */
  advertise?: string;
  clock: Clock;
  log: Logger;
  userAgent: string;
  /** Media offering `codecs` (a trunk's own list). */
  media(codecs: readonly CodecName[]): MediaFactory;
  /** A carrier's call arrived on a registering trunk's agent. */
  incoming(call: IncomingCall, trunk: TrunkConfig, did: string): void;
  /** Live legs on a trunk, for the console. */
  calls(trunk: string): number;
  backoff?: BackoffOptions;
}

/** A trunk's codec names (`PCMA`) as the media layer spells them (`pcma`). */
export function trunkCodecs(t: TrunkConfig): CodecName[] {
  return t.codecs.map((c) => c.toLowerCase() as CodecName);
}

export class Trunks {
  private readonly agents = new Map<string, SipTrunk>();

  constructor(private readonly opts: TrunksOptions) {
    for (const t of opts.trunks.values()) {
      const register = t.register;
      if (!register) continue;
      this.agents.set(
        t.name,
        new SipTrunk({
          trunk: { ...t, register },
          defaultHost: opts.defaultHost,
          advertise: opts.advertise,
          clock: opts.clock,
          log: opts.log.child({ trunk: t.name }),
          userAgent: opts.userAgent,
          media: opts.media(trunkCodecs(t)),
          incoming: (call, did) => opts.incoming(call, t, did),
          backoff: opts.backoff,
        }),
      );
    }
  }

  get(name: string): TrunkConfig | undefined {
    return this.opts.trunks.get(name);
  }

  /** The registering trunk's agent that places calls on it; undefined for an IP trunk (the PBX agent does). */
  agent(name: string): UserAgent | undefined {
    return this.agents.get(name)?.ua;
  }

  /** The registering trunk itself (its registration state), if `name` is one. */
  registering(name: string): SipTrunk | undefined {
    return this.agents.get(name);
  }

  /** The Request-URI of a call to `number` on trunk `t`: `sip:+4930123456@carrier:5060`. */
  target(t: TrunkConfig, number: string): string {
    const port = t.port === (t.transport === 'tls' ? 5061 : 5060) ? '' : `:${t.port}`;
    const transport = t.transport === 'udp' ? '' : `;transport=${t.transport}`;
    return `sip:${number}@${uriHost(t.host)}${port}${transport}`;
  }

  /**
   * Where a call for `did` on trunk `t` starts: the context dids names for
   * it (written with or without the leading +), else the trunk's context.
   */
  contextFor(t: TrunkConfig, did: string): string {
    const alt = did.startsWith('+') ? did.slice(1) : `+${did}`;
    return t.dids.get(did) ?? t.dids.get(alt) ?? t.context;
  }

  /** Binds every registering trunk's agent and starts registering (without waiting for the carriers). */
  async start(): Promise<void> {
    for (const a of this.agents.values()) await a.start();
  }

  status(): TrunkStatus[] {
    return [...this.opts.trunks.values()].map((t) => {
      const a = this.agents.get(t.name);
      const s: TrunkStatus = {
        name: t.name,
        kind: a ? 'register' : 'ip',
        server: `${t.transport}:${uriHost(t.host)}:${t.port}`,
        state: a ? a.describe() : 'ip-authenticated',
        calls: this.opts.calls(t.name),
        maxCalls: t.maxCalls,
      };
      const st = a?.state;
      if (st?.state === 'registered') s.expires = st.expires;
      if (a) {
        try {
          const l = a.ua.local;
          s.local = `${l.proto}:${uriHost(l.address)}:${l.port}`;
        } catch {
          /* not started */
        }
      }
      return s;
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
  }
}
