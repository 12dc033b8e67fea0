/**
 * One call as a phone sees it: a dialog, its offer/answer with the media,
 * and what can happen inside it (BYE, hold and resume by re-INVITE, INFO
 * DTMF, REFER transfers, UPDATE, session timers). OutgoingCall and
 * IncomingCall add how it starts.
 */
import { parseDtmfInfo } from '../media/dtmf/info-body.js';
import type { DtmfDigitEvent } from '../media/dtmf/index.js';
import { SdpError } from '../sdp/errors.js';
import type { Dialog } from '../sip/dialog/index.js';
import { SipMessage } from '../sip/message.js';
import type { ServerTransaction } from '../sip/transaction/index.js';
import { detach } from '../util/log.js';
import { Authenticator } from './auth-retry.js';
import { ALLOW, SUPPORTED, type UaContext } from './context.js';
import { CallEndedError, CallStateError, RequestPendingError, SipStatusError } from './errors.js';
import { Emitter } from '../util/emitter.js';
import { inDialogRequest } from './in-dialog.js';
import { allowedMethods } from './option-tags.js';
import type { MediaHandler } from './media-handler.js';
import { ReferIn, ReferOut } from './refer.js';
import type { ReferTarget } from './replaces.js';
import { ReinviteMachine } from './reinvite.js';
import { answeredTerms, answerTerms, minSeOf, SessionTimer, supportsTimer, tooBriefSessionExpires } from './session-timer.js';

export type CallState = 'calling' | 'ringing' | 'answered' | 'ended';

export interface CallEnd {
  /** The failure response (486, 487, 488 ...), 408 on timeout; absent after a normal BYE. */
  status?: number;
  reason?: string;
  /** Who ended it: we did, the peer did, or the protocol failed. */
  by: 'local' | 'remote' | 'error';
  /** The Warning header of the failure response, if any (why a 488 was sent). */
  warning?: string;
}

export type CallEvents = {
  /** Every provisional response to our INVITE. */
  progress: [status: number, reason: string];
  ringing: [];
  /** A 18x carried the answer: media flows before the call is answered. */
  earlyMedia: [];
  answered: [];
  /** The peer put us on hold (its description asks us not to send). */
  held: [];
  resumed: [];
  dtmf: [digit: string, event: DtmfDigitEvent];
  /** We were transferred (REFER): this is the call to the new party. */
  transferred: [newCall: Call];
  /** An INVITE with Replaces took this call's place. */
  replaced: [by: Call];
  ended: [info: CallEnd];
};

/** How long a transferor waits for the final NOTIFY (the target may ring for a while). */
export const TRANSFER_TIMEOUT_MS = 120_000;

/** What a call needs to place a new one (REFER) without knowing the agent. */
export interface CallHost {
  placeCall(uri: string, headers: [string, string][]): Call;
  ended(call: Call): void;
  bind(call: Call): void;
  unbind(call: Call): void;
  /** A 2xx no live call wants: ACK it and BYE at once (§13.2.2.4). */
  strayAnswer(res: SipMessage): void;
  /** Whether the agent's owner carries out this transfer itself (a B2BUA moves the other party) instead of a new call. */
  takeTransfer?(call: Call, target: ReferTarget): boolean;
}

export abstract class Call extends Emitter<CallEvents> {
  abstract readonly direction: 'outgoing' | 'incoming';
  protected stateValue: CallState;
  protected dialogValue: Dialog | undefined;
  protected mediaValue: MediaHandler | undefined;
  protected endValue: CallEnd | undefined;
  protected localHold = false;
  protected remoteHeld = false;
  protected readonly auth: Authenticator;
  /** The ACK for the last 2xx we got to an INVITE, resent when that 2xx is retransmitted. */
  private lastAck: { cseq: number; msg: SipMessage; dest: Parameters<UaContext['sendAck']>[1] } | undefined;
  /** Offer/answer after the call is up: our re-INVITEs, glare, and our 2xx awaiting its ACK. */
  private readonly reinvites: ReinviteMachine;
  private referOut: ReferOut | undefined;
  private readonly referIn = new ReferIn();
  /** RFC 4028: refresh (or BYE) on time. */
  protected readonly sessionTimer: SessionTimer;
  /** The methods the peer allows (its Allow); undefined when it said nothing. */
  protected peerAllow: Set<string> | undefined;
  /** The peer implements session timers. */
  protected peerTimer = false;

