/**
 * The routing decision, in one readable place as in a Kamailio route block:
 * sanity checks, loose routing, authentication, registrar, location lookup
 * and stateful forwarding with Record-Route.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Credential } from '../sip/auth/digest.js';
import { newTag } from '../sip/dialog/ids.js';
import { protoOf, resolveUri } from '../sip/resolve.js';
import type { DigestServer, VerifyResult } from '../sip/auth/server.js';
import { SipParseError } from '../sip/errors.js';
import { parseNameAddr } from '../sip/headers.js';
import type { SipMessage } from '../sip/message.js';
import { SipStack, type StackOptions } from '../sip/stack.js';
import type { ServerTransaction } from '../sip/transaction/index.js';
import { isWebSocket, type LocalEndpoint, type Peer } from '../sip/transport/types.js';
import { parseUri, type SipUri } from '../sip/uri.js';
import { formatEndpoint } from '../util/listen.js';
import { methodLabel } from '../sip/tally.js';
import type { Clock } from '../util/clock.js';
import { detach, silentLogger, type Logger } from '../util/log.js';
import { LogThrottle } from '../util/log-throttle.js';
import { TlsVerifyError } from '../sip/transport/index.js';
import { CallLedger } from './call-ledger.js';
import { ResponseContext } from './forward.js';
import { isLoop, loopHash, proxyBranch } from './loop.js';
import type { Binding, Registrar } from './registrar.js';

export interface ProxyOptions {
  domain: string;
  /** Other host names and addresses that mean this server. */
  aliases: string[];
  timerCSeconds: number;
  credentials: (user: string) => Credential | undefined;
  isUser: (user: string) => boolean;
  log?: Logger;
  /** A source failed digest authentication (fail2ban's job: count and maybe ban it). */
  onAuthFailure?: (source: Peer, user: string, method: string) => void;
  /** Dialogs at which a new INVITE is refused with 503 (by the stack, statelessly); no limit when absent or 0. */
  maxDialogs?: number;
  /** The application server (the PBX) calls are handed to, as Kamailio hands them to Asterisk. */
  application?: ApplicationRoute;
  /**
   * Whether an authenticated user may register or send requests from
   * `source` (users.N.allow); false is answered 403. The owner of the list
   * logs and counts the refusal.
   */
  allowedSource?: (user: string, source: Peer, method: string) => boolean;
  /**
   * A stream connection closed (after the registrar forgot its flows). Calls
   * whose route set names it as a browser's flow (flowsIn) can no longer
   * reach that browser: their owner ends them.
   */
  onConnectionClosed?: (connectionId: number) => void;
}

/**
 * What the proxy asks of the application it hands calls to. The composition
 * root builds it from the PBX; the proxy never imports the PBX.
 */
export interface ApplicationRoute {
  /** The application's own SIP agent: its requests are trusted (no challenge) and go to phones or out. */
  isApplication(source: Peer): boolean;
  /** Where handed-over requests go. */
  peer(): Peer;
  /**
   * Whether a new request from a local user for `user` at our domain is the
   * application's; `source` is where it came from (a browser's WebSocket
   * says its media needs the gateway).
   */
  wants(req: SipMessage, user: string, source: Peer): boolean;
  /** The name of the IP-authenticated trunk `source` belongs to, if any. */
  trunkFor(source: Peer): string | undefined;
}

/** Identity headers only the application may see from us: whatever a phone sends in them is removed. */
export const ASSERTED_IDENTITY = 'P-Asserted-Identity';
export const TRUNK_HEADER = 'P-Switchboard-Trunk';

/** Methods that create a dialog, so the proxy must stay on their path with Record-Route. */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);
const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, REFER, MESSAGE, SUBSCRIBE, NOTIFY';

export interface ProxyCounters {
  requests: number;
  forwarded: number;
  authFailures: number;
  /** The same by method (bounded: unknown methods count as `other`). */
  authFailuresByMethod: Record<string, number>;
  rejected: Record<number, number>;
}

