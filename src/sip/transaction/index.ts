/**
 * The RFC 3261 §17 transaction layer: owns every client and server
 * transaction, matches incoming messages to them with one Map lookup, and
 * forgets them when they terminate so memory stays bounded under load.
 *
 * Callers hand in messages that already passed validateMessage(): the top
 * Via and CSeq are read here without further checks.
 */
import type { Clock } from '../../util/clock.js';
import type { SipMessage } from '../message.js';
import type { Peer } from '../transport/types.js';
import { ClientInviteTransaction } from './client-invite.js';
import { ClientNonInviteTransaction } from './client-non-invite.js';
import { clientKey, hasMagicCookie, legacyKey, matchMethod, ownKey, serverKey } from './matching.js';
import { ServerInviteTransaction } from './server-invite.js';
import { ServerNonInviteTransaction } from './server-non-invite.js';
import { DEFAULT_TRYING_DELAY, resolveTimers, WaitQueue, type TimerValues } from './timers.js';
import type { ClientHandlers, ClientTransaction, SendFn, ServerHandlers, ServerTransaction, TxContext } from './types.js';

export type {
  ClientHandlers, ClientInviteState, ClientNonInviteState, ClientTransaction, SendFn,
  ServerHandlers, ServerInviteState, ServerNonInviteState, ServerTransaction,
} from './types.js';
export { DEFAULT_TIMERS, TIMER_D_UNRELIABLE, type TimerValues } from './timers.js';
export { MAGIC_COOKIE } from './matching.js';
export { buildAck, buildCancel, buildTrying } from './messages.js';

export interface TransactionLayerOptions {
  clock: Clock;
  /** Puts a message on the wire; may throw to signal a transport error. */
  send: SendFn;
  timers?: Partial<TimerValues>;
  /**
   * INVITE server transactions send 100 Trying themselves when the TU has not
   * responded within `tryingDelay` ms (§17.2.1). On by default.
   */
  autoTrying?: boolean;
  tryingDelay?: number;
  /** The owner's handlers for server transactions (none by default: a TU learns what it needs from responses it sends). */
  server?: ServerHandlers;
}

export type ReceiveRequestResult =
  | { tx: ServerTransaction; isNew: boolean }
  | { ack: 'absorbed' }
  /** Nothing absorbs this ACK (e.g. the ACK for a 2xx): the TU or proxy handles it. */
  | { ack: 'no-transaction' };

export interface TransactionInfo {
  side: 'client' | 'server';
  id: string;
  method: string;
  state: string;
}

type ClientTx = ClientInviteTransaction | ClientNonInviteTransaction;
type ServerTx = ServerInviteTransaction | ServerNonInviteTransaction;

export class TransactionLayer {
  readonly timers: TimerValues;
  private readonly ctx: TxContext;
  private readonly clients = new Map<string, ClientTx>();
  /** Keyed by branch + sent-by + method (RFC 3261 peers). */
  private readonly servers = new Map<string, ServerTx>();
  /** Keyed by the RFC 2543 field tuple, for branches without the magic cookie. */
  private readonly legacyServers = new Map<string, ServerTx>();
  /** drain() callers, woken when the last INVITE server transaction stops waiting for its ACK. */
  private drainWaiters: (() => void)[] = [];
  /** Transactions in their last state, one queue per interval (64*T1, T4, Timer D). */
  private readonly waits = new Map<number, WaitQueue>();

  constructor(opts: TransactionLayerOptions) {
    this.timers = resolveTimers(opts.timers);
    this.ctx = {
      clock: opts.clock,
      send: opts.send,
      timers: this.timers,
      autoTrying: opts.autoTrying ?? true,
      tryingDelay: opts.tryingDelay ?? DEFAULT_TRYING_DELAY,
      server: opts.server ?? {},
      release: (tx) => this.release(tx as ClientTx | ServerTx),
      waitQueue: (ms) => {
        let q = this.waits.get(ms);
        if (!q) {
          q = new WaitQueue(opts.clock, ms);
          this.waits.set(ms, q);
        }
        return q;
      },
    };
  }