  constructor(
    protected readonly ctx: UaContext,
    protected readonly host: CallHost,
    readonly callId: string,
    state: CallState,
  ) {
    super(ctx.log.child({ callId }));
    this.stateValue = state;
    this.auth = new Authenticator(ctx.credentials);
    this.reinvites = new ReinviteMachine({
      clock: ctx.clock,
      timers: ctx.timers,
      userAgent: ctx.userAgent,
      isAnswered: () => this.stateValue === 'answered',
      isEnded: () => this.stateValue === 'ended',
      requireAnswered: () => this.requireAnswered(),
      media: () => this.mediaValue,
      request: (build) => this.request(build),
      sendAck: (cseq) => this.sendAck(cseq),
      extraHeaders: () => this.sessionTimer.requestHeaders(this.ctx.minSessionExpires),
      reinvited: (hold, res) => {
        this.localHold = hold;
        this.noteRemoteHold();
        this.timerFromAnswer(res);
      },
      bye: (info) => this.background(this.bye(info), 'BYE'),
      end: (info) => this.end(info),
    });
    this.sessionTimer = new SessionTimer(ctx.clock, {
      refresh: () => this.refreshSession(),
      expired: () => this.background(this.bye({ status: 408, reason: 'Session timer expired', by: 'error' }), 'BYE'),
    });
  }

  get state(): CallState {
    return this.stateValue;
  }

  get dialog(): Dialog | undefined {
    return this.dialogValue;
  }

  get media(): MediaHandler | undefined {
    return this.mediaValue;
  }

  /** How the call ended, once it has. */
  get endInfo(): CallEnd | undefined {
    return this.endValue;
  }

  /** The session timer running (RFC 4028): its interval in seconds and whether we refresh; undefined when none. */
  get sessionExpires(): { seconds: number; weRefresh: boolean } | undefined {
    return this.sessionTimer.terms;
  }

  /** We put the call on hold. */
  get onHold(): boolean {
    return this.localHold;
  }

  /** The peer put us on hold. */
  get heldByRemote(): boolean {
    return this.remoteHeld;
  }

  /** The peer's URI (To of our INVITE, From of theirs). */
  abstract get remoteUri(): string;

  /** Ends the call however far it got: CANCEL or a reject before the answer, BYE after. */
  abstract hangup(): Promise<void>;

  hold(): Promise<void> {
    return this.reinvites.reinvite(true);
  }

  resume(): Promise<void> {
    return this.reinvites.reinvite(false);
  }

  /** Sends an INFO; resolves with the final status. */
  async sendInfo(contentType: string, body: string): Promise<number> {
    const dialog = this.requireAnswered();
    const res = await this.request(() => dialog.createRequest('INFO', { body, contentType }));
    return res.status;
  }