export class Proxy {
  /** The proxy owns its stack: every request, stray ACK and response the stack hears comes here. */
  readonly stack: SipStack;
  /** The calls this proxy record-routed, for status and metrics. */
  readonly calls: CallLedger;
  readonly counters: ProxyCounters = { requests: 0, forwarded: 0, authFailures: 0, authFailuresByMethod: {}, rejected: {} };
  private readonly contexts = new Map<ServerTransaction, ResponseContext>();
  private forkCounter = 0;
  private readonly log: Logger;
  private readonly refusalLogs: LogThrottle;
  /** A next hop with a bad certificate is logged once a minute, however many requests go its way. */
  private readonly tlsFailureLogs: LogThrottle;

  private readonly clock: Clock;
  /** Signs flow tokens; per process, like the connections they name. */
  private readonly flowKey = randomBytes(32);

  constructor(
    stackOptions: Omit<StackOptions, 'handlers'>,
    private readonly registrar: Registrar,
    private readonly auth: DigestServer,
    private readonly opts: ProxyOptions,
  ) {
    this.log = opts.log ?? silentLogger;
    this.clock = stackOptions.clock;
    this.refusalLogs = new LogThrottle(this.clock);
    this.calls = new CallLedger(this.clock);
    this.tlsFailureLogs = new LogThrottle(this.clock);
    this.stack = new SipStack({
      ...stackOptions,
      handlers: {
        onRequest: (req, tx, source, local) => this.onRequest(req, tx, source, local),
        onStatelessAck: (ack, source) => detach(this.onStatelessAck(ack, source), this.log, 'relaying an ACK', { callId: ack.callId }),
        onStrayResponse: (res) => this.onStrayResponse(res),
        onConnectionClosed: (id) => {
          registrar.connectionClosed(id);
          opts.onConnectionClosed?.(id);
        },
      },
    });
    const maxDialogs = opts.maxDialogs;
    if (maxDialogs) {
      const calls = this.calls;
      this.stack.addLimit({ name: 'dialogs', methods: ['INVITE'], reached: () => calls.size >= maxDialogs, usage: () => ({ value: calls.size, max: maxDialogs }) });
    }
    this.stack.setLocalNames([opts.domain, ...opts.aliases]);
  }

  private isOurs = (host: string, port: number | undefined): boolean => this.stack.isLocalAddress(host, port);

  /** Stops every response context's timers, then the stack (its transactions and sockets). */
  async close(): Promise<void> {
    for (const ctx of this.contexts.values()) ctx.close();
    this.contexts.clear();
    await this.stack.close();
  }

  /** Kamailio's `uri == myself`: our name or address, and our port when one is given. */
  private isOurDomain(uri: SipUri): boolean {
    return uri.port === undefined ? this.stack.isLocalHost(uri.host) : this.stack.isLocalAddress(uri.host, uri.port);
  }

  private reply(tx: ServerTransaction, req: SipMessage, status: number, reason: string, extra: [string, string][] = [], logged = false): void {
    if (status >= 300) this.counters.rejected[status] = (this.counters.rejected[status] ?? 0) + 1;
    if (status === 403 && !logged) {
      // A refusal an operator may need to explain; retransmissions never get here (the transaction
      // answers them), and a scanner's relay attempts cost one line per source per minute.
      const src = tx.source;
      const seen = this.refusalLogs.admit(src.address);
      if (seen.log) {
        this.log.info({ source: formatEndpoint(src), method: req.method, callId: req.callId, uri: req.uri, suppressed: seen.suppressed || undefined }, `refused: ${reason}`);
      }
    }
    tx.respond(this.stack.makeResponse(req, status, reason, extra, newTag()));
  }

