/**
 * A call queue, as Asterisk's app_queue: callers wait in order with music on
 * hold and position announcements; members (agents) are rung by the queue's
 * strategy; the first to answer is bridged to the caller at the head; a member
 * gets wrap-up time after each call. Figures per queue for the console and
 * metrics: waiting, answered, abandoned, average wait, service level.
 */
import type { QueueConfig, QueueStrategy } from '../config/pbx-schema.js';
import type { AudioSourceSpec } from '../media/players/index.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { detach, type Logger } from '../util/log.js';
import { joinUntilHangup } from './bridge.js';
import type { Channel, Party } from './channel.js';

export interface QueueHost {
  readonly clock: Clock;
  readonly log: Logger;
  /** Rings a member's phones with the caller's ID; a channel to watch. */
  ring(member: string, from: Party): Channel;
  /** Whether the member is on a call now (any live channel of theirs). */
  inUse(member: string): boolean;
  /** Whether the member can take calls at all (registered, not on do-not-disturb). */
  reachable(member: string): boolean;
  /** Music on hold for this queue. */
  moh(folder: string | undefined): AudioSourceSpec;
  /** `You are caller number 2. The expected wait is about 3 minutes.` as audio. */
  announcement(position: number, expectedWaitSeconds: number | undefined): Promise<AudioSourceSpec>;
}

export interface QueueMember {
  user: string;
  /** From the config (cannot log out) or logged in by feature code. */
  dynamic: boolean;
  paused: boolean;
  callsTaken: number;
  lastCallEnd: number;
  wrapUpUntil: number;
}

interface Waiter {
  ch: Channel;
  enteredAt: number;
  done: (r: QueueResult) => void;
  /** Legs ringing for this caller now. */
  ringing: Set<Channel>;
  announceTimer: TimerHandle | undefined;
  waitTimer: TimerHandle | undefined;
  announcing: boolean;
}

/** How a caller left the queue. */
export type QueueResult = 'answered' | 'timeout' | 'abandoned' | 'empty';

export interface QueueFigures {
  name: string;
  strategy: QueueStrategy;
  waiting: number;
  answered: number;
  abandoned: number;
  timedOut: number;
  /** Mean seconds answered callers waited. */
  averageWait: number;
  longestWaitNow: number;
  /** Percent of answered calls answered within service_level seconds. */
  serviceLevel: number;
  members: { user: string; dynamic: boolean; paused: boolean; inUse: boolean; callsTaken: number; wrapUp: boolean }[];
}

export class CallQueue {
  private readonly waiters: Waiter[] = [];
  private readonly memberMap = new Map<string, QueueMember>();
  private rrNext = 0;
  private answered = 0;
  private abandoned = 0;
  private timedOut = 0;
  private totalWaitMs = 0;
  private withinSla = 0;
  private tickTimer: TimerHandle | undefined;

  constructor(
    readonly config: QueueConfig,
    private readonly host: QueueHost,
  ) {
    for (const m of config.members) this.memberMap.set(m, newMember(m, false));
  }

