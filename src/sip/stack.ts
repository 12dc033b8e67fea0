/**
 * Glue between bytes and transactions: parses what the transport layer
 * delivers, answers malformed requests with the status RFC 3261 prescribes,
 * stamps received/rport on the top Via (RFC 3581), and hands the rest to the
 * transaction layer. Everything above (proxy, user agents) talks to this.
 */
import type { Clock } from '../util/clock.js';
import { Emitter } from '../util/emitter.js';
import { silentLogger, type Logger } from '../util/log.js';
import { LogThrottle } from '../util/log-throttle.js';
import { formatEndpoint, type ListenAddress } from '../util/listen.js';
import { hostAddress } from '../util/net.js';
import { newTag } from './dialog/ids.js';
import { SipParseError } from './errors.js';
import { formatVia, parseVia, type Via } from './headers.js';
import { parseMessage, SipMessage, validateMessage } from './message.js';
import { OverloadGuard, type HeapProbe, type Limit } from './overload.js';
import { MessageTally } from './tally.js';
import { TransactionLayer, type ClientTransaction, type ServerTransaction, type TimerValues } from './transaction/index.js';
import { TransportLayer, type ClientCertMode, type TransportOptions, type TransportStats } from './transport/index.js';
import type { Inbound, LocalEndpoint, Peer, Proto } from './transport/types.js';
import { defaultPort } from './resolve.js';
import { bareHost, uriHost } from './uri.js';

/**
 * Largest UDP datagram accepted. RFC 3261 §18.1.1 wants anything over 1300
 * bytes sent over TCP, but real phones send 10+ KB INVITEs and presence
 * NOTIFYs over UDP anyway, so we tolerate up to this; a bigger datagram only
 * arrives by heavy IP fragmentation, and its 513 (§21.5.14) tells the sender
 * to use TCP, where the 64 KiB header limit applies.
 */
export const MAX_DATAGRAM_BYTES = 32 * 1024;

export interface StackHandlers {
  /** A new request with its server transaction (every method but ACK). */
  onRequest(req: SipMessage, tx: ServerTransaction, source: Peer, local: LocalEndpoint): void;
  /** An ACK that matched no transaction: the ACK for a 2xx, to be routed end to end. */
  onStatelessAck(ack: SipMessage, source: Peer, local: LocalEndpoint): void;
  /** A response no client transaction claimed (e.g. a 2xx retransmission). */
  onStrayResponse(res: SipMessage, source: Peer): void;
  /** A stream connection closed: a registrar drops the flows (RFC 5626) bound to it. */
  onConnectionClosed?(connectionId: number, peer: Peer): void;
}

export type StackEvents = {
  /** Every message sent or received, as bytes (the trace recorder, --trace-sip). The bytes never change afterwards. */
  trace: [dir: 'in' | 'out', proto: Proto, local: { address: string; port: number }, remote: { address: string; port: number }, data: Buffer];
};

export interface StackOptions {
  /** The stack's one owner (a proxy, a user agent): what it hears, given at construction. */
  handlers: StackHandlers;
  clock: Clock;
  listen: ListenAddress[];
  timers: { T1: number; T2: number; T4: number };
  dataDir: string;
  /** TLS: certificate files, trusted CAs, peer verification and client certificates (TransportTlsOptions). */
  tls?: { cert?: string; key?: string; ca?: string[]; verify?: boolean; clientCerts?: ClientCertMode; hosts?: string[] };
  /** Address written into Via/Record-Route when bound to a wildcard address. */
  advertise?: string;
  userAgent?: string;
  /** Idle stream connections are closed after this long (default: the transport's). */
  idleTimeoutMs?: number;
  log?: Logger;
  /** Consulted for every message before it is parsed; false drops it unanswered (bans, flood control). */
  admit?: (source: Peer) => boolean;
  /** Refuse new requests with 503 + Retry-After before memory runs out (see overload.ts); none when absent. */
  limits?: StackLimits;
  /** Plain HTTP requests on a ws/wss listener's port (the browser phone); 404 without it. */
  http?: TransportOptions['http'];
  /** WebSocket message size limit and ping interval (TransportOptions.webSocket). */
  webSocket?: TransportOptions['webSocket'];
}