  private onRequest(req: SipMessage, tx: ServerTransaction, source: Peer, local: LocalEndpoint): void {
    this.counters.requests++;
    // §16.3 request validation.
    let ruri: SipUri;
    try {
      ruri = parseUri(req.uri);
    } catch (err) {
      const e = err as SipParseError;
      this.reply(tx, req, e.status ?? 400, e.status === 416 ? 'Unsupported URI Scheme' : `Bad Request-URI`);
      return;
    }
    const mf = req.get('max-forwards');
    if (mf !== undefined && Number(mf) === 0) {
      if (req.method === 'OPTIONS' && this.isOurDomain(ruri) && !ruri.user) return this.options(tx, req);
      return this.reply(tx, req, 483, 'Too Many Hops');
    }
    const proxyRequire = req.getAll('proxy-require');
    if (proxyRequire.length && req.method !== 'CANCEL') {
      return this.reply(tx, req, 420, 'Bad Extension', [['Unsupported', proxyRequire.join(', ')]]);
    }
    if (req.method === 'CANCEL') return this.onCancel(req, tx);

    const hash = loopHash(req);
    if (isLoop(req, hash, this.isOurs)) return this.reply(tx, req, 482, 'Loop Detected');

    // §16.4: a strict router before us put our Record-Route URI in the Request-URI.
    let routedViaUs = false;
    if (this.isOurs(ruri.host, ruri.port) && ruri.params.has('lr')) {
      routedViaUs = true;
      const routes = req.getAll('route');
      const last = routes.pop();
      if (last) {
        req.remove('route');
        for (const r of routes) req.add('Route', r);
        req.uri = parseNameAddr(last).uri;
        ruri = parseUri(req.uri);
      }
    }
    const own = this.popOwnRoutes(req);
    if (own.count > 0) routedViaUs = true;

    if (req.toTag !== undefined) {
      // Only dialogs we record-routed pass: a To tag alone must not turn us into an open relay.
      if (routedViaUs) return this.own(this.forwardInDialog(req, tx, hash, flowTarget(own.flows, source)), tx, req);
      if (req.method === 'ACK') return;
      return this.reply(tx, req, 404, 'Not Here');
    }
    if (req.has('route')) {
      // A preloaded route set we are not the head of: only our own users may use us as a relay.
      if (this.authenticated(req, tx)) this.own(this.forwardToRoute(req, tx, hash), tx, req);
      return;
    }

    if (req.method === 'REGISTER') return this.own(this.onRegister(req, tx, ruri, source, local), tx, req);
    if (req.method === 'OPTIONS' && this.isOurDomain(ruri) && !ruri.user) return this.options(tx, req);
    if (req.method === 'ACK') return; // ACK with no To tag and no transaction: nothing to do.

    const toLocal = this.isOurDomain(ruri);
    const app = this.opts.application;
    if (app?.isApplication(source)) {
      // The PBX's own legs: it already decided; phones are found by location, the rest resolved.
      if (toLocal) this.toLocalUser(req, tx, ruri, hash);
      else this.own(this.forwardToUri(req, tx, hash), tx, req);
      return;
    }
    if (app) {
      req.remove(ASSERTED_IDENTITY.toLowerCase());
      req.remove(TRUNK_HEADER.toLowerCase());
    }
    const trunk = app?.trunkFor(source);
    if (trunk !== undefined && app) {
      // A carrier's call: the application routes it by DID, whatever domain it names.
      req.set(TRUNK_HEADER, trunk);
      return this.toApplication(req, tx, hash, app);
    }
    if (this.fromLocalDomain(req)) {
      if (!this.authenticated(req, tx)) return;
      if (toLocal && app && ruri.user !== undefined && app.wants(req, ruri.user, source)) {
        req.set(ASSERTED_IDENTITY, `<${req.from.uri}>`);
        return this.toApplication(req, tx, hash, app);
      }
      if (toLocal) this.toLocalUser(req, tx, ruri, hash);
      else this.own(this.forwardToUri(req, tx, hash), tx, req);
      return;
    }
    if (!toLocal) return this.reply(tx, req, 403, 'Relaying Denied');
    this.toLocalUser(req, tx, ruri, hash);
  }

  /** Hands a request to the application server, staying on the dialog's path (Record-Route). */
  private toApplication(req: SipMessage, tx: ServerTransaction, hash: string, app: ApplicationRoute): void {
    const dest = app.peer();
    const ctx = this.newContext(req, tx);
    ctx.fork(this.prepare(req, tx, req.uri, dest, hash, true), dest);
    this.counters.forwarded++;
  }

  /**
   * Owns the work a request started but did not finish synchronously: a
   * failure answers that request with a 500 and is logged, and the proxy
   * keeps serving everyone else.
   */
  private own(work: Promise<void>, tx: ServerTransaction, req: SipMessage): void {
    work.catch((err: unknown) => {
      this.log.error({ err, callId: req.callId, method: req.method }, 'request failed inside the proxy; answered 500');
      // The transaction discards this if a final response already went out.
      this.reply(tx, req, 500, 'Server Internal Error');
    });
  }

