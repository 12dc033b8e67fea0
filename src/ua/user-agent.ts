/**
 * A SIP phone on Switchboard's own SIP core: one stack, a registration
 * client, and the calls it places and receives. The softphone CLI is a thin
 * shell over it; PBX legs will be too.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseSdp } from '../sdp/parse.js';
import { SdpError } from '../sdp/errors.js';
import { Dialog, dialogKey, newBranch, newTag } from '../sip/dialog/index.js';
import { parseNameAddr, quote } from '../sip/headers.js';
import { SipMessage } from '../sip/message.js';
import { resolveHost, resolveUri } from '../sip/resolve.js';
import { SipStack } from '../sip/stack.js';
import { DEFAULT_TIMERS, type ServerTransaction, type TimerValues } from '../sip/transaction/index.js';
import type { Peer, Proto } from '../sip/transport/types.js';
import { bareHost, uriHost } from '../sip/uri.js';
import { realClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { parseListen, type ListenAddress } from '../util/listen.js';
import { Authenticator, sendWithAuth, type Credentials } from './auth-retry.js';
import { isSdp, warningValue, type Call, type CallHost } from './call.js';
import { ALLOW, SUPPORTED, type CallOptions, type DialogUser, type SubscriptionHost, type UaContext, type UaCounters } from './context.js';
import { Emitter } from '../util/emitter.js';
import { transportFailureReason } from './errors.js';
import { formatEvent, parseEvent, parseExpires } from './event-header.js';
import { IncomingCall } from './incoming.js';
import type { MediaFactory } from './media-handler.js';
import { IncomingSubscription } from './notifier.js';
import { unsupportedRequired } from './option-tags.js';
import { OutgoingCall } from './outgoing.js';
import { Registration } from './registration.js';
import { parseReplaces, type ReferTarget } from './replaces.js';
import { DEFAULT_SESSION_EXPIRES, MIN_SESSION_EXPIRES, tooBriefSessionExpires } from './session-timer.js';
import { Subscription, type SubscribeOptions } from './subscription.js';

export interface UserAgentOptions {
  /** Where SIP binds: `127.0.0.1:5074` (UDP), or `tcp:127.0.0.1:5074`; port 0 picks a free one. */
  listen: string;
  /** Outbound proxy and registrar: every out-of-dialog request goes here. */
  server?: { host: string; port: number };
  user?: string;
  password?: string;
  /** Domain of our address of record; the server's host by default. */
  domain?: string;
  displayName?: string;
  /** Public address (from STUN) written in Contact and Via instead of the bound one. */
  contactHost?: string;
  contactPort?: number;
  clock?: Clock;
  timers?: Partial<TimerValues>;
  /** User-Agent of requests and Server of responses. */
  userAgent?: string;
  newMedia: MediaFactory;
  /** Every SIP message sent and received, as text; `peer` is `udp:host:port`. */
  traceSip?: (dir: 'in' | 'out', text: string, peer: string) => void;
  /** Longest real-time wait in close() for BYEs and the unregister. */
  closeTimeoutMs?: number;
  /** Where the agent reports what nobody asked about (a listener that threw, a failed BYE). */
  log?: Logger;
  /**
   * Outbound TLS: servers are verified against the system store plus `ca`
   * (PEM files), and the name we dialled (RFC 5922); `verify: false` accepts
   * any certificate. `cert`/`key` (PEM files) are what a TLS listener shows
   * (and a server asking for a client certificate gets); without them a
   * self-signed pair is made.
   */
  tls?: { ca?: string[]; verify?: boolean; cert?: string; key?: string };
  /**
   * A REFER in one of our calls: return true to carry the transfer out
   * yourself (the call reports success and hangs up); false lets the agent
   * place the new call as a phone does.
   */
  onTransfer?: (call: Call, target: ReferTarget) => boolean;
  /**
   * Event packages taken in a NOTIFY outside any subscription (emitted as
   * `notify`; others get 489 Bad Event). Default: message-summary, the
   * unsolicited message-waiting indication many PBXs send.
   */
  notifyEvents?: string[];
  /** Session-Expires (s) our calls ask for (RFC 4028); 0 asks for none. Default 1800. */
  sessionExpires?: number;
  /** The shortest session interval we accept from a peer (our Min-SE, s); default and floor 90. */
  minSessionExpires?: number;
}

