/** A call offered to us: ring, accept (200 until ACK) or reject; CANCEL ends it. */
import { SdpError } from '../sdp/errors.js';
import { Dialog, newTag } from '../sip/dialog/index.js';
import type { SipMessage } from '../sip/message.js';
import type { ServerTransaction } from '../sip/transaction/index.js';
import { Call, isSdp, type CallEnd, type CallHost } from './call.js';
import { ALLOW, SUPPORTED, type UaContext } from './context.js';
import { SipStatusError } from './errors.js';
import type { MediaFactory } from './media-handler.js';

export class IncomingCall extends Call {
  readonly direction = 'incoming' as const;
  /** Caller's URI and display name (From), whom they called (To) and the Request-URI. */
  readonly from: string;
  readonly fromDisplayName: string | undefined;
  readonly to: string;
  readonly uri: string;
  /** The call this one replaces (an INVITE with Replaces, RFC 3891), if any. */
  replaces: Call | undefined;
  private readonly localTag: string;
  private readonly offer: string | undefined;
  private finalSent = false;
  private accepting: Promise<void> | undefined;
  /** Media for this call instead of the agent's factory; set before accept(). */
  mediaFactory: MediaFactory | undefined;

  constructor(
    ctx: UaContext,
    host: CallHost,
    /** The INVITE that offered the call. */
    readonly invite: SipMessage,
    private readonly tx: ServerTransaction,
  ) {
    super(ctx, host, invite.callId, 'ringing');
    const from = invite.from;
    this.from = from.uri;
    this.fromDisplayName = from.displayName;
    this.to = invite.to.uri;
    this.uri = invite.uri;
    this.localTag = newTag();
    this.offer = invite.body.length > 0 && isSdp(invite) ? invite.body.toString('utf8') : undefined;
    this.dialogValue = Dialog.fromUas(invite, this.localTag, ctx.contactFor(tx.source));
    host.bind(this);
  }

  get remoteUri(): string {
    return this.from;
  }

  /** @internal The transaction a CANCEL is matched against. */
  get inviteTransaction(): ServerTransaction {
    return this.tx;
  }

  /** 180 Ringing. */
  ringing(): void {
    if (this.stateValue !== 'ringing' || this.finalSent) return;
    this.reply(this.tx, this.invite, 180, 'Ringing', [...this.recordRoute(), ['Contact', this.dialogValue?.localContact ?? '']], undefined, this.localTag);
  }

  /**
   * Answers: 200 OK with our answer (or our offer, when the INVITE had none).
   * Resolves once the ACK confirms the call; rejects with SipStatusError when
   * the offer cannot be used (488 sent), the caller cancelled, or no ACK came.
   */
  accept(): Promise<void> {
    this.accepting ??= this.doAccept();
    return this.accepting;
  }

  reject(status = 486, reason?: string): void {
    if (this.stateValue !== 'ringing' || this.finalSent) return;
    if (status < 300 || status > 699) throw new RangeError(`reject needs a 3xx-6xx status, not ${status}`);
    const text = reason ?? REASONS[status] ?? 'Rejected';
    this.finalSent = true;
    this.reply(this.tx, this.invite, status, text, [], undefined, this.localTag);
    this.end({ status, reason: text, by: 'local' });
  }

  hangup(): Promise<void> {
    return this.hangupAs({ by: 'local' });
  }

  protected hangupAs(info: CallEnd): Promise<void> {
    if (this.stateValue === 'ringing' && !this.finalSent) {
      this.reject(486);
      return Promise.resolve();
    }
    return this.bye(info);
  }

  /** @internal The caller sent CANCEL for our INVITE transaction. */
  handleCancel(): void {
    if (this.stateValue !== 'ringing' || this.finalSent) return;
    this.finalSent = true;
    this.reply(this.tx, this.invite, 487, 'Request Terminated', [], undefined, this.localTag);
    this.end({ status: 487, reason: 'Request Terminated', by: 'remote' });
  }

  private async doAccept(): Promise<void> {
    if (this.stateValue !== 'ringing' || this.finalSent) throw this.endError();
    let media;
    try {
      media = await (this.mediaFactory ?? this.ctx.newMedia)();
    } catch (err) {
      this.reject(500, 'Server Internal Error');
      throw err;
    }
    if (this.stateValue !== 'ringing' || this.finalSent) {
      await media.close();
      throw this.endError();
    }
    this.mediaValue = media;
    let body: string;
    try {
      body = this.offer !== undefined ? media.createAnswer(this.offer, { hold: false }) : media.createOffer({ hold: false });
    } catch (err) {
      this.finalSent = true;
      if (err instanceof SdpError) {
        this.rejectSdp(this.tx, this.invite, err, this.localTag);
        this.end({ status: 488, reason: err.message, by: 'local' });
        throw new SipStatusError(488, err.message);
      }
      this.reply(this.tx, this.invite, 500, 'Server Internal Error', [], undefined, this.localTag);
      this.end({ status: 500, reason: (err as Error).message, by: 'error' });
      throw err;
    }
    this.finalSent = true;
    const dialog = this.dialogValue;
    const res = this.reply(
      this.tx,
      this.invite,
      200,
      'OK',
      [...this.recordRoute(), ['Contact', dialog?.localContact ?? ''], ['Allow', ALLOW], ['Supported', SUPPORTED]],
      { type: 'application/sdp', text: body },
      this.localTag,
    );
    dialog?.responseSent(res);
    if (this.offer !== undefined) this.noteRemoteHold();
    await new Promise<void>((resolve, reject) => {
      const offEnded = this.once('ended', () => reject(this.endError()));
      this.awaitAck(res, this.tx, this.offer === undefined, () => {
        offEnded();
        this.setAnswered();
        resolve();
      });
    });
  }

  /** §12.1.1: responses that make the dialog carry the INVITE's Record-Route, so the caller learns the same route set. */
  private recordRoute(): [string, string][] {
    return this.invite.getAll('record-route').map((v) => ['Record-Route', v]);
  }

  private endError(): SipStatusError {
    const e = this.endValue;
    return new SipStatusError(e?.status ?? 487, e?.reason ?? 'The call is over');
  }
}

const REASONS: Record<number, string> = {
  480: 'Temporarily Unavailable',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  503: 'Service Unavailable',
  600: 'Busy Everywhere',
  603: 'Decline',
};