  private fromLocalDomain(req: SipMessage): boolean {
    try {
      return this.isOurDomain(parseUri(req.from.uri));
    } catch {
      return false;
    }
  }

  private options(tx: ServerTransaction, req: SipMessage): void {
    this.reply(tx, req, 200, 'OK', [
      ['Allow', ALLOW],
      ['Accept', 'application/sdp'],
      ['Supported', 'path, outbound'],
      ['Content-Length', '0'],
    ]);
  }

  /**
   * Removes the Route entries that name us (two of them after a double
   * Record-Route); says how many, and the browser flows their tokens name.
   */
  private popOwnRoutes(req: SipMessage): { count: number; flows: number[] } {
    let popped = 0;
    const flows: number[] = [];
    for (; popped < 2; popped++) {
      const top = req.get('route');
      if (!top) break;
      let uri: SipUri;
      try {
        uri = parseUri(parseNameAddr(top).uri);
      } catch {
        break;
      }
      if (!this.isOurs(uri.host, uri.port)) break;
      const flow = this.flowOf(uri);
      if (flow !== undefined) flows.push(flow);
      req.removeFirst('route');
    }
    return { count: popped, flows };
  }

  /**
   * A flow token (RFC 5626 §5.3) for a browser's WebSocket: its connection id,
   * signed so that nobody can steer requests into another browser's connection.
   */
  private flowToken(connectionId: number): string {
    const mac = createHmac('sha256', this.flowKey).update(String(connectionId)).digest('hex').slice(0, 16);
    return `${connectionId}.${mac}`;
  }

  /**
   * The browser connections (flows) our own entries in a dialog's route set
   * (Record-Route / Route values) name: where that dialog's requests to a
   * browser go, and nowhere else.
   */
  flowsIn(routes: readonly string[]): number[] {
    const out: number[] = [];
    for (const r of routes) {
      try {
        const uri = parseUri(parseNameAddr(r).uri);
        const flow = this.isOurs(uri.host, uri.port) ? this.flowOf(uri) : undefined;
        if (flow !== undefined) out.push(flow);
      } catch {
        /* not a URI of ours */
      }
    }
    return out;
  }

  /** The connection a Route URI's flow token names, when the token is ours. */
  private flowOf(uri: SipUri): number | undefined {
    const token = uri.params.get('flow');
    if (!token) return undefined;
    const id = Number(token.slice(0, token.indexOf('.')));
    return Number.isSafeInteger(id) && id > 0 && this.flowToken(id) === token ? id : undefined;
  }

  /**
   * Challenges a request whose From claims one of our users (RFC 3261 §22.3);
   * true when it may go on. Unknown user and wrong password get the same 407.
   */
  private authenticated(req: SipMessage, tx: ServerTransaction): boolean {
    if (req.method === 'ACK') return true;
    const result = this.verify(tx, req, true);
    if (!result) return false;
    if (!result.ok) {
      this.authFailed(req, tx.source, result);
      this.reply(tx, req, 407, 'Proxy Authentication Required', this.auth.challenge(true, result.stale));
      return false;
    }
    let fromUser: string | undefined;
    try {
      fromUser = parseUri(req.from.uri).user;
    } catch {
      fromUser = undefined;
    }
    if (fromUser !== result.user) {
      this.reply(tx, req, 403, 'Forbidden - From does not match the authenticated user');
      return false;
    }
    if (!this.sourceAllowed(result.user, tx.source, req.method)) {
      this.reply(tx, req, 403, 'Forbidden - not allowed from this address', [], true);
      return false;
    }
    // Credentials are for us only; never pass them downstream.
    req.remove('proxy-authorization');
    return true;
  }