export type UserAgentEvents = {
  registered: [expires: number];
  registrationFailed: [status: number, reason: string];
  unregistered: [];
  /** A new call for us: call ringing(), accept() or reject() on it. With no listener, calls get 480. */
  incoming: [call: IncomingCall];
  /** An INVITE whose offer could not be parsed got 488 before any call existed (counted in sdpRejected). */
  offerRejected: [from: string, warning: string];
  /**
   * A NOTIFY outside any subscription (unsolicited, as Asterisk sends
   * message-summary), already answered 200: its package, body, Content-Type
   * and the sender's URI. Only packages in `notifyEvents`, and only while
   * someone listens; otherwise the NOTIFY gets 489 Bad Event.
   */
  notify: [event: string, body: string, contentType: string, from: string];
  /** A SUBSCRIBE for us: call accept() or reject() on it. With no listener, SUBSCRIBEs get 489 Bad Event. */
  subscribe: [sub: IncomingSubscription];
};

export const DEFAULT_USER_AGENT = 'Switchboard-phone/0.1';

export class UserAgent extends Emitter<UserAgentEvents> {
  readonly counters: UaCounters = { callsPlaced: 0, callsReceived: 0, sdpRejected: 0, authFailures: 0 };
  readonly stack: SipStack;
  /** Our address of record, `sip:user@domain`. */
  readonly aor: string;
  private readonly listenAddress: ListenAddress;
  private readonly user: string | undefined;
  private readonly clock: Clock;
  private readonly ctx: UaContext;
  private readonly host: CallHost;
  private readonly calls = new Set<Call>();
  private readonly dialogs = new Map<string, Call>();
  private readonly invites = new Map<ServerTransaction, IncomingCall>();
  /** Subscriptions of both sides not yet over, and the dialogs they answer for. */
  private readonly subscriptions = new Set<DialogUser>();
  private readonly subDialogs = new Map<string, DialogUser>();
  /** Our SUBSCRIBEs still without a dialog, by Call-ID and our tag: their first NOTIFY makes it. */
  private readonly earlyNotify = new Map<string, DialogUser>();
  private readonly subHost: SubscriptionHost;
  private readonly notifyEvents: Set<string>;
  /** Credentials of our NOTIFYs outside a dialog, kept so later ones reuse the nonce. */
  private readonly notifyAuth: Authenticator;
  /** Destinations being resolved for requests about to be sent. */
  private readonly resolving = new Set<Promise<Peer>>();
  private registration: Registration | undefined;
  private serverPeer: Peer | undefined;
  private started = false;
  /** Where this agent's self-signed TLS certificate lives; removed on close. */
  private readonly tlsDir: string | undefined;
  private closed = false;

