/** A request ended with a failure response (or a timeout, shown as 408, or a transport failure, 503). */
export class SipStatusError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`${status} ${reason}`);
    this.name = 'SipStatusError';
  }
}