  /** A key as SIP INFO (application/dtmf-relay), for peers that do not take RFC 4733. */
  async sendDtmfInfo(digit: string, durationMs = 160): Promise<void> {
    if (!/^[0-9*#A-Da-d]$/.test(digit)) throw new RangeError(`"${digit}" is not a DTMF key`);
    const status = await this.sendInfo('application/dtmf-relay', `Signal=${digit.toUpperCase()}\r\nDuration=${durationMs}\r\n`);
    if (status >= 300) throw new SipStatusError(status, 'INFO refused');
  }

  /** Blind transfer: resolves with the final status the target gave the transferee; our leg is hung up after a 2xx. */
  transfer(target: string): Promise<number> {
    return this.refer(`<${target}>`);
  }

  /** Attended transfer: the peer is asked to call `other`'s party with Replaces, taking our place in both calls. */
  attendedTransfer(other: Call): Promise<number> {
    const d = other.dialog;
    if (!d || other.state !== 'answered') return Promise.reject(new CallStateError(other.state, 'answered', `the other call is ${other.state}, not answered`));
    return this.refer(ReferOut.referToReplacing(d));
  }

  // ---- used by the agent ----

  /** @internal A request inside our dialog (the agent matched it by tags). */
  handleRequest(req: SipMessage, tx: ServerTransaction): void {
    const dialog = this.dialogValue;
    if (!dialog) return void this.reply(tx, req, 481, 'Call/Transaction Does Not Exist');
    const verdict = dialog.receiveRequest(req);
    if (!verdict.ok) return void this.reply(tx, req, verdict.status, verdict.reason);
    switch (req.method) {
      case 'BYE':
        this.reply(tx, req, 200, 'OK');
        this.end({ by: 'remote' });
        return;
      case 'INVITE':
        return this.onReinvite(req, tx);
      case 'INFO':
        return this.onInfo(req, tx);
      case 'REFER':
        return this.onRefer(req, tx);
      case 'NOTIFY':
        return this.onNotify(req, tx);
      case 'OPTIONS':
        return void this.reply(tx, req, 200, 'OK', [['Allow', ALLOW], ['Accept', 'application/sdp'], ['Supported', SUPPORTED]]);
      case 'UPDATE':
        return this.onUpdate(req, tx);
      case 'PRACK':
        return this.onPrack(req, tx);
      case 'SUBSCRIBE':
      case 'MESSAGE':
        return void this.reply(tx, req, 501, 'Not Implemented', [['Allow', ALLOW]]);
      default:
        return void this.reply(tx, req, 405, 'Method Not Allowed', [['Allow', ALLOW]]);
    }
  }

  /** @internal An ACK for one of our 2xx responses. */
  handleAck(ack: SipMessage): void {
    const pending = this.reinvites.pendingAck;
    if (!pending || ack.cseq.seq !== pending.cseq || !this.dialogValue || this.dialogValue.receiveRequest(ack).ok === false) return;
    this.reinvites.acked();
    if (pending.expectAnswer) {
      const media = this.mediaValue;
      if (!media || ack.body.length === 0) {
        this.background(this.bye({ status: 488, reason: 'No answer in the ACK', by: 'error' }), 'BYE');
        return;
      }
      try {
        media.setAnswer(ack.body.toString('utf8'));
      } catch (err) {
        this.background(this.bye({ status: 488, reason: (err as Error).message, by: 'error' }), 'BYE');
        return;
      }
      this.noteRemoteHold();
    }
    pending.onAck();
  }

  /** @internal A retransmitted 2xx to one of our INVITEs: our ACK was lost. */
  handleStray2xx(res: SipMessage): void {
    const ack = this.lastAck;
    if (ack && res.cseq.seq === ack.cseq) this.ctx.stack.sendStateless(ack.msg, ack.dest);
  }

  /** @internal An INVITE with Replaces for this call was accepted: step aside. */
  replacedBy(call: Call): void {
    this.emit('replaced', call);
    this.background(this.hangupAs({ by: 'local', reason: 'Replaced' }), 'hanging up a replaced call');
  }

  /** Key of our dialog in the agent's table. */
  get dialogKey(): string | undefined {
    return this.dialogValue?.key;
  }

  // ---- shared machinery ----

  /** Ends the call as `info` says, sending BYE or CANCEL as its state needs. */
  protected abstract hangupAs(info: CallEnd): Promise<void>;

  /** Work nobody waits for (a BYE after an error, a NOTIFY): a failure is logged, never left unhandled. */
  protected background(work: Promise<unknown>, what: string): void {
    detach(work, this.log, what);
  }

  protected requireAnswered(): Dialog {
    if (this.stateValue !== 'answered' || !this.dialogValue) throw new CallStateError(this.stateValue, 'answered');
    return this.dialogValue;
  }

  /** An in-dialog request with authenticated retries; resolves with its final response (408/503 made up on timeout or transport failure). */
  protected request(build: () => SipMessage): Promise<SipMessage> {
    return inDialogRequest(this.ctx, this.auth, this.dialogValue, build);
  }

  /** Sends BYE (when the dialog allows) and ends the call at once (§15.1.1); resolves when the BYE is answered. */
  protected async bye(info: CallEnd): Promise<void> {
    const dialog = this.dialogValue;
    if (this.stateValue === 'ended') return;
    if (!dialog || dialog.state === 'terminated') {
      this.end(info);
      return;
    }
    const done = this.request(() => dialog.createRequest('BYE', { extraHeaders: [['User-Agent', this.ctx.userAgent]] }));
    this.end(info);
    await done;
  }

  /** Sends the ACK for a 2xx to our INVITE numbered `cseq`, and keeps it for retransmitted 2xx. */
  protected sendAck(cseq: number, body?: string): void {
    const dialog = this.dialogValue;
    if (!dialog) return;
    const ack = dialog.createAck(cseq, body ? { body, contentType: 'application/sdp' } : {});
    const go = (dest: Parameters<UaContext['sendAck']>[1]): void => {
      this.ctx.sendAck(ack, dest);
      this.lastAck = { cseq, msg: ack, dest };
    };
    this.ctx.inDialogDest(ack).then(go, () => undefined);
  }

  protected reply(tx: ServerTransaction, req: SipMessage, status: number, reason: string, extra: [string, string][] = [], body?: { type: string; text: string }, toTag?: string): SipMessage {
    const res = this.ctx.stack.makeResponse(req, status, reason, extra, toTag);
    if (body) {
      res.add('Content-Type', body.type);
      res.body = Buffer.from(body.text, 'utf8');
    }
    tx.respond(res);
    return res;
  }

  /** 488 with a Warning naming what was wrong in the description (RFC 3261 §20.43). */
  protected rejectSdp(tx: ServerTransaction, req: SipMessage, err: SdpError, toTag?: string): void {
    this.ctx.counters.sdpRejected++;
    this.reply(tx, req, 488, 'Not Acceptable Here', [['Warning', warningValue(err, this.ctx.hostFor(tx.source))]], undefined, toTag);
  }

  /** Resends a 2xx until its ACK; BYE if none comes in 64*T1. */
  protected awaitAck(res: SipMessage, tx: ServerTransaction, expectAnswer: boolean, onAck: () => void): void {
    this.reinvites.awaitAck({ cseq: res.cseq.seq, expectAnswer, onAck }, () => this.ctx.stack.sendStateless(res, tx.source));
  }

  /** Emits held/resumed when the peer's last description changed what it asks of us. */
  protected noteRemoteHold(): void {
    const held = this.mediaValue?.remoteHold ?? false;
    if (held === this.remoteHeld) return;
    this.remoteHeld = held;
    this.emit(held ? 'held' : 'resumed');
  }

  protected get ended(): boolean {
    return this.stateValue === 'ended';
  }

  protected setAnswered(): void {
    if (this.stateValue === 'ended') return;
    this.stateValue = 'answered';
    this.emit('answered');
  }

  /** The one way a call ends: timers stop, media closes, the agent forgets it, `ended` fires once. */
  protected end(info: CallEnd): void {
    if (this.stateValue === 'ended') return;
    this.stateValue = 'ended';
    this.endValue = info;
    this.reinvites.stop();
    this.sessionTimer.stop();
    this.referOut?.fail(487, 'Call ended');
    this.cleanup();
    if (this.mediaValue) this.background(this.mediaValue.close(), 'closing the media');
    if (this.dialogValue && this.dialogValue.state !== 'terminated') this.dialogValue.terminate();
    this.host.unbind(this);
    this.host.ended(this);
    this.emit('ended', info);
  }

  /** Subclass timers to stop when the call ends. */
  protected cleanup(): void {}

  /** Learns what the peer allows and supports from its INVITE or its 2xx to ours. */
  protected notePeer(msg: SipMessage): void {
    const allow = allowedMethods(msg);
    if (allow) this.peerAllow = allow;
    this.peerTimer = supportsTimer(msg);
  }

  /**
   * RFC 4028 §9, as the UAS of `req` (INVITE, re-INVITE, UPDATE): the
   * headers our 2xx carries, and the timer to start once it is sent.
   */
  protected answerTimer(req: SipMessage): { headers: [string, string][]; start: () => void } {
    const answer = answerTerms(req, this.ctx.minSessionExpires, this.sessionTimer.terms);
    if (!answer) return { headers: [], start: () => this.sessionTimer.stop() };
    return { headers: answer.headers, start: () => this.sessionTimer.start(answer.terms) };
  }

  /** RFC 4028 §7.2, as the UAC: the timer a 2xx to our INVITE, re-INVITE or UPDATE sets up. */
  protected timerFromAnswer(res: SipMessage): void {
    const terms = answeredTerms(res);
    const current = this.sessionTimer.terms;
    if (terms) this.sessionTimer.start(terms);
    // A peer that knows nothing of timers answers without one: keep refreshing the timer we run for both.
    else if (current?.weRefresh && !this.peerTimer) this.sessionTimer.start(current);
    else this.sessionTimer.stop();
  }

  /** Offer/answer may start now: a peer's UPDATE with an offer is answered (RFC 3311 §5.2), else 491. */
  protected canTakeOffer(): boolean {
    return this.stateValue === 'answered' && !this.reinvites.sending && !(this.reinvites.pendingAck?.expectAnswer ?? false);
  }

  /** A PRACK: only a call that sent reliable provisionals (IncomingCall) has anything to match it with. */
  protected onPrack(req: SipMessage, tx: ServerTransaction): void {
    this.reply(tx, req, 481, 'Call/Transaction Does Not Exist');
  }

  // ---- session refresh (RFC 4028) ----

  /** We are the refresher: UPDATE without a body when the peer allows it (cheapest), else a re-INVITE with our current offer. */
  private refreshSession(): void {
    if (this.stateValue !== 'answered') return;
    const work = this.peerAllow?.has('UPDATE') ? this.updateRefresh(1) : this.reinvites.reinvite(this.localHold);
    work.catch((err: unknown) => {
      if (this.stateValue !== 'answered' || err instanceof CallEndedError) return;
      this.log.info({ err }, 'session refresh failed; trying again later');
      this.sessionTimer.retryLater();
    });
  }

  private async updateRefresh(tooBriefRetries: number): Promise<void> {
    const dialog = this.requireAnswered();
    const res = await this.request(() =>
      dialog.createRequest('UPDATE', {
        extraHeaders: [['Supported', SUPPORTED], ...this.sessionTimer.requestHeaders(this.ctx.minSessionExpires), ['User-Agent', this.ctx.userAgent]],
      }),
    );
    if (this.stateValue !== 'answered') throw new CallEndedError();
    const status = res.status;
    if (status < 300) return this.timerFromAnswer(res);
    // §10: a refresh that times out or finds no dialog ends the session.
    if (status === 481) this.end({ status, reason: res.reason, by: 'error' });
    else if (status === 408) await this.bye({ status, reason: res.reason, by: 'error' });
    // Allow said UPDATE but the peer will not take it (baresip 1.0 answers 501): re-INVITE now and from now on.
    if (status === 405 || status === 501) {
      this.peerAllow?.delete('UPDATE');
      return this.reinvites.reinvite(this.localHold);
    }
    const terms = this.sessionTimer.terms;
    const min = minSeOf(res);
    if (status === 422 && terms && min !== undefined && min > terms.seconds && tooBriefRetries > 0) {
      this.sessionTimer.start({ seconds: min, weRefresh: true });
      return this.updateRefresh(tooBriefRetries - 1);
    }
    throw new SipStatusError(status, res.reason);
  }

  // ---- re-INVITE from the peer ----

  private onReinvite(req: SipMessage, tx: ServerTransaction): void {
    if (this.reinvites.sending) return void this.reply(tx, req, 491, 'Request Pending');
    if (this.reinvites.pendingAck || this.stateValue !== 'answered') {
      return void this.reply(tx, req, 500, 'Server Internal Error', [['Retry-After', String(1 + Math.floor(Math.random() * 10))]]);
    }
    const brief = tooBriefSessionExpires(req, this.ctx.minSessionExpires);
    if (brief) return void this.reply(tx, req, brief.status, brief.reason, brief.headers);
    const media = this.mediaValue;
    if (!media) return void this.reply(tx, req, 500, 'Server Internal Error');
    const hasBody = req.body.length > 0;
    if (hasBody && !isSdp(req)) return void this.reply(tx, req, 415, 'Unsupported Media Type', [['Accept', 'application/sdp']]);
    let body: string;
    try {
      body = hasBody ? media.createAnswer(req.body.toString('utf8'), { hold: this.localHold }) : media.createOffer({ hold: this.localHold });
    } catch (err) {
      if (err instanceof SdpError) return this.rejectSdp(tx, req, err);
      return void this.reply(tx, req, 500, 'Server Internal Error');
    }
    const dialog = this.dialogValue;
    const timer = this.answerTimer(req);
    const res = this.reply(
      tx,
      req,
      200,
      'OK',
      [['Contact', dialog?.localContact ?? ''], ['Allow', ALLOW], ['Supported', SUPPORTED], ...timer.headers],
      { type: 'application/sdp', text: body },
    );
    timer.start();
    this.awaitAck(res, tx, !hasBody, () => undefined);
    if (hasBody) this.noteRemoteHold();
  }

  // ---- UPDATE from the peer (RFC 3311) ----

  /** A session refresh (no body) is answered 200; an offer gets our answer, as a re-INVITE's would. */
  private onUpdate(req: SipMessage, tx: ServerTransaction): void {
    const brief = tooBriefSessionExpires(req, this.ctx.minSessionExpires);
    if (brief) return void this.reply(tx, req, brief.status, brief.reason, brief.headers);
    const hasBody = req.body.length > 0;
    if (hasBody && !isSdp(req)) return void this.reply(tx, req, 415, 'Unsupported Media Type', [['Accept', 'application/sdp']]);
    let answer: string | undefined;
    if (hasBody) {
      const media = this.mediaValue;
      // §5.2: an offer while ours is unanswered (or before the first exchange is done) collides.
      if (!media || !this.canTakeOffer()) return void this.reply(tx, req, 491, 'Request Pending');
      try {
        answer = media.createAnswer(req.body.toString('utf8'), { hold: this.localHold });
      } catch (err) {
        if (err instanceof SdpError) return this.rejectSdp(tx, req, err);
        return void this.reply(tx, req, 500, 'Server Internal Error');
      }
    }
    const timer = this.stateValue === 'answered' ? this.answerTimer(req) : undefined;
    this.reply(
      tx,
      req,
      200,
      'OK',
      [['Contact', this.dialogValue?.localContact ?? ''], ['Allow', ALLOW], ['Supported', SUPPORTED], ...(timer?.headers ?? [])],
      answer === undefined ? undefined : { type: 'application/sdp', text: answer },
    );
    timer?.start();
    if (answer !== undefined) this.noteRemoteHold();
  }

  // ---- INFO ----

  private onInfo(req: SipMessage, tx: ServerTransaction): void {
    if (req.body.length === 0) return void this.reply(tx, req, 200, 'OK');
    const type = req.mediaType();
    if (type === 'application/dtmf-relay' || type === 'application/dtmf') {
      const ev = parseDtmfInfo(type, req.body.toString('utf8'));
      if (!ev) return void this.reply(tx, req, 400, 'Bad Request - unreadable DTMF body');
      this.reply(tx, req, 200, 'OK');
      this.emit('dtmf', ev.digit, ev);
      return;
    }
    this.reply(tx, req, 415, 'Unsupported Media Type', [['Accept', 'application/dtmf-relay, application/dtmf']]);
  }

  // ---- REFER / NOTIFY ----

  private async refer(referTo: string): Promise<number> {
    const dialog = this.requireAnswered();
    if (this.referOut) throw new RequestPendingError('transfer');
    const watcher = new ReferOut(this.ctx.clock, TRANSFER_TIMEOUT_MS);
    this.referOut = watcher;
    try {
      const res = await this.request(() =>
        dialog.createRequest('REFER', {
          extraHeaders: [['Refer-To', referTo], ['Referred-By', `<${this.ctx.aor}>`], ['User-Agent', this.ctx.userAgent]],
        }),
      );
      if (res.status >= 300) {
        watcher.fail(res.status, res.reason);
        throw new SipStatusError(res.status, res.reason);
      }
      const final = await watcher.done;
      if (final.status >= 200 && final.status < 300 && this.stateValue === 'answered') {
        await this.bye({ by: 'local', reason: 'Transferred' });
      }
      return final.status;
    } finally {
      this.referOut = undefined;
    }
  }

  private onNotify(req: SipMessage, tx: ServerTransaction): void {
    const event = (req.get('event') ?? '').split(';', 1)[0].trim().toLowerCase();
    if (event !== 'refer') return void this.reply(tx, req, 489, 'Bad Event', [['Allow-Events', 'refer']]);
    const watcher = this.referOut;
    if (!watcher) return void this.reply(tx, req, 481, 'Subscription Does Not Exist');
    this.reply(tx, req, 200, 'OK');
    watcher.notify(req.body.toString('utf8'), req.get('subscription-state') ?? '');
  }

  private onRefer(req: SipMessage, tx: ServerTransaction): void {
    const dialog = this.dialogValue;
    if (!dialog || this.stateValue !== 'answered') return void this.reply(tx, req, 403, 'Forbidden - not in an answered call');
    const parsed = this.referIn.parse(req);
    if ('error' in parsed) return void this.reply(tx, req, 400, `Bad Request - ${parsed.error}`);
    this.reply(tx, req, 202, 'Accepted', [['Contact', dialog.localContact]]);
    const notify = async (status: number, reason: string, terminated: boolean): Promise<SipMessage | undefined> => {
      if (dialog.state === 'terminated') return undefined;
      return this.request(() => dialog.createRequest('NOTIFY', this.referIn.notifyOptions(parsed.event, status, reason, terminated)));
    };
    this.background(notify(100, 'Trying', false), 'NOTIFY');
    if (this.host.takeTransfer?.(this, parsed.target)) {
      // The owner moved the other party already: report success and step out, as Asterisk does.
      const leave = async (): Promise<void> => {
        await notify(200, 'OK', true);
        await this.hangupAs({ by: 'local', reason: 'Transferred' });
      };
      this.background(leave(), 'leaving a transferred call');
      return;
    }
    const headers = [...parsed.target.headers];
    const referredBy = req.get('referred-by');
    if (referredBy && !headers.some(([n]) => n.toLowerCase() === 'referred-by')) headers.push(['Referred-By', referredBy]);
    const next = this.host.placeCall(parsed.target.uri, headers);
    this.emit('transferred', next);
    let reported = false;
    next.once('answered', () => {
      reported = true;
      const leave = async (): Promise<void> => {
        await notify(200, 'OK', true);
        await this.hangupAs({ by: 'local', reason: 'Transferred' });
      };
      this.background(leave(), 'leaving a transferred call');
    });
    next.once('ended', (info) => {
      if (reported) return;
      reported = true;
      this.background(notify(info.status ?? 500, info.reason ?? 'Failed', true), 'NOTIFY');
    });
  }
}

export function isSdp(msg: SipMessage): boolean {
  return msg.mediaType() === 'application/sdp';
}

/** `399 host "text"`: the warn-code the SDP check chose and its message, made safe for a quoted string. */
export function warningValue(err: SdpError, host: string): string {
  const text = err.message.replace(/[\r\n]+/g, ' ').replace(/\\/g, '\\\\').replace(/"/g, '\\"').slice(0, 200);
  return `${err.warnCode} ${host} "${text}"`;
}
