/** Public shapes of the transaction layer and what the machines need from it. */
import type { Clock } from '../../util/clock.js';
import type { SipMessage } from '../message.js';
import type { Peer } from '../transport/types.js';
import type { TimerValues, WaitQueue } from './timers.js';

export type ClientInviteState = 'calling' | 'proceeding' | 'completed' | 'terminated';
export type ClientNonInviteState = 'trying' | 'proceeding' | 'completed' | 'terminated';
/** 'accepted' is the RFC 6026 state an INVITE server transaction enters after a 2xx. */
export type ServerInviteState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';
export type ServerNonInviteState = 'trying' | 'proceeding' | 'completed' | 'terminated';

export type SendFn = (msg: SipMessage, dest: Peer) => void;

export interface ClientHandlers {
  /** Every response the TU must see: provisionals, the final, never an absorbed retransmission. */
  onResponse(res: SipMessage): void;
  /** Timer B or F fired: treat as 408 (§8.1.3.1). */
  onTimeout(): void;
  /**
   * `send` threw or `transportError()` was called; falls back to onTimeout when absent (§8.1.3.1: treat as 503).
   * `cause` says what failed when the transport knows (a TLS certificate refused, a connection refused).
   */
  onTransportError?(cause?: Error): void;
  /** The transaction left the layer (after the callbacks above, or on terminate()). */
  onTerminated?(): void;
}

export interface ClientTransaction {
  /** The top-Via branch of the request. */
  readonly id: string;
  readonly request: SipMessage;
  readonly dest: Peer;
  readonly state: ClientInviteState | ClientNonInviteState;
  /** Stops every timer and forgets the transaction; no more callbacks except onTerminated. */
  terminate(): void;
  /** Lets the caller report a transport failure noticed after `send` returned (TCP connect refused). */
  transportError(cause?: Error): void;
}

export interface ServerTransaction {
  /** Top-Via branch, or the RFC 2543 matching key when the branch lacks the magic cookie. */
  readonly id: string;
  readonly request: SipMessage;
  /** Where the request came from; every response goes there. */
  readonly source: Peer;
  readonly state: ServerInviteState | ServerNonInviteState;
  /** The last response passed to the transport (what retransmissions get). */
  readonly lastResponse: SipMessage | undefined;
  /**
   * Sends a response if the state allows it (§17.2.1, §17.2.2). Returns false
   * when the state machine discards it (e.g. a second final response).
   */
  respond(res: SipMessage): boolean;
  terminate(): void;
  transportError(): void;
}

/**
 * What the layer's owner hears about server transactions, given once with
 * the layer's options (the layer creates server transactions itself, so
 * there is no per-transaction constructor to hand them to).
 */
export interface ServerHandlers {
  /** INVITE only: Timer H fired, the ACK for a 3xx-6xx never came (§17.2.1). */
  ackTimeout?(tx: ServerTransaction): void;
  /** The transport failed a response (§17.2.4); the transaction ends unless it is RFC 6026 Accepted. */
  transportError?(tx: ServerTransaction): void;
  /** The transaction left the layer. */
  terminated?(tx: ServerTransaction): void;
}

/** What every machine gets from the layer that owns it. */
export interface TxContext {
  clock: Clock;
  send: SendFn;
  timers: TimerValues;
  autoTrying: boolean;
  tryingDelay: number;
  server: ServerHandlers;
  /** Called exactly once, when a transaction reaches Terminated. */
  release(tx: object): void;
  /** The layer's queue for transactions ending `ms` after they enter their last state. */
  waitQueue(ms: number): WaitQueue;
}

const ignore = (): void => undefined;
const NOTHING_MORE: ClientHandlers = { onResponse: ignore, onTimeout: ignore, onTransportError: ignore };

/**
 * What a client transaction keeps of its TU's handlers once the final
 * response is delivered: only onTerminated, since retransmissions are
 * absorbed and nothing else is reported. The rest (for a proxy, the whole
 * call context with its messages) is then free while the transaction waits
 * out Timer D or K.
 */
export function afterFinal(h: ClientHandlers): ClientHandlers {
  if (!h.onTerminated) return NOTHING_MORE;
  const done = h.onTerminated;
  return { ...NOTHING_MORE, onTerminated: () => done.call(h) };
}
