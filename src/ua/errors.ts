/**
 * A request ended with a failure response (or a timeout, shown as 408, or a
 * transport failure, 503). `cause` is what the transport reported, when it
 * knows (a TLS certificate it refused, a connection refused).
 */
export class SipStatusError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    cause?: Error,
  ) {
    super(`${status} ${reason}`, cause ? { cause } : undefined);
    this.name = 'SipStatusError';
  }
}

export { transportFailureReason } from '../sip/errors.js';

/** The call is not in the state an operation needs (hold, transfer, DTMF on a call not answered). */
export class CallStateError extends Error {
  constructor(
    /** What the call is: calling, ringing, answered or ended. */
    readonly state: string,
    /** What the operation needed. */
    readonly needed: string,
    message = `the call is ${state}, not ${needed}`,
  ) {
    super(message);
    this.name = 'CallStateError';
  }
}

/** The call ended while an operation on it (a re-INVITE, a wait) was under way. */
export class CallEndedError extends Error {
  constructor() {
    super('the call ended');
    this.name = 'CallEndedError';
  }
}

/** A request of this kind is already under way on the call; try again when it is done (the local face of 491 Request Pending). */
export class RequestPendingError extends Error {
  constructor(readonly request: 'transfer' | 're-INVITE') {
    super(`a ${request} is already in progress`);
    this.name = 'RequestPendingError';
  }
}

/** The subscription is not in the state an operation needs (a NOTIFY on one not accepted, or over). */
export class SubscriptionStateError extends Error {
  constructor(
    /** offered, active or terminated. */
    readonly state: string,
  ) {
    super(`the subscription is ${state}, not active`);
    this.name = 'SubscriptionStateError';
  }
}
