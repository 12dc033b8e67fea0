/**
 * Reliable provisional responses (RFC 3262). As UAC: a 18x that requires
 * 100rel carries an RSeq; each new one (RSeq one higher than the last of
 * its early dialog) is acknowledged by a PRACK whose RAck names it, and a
 * retransmission is neither PRACKed nor processed again (§4). As UAS:
 * each reliable 18x is resent from T1, doubling, until its PRACK comes; one
 * at a time; after 64*T1 without a PRACK the INVITE is given up (§3).
 */
import { randomInt } from 'node:crypto';
import type { SipMessage } from '../sip/message.js';
import type { TimerValues } from '../sip/transaction/index.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { optionTags } from './option-tags.js';

export interface RAck {
  rseq: number;
  cseq: number;
  method: string;
}

/** `RAck: 776656 1 INVITE`; undefined when unreadable. */
export function parseRAck(value: string | undefined): RAck | undefined {
  const m = /^\s*(\d{1,10})\s+(\d{1,10})\s+([A-Za-z]+)\s*$/.exec(value ?? '');
  return m ? { rseq: Number(m[1]), cseq: Number(m[2]), method: m[3].toUpperCase() } : undefined;
}

/** The RSeq of a reliable provisional response (Require: 100rel with a valid RSeq), else undefined. */
export function reliableRseq(res: SipMessage): number | undefined {
  if (res.status <= 100 || res.status >= 200 || !optionTags(res, 'require').has('100rel')) return undefined;
  const m = /^\s*(\d{1,10})\s*$/.exec(res.get('rseq') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The UAC's memory of one early dialog: the RSeq last acknowledged. */
export class RseqTracker {
  private readonly last = new Map<string, number>();

  /** True when this reliable provisional (from the early dialog tagged `toTag`) is new and in order: PRACK it. */
  accept(toTag: string, rseq: number): boolean {
    const last = this.last.get(toTag);
    if (last !== undefined && rseq !== last + 1) return false;
    this.last.set(toTag, rseq);
    return true;
  }
}

export interface ReliableHooks {
  /** Hands the response to the INVITE's server transaction (again, for a retransmission). */
  send(res: SipMessage): void;
  /** 64*T1 passed without the PRACK. */
  timedOut(): void;
}

interface Outstanding {
  res: SipMessage;
  rseq: number;
  hasBody: boolean;
  retransmit: TimerHandle | undefined;
  deadline: TimerHandle;
}

/** The UAS side for one INVITE: its reliable provisionals, one outstanding at a time. */
export class ReliableProvisionals {
  private nextRseq = randomInt(1, 2 ** 30);
  private outstanding: Outstanding | undefined;
  private readonly queue: SipMessage[] = [];
  private readonly acked = new Set<number>();
  private waiters: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly timers: TimerValues,
    private readonly inviteCseq: number,
    private readonly hooks: ReliableHooks,
  ) {}

  /** Sends `res` reliably (Require: 100rel, RSeq) once the one before it is acknowledged. */
  send(res: SipMessage): void {
    if (this.stopped) return;
    if (this.outstanding) {
      this.queue.push(res);
      return;
    }
    const rseq = this.nextRseq++;
    res.set('Require', '100rel');
    res.set('RSeq', String(rseq));
    const T1 = this.timers.T1;
    const out: Outstanding = {
      res,
      rseq,
      hasBody: res.body.length > 0,
      retransmit: undefined,
      deadline: this.clock.setTimer(64 * T1, () => {
        this.stop();
        this.hooks.timedOut();
      }),
    };
    this.outstanding = out;
    this.hooks.send(res);
    const again = (interval: number): void => {
      out.retransmit = this.clock.setTimer(interval, () => {
        if (this.outstanding !== out) return;
        this.hooks.send(res);
        again(interval * 2);
      });
    };
    again(T1);
  }

  /** A PRACK: true when it acknowledges what we sent (now or before, a PRACK retransmitted on a new transaction). */
  prack(rack: RAck): boolean {
    if (rack.method !== 'INVITE' || rack.cseq !== this.inviteCseq) return false;
    const out = this.outstanding;
    if (out && rack.rseq === out.rseq) {
      out.retransmit?.cancel();
      out.deadline.cancel();
      this.outstanding = undefined;
      this.acked.add(rack.rseq);
      const next = this.queue.shift();
      if (next) this.send(next);
      else this.wake();
      return true;
    }
    return this.acked.has(rack.rseq);
  }

  /** §3: a 2xx may not overtake an unacknowledged provisional that carried a description. */
  get blocksAnswer(): boolean {
    return (this.outstanding?.hasBody ?? false) || this.queue.some((r) => r.body.length > 0);
  }

  /** Resolves when nothing is outstanding (or everything stopped). */
  whenAcked(): Promise<void> {
    if (!this.outstanding || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The INVITE got its final response (or the call ended): no more resending. */
  stop(): void {
    this.stopped = true;
    this.outstanding?.retransmit?.cancel();
    this.outstanding?.deadline.cancel();
    this.outstanding = undefined;
    this.queue.length = 0;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
