/**
 * A message could not be accepted. `status` is what a server answers
 * (400, 416, 505, 513 ...) so the transport layer can reply without guessing.
 */
export class SipParseError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SipParseError';
  }
}
