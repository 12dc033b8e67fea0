/**
 * Call accounting for `switchboard status`: which INVITE dialogs the proxy
 * record-routed are up. Not a dialog table (sip/dialog's DialogTable holds a
 * user agent's dialog state): the proxy stays transaction-stateful and this
 * ledger only counts, so a lost BYE costs a stale row that the age limit
 * removes, never a call.
 */
import type { Clock } from '../util/clock.js';

export interface DialogInfo {
  callId: string;
  from: string;
  to: string;
  startedWall: number;
}

const MAX_AGE_MS = 12 * 3600 * 1000;

export class CallLedger {
  private readonly dialogs = new Map<string, DialogInfo>();
  callsStarted = 0;
  callsAnswered = 0;
  callsFailed = 0;
  callsCancelled = 0;

  constructor(private readonly clock: Clock) {}

  invite(): void {
    this.callsStarted++;
  }

  established(callId: string, from: string, to: string): void {
    if (this.dialogs.has(callId)) return;
    this.callsAnswered++;
    this.dialogs.set(callId, { callId, from, to, startedWall: this.clock.wallNow() });
  }

  /** An initial INVITE got a final failure (or, after the caller's CANCEL, its 487). */
  failed(cancelled: boolean): void {
    if (cancelled) this.callsCancelled++;
    else this.callsFailed++;
  }

  ended(callId: string): void {
    this.dialogs.delete(callId);
  }

  /** Calls up now (stale rows included until the next active() call drops them). */
  get size(): number {
    return this.dialogs.size;
  }

  active(): DialogInfo[] {
    const now = this.clock.wallNow();
    for (const [id, d] of this.dialogs) if (now - d.startedWall > MAX_AGE_MS) this.dialogs.delete(id);
    return [...this.dialogs.values()];
  }
}
