/**
 * Toll-fraud defence: the checks a call meets when it starts and when it is
 * about to leave through a trunk. Concurrent-call caps (per user, per trunk,
 * across the PBX), a per-user velocity limit on outbound calls that blocks
 * the user for a while, trunk callers kept off outbound routes unless the
 * trunk allows it, and per-user / per-trunk source allow-lists. Every
 * refusal is logged (identical ones once a minute, with how many were kept
 * quiet) and counted by reason, for metrics.
 */
import type { FraudConfig, TrunkConfig, UserPbxConfig } from '../config/pbx-schema.js';
import { AllowList } from '../proxy/security/allow-list.js';
import type { Clock } from '../util/clock.js';
import { hostPort } from '../util/listen.js';
import type { Logger } from '../util/log.js';
import { LogThrottle } from '../util/log-throttle.js';

/** Why a call was refused: a closed set, ready to be a metric label. */
export const REFUSAL_REASONS = [
  /** users.N.allow / trunks.N.allow does not hold the source address. */
  'source_not_allowed',
  /** fraud.max_calls reached. */
  'max_calls',
  /** users.N.max_calls (or fraud.user_max_calls) reached. */
  'user_max_calls',
  /** trunks.N.max_calls reached. */
  'trunk_max_calls',
  /** The outbound call that went over the user's calls per minute (the user is blocked from now). */
  'velocity',
  /** An outbound call while the user is blocked. */
  'blocked',
  /** A call that came in on a trunk tried to leave through an outbound route (trunks.N.outbound is off). */
  'trunk_to_outbound',
  /** An outside number the caller's context does not reach (international, premium ...). */
  'class_of_service',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The SIP status a caller refused at call start sees for each reason (README, "Toll fraud"). */
export const REFUSAL_STATUS: Record<RefusalReason, { status: number; reason: string }> = {
  source_not_allowed: { status: 403, reason: 'Forbidden' },
  max_calls: { status: 503, reason: 'Service Unavailable' },
  user_max_calls: { status: 486, reason: 'Busy Here' },
  trunk_max_calls: { status: 503, reason: 'Service Unavailable' },
  velocity: { status: 403, reason: 'Forbidden' },
  blocked: { status: 403, reason: 'Forbidden' },
  trunk_to_outbound: { status: 403, reason: 'Forbidden' },
  class_of_service: { status: 403, reason: 'Forbidden' },
};

/** A refusal: its reason, and the words logged and given to the dialplan. */
export interface Refusal {
  reason: RefusalReason;
  why: string;
}

export interface FraudCounters {
  refused: Record<RefusalReason, number>;
  /** Velocity blocks imposed since start. */
  blocks: number;
}

/** Who a check is about; everything is optional (a trunk caller has no user). */
export interface Subject {
  user?: string;
  trunk?: string;
  /** `udp:192.0.2.7:5060`, or an address. */
  source?: string;
  /** The number dialled. */
  number?: string;
}

/** What the guard knows of live calls: the PBX's channels, counted when asked. */
export interface LiveLeg {
  readonly user: string | undefined;
  readonly trunk: string | undefined;
  readonly ended: boolean;
  /** Incoming legs are calls (each call has one); outgoing ones are legs it placed. */
  readonly call: { readonly direction: 'incoming' | 'outgoing' };
}

export interface TollFraudOptions {
  fraud: FraudConfig;
  users: ReadonlyMap<string, UserPbxConfig>;
  trunks: ReadonlyMap<string, TrunkConfig>;
  clock: Clock;
  log: Logger;
}

const MINUTE_MS = 60_000;

export class TollFraud {
  readonly counters: FraudCounters = { refused: Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>, blocks: 0 };
  private readonly userAllow = new Map<string, AllowList>();
  private readonly trunkAllow = new Map<string, AllowList>();
  /** Admitted outbound calls per user in the last minute (clock.now() times, oldest first). */
  private readonly recent = new Map<string, number[]>();
  /** Users blocked from outbound calls, until (clock.now() time). */
  private readonly blockedUntil = new Map<string, number>();
  private readonly logs: LogThrottle;
  private readonly log: Logger;
  private readonly clock: Clock;
  private legs: () => Iterable<LiveLeg> = () => [];

  constructor(private readonly opts: TollFraudOptions) {
    this.clock = opts.clock;
    this.log = opts.log;
    this.logs = new LogThrottle(opts.clock);
    for (const [name, u] of opts.users) if (u.allow.length > 0) this.userAllow.set(name, new AllowList(u.allow));
    for (const [name, t] of opts.trunks) if (t.allow.length > 0) this.trunkAllow.set(name, new AllowList(t.allow));
  }

  /** Where live legs are counted from (the PBX's channels); without it every cap sees zero. */
  countLegs(legs: () => Iterable<LiveLeg>): void {
    this.legs = legs;
  }

  /**
   * Whether `user` may register or call from `source` (users.N.allow; an
   * empty list allows everywhere). A refusal is logged and counted here; the
   * proxy answers 403.
   */
  allowedSource(user: string, source: { proto?: string; address: string; port?: number }, method: string): boolean {
    const list = this.userAllow.get(user);
    if (!list || list.has(source.address)) return true;
    const where = source.port !== undefined ? `${source.proto ?? 'udp'}:${hostPort({ address: source.address, port: source.port })}` : source.address;
    this.refuse({ reason: 'source_not_allowed', why: `${method} from ${source.address}, which users.${user}.allow does not list` }, { user, source: where });
    return false;
  }

  /** Whether a call from `address` may come in on trunk `name` (trunks.N.allow; empty allows any). */
  trunkSourceAllowed(name: string, address: string): boolean {
    const list = this.trunkAllow.get(name);
    if (!list || list.has(address)) return true;
    this.refuse({ reason: 'source_not_allowed', why: `a call from ${address}, which trunks.${name}.allow does not list` }, { trunk: name, source: address });
    return false;
  }

  /**
   * The caps a new call meets as it reaches the PBX: across the PBX, on its
   * trunk, for its user. `self` is the new call's own leg (not counted).
   */
  admitCall(self: LiveLeg, who: Subject): Refusal | undefined {
    const f = this.opts.fraud;
    let calls = 0;
    let onTrunk = 0;
    let ofUser = 0;
    for (const leg of this.legs()) {
      if (leg === self || leg.ended) continue;
      if (leg.call.direction === 'incoming') calls++;
      if (who.trunk !== undefined && leg.trunk === who.trunk) onTrunk++;
      if (who.user !== undefined && leg.user === who.user) ofUser++;
    }
    if (f.maxCalls > 0 && calls >= f.maxCalls) return this.refuse({ reason: 'max_calls', why: `${calls} calls are up, fraud.max_calls is ${f.maxCalls}` }, who);
    const trunkMax = who.trunk !== undefined ? (this.opts.trunks.get(who.trunk)?.maxCalls ?? 0) : 0;
    if (trunkMax > 0 && onTrunk >= trunkMax) {
      return this.refuse({ reason: 'trunk_max_calls', why: `trunk ${who.trunk} has ${onTrunk} calls up, its max_calls is ${trunkMax}` }, who);
    }
    const userMax = who.user !== undefined ? this.userMax(who.user) : 0;
    if (userMax > 0 && ofUser >= userMax) return this.refuse({ reason: 'user_max_calls', why: `${who.user} has ${ofUser} calls up, the cap is ${userMax}` }, who);
    return undefined;
  }

  /** Whether a leg to our user `callee` fits under that user's cap. */
  admitCallee(callee: string, who: Subject): Refusal | undefined {
    const max = this.userMax(callee);
    if (max === 0) return undefined;
    let n = 0;
    for (const leg of this.legs()) if (!leg.ended && leg.user === callee) n++;
    if (n < max) return undefined;
    return this.refuse({ reason: 'user_max_calls', why: `${callee} has ${n} calls up, the cap is ${max}` }, { ...who, user: callee });
  }

  /** Whether trunk `name` is below its max_calls (asked quietly: nothing is logged or counted). */
  hasRoom(name: string): boolean {
    const max = this.opts.trunks.get(name)?.maxCalls ?? 0;
    if (max === 0) return true;
    let n = 0;
    for (const leg of this.legs()) if (!leg.ended && leg.trunk === name) n++;
    return n < max;
  }

  /** Whether trunk `name` has room for one more call (trunks.N.max_calls); a refusal is logged and counted. */
  trunkHasRoom(name: string, who: Subject): Refusal | undefined {
    const max = this.opts.trunks.get(name)?.maxCalls ?? 0;
    if (max === 0) return undefined;
    let n = 0;
    for (const leg of this.legs()) if (!leg.ended && leg.trunk === name) n++;
    if (n < max) return undefined;
    return this.refuse({ reason: 'trunk_max_calls', why: `trunk ${name} has ${n} calls up, its max_calls is ${max}` }, { ...who, trunk: name });
  }

  /**
   * An outbound call (through a trunk) about to be placed for a caller who is
   * our `user` or who came in on `trunk`: refused when the trunk may not be
   * dialled out from, or the user is blocked or goes over calls per minute
   * (which blocks them). An admitted call counts towards the user's minute.
   */
  admitOutbound(who: Subject): Refusal | undefined {
    if (who.trunk !== undefined && who.user === undefined) {
      const t = this.opts.trunks.get(who.trunk);
      if (!t?.outbound) {
        return this.refuse({ reason: 'trunk_to_outbound', why: `a caller from trunk ${who.trunk} dialled ${who.number ?? 'out'}; trunks.${who.trunk}.outbound is off` }, who);
      }
      return undefined;
    }
    const user = who.user;
    if (user === undefined) return undefined;
    const now = this.clock.now();
    const until = this.blockedUntil.get(user);
    if (until !== undefined) {
      if (now < until) {
        return this.refuse({ reason: 'blocked', why: `${user} is blocked from outbound calls for ${Math.ceil((until - now) / 1000)} s more` }, who);
      }
      this.blockedUntil.delete(user);
    }
    const limit = this.opts.users.get(user)?.callsPerMinute ?? this.opts.fraud.userCallsPerMinute;
    if (limit === 0) return undefined;
    const times = (this.recent.get(user) ?? []).filter((t) => t > now - MINUTE_MS);
    if (times.length >= limit) {
      const blockMs = this.opts.fraud.blockSeconds * 1000;
      this.blockedUntil.set(user, now + blockMs);
      this.recent.delete(user);
      this.counters.blocks++;
      this.counters.refused.velocity++;
      // An alert, not a routine refusal: always logged, at error level.
      this.log.error(
        { reason: 'velocity', user, number: who.number, source: who.source, callsLastMinute: times.length, limit, blockSeconds: this.opts.fraud.blockSeconds },
        `toll fraud: ${user} placed ${times.length} outbound calls within a minute (limit ${limit}); outbound calls blocked for ${this.opts.fraud.blockSeconds} s`,
      );
      return { reason: 'velocity', why: `${user} went over ${limit} outbound calls per minute and is blocked for ${this.opts.fraud.blockSeconds} s` };
    }
    times.push(now);
    this.recent.set(user, times);
    return undefined;
  }

  /** Counts a refusal decided elsewhere (the dialplan's class of service) and logs it. */
  refuse(r: Refusal, who: Subject): Refusal {
    this.counters.refused[r.reason]++;
    // The same refusal again (a phone retrying, a scanner) within a minute is counted, not logged again.
    const key = `${r.reason}|${who.user ?? ''}|${who.trunk ?? ''}|${who.source ?? ''}|${who.number ?? ''}`;
    const seen = this.logs.admit(key);
    if (seen.log) {
      this.log.warn(
        { reason: r.reason, user: who.user, trunk: who.trunk, source: who.source, number: who.number, suppressed: seen.suppressed || undefined },
        `toll-fraud guard refused: ${r.why}`,
      );
    }
    return r;
  }

  /** Users blocked right now, with the seconds left. */
  blocked(): { user: string; seconds: number }[] {
    const now = this.clock.now();
    const out: { user: string; seconds: number }[] = [];
    for (const [user, until] of this.blockedUntil) if (until > now) out.push({ user, seconds: Math.ceil((until - now) / 1000) });
    return out;
  }

  /** Lifts a velocity block (the console's job once someone has looked). */
  unblock(user: string): boolean {
    return this.blockedUntil.delete(user);
  }

  /** For /metrics: refusals by reason, blocks imposed, users blocked now. */
  snapshot(): { refused: Record<RefusalReason, number>; blocks: number; blockedUsers: number } {
    return { refused: { ...this.counters.refused }, blocks: this.counters.blocks, blockedUsers: this.blocked().length };
  }

  private userMax(user: string): number {
    return this.opts.users.get(user)?.maxCalls ?? this.opts.fraud.userMaxCalls;
  }
}