  constructor(private readonly opts: UserAgentOptions) {
    super(opts.log);
    this.listenAddress = /^(udp|tcp|tls):/i.test(opts.listen) ? parseListen(opts.listen) : parseListen(`udp:${opts.listen}`);
    this.clock = opts.clock ?? realClock;
    this.user = opts.user;
    const domain = opts.domain ?? opts.server?.host ?? uriHost(this.listenAddress.address);
    this.aor = `sip:${opts.user ?? 'phone'}@${uriHost(bareHost(domain))}`;
    const userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;
    const timers: TimerValues = { ...DEFAULT_TIMERS, ...opts.timers };
    // A TLS listener needs a certificate: a self-signed one of this agent's own, in a directory
    // of its own so phones started side by side never share or race on the files.
    this.tlsDir = this.listenAddress.proto === 'tls' ? mkdtempSync(path.join(os.tmpdir(), 'sb-phone-tls-')) : undefined;
    const dataDir = this.tlsDir ?? os.tmpdir();
    this.stack = new SipStack({
      clock: this.clock,
      listen: [this.listenAddress],
      timers,
      dataDir,
      userAgent,
      log: this.log.child({ layer: 'sip' }),
      tls: { ca: opts.tls?.ca, verify: opts.tls?.verify, cert: opts.tls?.cert, key: opts.tls?.key },
      handlers: {
        onRequest: (req, tx) => this.onRequest(req, tx),
        onStatelessAck: (ack) => this.dialogs.get(dialogKey(ack.callId, ack.toTag ?? '', ack.fromTag ?? ''))?.handleAck(ack),
        onStrayResponse: (res) => this.onStrayResponse(res),
      },
    });
    const trace = opts.traceSip;
    if (trace) this.stack.on('trace', (dir, proto, _local, remote, data) => trace(dir, data.toString('utf8'), `${proto}:${uriHost(remote.address)}:${remote.port}`));
    const credentials: Credentials | undefined = opts.user !== undefined && opts.password !== undefined ? { user: opts.user, password: opts.password } : undefined;
    const proto: Proto = this.listenAddress.proto;
    const dn = opts.displayName;
    const sessionExpires = opts.sessionExpires ?? DEFAULT_SESSION_EXPIRES;
    const minSessionExpires = Math.max(MIN_SESSION_EXPIRES, opts.minSessionExpires ?? MIN_SESSION_EXPIRES);
    if (!Number.isInteger(sessionExpires) || sessionExpires < 0) throw new RangeError('sessionExpires must be a whole number of seconds (0 for none)');
    if (!Number.isInteger(minSessionExpires)) throw new RangeError('minSessionExpires must be a whole number of seconds');
    if (sessionExpires > 0 && sessionExpires < minSessionExpires) throw new RangeError(`sessionExpires must be 0 or at least ${minSessionExpires} s`);
    this.notifyEvents = new Set((opts.notifyEvents ?? ['message-summary']).map((e) => e.toLowerCase()));
    this.notifyAuth = new Authenticator(credentials);
    this.ctx = {
      stack: this.stack,
      clock: this.clock,
      timers: this.stack.timers,
      credentials,
      counters: this.counters,
      userAgent,
      aor: this.aor,
      localAddress: `${dn ? quote(dn) + ' ' : ''}<${this.aor}>`,
      proto,
      newMedia: opts.newMedia,
      log: this.log,
      contactFor: (dest) => this.contactFor(dest),
      hostFor: (dest) => opts.contactHost ?? this.stack.localFor(dest).host,
      outOfDialogDest: (uri) => this.track(this.serverPeer ? Promise.resolve(this.serverPeer) : resolveUri(uri, proto)),
      inDialogDest: (req) => this.track(inDialogTarget(req, proto)),
      send: (req, dest, handlers) => {
        req.prepend('Via', this.via(dest));
        return this.stack.client(req, dest, handlers);
      },
      sendAck: (ack, dest) => {
        ack.prepend('Via', this.via(dest));
        this.stack.sendStateless(ack, dest);
      },
      sessionExpires,
      minSessionExpires,
    };
    this.subHost = {
      bind: (key, user) => {
        this.subDialogs.set(key, user);
      },
      unbind: (key, user) => {
        if (this.subDialogs.get(key) === user) this.subDialogs.delete(key);
      },
      ended: (user) => {
        this.subscriptions.delete(user);
      },
      expectNotify: (callId, localTag, user) => {
        const k = `${callId}\n${localTag}`;
        if (user) this.earlyNotify.set(k, user);
        else this.earlyNotify.delete(k);
      },
    };
    this.host = {
      placeCall: (uri, headers) => this.call(uri, { headers }),
      ended: (call) => {
        this.calls.delete(call);
        if (call instanceof IncomingCall) this.invites.delete(call.inviteTransaction);
      },
      bind: (call) => {
        const k = call.dialogKey;
        if (k) this.dialogs.set(k, call);
      },
      unbind: (call) => {
        const k = call.dialogKey;
        if (k && this.dialogs.get(k) === call) this.dialogs.delete(k);
      },
      strayAnswer: (res) => this.strayAnswer(res),
      takeTransfer: opts.onTransfer,
    };
  }