export interface StackLimits {
  /** Live transactions (client + server) at which new requests are refused; 0 or absent: no limit. */
  maxTransactions?: number;
  /** V8 heap in use (MB) at which new requests are refused; 0: 85% of V8's heap limit; absent: no heap limit. */
  heapWatermarkMb?: number;
  /** Where the heap is read (tests inject one); V8's own statistics by default. */
  heapProbe?: HeapProbe;
  /** Milliseconds between heap samples (default 1000). */
  sampleMs?: number;
  /** Retry-After of the 503 (default 5 s). */
  retryAfterS?: number;
}

export interface StackCounters {
  received: number;
  sent: number;
  /** Parsed messages received / sent, by method and status (retransmissions included). */
  inbound: MessageTally;
  outbound: MessageTally;
  malformed: number;
  /** Malformed messages by the status they got (0: dropped, nothing could be answered). */
  malformedByStatus: Record<number, number>;
  rejected: number;
  dropped: number;
  /** New requests refused with 503 because a limit was reached, by limit name (transactions, heap, dialogs). */
  overload: Record<string, number>;
}

export class SipStack extends Emitter<StackEvents> {
  private readonly transport: TransportLayer;
  private readonly transactions: TransactionLayer;
  readonly counters: StackCounters;
  private readonly handlers: StackHandlers;
  private bound: LocalEndpoint[] = [];
  private localNames = new Set<string>();
  /** localFor() answers by destination protocol and address family; endpoints never change after start. */
  private readonly localCache = new Map<string, { local: LocalEndpoint; host: string; port: number }>();
  /** Malformed input is logged once per source per minute, whatever the flood. */
  private readonly malformedLogs: LogThrottle;
  private readonly overload: OverloadGuard;

  constructor(private readonly opts: StackOptions) {
    super(opts.log ?? silentLogger);
    this.handlers = opts.handlers;
    this.malformedLogs = new LogThrottle(opts.clock);
    const limits = opts.limits;
    this.overload = new OverloadGuard({
      clock: opts.clock,
      log: this.log.child({ layer: 'sip/overload' }),
      heapWatermarkMb: limits?.heapWatermarkMb,
      heapProbe: limits?.heapProbe,
      sampleMs: limits?.sampleMs,
      retryAfterS: limits?.retryAfterS,
    });
    this.counters = {
      received: 0, sent: 0, inbound: new MessageTally(), outbound: new MessageTally(), malformed: 0, malformedByStatus: {}, rejected: 0, dropped: 0,
      overload: this.overload.refused,
    };
    this.transport = new TransportLayer({
      log: this.log.child({ layer: 'sip/transport' }),
      admit: opts.admit,
      tls: { certFile: opts.tls?.cert, keyFile: opts.tls?.key, dataDir: opts.dataDir, caFiles: opts.tls?.ca, verify: opts.tls?.verify, clientCerts: opts.tls?.clientCerts, hosts: opts.tls?.hosts },
      clock: opts.clock,
      idleTimeoutMs: opts.idleTimeoutMs,
      http: opts.http,
      webSocket: opts.webSocket,
      handlers: {
        message: (inb) => this.receive(inb),
        framingError: (source, _local, status, reason, head) => {
          this.noteMalformed(source, status, reason);
          if (status === 0) this.counters.dropped++;
          else this.rejectMalformed(head, source, status, reason);
        },
        sendError: (dest, err) => {
          this.counters.dropped++;
          // UDP send errors say little (ICMP may come late or never); a stream that cannot
          // be opened means the phone is gone, and its callers should hear so at once.
          if (dest.proto !== 'udp') this.transactions.transportFailed(dest, err);
        },
        connectionClosed: (id, peer) => this.handlers.onConnectionClosed?.(id, peer),
      },
    });
    this.transactions = new TransactionLayer({
      clock: opts.clock,
      timers: opts.timers,
      send: (msg, dest) => this.sendRaw(msg, dest),
    });
    const maxTx = limits?.maxTransactions;
    if (maxTx) {
      const tx = this.transactions;
      this.overload.add({ name: 'transactions', reached: () => tx.size >= maxTx, usage: () => ({ value: tx.size, max: maxTx }) });
    }
  }