  /**
   * A login that gave credentials and failed them (wrong password, unknown
   * user, forged nonce): counted, logged once (retransmissions never reach
   * here), and reported to whoever bans sources that fail too often. A first
   * request without credentials, or a stale nonce, is no failure.
   */
  private authFailed(req: SipMessage, source: Peer, result: Extract<VerifyResult, { ok: false }>): void {
    if (result.user === undefined || result.stale) return;
    this.counters.authFailures++;
    const m = methodLabel(req.method);
    this.counters.authFailuresByMethod[m] = (this.counters.authFailuresByMethod[m] ?? 0) + 1;
    this.log.warn(
      { source: formatEndpoint(source), user: result.user, method: req.method, callId: req.callId, reason: result.reason },
      `authentication failed for user "${result.user}" from ${source.address}`,
    );
    this.opts.onAuthFailure?.(source, result.user, req.method);
  }

  /** users.N.allow: the list's owner logs and counts a refusal, so the 403 is not logged again here. */
  private sourceAllowed(user: string, source: Peer | undefined, method: string): boolean {
    const check = this.opts.allowedSource;
    return !check || !source || check(user, source, method);
  }

  /** Digest check; malformed credentials get a 400 naming the problem (and undefined here). */
  private verify(tx: ServerTransaction, req: SipMessage, proxy: boolean): VerifyResult | undefined {
    try {
      return this.auth.verify(req, proxy, this.opts.credentials);
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      this.reply(tx, req, 400, `Bad Request - ${err.message}`);
      return undefined;
    }
  }

  private async onRegister(req: SipMessage, tx: ServerTransaction, ruri: SipUri, source: Peer, local: LocalEndpoint): Promise<void> {
    if (!this.isOurDomain(ruri)) return this.reply(tx, req, 403, 'Forbidden - not a domain served here');
    const require = req.getAll('require').filter((o) => o !== 'path' && o !== 'outbound');
    if (require.length) return this.reply(tx, req, 420, 'Bad Extension', [['Unsupported', require.join(', ')]]);
    const result = this.verify(tx, req, false);
    if (!result) return;
    if (!result.ok) {
      this.authFailed(req, source, result);
      return this.reply(tx, req, 401, 'Unauthorized', this.auth.challenge(false, result.stale));
    }
    let aorUser: string | undefined;
    try {
      aorUser = parseUri(req.to.uri).user;
    } catch {
      return this.reply(tx, req, 400, 'Bad Request - malformed To URI');
    }
    if (aorUser !== result.user) return this.reply(tx, req, 403, 'Forbidden - you may only register your own address');
    if (!this.sourceAllowed(result.user, source, req.method)) return this.reply(tx, req, 403, 'Forbidden - not allowed from this address', [], true);
    const outcome = await this.registrar.register(req, result.user, source, local);
    this.reply(tx, req, outcome.status, outcome.reason, outcome.headers);
  }

  private toLocalUser(req: SipMessage, tx: ServerTransaction, ruri: SipUri, hash: string): void {
    const user = ruri.user;
    if (!user || !this.opts.isUser(user)) return this.reply(tx, req, 404, 'Not Found');
    const bindings = this.registrar.lookup(user);
    if (bindings.length === 0) return this.reply(tx, req, 480, 'Temporarily Unavailable');
    const ctx = this.newContext(req, tx);
    for (const b of bindings) {
      const dest = bindingPeer(b);
      ctx.fork(this.prepare(req, tx, b.contact, dest, hash, true), dest);
      this.counters.forwarded++;
    }
  }

  private async forwardToUri(req: SipMessage, tx: ServerTransaction, hash: string): Promise<void> {
    let dest: Peer;
    try {
      dest = await resolveUri(parseUri(req.uri));
    } catch {
      return this.reply(tx, req, 404, 'Not Found - cannot resolve the destination');
    }
    const ctx = this.newContext(req, tx);
    ctx.fork(this.prepare(req, tx, req.uri, dest, hash, true), dest);
    this.counters.forwarded++;
  }

  private async forwardToRoute(req: SipMessage, tx: ServerTransaction, hash: string): Promise<void> {
    const dest = await this.nextHop(req);
    if (dest === BROWSER_GONE) return this.reply(tx, req, 480, BROWSER_GONE_REASON);
    if (!dest) return this.reply(tx, req, 404, 'Not Found - cannot resolve the next hop');
    const ctx = this.newContext(req, tx);
    ctx.fork(this.prepare(req, tx, req.uri, dest, hash, false), dest);
    this.counters.forwarded++;
  }