  get name(): string {
    return this.config.name;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  members(): QueueMember[] {
    return [...this.memberMap.values()];
  }

  login(user: string): boolean {
    if (this.memberMap.has(user)) return false;
    this.memberMap.set(user, newMember(user, true));
    this.distribute();
    return true;
  }

  logout(user: string): boolean {
    const m = this.memberMap.get(user);
    if (!m || !m.dynamic) return false;
    this.memberMap.delete(user);
    return true;
  }

  pause(user: string, on: boolean): boolean {
    const m = this.memberMap.get(user);
    if (!m) return false;
    m.paused = on;
    if (!on) this.distribute();
    return true;
  }

  figures(): QueueFigures {
    const now = this.host.clock.now();
    return {
      name: this.name,
      strategy: this.config.strategy,
      waiting: this.waiters.length,
      answered: this.answered,
      abandoned: this.abandoned,
      timedOut: this.timedOut,
      averageWait: this.answered ? Math.round(this.totalWaitMs / this.answered / 100) / 10 : 0,
      longestWaitNow: this.waiters.length ? Math.round((now - this.waiters[0].enteredAt) / 1000) : 0,
      serviceLevel: this.answered ? Math.round((this.withinSla * 1000) / this.answered) / 10 : 100,
      members: this.members().map((m) => ({
        user: m.user,
        dynamic: m.dynamic,
        paused: m.paused,
        inUse: this.host.inUse(m.user),
        callsTaken: m.callsTaken,
        wrapUp: m.wrapUpUntil > now,
      })),
    };
  }

  /** The callers waiting, in order (the console's `queue show`). */
  callers(): { position: number; channel: string; caller: string; name?: string; waitSeconds: number; ringing: number }[] {
    const now = this.host.clock.now();
    return this.waiters.map((w, i) => ({
      position: i + 1,
      channel: w.ch.name,
      caller: w.ch.caller.number,
      name: w.ch.caller.name,
      waitSeconds: Math.round((now - w.enteredAt) / 1000),
      ringing: w.ringing.size,
    }));
  }

  /** Puts an answered caller in the queue; resolves when the caller leaves it. */
  join(ch: Channel): Promise<QueueResult> {
    if (ch.ended) return Promise.resolve('abandoned');
    return new Promise<QueueResult>((resolve) => {
      const w: Waiter = { ch, enteredAt: this.host.clock.now(), done: resolve, ringing: new Set(), announceTimer: undefined, waitTimer: undefined, announcing: false };
      this.waiters.push(w);
      ch.playForever(this.host.moh(this.config.moh));
      ch.once('ended', () => this.leave(w, 'abandoned'));
      if (this.config.maxWait > 0) w.waitTimer = this.host.clock.setTimer(this.config.maxWait * 1000, () => this.leave(w, 'timeout'));
      if (this.config.announceEvery > 0) this.scheduleAnnouncement(w, true);
      this.distribute();
      this.ensureTick();
    });
  }

  private leave(w: Waiter, result: QueueResult): void {
    const i = this.waiters.indexOf(w);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    w.announceTimer?.cancel();
    w.waitTimer?.cancel();
    for (const leg of w.ringing) leg.hangup();
    w.ringing.clear();
    if (result === 'abandoned') this.abandoned++;
    if (result === 'timeout') this.timedOut++;
    if (result !== 'answered' && !w.ch.ended) w.ch.stopPlaying();
    w.done(result);
    if (this.waiters.length === 0) {
      this.tickTimer?.cancel();
      this.tickTimer = undefined;
    }
  }

  /** Re-checks every second for members who came free (a call ended, wrap-up passed). */
  private ensureTick(): void {
    if (this.tickTimer) return;
    const tick = (): void => {
      this.tickTimer = undefined;
      if (this.waiters.length === 0) return;
      this.distribute();
      this.tickTimer = this.host.clock.setTimer(1000, tick);
    };
    this.tickTimer = this.host.clock.setTimer(1000, tick);
  }

  private scheduleAnnouncement(w: Waiter, first: boolean): void {
    const delay = (first ? Math.min(this.config.announceEvery, 10) : this.config.announceEvery) * 1000;
    w.announceTimer = this.host.clock.setTimer(delay, () => detach(this.announce(w), this.host.log, 'queue announcement'));
  }

  private async announce(w: Waiter): Promise<void> {
    if (!this.waiters.includes(w) || w.ringing.size > 0) {
      if (this.waiters.includes(w)) this.scheduleAnnouncement(w, false);
      return;
    }
    const position = this.waiters.indexOf(w) + 1;
    const audio = await this.host.announcement(position, this.expectedWait(position));
    if (!this.waiters.includes(w)) return;
    w.announcing = true;
    await w.ch.play(audio);
    w.announcing = false;
    if (!this.waiters.includes(w)) return;
    w.ch.playForever(this.host.moh(this.config.moh));
    this.scheduleAnnouncement(w, false);
  }

  /** Seconds a caller at `position` may expect to wait, from the mean wait so far. */
  private expectedWait(position: number): number | undefined {
    if (this.answered === 0) return undefined;
    return Math.round((this.totalWaitMs / this.answered / 1000) * position);
  }

  private available(now: number): QueueMember[] {
    return this.members().filter((m) => !m.paused && m.wrapUpUntil <= now && !this.host.inUse(m.user) && this.host.reachable(m.user) && !this.isRinging(m.user));
  }

  private isRinging(user: string): boolean {
    return this.waiters.some((w) => [...w.ringing].some((leg) => leg.endpoint === user));
  }

  /** Offers the caller at the head to members as the strategy says. */
  private distribute(): void {
    const w = this.waiters[0];
    if (!w || w.ringing.size > 0 || w.ch.ended) return;
    const now = this.host.clock.now();
    const free = this.available(now);
    if (free.length === 0) return;
    const chosen = this.pick(free);
    for (const m of chosen) this.ringMember(w, m);
  }

  private pick(free: QueueMember[]): QueueMember[] {
    switch (this.config.strategy) {
      case 'ringall':
        return free;
      case 'roundrobin': {
        const all = this.members();
        for (let k = 0; k < all.length; k++) {
          const m = all[(this.rrNext + k) % all.length];
          if (free.includes(m)) {
            this.rrNext = (all.indexOf(m) + 1) % all.length;
            return [m];
          }
        }
        return [free[0]];
      }
      case 'leastrecent':
        return [free.reduce((a, b) => (b.lastCallEnd < a.lastCallEnd ? b : a))];
      case 'fewestcalls':
        return [free.reduce((a, b) => (b.callsTaken < a.callsTaken ? b : a))];
      case 'random':
        return [free[Math.floor(Math.random() * free.length)]];
    }
  }

  private ringMember(w: Waiter, m: QueueMember): void {
    let leg: Channel;
    try {
      leg = this.host.ring(m.user, w.ch.caller);
    } catch (err) {
      this.host.log.warn({ err, member: m.user, queue: this.name }, 'could not ring a queue member');
      return;
    }
    leg.linkedId = w.ch.linkedId;
    w.ringing.add(leg);
    const timer = this.host.clock.setTimer(this.config.timeout * 1000, () => leg.hangup());
    leg.once('answered', () => {
      timer.cancel();
      if (!this.waiters.includes(w) || w.ch.ended) {
        leg.hangup();
        return;
      }
      w.ringing.delete(leg);
      this.connect(w, leg, m);
    });
    leg.once('ended', () => {
      timer.cancel();
      if (!w.ringing.delete(leg)) return;
      // This member did not take it: the next one (or the same, after the others) is tried.
      if (w.ringing.size === 0) this.host.clock.setTimer(0, () => this.distribute());
    });
  }

  private connect(w: Waiter, leg: Channel, m: QueueMember): void {
    const now = this.host.clock.now();
    const waited = now - w.enteredAt;
    this.answered++;
    this.totalWaitMs += waited;
    if (waited <= this.config.serviceLevel * 1000) this.withinSla++;
    this.leave(w, 'answered');
    m.callsTaken++;
    w.ch.stopPlaying();
    const call = joinUntilHangup(w.ch, leg).then(() => {
      const end = this.host.clock.now();
      m.lastCallEnd = end;
      m.wrapUpUntil = end + this.config.wrapUp * 1000;
      this.distribute();
    });
    detach(call, this.host.log, 'a queue call');
    this.distribute();
  }
}

function newMember(user: string, dynamic: boolean): QueueMember {
  return { user, dynamic, paused: false, callsTaken: 0, lastCallEnd: 0, wrapUpUntil: 0 };
}