  /** A limit of an upper layer (the proxy's dialog table): while reached, new requests it applies to get a 503. */
  addLimit(limit: Limit): void {
    this.overload.add(limit);
  }

  async start(): Promise<LocalEndpoint[]> {
    await this.transport.listen(this.opts.listen);
    this.bound = this.transport.endpoints();
    this.setLocalNames([...this.localNames]);
    this.overload.start();
    return this.bound;
  }

  async close(): Promise<void> {
    this.overload.stop();
    this.transactions.terminateAll();
    await this.transport.close();
  }

  endpoints(): LocalEndpoint[] {
    return this.bound;
  }

  /** The transaction timers in force (T1, T2, T4 and those derived from them). */
  get timers(): TimerValues {
    return this.transactions.timers;
  }

  /** Live transactions by side, and the transport's counters (for status and metrics). */
  stats(): { transactions: { client: number; server: number }; transport: TransportStats } {
    return { transactions: this.transactions.stats(), transport: this.transport.stats() };
  }

  /** Where an open connection (a flow, RFC 5626) leads; undefined once it closed. */
  connectionPeer(connectionId: number): Peer | undefined {
    return this.transport.connectionPeer(connectionId);
  }

  /** §9.2: the INVITE server transaction a CANCEL refers to, if it is still alive. */
  findInviteForCancel(cancel: SipMessage): ServerTransaction | undefined {
    return this.transactions.findForCancel(cancel);
  }

  /**
   * Resolves once no INVITE server transaction still waits for the ACK of its
   * failure response, or after `timeoutMs` (virtual time in tests).
   */
  drain(timeoutMs: number): Promise<void> {
    return this.transactions.drain(timeoutMs);
  }

  /** The local endpoint we send from toward `dest`, and the host:port to advertise for it. */
  localFor(dest: { proto: Proto; address: string }): { local: LocalEndpoint; host: string; port: number } {
    const v6 = dest.address.includes(':');
    const loopback = dest.address.startsWith('127.') || dest.address === '::1' || dest.address === '[::1]';
    const key = `${dest.proto}${v6 ? 6 : 4}${loopback ? 'l' : ''}`;
    const cached = this.localCache.get(key);
    if (cached) return cached;
    const found = this.computeLocalFor(dest.proto, v6, dest.address);
    if (this.bound.length) this.localCache.set(key, found);
    return found;
  }

  private computeLocalFor(proto: Proto, v6: boolean, toward: string): { local: LocalEndpoint; host: string; port: number } {
    const sameProto = this.bound.filter((e) => e.proto === proto);
    const pick =
      sameProto.find((e) => e.address.includes(':') === v6) ??
      sameProto[0] ??
      this.bound.find((e) => e.proto === 'udp') ??
      this.bound[0];
    if (!pick) throw new Error('SIP stack is not listening on any address');
    return { local: pick, host: uriHost(this.advertised(pick, toward)), port: pick.port };
  }

  private advertised(e: LocalEndpoint, toward: string): string {
    if (e.address !== '0.0.0.0' && e.address !== '::') return e.address;
    if (this.opts.advertise) return this.opts.advertise;
    // Bound to every interface with no advertised name: loopback peers get loopback, others the host's address.
    const t = bareHost(toward);
    if (t.startsWith('127.') || t === '::1') return e.address === '::' ? '::1' : '127.0.0.1';
    return hostAddress(e.address === '::' ? 6 : 4);
  }