  /**
   * Starts a client transaction and sends the request. The request must carry
   * its own top Via with a magic-cookie branch; ACK never gets a transaction.
   */
  createClient(request: SipMessage, dest: Peer, handlers: ClientHandlers): ClientTransaction {
    const method = request.method;
    if (method === 'ACK') throw new Error('ACK is sent without a transaction (RFC 3261 §17.1)');
    const branch = request.via.branch;
    if (!hasMagicCookie(branch)) throw new Error('Client request needs a top Via branch starting with z9hG4bK');
    const { key, id } = ownKey(clientKey(branch, method), branch.length);
    if (this.clients.has(key)) throw new Error(`A client transaction with branch ${branch} and method ${method} exists`);
    const tx = method === 'INVITE'
      ? new ClientInviteTransaction(id, key, request, dest, handlers, this.ctx)
      : new ClientNonInviteTransaction(id, key, request, dest, handlers, this.ctx);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  /** §17.1.3. False when no transaction matched: the caller decides (a proxy forwards a stray 2xx). */
  receiveResponse(res: SipMessage): boolean {
    const branch = res.via.branch;
    if (branch === undefined) return false;
    const tx = this.clients.get(clientKey(branch, res.cseq.method));
    if (!tx) return false;
    tx.receive(res);
    return true;
  }

  /** §17.2.3: finds or creates the server transaction for a request; ACKs are absorbed or passed on. */
  receiveRequest(req: SipMessage, source: Peer): ReceiveRequestResult {
    const method = req.method;
    const via = req.via;
    const branch = via.branch;
    const isAck = method === 'ACK';
    if (hasMagicCookie(branch)) {
      const key = serverKey(branch, via, matchMethod(method));
      const tx = this.servers.get(key);
      if (isAck) return this.ackResult(tx);
      if (tx) {
        tx.receiveRetransmission();
        return { tx, isNew: false };
      }
      return { tx: this.createServer(branch, key, false, req, source), isNew: true };
    }
    const toTag = req.toTag ?? '';
    if (isAck) {
      // The ACK carries our response's To tag; the INVITE had none (initial) or the same (re-INVITE).
      let tx = this.legacyServers.get(legacyKey(req, 'INVITE', ''));
      if (!(tx instanceof ServerInviteTransaction) || tx.responseToTag !== toTag) {
        tx = this.legacyServers.get(legacyKey(req, 'INVITE', toTag));
      }
      if (tx instanceof ServerInviteTransaction && tx.responseToTag === toTag) return this.ackResult(tx);
      return { ack: 'no-transaction' };
    }
    const key = legacyKey(req, method, toTag);
    const tx = this.legacyServers.get(key);
    if (tx) {
      tx.receiveRetransmission();
      return { tx, isNew: false };
    }
    return { tx: this.createServer(key, key, true, req, source), isNew: true };
  }

  /** Whether a request (not an ACK) matches a live server transaction: a retransmission, not new work. */
  hasServer(req: SipMessage): boolean {
    const via = req.via;
    const branch = via.branch;
    if (hasMagicCookie(branch)) return this.servers.has(serverKey(branch, via, matchMethod(req.method)));
    return this.legacyServers.has(legacyKey(req, req.method, req.toTag ?? ''));
  }

  /** Live transactions, client and server. */
  get size(): number {
    return this.clients.size + this.servers.size + this.legacyServers.size;
  }

  /** §9.2: the INVITE server transaction a CANCEL refers to, if it is still alive. */
  findForCancel(cancel: SipMessage): ServerTransaction | undefined {
    const via = cancel.via;
    const branch = via.branch;
    const tx = hasMagicCookie(branch)
      ? this.servers.get(serverKey(branch, via, 'INVITE'))
      : this.legacyServers.get(legacyKey(cancel, 'INVITE', cancel.toTag ?? ''));
    return tx instanceof ServerInviteTransaction ? tx : undefined;
  }

  /**
   * The transport could not deliver to `dest` (a refused or timed-out TCP/TLS
   * connection): every client transaction still waiting on that peer fails
   * now as a transport error (RFC 3261 §8.1.3.1: treated as a 503), rather
   * than after Timer B or F. Transactions that already had a response keep going.
   */
  transportFailed(dest: Peer, cause?: Error): number {
    let n = 0;
    for (const tx of [...this.clients.values()]) {
      const d = tx.dest;
      if (d.proto !== dest.proto || d.address !== dest.address || d.port !== dest.port) continue;
      if (tx.state !== 'calling' && tx.state !== 'trying') continue;
      tx.transportError(cause);
      n++;
    }
    return n;
  }

  /** Live transactions, for `switchboard status`. */
  stats(): { client: number; server: number } {
    return { client: this.clients.size, server: this.servers.size + this.legacyServers.size };
  }

  list(): TransactionInfo[] {
    const out: TransactionInfo[] = [];
    for (const tx of this.clients.values()) out.push({ side: 'client', id: tx.id, method: tx.request.method, state: tx.state });
    for (const map of [this.servers, this.legacyServers]) {
      for (const tx of map.values()) out.push({ side: 'server', id: tx.id, method: tx.request.method, state: tx.state });
    }
    return out;
  }

  /**
   * Resolves once no INVITE server transaction is still retransmitting a
   * failure response while waiting for its ACK (§17.2.1), or after
   * `timeoutMs`: a phone that quits before the ACK leaves its caller
   * retransmitting into a closed port.
   */
  drain(timeoutMs: number): Promise<void> {
    if (!this.awaitingAck()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        timer.cancel();
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        resolve();
      };
      const timer = this.ctx.clock.setTimer(timeoutMs, done);
      this.drainWaiters.push(done);
    });
  }

  /** Terminates everything (shutdown). Each transaction removes itself, so iterate over a copy. */
  terminateAll(): void {
    for (const tx of [...this.clients.values(), ...this.servers.values(), ...this.legacyServers.values()]) tx.terminate();
  }

  private ackResult(tx: ServerTx | undefined): ReceiveRequestResult {
    if (tx instanceof ServerInviteTransaction && tx.receiveAck() === 'absorbed') {
      if (this.drainWaiters.length) this.checkDrain();
      return { ack: 'absorbed' };
    }
    return { ack: 'no-transaction' };
  }

  private awaitingAck(): boolean {
    for (const map of [this.servers, this.legacyServers]) {
      for (const tx of map.values()) if (tx instanceof ServerInviteTransaction && tx.state === 'completed') return true;
    }
    return false;
  }

  private checkDrain(): void {
    if (this.awaitingAck()) return;
    for (const done of [...this.drainWaiters]) done();
  }

  private createServer(branch: string, matchKey: string, legacy: boolean, req: SipMessage, source: Peer): ServerTx {
    // The legacy key is its own id.
    const { key, id } = ownKey(matchKey, legacy ? matchKey.length : branch.length);
    const tx = req.method === 'INVITE'
      ? new ServerInviteTransaction(id, key, legacy, req, source, this.ctx)
      : new ServerNonInviteTransaction(id, key, legacy, req, source, this.ctx);
    (legacy ? this.legacyServers : this.servers).set(key, tx);
    return tx;
  }

  private release(tx: ClientTx | ServerTx): void {
    const map: Map<string, ClientTx | ServerTx> = tx instanceof ClientInviteTransaction || tx instanceof ClientNonInviteTransaction
      ? this.clients
      : tx.legacy ? this.legacyServers : this.servers;
    if (map.get(tx.key) === tx) map.delete(tx.key);
    if (this.drainWaiters.length) this.checkDrain();
  }
}
