/** What a SIP phone is: a user agent, its registration, and its calls. */
export { UserAgent, DEFAULT_USER_AGENT, type UserAgentEvents, type UserAgentOptions } from './user-agent.js';
export { Call, TRANSFER_TIMEOUT_MS, type CallEnd, type CallEvents, type CallState } from './call.js';
export { OutgoingCall } from './outgoing.js';
export { IncomingCall } from './incoming.js';
export { CallEndedError, CallStateError, RequestPendingError, SipStatusError, SubscriptionStateError } from './errors.js';
export { Emitter } from '../util/emitter.js';
export { REGISTER_RETRY_MS } from './registration.js';
export type { CallOptions, UaCounters } from './context.js';
export type { MediaFactory, MediaHandler } from './media-handler.js';
export { formatSipfrag, parseSipfrag, SIPFRAG_TYPE } from './sipfrag.js';
export { formatReplaces, parseReplaces, parseReferTo, referToWithReplaces, type ReplacesId, type ReferTarget } from './replaces.js';
export {
  Subscription, DEFAULT_SUBSCRIBE_EXPIRES,
  type SubscribeOptions, type SubscriptionEnd, type SubscriptionEvents, type SubscriptionState,
} from './subscription.js';
export { IncomingSubscription, SUBSCRIBE_DECIDE_MS, type IncomingSubscriptionEvents, type IncomingSubscriptionState } from './notifier.js';
export { formatEvent, parseEvent, parseSubscriptionState, type EventHeader, type SubscriptionStateHeader } from './event-header.js';
export { DEFAULT_SESSION_EXPIRES, MIN_SESSION_EXPIRES } from './session-timer.js';