  /** Names and addresses that mean this server (domain, aliases), besides the bound addresses. */
  setLocalNames(names: string[]): void {
    this.localNames = new Set(names.map((n) => bareHost(n).toLowerCase()));
    if (this.opts.advertise) this.localNames.add(bareHost(this.opts.advertise).toLowerCase());
    for (const e of this.bound) if (e.address !== '0.0.0.0' && e.address !== '::') this.localNames.add(e.address.toLowerCase());
  }

  /** Is this host (name or address, IPv6 with or without brackets) this server? */
  isLocalHost(host: string): boolean {
    return this.localNames.has(bareHost(host).toLowerCase());
  }

  /** Is host:port one of our listeners? A missing port means the SIP default, as in a URI. */
  isLocalAddress(host: string, port: number | undefined): boolean {
    if (!this.isLocalHost(host)) return false;
    // A missing port means the default of either kind: sip:host reaches 5060, sips:host 5061.
    if (port === undefined) return this.bound.some((e) => e.port === defaultPort('udp') || e.port === defaultPort('tls'));
    return this.bound.some((e) => e.port === port);
  }

  /**
   * Our Via for a request going toward `dest`. `sentBy` replaces the local
   * host (and port, when given): a phone behind NAT writes its public address.
   */
  makeVia(dest: Peer, branch: string, sentBy?: { host: string; port?: number }): string {
    const local = this.localFor(dest);
    const host = sentBy ? uriHost(sentBy.host) : local.host;
    const port = sentBy?.port ?? local.port;
    const via: Via = { protocol: 'SIP/2.0', transport: dest.proto.toUpperCase(), host, port, params: new Map([['branch', branch], ['rport', null]]) };
    return formatVia(via);
  }

  client(req: SipMessage, dest: Peer, handlers: Parameters<TransactionLayer['createClient']>[2]): ClientTransaction {
    return this.transactions.createClient(req, dest, handlers);
  }

  /** Sends outside any transaction: ACK for 2xx, forwarded stray responses. */
  sendStateless(msg: SipMessage, dest: Peer): void {
    this.sendRaw(msg, dest);
  }

  /** Where a response goes according to its (new) top Via (RFC 3261 §18.2.2, RFC 3581). */
  responseDestination(res: SipMessage): Peer | undefined {
    let via: Via;
    try {
      via = res.via;
    } catch {
      return undefined;
    }
    const proto = via.transport.toLowerCase() as Proto;
    const address = bareHost(via.params.get('received') ?? via.host);
    const rport = via.params.get('rport');
    const port = rport ? Number(rport) : via.port ?? defaultPort(proto);
    return { proto, address, port };
  }

  /** Builds a response to `req` copying the headers RFC 3261 §8.2.6.2 asks for. */
  makeResponse(req: SipMessage, status: number, reason: string, extra: [string, string][] = [], toTag?: string): SipMessage {
    const headers: [string, string][] = [];
    for (const v of req.getAll('via')) headers.push(['Via', v]);
    const from = req.get('from');
    if (from !== undefined) headers.push(['From', from]);
    const to = req.get('to');
    if (to !== undefined) {
      const needsTag = status > 100 && toTag !== undefined && !/;\s*tag=/i.test(to);
      headers.push(['To', needsTag ? `${to};tag=${toTag}` : to]);
    }
    headers.push(['Call-ID', req.callId]);
    const cseq = req.get('cseq');
    if (cseq !== undefined) headers.push(['CSeq', cseq]);
    if (status === 100) {
      const ts = req.get('timestamp');
      if (ts !== undefined) headers.push(['Timestamp', ts]);
    }
    headers.push(...extra);
    if (this.opts.userAgent) headers.push(['Server', this.opts.userAgent]);
    return SipMessage.response(status, reason, headers);
  }