  private async forwardInDialog(req: SipMessage, tx: ServerTransaction, hash: string, flow: number | undefined): Promise<void> {
    const dest = flow === undefined ? await this.nextHop(req) : (this.stack.connectionPeer(flow) ?? BROWSER_GONE);
    if (dest === BROWSER_GONE) return this.reply(tx, req, 480, BROWSER_GONE_REASON);
    if (!dest) return this.reply(tx, req, 404, 'Not Found - no route for this in-dialog request');
    if (req.method === 'BYE') this.calls.ended(req.callId);
    const ctx = this.newContext(req, tx);
    ctx.fork(this.prepare(req, tx, req.uri, dest, hash, false), dest);
    this.counters.forwarded++;
  }

  /**
   * Where an in-dialog (or pre-routed) request goes: the top Route if any,
   * else the Request-URI. A Request-URI that is a registered Contact goes to
   * where that phone registered from, so phones behind NAT get their BYE. A
   * browser's Contact (transport ws/wss, an .invalid host) is reachable only
   * through its registration's WebSocket: with that gone, BROWSER_GONE.
   */
  private async nextHop(req: SipMessage): Promise<Peer | typeof BROWSER_GONE | undefined> {
    try {
      const route = req.get('route');
      if (route) return await resolveUri(parseUri(parseNameAddr(route).uri));
      const uri = parseUri(req.uri);
      const binding = this.registrar.byContact(req.uri);
      if (binding) return bindingPeer(binding);
      if (isWebSocket(protoOf(uri))) return BROWSER_GONE;
      return await resolveUri(uri);
    } catch {
      return undefined;
    }
  }

  private newContext(req: SipMessage, tx: ServerTransaction): ResponseContext {
    // 100 Trying is left to the transaction layer, which sends it only if no answer came
    // within 200 ms (RFC 3261 §16.2): on a fast path that saves one datagram per call.
    if (req.method === 'INVITE' && req.toTag === undefined) this.calls.invite();
    const ctx = new ResponseContext(this.stack, this.clock, tx, req, this.opts.timerCSeconds * 1000, {
      onAnswered: (res) => {
        if (req.toTag === undefined) this.calls.established(res.callId, req.get('from') ?? '', res.get('to') ?? '');
      },
      onFailed: (_status, cancelled) => {
        if (req.method === 'INVITE' && req.toTag === undefined) this.calls.failed(cancelled);
      },
      onDone: () => this.contexts.delete(tx),
      onTransportFailure: (dest, cause) => this.transportFailed(req, dest, cause),
    });
    this.contexts.set(tx, ctx);
    return ctx;
  }

  private transportFailed(req: SipMessage, dest: Peer, cause: Error): void {
    if (!(cause instanceof TlsVerifyError)) return;
    const seen = this.tlsFailureLogs.admit(`${cause.peer}|${cause.identity}`);
    if (!seen.log) return;
    this.log.warn(
      { dest: `tls:${cause.peer}`, name: cause.identity, problem: cause.problem, code: cause.code, callId: req.callId, method: req.method, suppressed: seen.suppressed || undefined },
      `TLS next hop refused: ${cause.problem}; answered 503. Trust its CA with sip.tls.ca (PEM file), or set sip.tls.verify: false`,
    );
  }

  /** The copy of `req` for one fork: new Request-URI, Max-Forwards, Record-Route, our Via (§16.6). */
  private prepare(req: SipMessage, tx: ServerTransaction, uri: string, dest: Peer, hash: string, recordRoute: boolean): SipMessage {
    const out = req.clone();
    out.uri = uri;
    const mf = req.get('max-forwards');
    out.set('Max-Forwards', String(mf === undefined ? 70 : Math.max(0, Number(mf) - 1)));
    if (recordRoute && DIALOG_CREATING.has(req.method) && req.toTag === undefined) {
      const inbound = this.inboundInterface(tx);
      const outbound = this.stack.localFor(dest);
      const outRr = this.rrUri(outbound.host, outbound.port, dest.proto, dest.connectionId);
      // Double Record-Route when the call changes transport or interface, so each side's
      // in-dialog requests name the interface they can reach; and between two browsers,
      // so each side's entry carries its own flow.
      if (inbound && (inbound.proto !== dest.proto || inbound.host !== outbound.host || inbound.port !== outbound.port || isWebSocket(dest.proto))) {
        out.prepend('Record-Route', this.rrUri(inbound.host, inbound.port, inbound.proto, inbound.connectionId));
      }
      out.prepend('Record-Route', outRr);
    }
    out.prepend('Via', this.stack.makeVia(dest, proxyBranch(hash, this.forkCounter++)));
    return out;
  }

