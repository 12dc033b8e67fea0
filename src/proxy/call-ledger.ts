/**
 * Call accounting for `switchboard status`: which INVITE dialogs the proxy
 * record-routed are up. Not a dialog table (sip/dialog's DialogTable holds a
 * user agent's dialog state): the proxy stays transaction-stateful and this
 * ledger only counts, so a lost BYE costs a stale row that the age limit
 * removes, never a call.
 *
 * A call whose 2xx never got its ACK through us (the caller gave up, the 2xx
 * was lost) never had a dialog: such rows go once the ACK is overdue, 64*T1
 * after the 2xx (RFC 3261 §13.3.1.4), so failed calls under load do not fill
 * the table for 12 hours.
 */
import type { Clock } from '../util/clock.js';
import { ownCopy } from '../util/strings.js';

export interface DialogInfo {
  callId: string;
  from: string;
  to: string;
  startedWall: number;
}

interface Row extends DialogInfo {
  confirmed: boolean;
  /** Monotonic ms, for the age limit. */
  startedAt: number;
}

const MAX_AGE_MS = 12 * 3600 * 1000;
/** How long after the 2xx its ACK may come (64*T1 with the default T1). */
export const ACK_WAIT_MS = 32_000;

export class CallLedger {
  private readonly dialogs = new Map<string, Row>();
  /** Rows awaiting their ACK, oldest first, with when they were made (monotonic ms). */
  private unconfirmed: { row: Row; at: number }[] = [];
  private unconfirmedHead = 0;
  callsStarted = 0;
  callsAnswered = 0;
  callsFailed = 0;
  callsCancelled = 0;

  constructor(
    private readonly clock: Clock,
    private readonly ackWaitMs = ACK_WAIT_MS,
  ) {}

  /** Rows held (those whose ACK is overdue dropped first): what the dialog limit counts, read for every new INVITE. */
  get size(): number {
    this.prune();
    return this.dialogs.size;
  }

  invite(): void {
    this.callsStarted++;
  }

  established(callId: string, from: string, to: string): void {
    this.prune();
    if (this.dialogs.has(callId)) return;
    this.callsAnswered++;
    // Copies: the values are cut from the INVITE's and the 2xx's text, which a row would keep alive for the whole call.
    const at = this.clock.now();
    const row: Row = { callId: ownCopy(callId), from: ownCopy(from), to: ownCopy(to), startedWall: this.clock.wallNow(), startedAt: at, confirmed: false };
    this.dialogs.set(row.callId, row);
    this.unconfirmed.push({ row, at });
  }

  /** The ACK for the 2xx passed: the dialog is really up. */
  acknowledged(callId: string): void {
    const row = this.dialogs.get(callId);
    if (row) row.confirmed = true;
  }

  /** An initial INVITE got a final failure (or, after the caller's CANCEL, its 487). */
  failed(cancelled: boolean): void {
    if (cancelled) this.callsCancelled++;
    else this.callsFailed++;
  }

  ended(callId: string): void {
    this.dialogs.delete(callId);
  }

  active(): DialogInfo[] {
    this.prune();
    return [...this.dialogs.values()].map((d) => ({ callId: d.callId, from: d.from, to: d.to, startedWall: d.startedWall }));
  }

  /**
   * Drops rows whose ACK is overdue and rows older than the age limit (a BYE
   * that never passed us). Runs on every new dialog and every size check,
   * amortized O(1), so no timer is needed and stale rows never count against
   * limits.max_dialogs.
   */
  private prune(): void {
    const now = this.clock.now();
    // Rows are inserted once, in start order: the oldest are first in the Map.
    for (const [id, row] of this.dialogs) {
      if (row.startedAt > now - MAX_AGE_MS) break;
      this.dialogs.delete(id);
    }
    const limit = now - this.ackWaitMs;
    const q = this.unconfirmed;
    while (this.unconfirmedHead < q.length && q[this.unconfirmedHead].at <= limit) {
      const { row } = q[this.unconfirmedHead++];
      if (!row.confirmed && this.dialogs.get(row.callId) === row) this.dialogs.delete(row.callId);
    }
    if (this.unconfirmedHead > 1024 && this.unconfirmedHead * 2 > q.length) {
      this.unconfirmed = q.slice(this.unconfirmedHead);
      this.unconfirmedHead = 0;
    }
  }
}
