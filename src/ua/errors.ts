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

/** The reason phrase of a 503 made up for a transport failure: what failed, when the transport said. */
export function transportFailureReason(cause: Error | undefined): string {
  if (!cause) return 'Service Unavailable';
  return `Service Unavailable - ${cause.message.replace(/[\r\n]+/g, ' ').slice(0, 160)}`;
}