  /** The interface a request came in on, as a host:port a peer can use (from its Via). */
  private inboundInterface(tx: ServerTransaction): { host: string; port: number; proto: Peer['proto']; connectionId?: number } | undefined {
    const src = tx.source;
    if (!src) return undefined;
    const local = this.stack.localFor(src);
    return { host: local.host, port: local.port, proto: src.proto, connectionId: src.connectionId };
  }

  /**
   * Our Record-Route entry on one side of a call. A browser's side names its
   * WebSocket with a flow token: its Contact (an .invalid host) reaches
   * nothing, and it may not be registered at all.
   */
  private rrUri(host: string, port: number, proto: Peer['proto'], connectionId?: number): string {
    const scheme = 'sip';
    const transport = proto === 'udp' ? '' : `;transport=${proto}`;
    const flow = isWebSocket(proto) && connectionId !== undefined ? `;flow=${this.flowToken(connectionId)}` : '';
    return `<${scheme}:${host}:${port}${transport}${flow};lr>`;
  }

  private onCancel(req: SipMessage, tx: ServerTransaction): void {
    const invite = this.stack.findInviteForCancel(req);
    const ctx = invite ? this.contexts.get(invite) : undefined;
    if (!invite || !ctx) return this.reply(tx, req, 481, 'Call/Transaction Does Not Exist');
    this.reply(tx, req, 200, 'OK');
    ctx.cancel();
  }

  /** ACK for a 2xx: routed end to end like any in-dialog request, without a transaction. */
  private async onStatelessAck(ack: SipMessage, source: Peer): Promise<void> {
    const mf = ack.get('max-forwards');
    if (mf !== undefined && Number(mf) === 0) return;
    // An ACK that did not come through our Record-Route is not ours to relay.
    const own = this.popOwnRoutes(ack);
    if (own.count === 0) return;
    this.calls.acknowledged(ack.callId);
    const flow = flowTarget(own.flows, source);
    const dest = flow === undefined ? await this.nextHop(ack) : (this.stack.connectionPeer(flow) ?? BROWSER_GONE);
    if (!dest || dest === BROWSER_GONE) return;
    const out = ack.clone();
    out.set('Max-Forwards', String(mf === undefined ? 70 : Number(mf) - 1));
    // Stateless forwarding: the branch must be the same for a retransmitted ACK (§16.11).
    out.prepend('Via', this.stack.makeVia(dest, proxyBranch(loopHash(ack), 0) + 'a'));
    this.stack.sendStateless(out, dest);
  }

  /** A response no transaction claims (a 2xx retransmission): strip our Via and pass it up. */
  private onStrayResponse(res: SipMessage): void {
    let top;
    try {
      top = res.via;
    } catch {
      return;
    }
    if (!this.isOurs(top.host, top.port)) return;
    res.removeFirst('via');
    const dest = this.stack.responseDestination(res);
    if (dest) this.stack.sendStateless(res, dest);
  }
}


/**
 * The browser flow an in-dialog request goes to: the one its Route named
 * that it did not come in on (from a browser, the other side's flow, if any).
 */
function flowTarget(flows: number[], source: Peer): number | undefined {
  return flows.find((f) => f !== source.connectionId);
}

/** nextHop's answer for a browser whose WebSocket is closed: nothing else reaches it. */
const BROWSER_GONE = 'browser-gone';
const BROWSER_GONE_REASON = 'Temporarily Unavailable - the browser\'s WebSocket connection is closed';

/** Where a registered phone is reached: the address (and connection, RFC 5626) it registered from. */
function bindingPeer(b: Binding): Peer {
  return { proto: b.source.proto as Peer['proto'], address: b.source.address, port: b.source.port, connectionId: b.connectionId };
}
