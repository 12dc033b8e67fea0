/**
 * A call we place: INVITE with our offer (asking for a session timer),
 * provisional responses (PRACKed when reliable, RFC 3262), the answer,
 * CANCEL; a 422 is retried with the interval it asks for.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { SdpError } from '../sdp/errors.js';
import { transportFailureReason } from './errors.js';
import { Dialog, newTag } from '../sip/dialog/index.js';
import { SipMessage } from '../sip/message.js';
import { buildCancel } from '../sip/transaction/index.js';
import type { Peer } from '../sip/transport/types.js';
import type { TimerHandle } from '../util/clock.js';
import { sendWithAuth, type AuthSend } from './auth-retry.js';
import { Call, isSdp, type CallEnd, type CallHost } from './call.js';
import { ALLOW, SUPPORTED, type CallOptions, type UaContext } from './context.js';
import { reliableRseq, RseqTracker } from './prack.js';
import { minSeOf } from './session-timer.js';

export class OutgoingCall extends Call {
  readonly direction = 'outgoing' as const;
  private invite: AuthSend | undefined;
  private gotProvisional = false;
  private cancelRequested = false;
  private cancelSent = false;
  private cancelTimer: TimerHandle | undefined;
  /** The SDP answer already applied from a 18x (early media). */
  private earlyAnswer: string | undefined;
  private gotFinal = false;
  /** The Session-Expires we ask for (0: none); a 422 raises it. */
  private askSessionExpires: number;
  private tooBriefRetries = 2;
  /** RSeq of the reliable provisionals we PRACKed, per early dialog. */
  private readonly rseqs = new RseqTracker();
  /** Early dialogs of other forks than the first (their PRACKs need their own dialog). */
  private readonly forks = new Map<string, Dialog>();

  constructor(
    ctx: UaContext,
    host: CallHost,
    /** The URI we call. */
    readonly target: string,
    private readonly opts: CallOptions = {},
  ) {
    super(ctx, host, `${randomBytes(12).toString('hex')}`, 'calling');
    this.askSessionExpires = ctx.sessionExpires;
  }

  get remoteUri(): string {
    return this.dialogValue?.remote.uri ?? this.target;
  }

  /** @internal Opens the media and sends the INVITE. */
  start(): void {
    this.run().catch((err: unknown) => this.end({ status: 500, reason: (err as Error).message, by: 'error' }));
  }

  /** Gives up before the answer (CANCEL); after the answer use hangup(). */
  cancel(): void {
    if (this.stateValue === 'ended' || this.stateValue === 'answered') return;
    this.cancelRequested = true;
    if (!this.invite) {
      this.end({ status: 487, reason: 'Request Terminated', by: 'local' });
      return;
    }
    // §9.1: a CANCEL may only follow a provisional response; without one it waits for the first.
    if (this.gotProvisional) this.sendCancel();
  }

  hangup(): Promise<void> {
    return this.hangupAs({ by: 'local' });
  }

  protected hangupAs(info: CallEnd): Promise<void> {
    if (this.stateValue === 'answered') return this.bye(info);
    this.cancel();
    return Promise.resolve();
  }

  protected override cleanup(): void {
    this.cancelTimer?.cancel();
    if (this.invite && !this.gotFinal) this.invite.abandon();
  }

  private async run(): Promise<void> {
    const media = await (this.opts.media ?? this.ctx.newMedia)();
    if (this.ended) {
      await media.close();
      return;
    }
    this.mediaValue = media;
    const dest = await this.ctx.outOfDialogDest(this.target);
    if (this.ended) return;
    const offer = media.createOffer({ hold: false });
    const contact = this.ctx.contactFor(dest);
    const fromTag = newTag();
    let cseq = randomInt(1, 2 ** 30);
    this.ctx.counters.callsPlaced++;
    const build = (): SipMessage =>
      SipMessage.request(
        'INVITE',
        this.target,
        [
          ['Max-Forwards', '70'],
          ['From', `${this.opts.from ?? this.ctx.localAddress};tag=${fromTag}`],
          ['To', `<${this.target}>`],
          ['Call-ID', this.callId],
          ['CSeq', `${cseq++} INVITE`],
          ['Contact', contact],
          ['Allow', ALLOW],
          ['Supported', SUPPORTED],
          ...this.timerOffer(),
          ['User-Agent', this.ctx.userAgent],
          ...(this.opts.headers ?? []),
          ['Content-Type', 'application/sdp'],
        ],
        offer,
      );
    this.sendInvite(build, dest);
  }

  private sendInvite(build: () => SipMessage, dest: Peer): void {
    this.invite = sendWithAuth(this.ctx.send, this.auth, build, dest, {
      onResponse: (res, req) => {
        // RFC 4028 §7.4: our interval was below the callee's minimum: ask again with that.
        const min = minSeOf(res);
        if (res.status === 422 && min !== undefined && min > this.askSessionExpires && this.tooBriefRetries > 0 && !this.cancelRequested && !this.ended) {
          this.tooBriefRetries--;
          this.askSessionExpires = min;
          this.gotProvisional = false;
          this.sendInvite(build, dest);
          return;
        }
        this.onResponse(res, req);
      },
      onTimeout: () => this.failed(408, 'Request Timeout'),
      onTransportError: (cause) => this.failed(503, transportFailureReason(cause)),
    });
  }

  /** RFC 4028 §7.1: the session interval we ask for; the callee picks the refresher. */
  private timerOffer(): [string, string][] {
    if (this.askSessionExpires <= 0) return [];
    return [['Session-Expires', String(this.askSessionExpires)], ['Min-SE', String(this.ctx.minSessionExpires)]];
  }

  protected override canTakeOffer(): boolean {
    // Early: an UPDATE's offer is welcome once the INVITE's offer/answer is done (a reliable 18x carried the answer).
    if (this.stateValue !== 'answered') return this.earlyAnswer !== undefined && !this.cancelRequested;
    return super.canTakeOffer();
  }

  private failed(status: number, reason: string): void {
    this.gotFinal = true;
    this.end({ status: this.cancelRequested ? 487 : status, reason: this.cancelRequested ? 'Request Terminated' : reason, by: this.cancelRequested ? 'local' : 'error' });
  }

  private onResponse(res: SipMessage, req: SipMessage): void {
    const status = res.status;
    if (status < 200) return this.onProvisional(res, req);
    this.gotFinal = true;
    if (status >= 300) {
      if (status === 401 || status === 407) this.ctx.counters.authFailures++;
      const local = this.cancelRequested && status === 487;
      this.end({ status, reason: res.reason, by: local ? 'local' : 'remote', warning: res.get('warning') });
      return;
    }
    if (this.stateValue === 'ended' || this.stateValue === 'answered') {
      // A 2xx after we gave up, or from a second fork: confirm it and end it at once (§13.2.2.4).
      this.host.strayAnswer(res);
      return;
    }
    let dialog: Dialog;
    try {
      const early = this.dialogValue;
      if (early && early.id.remoteTag === res.toTag) {
        early.receiveResponse(res);
        dialog = early;
      } else dialog = Dialog.fromUac(req, res);
    } catch {
      this.host.strayAnswer(res);
      this.end({ status: 502, reason: 'Bad Gateway - unusable 2xx', by: 'error' });
      return;
    }
    this.host.unbind(this);
    this.forks.clear();
    this.dialogValue = dialog;
    this.host.bind(this);
    this.notePeer(res);
    this.sendAck(res.cseq.seq);
    if (this.cancelRequested) {
      this.background(this.bye({ status: 487, reason: 'Request Terminated', by: 'local' }), 'BYE');
      return;
    }
    const body = res.body.toString('utf8');
    const media = this.mediaValue;
    try {
      if (!media) throw new SdpError('no media');
      if (body.length && isSdp(res) && body !== this.earlyAnswer) media.setAnswer(body);
      else if (this.earlyAnswer === undefined) throw new SdpError('the 2xx carries no answer');
    } catch (err) {
      this.background(this.bye({ status: 488, reason: (err as Error).message, by: 'error' }), 'BYE');
      return;
    }
    this.noteRemoteHold();
    this.timerFromAnswer(res);
    this.setAnswered();
  }

  private onProvisional(res: SipMessage, req: SipMessage): void {
    if (this.stateValue === 'ended') return;
    this.gotProvisional = true;
    if (this.cancelRequested && !this.cancelSent) this.sendCancel();
    const status = res.status;
    let early: Dialog | undefined;
    if (status > 100 && res.toTag) {
      try {
        if (!this.dialogValue) {
          this.dialogValue = Dialog.fromUac(req, res);
          // The callee may UPDATE (or PRACK-less INFO) inside the early dialog.
          this.host.bind(this);
        } else if (this.dialogValue.id.remoteTag === res.toTag) this.dialogValue.receiveResponse(res);
        early = this.dialogValue.id.remoteTag === res.toTag ? this.dialogValue : this.forkDialog(req, res);
      } catch {
        /* a provisional we cannot make a dialog of still tells us the call progresses */
      }
    }
    const rseq = reliableRseq(res);
    if (rseq !== undefined && res.toTag) {
      // RFC 3262 §4: a retransmission (or one out of order) is neither PRACKed nor processed again.
      if (!early || !this.rseqs.accept(res.toTag, rseq)) return;
      this.prack(early, rseq, req.cseq.seq);
    }
    if (status === 180 || status === 183) this.stateValue = 'ringing';
    this.emit('progress', status, res.reason);
    if (status === 180) this.emit('ringing');
    if (this.earlyAnswer === undefined && res.body.length > 0 && isSdp(res) && this.mediaValue && !this.cancelRequested) {
      const sdp = res.body.toString('utf8');
      try {
        this.mediaValue.setAnswer(sdp);
        this.earlyAnswer = sdp;
        this.emit('earlyMedia');
      } catch {
        /* an unusable early answer: wait for the one in the 2xx */
      }
    }
  }

  /** The early dialog of a fork other than the first, kept only to PRACK its reliable provisionals. */
  private forkDialog(req: SipMessage, res: SipMessage): Dialog {
    const tag = res.toTag ?? '';
    let d = this.forks.get(tag);
    if (!d) {
      d = Dialog.fromUac(req, res);
      this.forks.set(tag, d);
    } else d.receiveResponse(res);
    return d;
  }

  /** RFC 3262 §7.2: PRACK with RAck naming the provisional (its RSeq) and our INVITE (CSeq number and method). */
  private prack(dialog: Dialog, rseq: number, inviteCseq: number): void {
    const send = async (): Promise<void> => {
      const res = await this.request(() =>
        dialog.createRequest('PRACK', { extraHeaders: [['RAck', `${rseq} ${inviteCseq} INVITE`], ['User-Agent', this.ctx.userAgent]] }),
      );
      if (res.status >= 300) this.log.info({ status: res.status, reason: res.reason }, 'PRACK refused');
    };
    this.background(send(), 'PRACK');
  }

  /** §9.1: CANCEL the INVITE (on its transaction's destination) once; give up on it 64*T1 later. */
  private sendCancel(): void {
    const invite = this.invite;
    const tx = invite?.tx;
    if (!invite || !tx || this.cancelSent) return;
    this.cancelSent = true;
    const cancel = buildCancel(invite.current, [['User-Agent', this.ctx.userAgent]]);
    try {
      this.ctx.stack.client(cancel, tx.dest, { onResponse: () => undefined, onTimeout: () => undefined });
    } catch {
      /* the INVITE's own timers still end the call */
    }
    // §9.1: if no final response comes within 64*T1 of the CANCEL, the INVITE is given up.
    this.cancelTimer = this.ctx.clock.setTimer(64 * this.ctx.timers.T1, () => {
      this.invite?.abandon();
      this.failed(487, 'Request Terminated');
    });
  }
}
