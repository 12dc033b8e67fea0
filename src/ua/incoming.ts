/**
 * A call offered to us: ring, early media (183), accept (200 until ACK) or
 * reject; CANCEL ends it. When the INVITE requires 100rel, our 18x go
 * reliably and wait for their PRACKs (RFC 3262).
 */
import { SdpError } from '../sdp/errors.js';
import { Dialog, newTag } from '../sip/dialog/index.js';
import type { SipMessage } from '../sip/message.js';
import type { ServerTransaction } from '../sip/transaction/index.js';
import { Call, isSdp, type CallEnd, type CallHost } from './call.js';
import { ALLOW, SUPPORTED, type UaContext } from './context.js';
import { CallStateError, SipStatusError } from './errors.js';
import type { MediaFactory, MediaHandler } from './media-handler.js';
import { optionTags } from './option-tags.js';
import { parseRAck, ReliableProvisionals } from './prack.js';

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
  /** Media for this call instead of the agent's factory; set before accept() (or progress()). */
  mediaFactory: MediaFactory | undefined;
  private progressing: Promise<void> | undefined;
  /** Our answer as sent in a 183 (early media); the 200 repeats it. */
  private earlyAnswer: string | undefined;
  /** Set when the INVITE requires 100rel: our provisionals then go reliably. */
  private readonly reliable: ReliableProvisionals | undefined;

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
    this.notePeer(invite);
    if (optionTags(invite, 'require').has('100rel')) {
      this.reliable = new ReliableProvisionals(ctx.clock, ctx.timers, invite.cseq.seq, {
        send: (res) => tx.respond(res),
        timedOut: () => this.noPrack(),
      });
    }
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
    this.provisional(180, 'Ringing');
  }

  /**
   * 183 Session Progress with our answer: media flows before the call is
   * answered (a ringback, an announcement); accept() later repeats the same
   * answer. Resolves once the 183 is out (and PRACKed, when the caller
   * requires reliable provisionals). An INVITE without an offer gets a 183
   * without a body. Rejects with SipStatusError (488 sent) when the offer
   * cannot be used.
   */
  progress(): Promise<void> {
    this.progressing ??= this.doProgress();
    return this.progressing;
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
    this.reliable?.stop();
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
    this.reliable?.stop();
    this.reply(this.tx, this.invite, 487, 'Request Terminated', [], undefined, this.localTag);
    this.end({ status: 487, reason: 'Request Terminated', by: 'remote' });
  }

  protected override cleanup(): void {
    this.reliable?.stop();
  }

  /** RFC 3262 §3: a PRACK for one of our reliable provisionals (now or earlier) gets 200; any other 481. */
  protected override onPrack(req: SipMessage, tx: ServerTransaction): void {
    const rack = parseRAck(req.get('rack'));
    if (!rack) return void this.reply(tx, req, 400, 'Bad Request - missing or malformed RAck');
    if (!this.reliable?.prack(rack)) return void this.reply(tx, req, 481, 'Call/Transaction Does Not Exist');
    this.reply(tx, req, 200, 'OK');
  }

  /** A 18x: reliable (RSeq, resent until PRACKed) when the caller requires it. */
  private provisional(status: number, reason: string, body?: { type: string; text: string }): void {
    const extra: [string, string][] = [...this.recordRoute(), ['Contact', this.dialogValue?.localContact ?? '']];
    if (!this.reliable) {
      this.reply(this.tx, this.invite, status, reason, extra, body, this.localTag);
      return;
    }
    const res = this.ctx.stack.makeResponse(this.invite, status, reason, [...extra, ['Allow', ALLOW]], this.localTag);
    if (body) {
      res.add('Content-Type', body.type);
      res.body = Buffer.from(body.text, 'utf8');
    }
    this.reliable.send(res);
  }

  /** §3: 64*T1 without the PRACK: the INVITE is given up with a 5xx. */
  private noPrack(): void {
    if (this.stateValue !== 'ringing' || this.finalSent) return;
    this.finalSent = true;
    this.reply(this.tx, this.invite, 504, 'Server Time-out', [], undefined, this.localTag);
    this.end({ status: 504, reason: 'No PRACK for a reliable provisional response', by: 'error' });
  }

  private async doProgress(): Promise<void> {
    if (this.stateValue !== 'ringing' || this.finalSent) throw new CallStateError(this.stateValue, 'ringing');
    if (this.offer === undefined) {
      this.provisional(183, 'Session Progress');
      return;
    }
    const media = await this.openMedia();
    let body: string;
    try {
      body = media.createAnswer(this.offer, { hold: false });
    } catch (err) {
      throw this.answerFailed(err);
    }
    this.earlyAnswer = body;
    this.noteRemoteHold();
    this.provisional(183, 'Session Progress', { type: 'application/sdp', text: body });
    await this.reliable?.whenAcked();
  }

  /** The call's media, opened once (by progress() or accept()); a failure rejects the call with 500. */
  private async openMedia(): Promise<MediaHandler> {
    if (this.mediaValue) return this.mediaValue;
    let media: MediaHandler;
    try {
      // The offer goes in too: a WebRTC leg answers it asynchronously (werift) inside the factory.
      media = await (this.mediaFactory ?? this.ctx.newMedia)(this.offer);
    } catch (err) {
      // An offer the factory could not use is the peer's fault: 488, as createAnswer would say.
      if (err instanceof SdpError) throw this.answerFailed(err);
      this.reject(500, 'Server Internal Error');
      throw err;
    }
    if (this.stateValue !== 'ringing' || this.finalSent) {
      await media.close();
      throw this.endError();
    }
    this.mediaValue = media;
    return media;
  }

  /** Our description could not be made: 488 (or 500) and the call ends; the error to throw. */
  private answerFailed(err: unknown): Error {
    this.finalSent = true;
    this.reliable?.stop();
    if (err instanceof SdpError) {
      this.rejectSdp(this.tx, this.invite, err, this.localTag);
      this.end({ status: 488, reason: err.message, by: 'local' });
      return new SipStatusError(488, err.message);
    }
    this.reply(this.tx, this.invite, 500, 'Server Internal Error', [], undefined, this.localTag);
    this.end({ status: 500, reason: (err as Error).message, by: 'error' });
    return err instanceof Error ? err : new Error(String(err));
  }

  private async doAccept(): Promise<void> {
    if (this.stateValue !== 'ringing' || this.finalSent) throw this.endError();
    // An early answer being sent finishes first: the 200 repeats it.
    if (this.progressing) await this.progressing.catch(() => undefined);
    if (this.stateValue !== 'ringing' || this.finalSent) throw this.endError();
    const media = await this.openMedia();
    let body: string;
    if (this.earlyAnswer !== undefined) body = this.earlyAnswer;
    else {
      try {
        body = this.offer !== undefined ? media.createAnswer(this.offer, { hold: false }) : media.createOffer({ hold: false });
      } catch (err) {
        throw this.answerFailed(err);
      }
    }
    // RFC 3262 §3: a 2xx may not overtake an unacknowledged reliable 18x that carried a description.
    if (this.reliable?.blocksAnswer) await this.reliable.whenAcked();
    if (this.stateValue !== 'ringing' || this.finalSent) throw this.endError();
    this.reliable?.stop();
    this.finalSent = true;
    const dialog = this.dialogValue;
    const timer = this.answerTimer(this.invite);
    const res = this.reply(
      this.tx,
      this.invite,
      200,
      'OK',
      [...this.recordRoute(), ['Contact', dialog?.localContact ?? ''], ['Allow', ALLOW], ['Supported', SUPPORTED], ...timer.headers],
      { type: 'application/sdp', text: body },
      this.localTag,
    );
    dialog?.responseSent(res);
    timer.start();
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
