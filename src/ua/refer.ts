/**
 * Both ends of a REFER (RFC 3515): the transferor watches the NOTIFYs that
 * report how the transferee's new call went; the transferee reads Refer-To
 * and reports back with sipfrag NOTIFYs in the same dialog.
 */
import type { Dialog, RequestOptions } from '../sip/dialog/index.js';
import type { SipMessage } from '../sip/message.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { formatReplaces, parseReferTo, referToWithReplaces, type ReferTarget } from './replaces.js';
import { formatSipfrag, parseSipfrag, SIPFRAG_TYPE } from './sipfrag.js';

export interface ReferOutcome {
  status: number;
  reason: string;
}

/** The transferor's side of one REFER: resolves `done` with the final sipfrag status. */
export class ReferOut {
  readonly done: Promise<ReferOutcome>;
  private resolve!: (o: ReferOutcome) => void;
  private last: ReferOutcome | undefined;
  private settled = false;
  private readonly timer: TimerHandle;

  constructor(clock: Clock, timeoutMs: number) {
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
    this.timer = clock.setTimer(timeoutMs, () => this.finish(this.last && this.last.status >= 200 ? this.last : { status: 408, reason: 'No final NOTIFY' }));
  }

  /**
   * The Refer-To for an attended transfer: `other`'s peer, with Replaces
   * naming that dialog as the peer knows it (its tag is our remote tag).
   */
  static referToReplacing(other: Dialog): string {
    return referToWithReplaces(other.remoteTarget, formatReplaces(other.id.callId, other.id.remoteTag, other.id.localTag));
  }

  notify(body: string, subscriptionState: string): void {
    const frag = parseSipfrag(body);
    if (frag) this.last = frag;
    if (frag && frag.status >= 200) return this.finish(frag);
    if (/^\s*terminated/i.test(subscriptionState)) this.finish(this.last && this.last.status >= 200 ? this.last : { status: 500, reason: 'Subscription ended without a final status' });
  }

  fail(status: number, reason: string): void {
    this.finish({ status, reason });
  }

  private finish(o: ReferOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.timer.cancel();
    this.resolve(o);
  }
}

/** The transferee's side: parses REFERs and builds the NOTIFYs that answer them. */
export class ReferIn {
  private count = 0;

  parse(req: SipMessage): { target: ReferTarget; event: string } | { error: string } {
    const values = req.getAll('refer-to');
    if (values.length !== 1) return { error: 'a REFER needs exactly one Refer-To' };
    let target: ReferTarget;
    try {
      target = parseReferTo(values[0]);
    } catch (err) {
      return { error: `bad Refer-To: ${(err as Error).message}` };
    }
    if (!/^sips?:/i.test(target.uri)) return { error: 'Refer-To must be a SIP URI' };
    // RFC 3515 §2.4.6: the first REFER of a dialog may go without an id; later ones are told apart by CSeq.
    const event = this.count++ === 0 ? 'refer' : `refer;id=${req.cseq.seq}`;
    return { target, event };
  }

  notifyOptions(event: string, status: number, reason: string, terminated: boolean): RequestOptions {
    return {
      body: formatSipfrag(status, reason),
      contentType: SIPFRAG_TYPE,
      extraHeaders: [
        ['Event', event],
        ['Subscription-State', terminated ? 'terminated;reason=noresource' : 'active;expires=60'],
      ],
    };
  }
}
