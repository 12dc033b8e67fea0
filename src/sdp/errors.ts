/**
 * RFC 3261 §20.43 warn-codes that describe SDP problems. A UAS rejecting an
 * offer answers 488 Not Acceptable Here and should say why in a Warning
 * header; carrying the code here keeps that choice next to the check that
 * failed instead of guessing it later in the SIP layer.
 */
export const WarnCode = {
  incompatibleTransport: 302,
  mediaTypeNotAvailable: 304,
  incompatibleMediaFormat: 305,
  miscellaneous: 399,
} as const;
export type WarnCode = (typeof WarnCode)[keyof typeof WarnCode];

/**
 * A session description could not be parsed or could not be answered.
 * `line` is the 1-based line of the offending SDP line when the problem is
 * tied to one; the message already names it, so it can go straight into a
 * Warning header.
 */
export class SdpError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly warnCode: WarnCode = WarnCode.miscellaneous,
  ) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.name = 'SdpError';
  }
}

/**
 * A short printable quote of untrusted input: control bytes become \xNN and
 * long values are cut, so an error message can be echoed in a Warning header
 * or a log line without carrying raw garbage or kilobytes of junk.
 */
export function quote(text: string, max = 40): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  let out = '';
  for (let i = 0; i < cut.length; i++) {
    const c = cut.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if (c === 0x22 || c === 0x5c) out += '\\' + cut[i];
    else out += cut[i];
  }
  return '"' + out + (text.length > max ? '..."' : '"');
}
