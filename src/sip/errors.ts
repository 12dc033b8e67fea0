/**
 * A message could not be accepted. `status` is what a server answers
 * (400, 416, 505, 513 ...) so the transport layer can reply without guessing.
 */
export class SipParseError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    // A verdict on input, not a bug: no stack trace. Capturing one cost about 20 µs per
    // malformed message, ten times the rest of refusing it, so a stream cut into
    // thousands of broken messages kept a core busy for 100 ms per 64 KiB.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.status = status;
    this.name = 'SipParseError';
  }
}

/**
 * A short, printable quote of untrusted input for an error message: control
 * bytes and broken UTF-8 become \xNN escapes so a reason phrase or a log
 * line never carries raw garbage.
 */
export function excerpt(text: string, max = 60): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  let out = '';
  for (let i = 0; i < cut.length; i++) {
    const c = cut.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0xfffd) out += c === 0xfffd ? '\\x??' : '\\x' + c.toString(16).padStart(2, '0');
    else out += cut[i];
  }
  return text.length > max ? out + '...' : out;
}

/** The reason phrase of a 503 made up for a transport failure: what failed, when the transport said. */
export function transportFailureReason(cause: Error | undefined): string {
  if (!cause) return 'Service Unavailable';
  return `Service Unavailable - ${cause.message.replace(/[\r\n]+/g, ' ').slice(0, 160)}`;
}