  /** Binds the socket and resolves the server's address. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const server = this.opts.server;
    if (server) this.serverPeer = await resolveHost(this.listenAddress.proto, server.host, server.port);
    await this.stack.start();
  }

  /** Where we listen (the real port when 0 was asked). */
  get local(): { proto: Proto; address: string; port: number } {
    const ep = this.stack.endpoints()[0];
    if (!ep) throw new Error('the user agent is not started');
    return { proto: ep.proto, address: ep.address, port: ep.port };
  }

  /** Our Contact as sent toward the server (or toward the listen address's own family). */
  get contact(): string {
    const ep = this.local;
    return this.contactFor(this.serverPeer ?? { proto: ep.proto, address: ep.address, port: ep.port });
  }

  get registered(): boolean {
    return this.registration?.registered ?? false;
  }

  /** Calls not yet ended. */
  get activeCalls(): Call[] {
    return [...this.calls];
  }

  /** Registers with the server; resolves with the granted expiry (s), refreshed at ~90% of it. */
  register(expires = 3600): Promise<number> {
    if (!this.opts.server) return Promise.reject(new Error('register() needs a server'));
    this.registration ??= new Registration(this.ctx, `sip:${this.aor.slice(this.aor.indexOf('@') + 1)}`, {
      registered: (e) => this.emit('registered', e),
      failed: (status, reason) => this.emit('registrationFailed', status, reason),
      unregistered: () => this.emit('unregistered'),
    });
    return this.registration.register(expires);
  }

  unregister(): Promise<void> {
    return this.registration ? this.registration.unregister() : Promise.resolve();
  }

  /**
   * Calls `uri` (`sip:bob@host:port`, or `bob` in our domain). Returns at
   * once; watch the call's events (progress, answered, ended).
   */
  call(uri: string, opts: CallOptions = {}): OutgoingCall {
    if (!this.started || this.closed) throw new Error('the user agent is not running');
    const target = this.normalize(uri);
    const call = new OutgoingCall(this.ctx, this.host, target, opts);
    this.calls.add(call);
    call.start();
    return call;
  }

  /** Subscriptions of either side not yet over. */
  get activeSubscriptions(): (Subscription | IncomingSubscription)[] {
    return [...this.subscriptions].filter((s): s is Subscription | IncomingSubscription => s instanceof Subscription || s instanceof IncomingSubscription);
  }

  /**
   * Subscribes to `event` of `uri` (`sip:1001@host`, or `1001` in our
   * domain), through the server when one is configured. Returns at once;
   * watch the subscription's `notify` and `terminated`.
   */
  subscribe(uri: string, event: string, opts: SubscribeOptions = {}): Subscription {
    if (!this.started || this.closed) throw new Error('the user agent is not running');
    const sub = new Subscription(this.ctx, this.subHost, this.normalize(uri), event, opts);
    this.subscriptions.add(sub);
    sub.start();
    return sub;
  }

