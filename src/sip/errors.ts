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
