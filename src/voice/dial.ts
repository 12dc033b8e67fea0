/**
 * The `dial` verb: ring one or several parties (at once or in turn), pass the
 * ringing back to the caller, answer the caller when someone answers, bridge
 * the two, and end the call when either side hangs up — Asterisk's Dial()
 * with DIALSTATUS, Twilio's <Dial> with several <Number>s.
 */
import { joinUntilHangup, MediaBridge } from '../pbx/bridge.js';
import { detach } from '../util/log.js';
import type { Channel } from '../pbx/channel.js';
import type { CallEnd } from '../ua/call.js';
import type { TimerHandle } from '../util/clock.js';
import type { CallScript } from './engine.js';

/** Asterisk's DIALSTATUS values. */
export type DialStatus = 'ANSWER' | 'BUSY' | 'NOANSWER' | 'CANCEL' | 'CONGESTION' | 'CHANUNAVAIL';

/** One way to reach a party: placing it gives a ringing channel; several attempts are tried in turn (trunk failover). */
export interface DialAttempt {
  /** What the CDR and logs call it (`1003`, `carrier-a:+4930...`). */
  label: string;
  place(): Channel;
  /** Wait this long before placing it (follow-me rings the outside number after the phones). */
  delayMs?: number;
  /** Try the next attempt after this failure (5xx/408/timeout from a carrier); otherwise stop. */
  failover?(status: number | undefined): boolean;
}

/** A party resolved to its attempts, or a reason it cannot be rung at all. */
export type DialParty = { attempts: DialAttempt[] } | { refused: DialStatus; why: string };

export interface DialOutcome {
  status: DialStatus;
  /** The channel that answered (and was bridged), if any. */
  answered?: Channel;
  /** The SIP status of the last failure. */
  sipStatus?: number;
}

/** Maps a leg's failure to DIALSTATUS. */
export function dialStatusOf(info: CallEnd | undefined, timedOut: boolean): DialStatus {
  if (timedOut) return 'NOANSWER';
  const s = info?.status;
  if (s === 486 || s === 600) return 'BUSY';
  if (s === 480 || s === 404 || s === 410 || s === 408) return s === 408 ? 'NOANSWER' : 'CHANUNAVAIL';
  if (s === 487) return 'NOANSWER';
  if (s !== undefined && s >= 500) return 'CONGESTION';
  return 'CHANUNAVAIL';
}

/**
 * Rings `parties` at once (each party's attempts in turn) until one answers
 * or `timeoutMs` passes; the caller hears ringing meanwhile. Losing legs are
 * cancelled. Does not bridge: see `bridgeUntilHangup`.
 */
export async function ringParties(script: CallScript, parties: DialParty[], timeoutMs: number, onLeg?: (leg: Channel) => void): Promise<DialOutcome> {
  const caller = script.channel;
  const live = new Set<Channel>();
  let best: DialOutcome = { status: 'CHANUNAVAIL' };
  const rank: DialStatus[] = ['CHANUNAVAIL', 'CONGESTION', 'NOANSWER', 'BUSY'];
  const note = (s: DialStatus, sip?: number): void => {
    if (rank.indexOf(s) > rank.indexOf(best.status)) best = { status: s, sipStatus: sip };
  };
  for (const p of parties) if ('refused' in p) note(p.refused);
  const runnable = parties.filter((p): p is { attempts: DialAttempt[] } => 'attempts' in p && p.attempts.length > 0);
  if (runnable.length === 0 || caller.ended) return caller.ended ? { status: 'CANCEL' } : best;

  /** The leg whose early media (183) the caller hears now, bridged before the answer. */
  let early: { leg: Channel; bridge: MediaBridge } | undefined;
  const endEarly = (): void => {
    early?.bridge.close();
    early = undefined;
  };
  const outcome = await new Promise<DialOutcome>((resolve) => {
    let settled = false;
    const delayed = new Set<TimerHandle>();
    let pending = runnable.length;
    const finish = (o: DialOutcome): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      for (const d of delayed) d.cancel();
      offCaller();
      for (const leg of live) if (leg !== o.answered) leg.hangup();
      resolve(o);
    };
    const offCaller = caller.once('ended', () => finish({ status: 'CANCEL' }));
    const timer: TimerHandle = script.channel.owner.clock.setTimer(timeoutMs, () => finish({ status: best.status === 'BUSY' ? 'BUSY' : 'NOANSWER' }));
    const partyDone = (): void => {
      if (--pending === 0) finish(best);
    };
    const tryAttempt = (party: { attempts: DialAttempt[] }, i: number, now = false): void => {
      if (settled) return;
      const a = party.attempts[i];
      if (!now && a.delayMs && a.delayMs > 0) {
        const wait = script.channel.owner.clock.setTimer(a.delayMs, () => tryAttempt(party, i, true));
        delayed.add(wait);
        return;
      }
      placeAttempt(party, i, a);
    };
    const placeAttempt = (party: { attempts: DialAttempt[] }, i: number, a: DialAttempt): void => {
      let leg: Channel;
      try {
        leg = a.place();
      } catch (err) {
        script.services.log.warn({ err, target: a.label }, 'a dial attempt could not be placed');
        note('CHANUNAVAIL');
        if (i + 1 < party.attempts.length) return tryAttempt(party, i + 1);
        return partyDone();
      }
      leg.linkedId = caller.linkedId;
      leg.context = caller.context;
      live.add(leg);
      onLeg?.(leg);
      leg.call.on('ringing', () => caller.ringing());
      leg.call.on('earlyMedia', () => {
        if (early || settled || caller.up) return;
        detach(
          caller.earlyMedia().then((ok) => {
            if (!ok || early || settled || leg.ended || caller.ended || !leg.media || !caller.media) return;
            early = { leg, bridge: new MediaBridge(caller, leg) };
          }),
          script.services.log,
          'passing early media to the caller',
        );
      });
      leg.once('ended', () => {
        if (early?.leg === leg) endEarly();
      });
      leg.once('answered', () => finish({ status: 'ANSWER', answered: leg }));
      leg.once('ended', (info) => {
        live.delete(leg);
        if (settled) return;
        const s = dialStatusOf(info, false);
        note(s, info.status);
        if (i + 1 < party.attempts.length && (a.failover?.(info.status) ?? false)) return tryAttempt(party, i + 1);
        partyDone();
      });
    };
    for (const p of runnable) tryAttempt(p, 0);
  });
  // The answered leg is bridged again by whoever takes the outcome; any early bridge ends here.
  endEarly();
  return outcome;
}

/**
 * Answers the caller if needed, bridges it to `callee`, and waits until one of
 * them hangs up (or `timeLimitMs` passes); then hangs up the other.
 */
export async function bridgeUntilHangup(caller: Channel, callee: Channel, timeLimitMs: number): Promise<void> {
  if (!(await caller.answer())) {
    callee.hangup();
    return;
  }
  await joinUntilHangup(caller, callee, timeLimitMs);
}