  /**
   * A NOTIFY outside any dialog (unsolicited, e.g. message-summary to a
   * phone that never subscribed), through the server when one is
   * configured; resolves with the final status (408 on timeout, 503 when
   * it could not be sent).
   */
  async sendNotify(uri: string, event: string, body: string, contentType: string): Promise<number> {
    if (!this.started || this.closed) throw new Error('the user agent is not running');
    const ev = parseEvent(event);
    if (!ev) throw new RangeError(`"${event}" is not an event package name`);
    const target = this.normalize(uri);
    const dest = await this.ctx.outOfDialogDest(target);
    const callId = randomBytes(12).toString('hex');
    const fromTag = newTag();
    let cseq = 1;
    const build = (): SipMessage =>
      SipMessage.request(
        'NOTIFY',
        target,
        [
          ['Max-Forwards', '70'],
          ['From', `${this.ctx.localAddress};tag=${fromTag}`],
          ['To', `<${target}>`],
          ['Call-ID', callId],
          ['CSeq', `${cseq++} NOTIFY`],
          ['Contact', this.contactFor(dest)],
          ['Event', formatEvent(ev)],
          ['Subscription-State', 'active'],
          ['User-Agent', this.ctx.userAgent],
          ['Content-Type', contentType],
        ],
        body,
      );
    return new Promise((resolve) => {
      sendWithAuth(this.ctx.send, this.notifyAuth, build, dest, {
        onResponse: (res) => {
          if (res.status < 200) return;
          if (res.status === 401 || res.status === 407) this.counters.authFailures++;
          resolve(res.status);
        },
        onTimeout: () => resolve(408),
        onTransportError: (cause) => {
          this.log.info({ uri: target, reason: transportFailureReason(cause) }, 'NOTIFY could not be sent');
          resolve(503);
        },
      });
    });
  }

  /** Ends every call (BYE/CANCEL), unregisters, closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.started) {
      // A request whose destination is still being resolved (the BYE of a call that just
      // ended) is sent once it is known, before the socket closes.
      const jobs: Promise<unknown>[] = [Promise.allSettled([...this.resolving])];
      jobs.push(...[...this.calls].map((c) => c.hangup().catch(() => undefined)));
      for (const s of this.subscriptions) {
        if (s instanceof Subscription) jobs.push(s.unsubscribe().catch(() => undefined));
        else if (s instanceof IncomingSubscription) jobs.push(s.terminate('deactivated').catch(() => undefined));
      }
      if (this.registration?.registered) jobs.push(this.registration.unregister().catch(() => undefined));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.opts.closeTimeoutMs ?? 2000);
        timer.unref();
      });
      await Promise.race([Promise.all(jobs), deadline]);
      clearTimeout(timer);
    }
    this.registration?.close();
    for (const u of new Set([...this.subscriptions, ...this.subDialogs.values(), ...this.earlyNotify.values()])) u.dispose();
    await this.stack.close();
    if (this.tlsDir) rmSync(this.tlsDir, { recursive: true, force: true });
  }

  /** Keeps `p` in `resolving` until it settles; close() waits for those. */
  private track(p: Promise<Peer>): Promise<Peer> {
    this.resolving.add(p);
    const done = (): void => {
      this.resolving.delete(p);
    };
    p.then(done, done);
    return p;
  }

  private normalize(uri: string): string {
    if (/^(sips?|tel):/i.test(uri)) return uri;
    if (uri.includes('@')) return `sip:${uri}`;
    return `sip:${uri}@${this.aor.slice(this.aor.indexOf('@') + 1)}`;
  }

  private via(dest: Peer): string {
    const host = this.opts.contactHost;
    return this.stack.makeVia(dest, newBranch(), host === undefined ? undefined : { host, port: this.opts.contactPort });
  }

  private contactFor(dest: Peer): string {
    const local = this.stack.localFor(dest);
    const host = this.opts.contactHost ?? local.host;
    const port = this.opts.contactPort ?? local.port;
    const user = this.user !== undefined ? `${this.user}@` : '';
    const transport = dest.proto === 'udp' ? '' : `;transport=${dest.proto}`;
    return `<sip:${user}${uriHost(host)}:${port}${transport}>`;
  }

  private reply(tx: ServerTransaction, req: SipMessage, status: number, reason: string, extra: [string, string][] = []): void {
    tx.respond(this.stack.makeResponse(req, status, reason, extra, newTag()));
  }

