/**
 * Session timers (RFC 4028): the Session-Expires / Min-SE negotiation as
 * either side of an INVITE, re-INVITE or UPDATE, and the one timer a call
 * runs from it: the refresher refreshes at half the interval; the other
 * side sends BYE when no refresh came by the expiry minus the smaller of
 * 32 s and a third of the interval (§10). `refresher` always names a role
 * in the transaction that carried it (uac = whoever sent that request).
 */
import type { SipMessage } from '../sip/message.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { optionTags } from './option-tags.js';

/** The RFC's floor for any session interval, and our Min-SE unless configured higher. */
export const MIN_SESSION_EXPIRES = 90;
/** What our INVITEs ask for (the RFC's recommended default). */
export const DEFAULT_SESSION_EXPIRES = 1800;

export type Refresher = 'uac' | 'uas';

export interface SessionExpires {
  seconds: number;
  refresher?: Refresher;
}

/** Session-Expires: `delta-seconds *(;se-params)`; undefined when absent, 'malformed' when unreadable. */
export function parseSessionExpires(value: string | undefined): SessionExpires | 'malformed' | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d{1,10})\s*((?:;.*)?)$/.exec(value);
  if (!m) return 'malformed';
  const out: SessionExpires = { seconds: Number(m[1]) };
  const r = /;\s*refresher\s*=\s*(uac|uas)\b/i.exec(m[2]);
  if (r) out.refresher = r[1].toLowerCase() as Refresher;
  return out;
}

function parseMinSe(msg: SipMessage): number | undefined {
  const m = /^\s*(\d{1,10})/.exec(msg.get('min-se') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The peer implements session timers (it lists `timer` in Supported or Require). */
export function supportsTimer(msg: SipMessage): boolean {
  return optionTags(msg, 'supported').has('timer') || optionTags(msg, 'require').has('timer');
}

export interface Refusal {
  status: number;
  reason: string;
  headers: [string, string][];
}

/**
 * §9: a request whose Session-Expires is below our minimum gets 422 with
 * our Min-SE, when its sender implements timers (one that does not could
 * not retry: its interval is raised in the answer instead); an unreadable
 * Session-Expires gets 400.
 */
export function tooBriefSessionExpires(req: SipMessage, minSe: number): Refusal | undefined {
  const se = parseSessionExpires(req.get('session-expires'));
  if (se === 'malformed') return { status: 400, reason: 'Bad Request - malformed Session-Expires', headers: [] };
  if (se && se.seconds < minSe && supportsTimer(req)) {
    return { status: 422, reason: 'Session Interval Too Small', headers: [['Min-SE', String(minSe)]] };
  }
  return undefined;
}

/** The timer a call runs: its interval and whether we are the refresher. */
export interface SessionTerms {
  seconds: number;
  weRefresh: boolean;
}

/**
 * §9: what we answer (as the UAS of `req`) and the timer that follows: the
 * interval asked for (raised to our minimum), refreshed by its sender
 * unless it said otherwise or cannot; headers for our 2xx. A request that
 * says nothing of timers keeps the timer already running (`current`).
 */
export function answerTerms(req: SipMessage, minSe: number, current: SessionTerms | undefined): { terms: SessionTerms; headers: [string, string][] } | undefined {
  const supports = supportsTimer(req);
  const se = parseSessionExpires(req.get('session-expires'));
  let seconds: number;
  let refresher: Refresher;
  if (se === undefined || se === 'malformed') {
    if (!current) return undefined;
    seconds = current.seconds;
    refresher = supports && !current.weRefresh ? 'uac' : 'uas';
  } else {
    seconds = Math.max(se.seconds, minSe, parseMinSe(req) ?? 0);
    refresher = supports ? (se.refresher ?? 'uac') : 'uas';
  }
  const headers: [string, string][] = [['Session-Expires', `${seconds};refresher=${refresher}`]];
  if (supports) headers.push(['Require', 'timer']);
  return { terms: { seconds, weRefresh: refresher === 'uas' }, headers };
}

/** §7.2: the timer a 2xx to our request sets up; undefined when it names none. */
export function answeredTerms(res: SipMessage): SessionTerms | undefined {
  const se = parseSessionExpires(res.get('session-expires'));
  if (se === undefined || se === 'malformed') return undefined;
  return { seconds: se.seconds, weRefresh: (se.refresher ?? 'uac') === 'uac' };
}

/** The Min-SE of a 422 (the interval to ask for next), when it is above what we asked. */
export function minSeOf(res: SipMessage): number | undefined {
  return parseMinSe(res);
}

export interface SessionTimerHooks {
  /** Time to refresh (we are the refresher). */
  refresh(): void;
  /** No refresh came in time (or ours could not be made): the session is over. */
  expired(): void;
}

export class SessionTimer {
  private timer: TimerHandle | undefined;
  private current: SessionTerms | undefined;
  private expiresAt = 0;

  constructor(
    private readonly clock: Clock,
    private readonly hooks: SessionTimerHooks,
  ) {}

  /** What runs now; undefined when no timer does. */
  get terms(): SessionTerms | undefined {
    return this.current;
  }

  /** Headers of a refresh or re-INVITE we send while a timer runs (we stay in the role we have). */
  requestHeaders(minSe: number): [string, string][] {
    const t = this.current;
    if (!t) return [];
    return [['Session-Expires', `${t.seconds};refresher=${t.weRefresh ? 'uac' : 'uas'}`], ['Min-SE', String(minSe)]];
  }

  /** (Re)starts the session's interval from now. */
  start(terms: SessionTerms): void {
    this.timer?.cancel();
    this.current = terms;
    const ms = terms.seconds * 1000;
    this.expiresAt = this.clock.now() + ms;
    this.timer = terms.weRefresh
      ? this.clock.setTimer(ms / 2, () => this.fire('refresh'))
      : this.clock.setTimer(ms - Math.min(32_000, ms / 3), () => this.fire('expired'));
  }

  /**
   * Our refresh failed without ending the dialog: try again halfway to the
   * expiry while more than 32 s are left, else give up at the expiry.
   */
  retryLater(): void {
    if (!this.current) return;
    this.timer?.cancel();
    const left = this.expiresAt - this.clock.now();
    this.timer = left > 32_000 ? this.clock.setTimer(left / 2, () => this.fire('refresh')) : this.clock.setTimer(Math.max(0, left), () => this.fire('expired'));
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.current = undefined;
  }

  private fire(what: 'refresh' | 'expired'): void {
    this.timer = undefined;
    if (what === 'refresh') this.hooks.refresh();
    else {
      this.current = undefined;
      this.hooks.expired();
    }
  }
}
