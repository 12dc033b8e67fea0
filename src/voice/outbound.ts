/**
 * Calls that leave the PBX: a number that matches an outbound route goes
 * to each of the route's trunks in turn (the next on 5xx, 408 or a carrier
 * that says nothing), as `sip:E164@carrier`, with our caller ID rewritten to
 * the trunk's number and the trunk's codecs; and the toll-fraud checks every
 * such call (and every leg to a user) meets first.
 */
import type { TrunkConfig } from '../config/pbx-schema.js';
import type { Channel, Party } from '../pbx/channel.js';
import { REFUSAL_STATUS, type Refusal, type Subject, type TollFraud } from '../pbx/fraud.js';
import type { Pbx } from '../pbx/pbx.js';
import { trunkCodecs, type Trunks } from '../pbx/trunks/trunks.js';
import type { TimerHandle } from '../util/clock.js';
import type { DialAttempt, DialParty } from './dial.js';
import type { RouteMatch } from './dialplan/dialplan.js';
import type { CallScript } from './engine.js';
import type { CallGuard, OutboundRouter } from './services.js';

/** A carrier that has not answered an INVITE at all (not even 100 Trying) after this long is given up for the next trunk. */
export const CARRIER_SILENCE_MS = 5_000;

/** Who is behind a call, as the fraud checks see it: our user, or the trunk it came in on. */
export function subjectOf(ch: Channel, number?: string): Subject {
  return { user: ch.user, trunk: ch.user === undefined ? ch.trunk : undefined, number };
}

/** The toll-fraud checks as the voice services ask for them. */
export class FraudGuard implements CallGuard {
  constructor(private readonly fraud: TollFraud) {}

  admitDial(script: CallScript, target: string, outbound: boolean): string | undefined {
    return this.check(script, target, outbound)?.why;
  }

  /** The refusal for a leg to `target` placed for `script`'s caller, if any. */
  check(script: CallScript, target: string, outbound: boolean): Refusal | undefined {
    const who = subjectOf(script.channel, target);
    return outbound ? this.fraud.admitOutbound(who) : this.fraud.admitCallee(target, who);
  }
}

export interface TrunkRouterOptions {
  pbx: Pbx;
  trunks: Trunks;
  fraud: TollFraud;
  guard: FraudGuard;
  route(number: string): RouteMatch | undefined;
  isUser(name: string): boolean;
}

/** Whether a failure of one trunk sends the call to the next: the carrier failed (5xx), timed out, or said nothing. */
export function failsOver(status: number | undefined): boolean {
  return status === undefined || status === 408 || status >= 500;
}

export class TrunkRouter implements OutboundRouter {
  constructor(private readonly opts: TrunkRouterOptions) {}

  /**
   * The attempts for `number`: through `trunk` when the dial verb names one
   * (the number sent as dialled), else through the route it matches.
   */
  attempts(number: string, script: CallScript, from: Party, trunk?: string): DialParty {
    const ch = script.channel;
    let plan: { trunks: string[]; number: string; route?: string };
    if (trunk !== undefined) plan = { trunks: [trunk], number };
    else {
      const m = this.opts.route(number);
      if (!m) return { refused: 'CHANUNAVAIL', why: `${number} is neither a user nor matched by an outbound route` };
      plan = { trunks: m.route.trunks, number: m.number, route: m.route.name };
    }
    const refusal = this.opts.guard.check(script, number, true);
    if (refusal) {
      refuseCaller(ch, refusal);
      return { refused: 'CHANUNAVAIL', why: refusal.why };
    }
    const who = subjectOf(ch, plan.number);
    const configs = plan.trunks.map((n) => this.opts.trunks.get(n)).filter((t): t is TrunkConfig => t !== undefined);
    if (configs.length === 0) return { refused: 'CHANUNAVAIL', why: `no trunk for ${number}` };
    const withRoom = configs.filter((t) => this.opts.fraud.hasRoom(t.name));
    if (withRoom.length === 0) {
      // Every trunk is full: one refusal (logged, counted), and the caller hears congestion (503).
      const full = this.opts.fraud.trunkHasRoom(configs[0].name, who);
      return { refused: 'CONGESTION', why: full?.why ?? `every trunk of the route is at its max_calls` };
    }
    return { attempts: withRoom.map((t) => this.attempt(t, plan.number, this.callerId(from, t), who)) };
  }

  /** Our users' numbers (and anything short) are not shown outside: the trunk's own number is, when it has one. */
  private callerId(from: Party, t: TrunkConfig): Party {
    const internal = this.opts.isUser(from.number) || !/^\+?\d{6,}$/.test(from.number);
    if (!internal || t.callerId === undefined) return from;
    return { number: t.callerId, name: from.name };
  }

  private attempt(t: TrunkConfig, number: string, from: Party, who: Subject): DialAttempt {
    let silent = false;
    return {
      label: `${t.name}:${number}`,
      place: () => {
        const full = this.opts.fraud.trunkHasRoom(t.name, who);
        if (full) throw new TrunkFullError(full.why);
        const agent = this.opts.trunks.agent(t.name);
        const leg = this.opts.pbx.dial(this.opts.trunks.target(t, number), {
          from,
          endpoint: t.name,
          codecs: trunkCodecs(t),
          via: agent,
          // A registering trunk's account lives at the carrier's domain; an IP trunk's calls are from ours.
          fromHost: agent ? t.host : undefined,
          trunk: t.name,
          headers: [['P-Asserted-Identity', `<sip:${from.number}@${agent ? t.host : this.opts.pbx.domain}>`]],
        });
        silent = false;
        watchSilence(leg, () => {
          silent = true;
        });
        return leg;
      },
      failover: (status) => silent || failsOver(status),
    };
  }
}

/** A trunk at its max_calls: the attempt is skipped for the next trunk. */
export class TrunkFullError extends Error {
  override name = 'TrunkFullError';
}

/** Hangs up a leg whose carrier sends nothing at all within CARRIER_SILENCE_MS, noting it first. */
function watchSilence(leg: Channel, onSilent: () => void): void {
  if (leg.ended) return;
  let timer: TimerHandle | undefined = leg.owner.clock.setTimer(CARRIER_SILENCE_MS, () => {
    timer = undefined;
    onSilent();
    leg.hangup();
  });
  const stop = (): void => {
    timer?.cancel();
    timer = undefined;
  };
  leg.call.once('progress', stop);
  leg.once('answered', stop);
  leg.once('ended', stop);
}

/**
 * An outbound call refused for toll fraud: a caller not answered yet hears
 * the refusal's status at once (403 and friends, see REFUSAL_STATUS); an
 * answered one goes on in the dialplan with DIALSTATUS CHANUNAVAIL.
 */
function refuseCaller(ch: Channel, r: Refusal): void {
  if (ch.up || ch.ended || ch.call.direction !== 'incoming') return;
  const s = REFUSAL_STATUS[r.reason];
  ch.hangup(s.status, s.reason);
}