  private onRequest(req: SipMessage, tx: ServerTransaction): void {
    const method = req.method;
    if (method === 'CANCEL') return this.onCancel(req, tx);
    if (req.toTag !== undefined) {
      const key = dialogKey(req.callId, req.toTag, req.fromTag ?? '');
      const call = this.dialogs.get(key);
      if (call) return call.handleRequest(req, tx);
      const sub = this.subDialogs.get(key) ?? (method === 'NOTIFY' ? this.earlyNotify.get(`${req.callId}\n${req.toTag}`) : undefined);
      if (sub) return sub.handleRequest(req, tx);
      return this.reply(tx, req, 481, 'Call/Transaction Does Not Exist');
    }
    switch (method) {
      case 'INVITE':
        return this.onInvite(req, tx);
      case 'OPTIONS':
        return this.reply(tx, req, 200, 'OK', [['Allow', ALLOW], ['Accept', 'application/sdp'], ['Supported', SUPPORTED]]);
      case 'SUBSCRIBE':
        return this.onSubscribe(req, tx);
      case 'NOTIFY':
        return this.onUnsolicitedNotify(req, tx);
      case 'BYE':
      case 'INFO':
      case 'REFER':
      case 'UPDATE':
      case 'PRACK':
        return this.reply(tx, req, 481, 'Call/Transaction Does Not Exist');
      default:
        return this.reply(tx, req, 405, 'Method Not Allowed', [['Allow', ALLOW]]);
    }
  }

  private onCancel(req: SipMessage, tx: ServerTransaction): void {
    const invite = this.stack.findInviteForCancel(req);
    const call = invite ? this.invites.get(invite) : undefined;
    if (!call) return this.reply(tx, req, 481, 'Call/Transaction Does Not Exist');
    tx.respond(this.stack.makeResponse(req, 200, 'OK'));
    call.handleCancel();
  }

  private onSubscribe(req: SipMessage, tx: ServerTransaction): void {
    if (this.closed) return this.reply(tx, req, 503, 'Service Unavailable');
    const ev = parseEvent(req.get('event'));
    if (!ev) return this.reply(tx, req, 400, 'Bad Request - missing or malformed Event header');
    const expires = parseExpires(req.get('expires'));
    if (expires !== undefined && Number.isNaN(expires)) return this.reply(tx, req, 400, 'Bad Request - malformed Expires');
    // Nobody here serves events (a phone whose own SUBSCRIBE the proxy forked back to it, too): nothing can loop.
    if (this.listenerCount('subscribe') === 0) return this.reply(tx, req, 489, 'Bad Event');
    let sub: IncomingSubscription;
    try {
      sub = new IncomingSubscription(this.ctx, this.subHost, req, tx, ev, expires);
    } catch {
      return this.reply(tx, req, 400, 'Bad Request - malformed From or To');
    }
    this.subscriptions.add(sub);
    this.emit('subscribe', sub);
  }

  private onUnsolicitedNotify(req: SipMessage, tx: ServerTransaction): void {
    const ev = parseEvent(req.get('event'));
    if (!ev) return this.reply(tx, req, 400, 'Bad Request - missing or malformed Event header');
    if (!this.notifyEvents.has(ev.type) || this.listenerCount('notify') === 0) {
      return this.reply(tx, req, 489, 'Bad Event', this.notifyEvents.size ? [['Allow-Events', [...this.notifyEvents].join(', ')]] : []);
    }
    let from: string;
    try {
      from = req.from.uri;
    } catch {
      return this.reply(tx, req, 400, 'Bad Request - malformed From');
    }
    this.reply(tx, req, 200, 'OK');
    this.emit('notify', ev.type, req.body.toString('utf8'), req.get('content-type') ?? '', from);
  }