  private sendRaw(msg: SipMessage, dest: Peer): void {
    const data = msg.toBuffer();
    this.counters.sent++;
    this.counters.outbound.count(msg);
    if (this.listenerCount('trace') > 0) this.emit('trace', 'out', dest.proto, this.localFor(dest).local, dest, data);
    this.transport.send(dest, data);
  }

  private receive(inb: Inbound): void {
    this.counters.received++;
    if (this.listenerCount('trace') > 0) this.emit('trace', 'in', inb.source.proto, inb.local, inb.source, inb.data);
    if (inb.source.proto === 'udp' && inb.data.length > MAX_DATAGRAM_BYTES) {
      const why = `${inb.data.length}-byte datagram exceeds the ${MAX_DATAGRAM_BYTES}-byte UDP limit; send it over TCP`;
      this.noteMalformed(inb.source, 513, why);
      this.rejectMalformed(inb.data, inb.source, 513, why);
      return;
    }
    let msg: SipMessage;
    try {
      // A WebSocket message holds exactly one SIP message, as a datagram does (RFC 7118 §5.1).
      msg = parseMessage(inb.data, { datagram: isMessageFramed(inb.source.proto) });
      validateMessage(msg);
    } catch (err) {
      if (err instanceof SipParseError) {
        this.noteMalformed(inb.source, err.status, err.message);
        this.rejectMalformed(inb.data, inb.source, err.status, err.message);
      } else {
        // Not a verdict on the input: the parser itself failed. Drop it, say so, keep serving.
        this.noteMalformed(inb.source, 0, 'parser error');
        this.log.error({ err, source: formatEndpoint(inb.source) }, 'the SIP parser threw on this input (a bug); message dropped');
        this.counters.dropped++;
      }
      return;
    }
    this.counters.inbound.count(msg);
    if (msg.isRequest) this.receiveRequest(msg, inb);
    else this.receiveResponse(msg, inb.source);
  }

  private receiveRequest(req: SipMessage, inb: Inbound): void {
    stampReceived(req, inb.source);
    const method = req.method;
    if (method !== 'ACK' && method !== 'CANCEL') {
      // A few comparisons while no limit is reached; the rest only when one is.
      const limit = this.overload.check(method);
      if (limit && isInitial(req) && !this.transactions.hasServer(req)) {
        this.refuse(req, inb.source, limit);
        return;
      }
    }
    const result = this.transactions.receiveRequest(req, inb.source);
    if ('ack' in result) {
      if (result.ack === 'no-transaction') this.handlers.onStatelessAck(req, inb.source, inb.local);
      return;
    }
    if (!result.isNew) return;
    try {
      this.handlers.onRequest(req, result.tx, inb.source, inb.local);
    } catch (err) {
      // A bug above must cost one request, never the listener.
      this.counters.dropped++;
      try {
        result.tx.respond(this.makeResponse(req, 500, 'Server Internal Error'));
      } catch {
        /* the transaction may already have answered */
      }
      this.log.error({ err, callId: req.callId, method: req.method, source: formatEndpoint(inb.source) }, 'request handler threw; answered 500');
    }
  }

  /**
   * 503 with Retry-After (RFC 3261 §21.5.4), sent without a transaction: a
   * retransmission of the request just gets another one. It goes straight
   * back to the source, as for malformed input.
   */
  private refuse(req: SipMessage, source: Peer, limit: Limit): void {
    this.overload.noteRefused(limit);
    const res = this.makeResponse(req, 503, 'Service Unavailable', [['Retry-After', String(this.overload.retryAfterS)]], newTag());
    this.sendRaw(res, source);
  }

  private receiveResponse(res: SipMessage, source: Peer): void {
    if (this.transactions.receiveResponse(res)) return;
    this.handlers.onStrayResponse(res, source);
  }

