/** What a SIP phone is: a user agent, its registration, and its calls. */
export { UserAgent, DEFAULT_USER_AGENT, type UserAgentEvents, type UserAgentOptions } from './user-agent.js';
export { Call, TRANSFER_TIMEOUT_MS, type CallEnd, type CallEvents, type CallState } from './call.js';
export { OutgoingCall } from './outgoing.js';
export { IncomingCall } from './incoming.js';
export { CallEndedError, CallStateError, RequestPendingError, SipStatusError } from './errors.js';
export { Emitter } from '../util/emitter.js';
export { REGISTER_RETRY_MS } from './registration.js';
export type { CallOptions, UaCounters } from './context.js';
export type { MediaFactory, MediaHandler } from './media-handler.js';
export { formatSipfrag, parseSipfrag, SIPFRAG_TYPE } from './sipfrag.js';
export { formatReplaces, parseReplaces, parseReferTo, referToWithReplaces, type ReplacesId, type ReferTarget } from './replaces.js';