  private onInvite(req: SipMessage, tx: ServerTransaction): void {
    if (this.closed) return this.reply(tx, req, 503, 'Service Unavailable');
    const unsupported = unsupportedRequired(req);
    if (unsupported.length) return this.reply(tx, req, 420, 'Bad Extension', [['Unsupported', unsupported.join(', ')]]);
    const brief = tooBriefSessionExpires(req, this.ctx.minSessionExpires);
    if (brief) return this.reply(tx, req, brief.status, brief.reason, brief.headers);
    if (req.body.length > 0) {
      if (!isSdp(req)) return this.reply(tx, req, 415, 'Unsupported Media Type', [['Accept', 'application/sdp']]);
      try {
        parseSdp(req.body.toString('utf8'));
      } catch (err) {
        if (!(err instanceof SdpError)) throw err;
        this.counters.sdpRejected++;
        const warning = warningValue(err, this.ctx.hostFor(tx.source));
        this.reply(tx, req, 488, 'Not Acceptable Here', [['Warning', warning]]);
        this.emit('offerRejected', req.get('from') ?? '', warning);
        return;
      }
    }
    let replaced: Call | undefined;
    const replaces = req.get('replaces');
    if (replaces !== undefined) {
      const id = parseReplaces(replaces);
      if (!id) return this.reply(tx, req, 400, 'Bad Request - malformed Replaces');
      // RFC 3891 §3: to-tag is our tag, from-tag the peer's.
      replaced = this.dialogs.get(dialogKey(id.callId, id.toTag, id.fromTag));
      if (!replaced || replaced.state === 'ended') return this.reply(tx, req, 481, 'Call/Transaction Does Not Exist');
      if (id.earlyOnly && replaced.state === 'answered') return this.reply(tx, req, 486, 'Busy Here');
      if (replaced.direction === 'incoming' && replaced.state !== 'answered') return this.reply(tx, req, 481, 'Call/Transaction Does Not Exist');
    }
    const call = new IncomingCall(this.ctx, this.host, req, tx);
    this.counters.callsReceived++;
    this.calls.add(call);
    this.invites.set(tx, call);
    if (replaced) {
      const old = replaced;
      call.replaces = old;
      // The replacing call is answered at once; its owner hears of it through the old call's `replaced`.
      call.accept().then(
        () => old.replacedBy(call),
        () => undefined,
      );
      return;
    }
    if (this.listenerCount('incoming') === 0) return call.reject(480, 'Temporarily Unavailable');
    this.emit('incoming', call);
  }

  private onStrayResponse(res: SipMessage): void {
    let method: string;
    try {
      method = res.cseq.method;
    } catch {
      return;
    }
    if (method !== 'INVITE' || res.status < 200 || res.status >= 300) return;
    const call = this.dialogs.get(dialogKey(res.callId, res.fromTag ?? '', res.toTag ?? ''));
    if (call) call.handleStray2xx(res);
    else this.strayAnswer(res);
  }

  /** A 2xx to an INVITE no call wants (a late fork, or after we gave up): ACK and BYE it (§13.2.2.4). */
  private strayAnswer(res: SipMessage): void {
    if (!res.toTag) return;
    let dialog: Dialog;
    try {
      const from = res.get('from') ?? '';
      const to = res.get('to') ?? '';
      const contact = res.get('contact');
      if (!contact) return;
      const fake = SipMessage.request('INVITE', parseNameAddr(contact).uri, [['From', from], ['To', to], ['Call-ID', res.callId], ['CSeq', res.get('cseq') ?? '']]);
      dialog = Dialog.fromUac(fake, res);
    } catch {
      return;
    }
    const ack = dialog.createAck(res.cseq.seq);
    const bye = dialog.createRequest('BYE');
    const send = (dest: Peer): void => {
      this.ctx.sendAck(ack, dest);
      try {
        this.ctx.send(bye, dest, { onResponse: () => undefined, onTimeout: () => undefined });
      } catch {
        /* nothing more to do for a call nobody wants */
      }
    };
    // Unroutable: the peer's own timers will end it.
    this.ctx.inDialogDest(ack).then(send, () => undefined);
  }
}

/** Where an in-dialog request goes: its top Route, else its Request-URI (a bad Route rejects). */
async function inDialogTarget(req: SipMessage, proto: Proto): Promise<Peer> {
  const route = req.get('route');
  return resolveUri(route ? parseNameAddr(route).uri : req.uri, proto);
}