  /** Counts a malformed message by status (0: unanswerable) and logs it once per source per minute. */
  private noteMalformed(source: Peer, status: number, reason: string): void {
    this.counters.malformed++;
    this.counters.malformedByStatus[status] = (this.counters.malformedByStatus[status] ?? 0) + 1;
    const seen = this.malformedLogs.admit(source.address);
    if (seen.log) {
      this.log.info({ source: formatEndpoint(source), status: status || undefined, reason, suppressed: seen.suppressed || undefined }, 'malformed SIP message');
    }
  }

  /**
   * Answers a request we could not parse when enough of it is readable to
   * route a response; otherwise drops it (RFC 3261 §16.3 / §18.3). Responses
   * are never answered.
   */
  private rejectMalformed(data: Buffer, source: Peer, status: number, reason: string): void {
    const head = data.subarray(0, Math.min(data.length, 8192)).toString('latin1');
    if (head.startsWith('SIP/') || !/^[A-Za-z]+ \S+ SIP\//.test(head)) {
      this.counters.dropped++;
      return;
    }
    const method = head.slice(0, head.indexOf(' '));
    if (method === 'ACK') {
      this.counters.dropped++;
      return;
    }
    const lines = head.split(/\r?\n/);
    const pick = (names: string[]): string[] =>
      lines
        .filter((l) => {
          const c = l.indexOf(':');
          return c > 0 && names.includes(l.slice(0, c).trim().toLowerCase());
        })
        .map((l) => l.slice(l.indexOf(':') + 1).trim());
    const vias = pick(['via', 'v']);
    if (vias.length === 0) {
      this.counters.dropped++;
      return;
    }
    try {
      parseVia(vias[0]);
    } catch {
      this.counters.dropped++;
      return;
    }
    const headers: [string, string][] = vias.map((v) => ['Via', v]);
    for (const [names, name] of [[['from', 'f'], 'From'], [['to', 't'], 'To'], [['call-id', 'i'], 'Call-ID'], [['cseq'], 'CSeq']] as const) {
      const v = pick([...names])[0];
      if (v !== undefined) headers.push([name, v]);
    }
    const res = SipMessage.response(status, reasonPhrase(status, reason), headers);
    this.counters.rejected++;
    // Malformed input gets its answer straight back to where it came from, not via its (untrusted) Via.
    this.sendRaw(res, source);
  }
}

/** A request outside any dialog (no To tag): new work, which a reached limit refuses. */
function isInitial(req: SipMessage): boolean {
  try {
    return req.toTag === undefined;
  } catch {
    return true; // an unreadable To is no proof of a dialog
  }
}

/** Transports whose every read is one whole message: no Content-Length needed to find its end. */
function isMessageFramed(proto: Proto): boolean {
  return proto === 'udp' || proto === 'ws' || proto === 'wss';
}

/**
 * RFC 3261 §18.2.1 and RFC 3581: note where a request really came from in its top Via.
 * A browser's Via names a made-up `.invalid` host (RFC 7118 §5.2): its real port is
 * always noted too, so a response routed by Via alone still finds its connection.
 */
function stampReceived(req: SipMessage, source: Peer): void {
  const via = req.via;
  const hostMatches = bareHost(via.host) === source.address;
  const wantsRport = via.params.has('rport') || source.proto === 'ws' || source.proto === 'wss';
  if (hostMatches && !wantsRport) return;
  if (!hostMatches || wantsRport) via.params.set('received', source.address);
  if (wantsRport) via.params.set('rport', String(source.port));
  const first = req.removeFirst('via');
  void first;
  req.prepend('Via', formatVia(via));
}

function reasonPhrase(status: number, detail: string): string {
  const base: Record<number, string> = { 400: 'Bad Request', 413: 'Request Entity Too Large', 416: 'Unsupported URI Scheme', 505: 'Version Not Supported', 513: 'Message Too Large' };
  // The reason phrase carries the detail so a user reading a capture sees what was wrong.
  const clean = detail.replace(/[\r\n]/g, ' ').slice(0, 120);
  return status === 400 ? `Bad Request - ${clean}` : `${base[status] ?? 'Error'} - ${clean}`;
}
