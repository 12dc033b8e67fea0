/**
 * What a call and the registration client need from their UserAgent, kept
 * as an interface so calls never reach into the agent's internals (and a
 * PBX leg can later supply its own).
 */
import type { SipStack } from '../sip/stack.js';
import type { SipMessage } from '../sip/message.js';
import type { ServerTransaction, TimerValues } from '../sip/transaction/index.js';
import type { Peer, Proto } from '../sip/transport/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { Credentials, SendFn } from './auth-retry.js';
import type { MediaFactory } from './media-handler.js';

export interface UaCounters {
  callsPlaced: number;
  callsReceived: number;
  /** Offers we answered with 488 (garbage SDP or nothing in common). */
  sdpRejected: number;
  /** Requests that got a 401/407 even with our credentials. */
  authFailures: number;
}

export interface CallOptions {
  /** Extra headers for the INVITE (Replaces, Referred-By, Subject ...). */
  headers?: [string, string][];
  /** From without a tag (`"Alice" <sip:1001@example.com>`): a B2BUA passes the caller's identity on. */
  from?: string;
  /** This call's media instead of the agent's factory (a trunk's own codec list, say). */
  media?: MediaFactory;
}

/** Methods we answer; sent in Allow. */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, SUBSCRIBE, PRACK, UPDATE';
/** Extensions we implement (option-tags.ts): in INVITEs, their 2xx and OPTIONS answers. */
export const SUPPORTED = '100rel, replaces, timer';

/** Whatever answers the requests of one dialog (a subscription's; calls have their own table). */
export interface DialogUser {
  handleRequest(req: SipMessage, tx: ServerTransaction): void;
  /** The agent is closing: stop every timer, whatever state it is in. */
  dispose(): void;
}

/** What a subscription (either side) needs from its agent: its dialog's requests routed to it. */
export interface SubscriptionHost {
  bind(key: string, user: DialogUser): void;
  unbind(key: string, user: DialogUser): void;
  /** The subscription is over: the agent forgets it. */
  ended(sub: DialogUser): void;
  /**
   * Subscriber side: NOTIFYs that arrive before the 2xx (RFC 6665 §4.1.2.4)
   * carry our tag but no dialog yet; route those of `callId` to `user`
   * (undefined: stop).
   */
  expectNotify(callId: string, localTag: string, user: DialogUser | undefined): void;
}

export interface UaContext {
  readonly stack: SipStack;
  readonly clock: Clock;
  readonly timers: TimerValues;
  readonly credentials: Credentials | undefined;
  readonly counters: UaCounters;
  readonly userAgent: string;
  /** Our address of record, `sip:user@domain`. */
  readonly aor: string;
  /** From value without a tag: `"Name" <sip:user@domain>`. */
  readonly localAddress: string;
  readonly proto: Proto;
  readonly newMedia: MediaFactory;
  readonly log: Logger;
  /** Contact value toward a peer (public address when one was configured). */
  contactFor(dest: Peer): string;
  /** Host written in Warning headers. */
  hostFor(dest: Peer): string;
  /** Where an out-of-dialog request for `uri` goes: the outbound proxy, or the URI's host. */
  outOfDialogDest(uri: string): Promise<Peer>;
  /** Where an in-dialog request goes: its top Route, else its Request-URI. */
  inDialogDest(req: SipMessage): Promise<Peer>;
  /** Adds our Via (fresh branch) and starts a client transaction. */
  send: SendFn;
  /** Sends without a transaction (ACK for a 2xx), adding our Via. */
  sendAck(ack: SipMessage, dest: Peer): void;
  /** Session-Expires (s) our INVITEs ask for (RFC 4028); 0: none asked. */
  readonly sessionExpires: number;
  /** The shortest session interval we accept (Min-SE). */
  readonly minSessionExpires: number;
}
