/**
 * Strings kept for long out of parsed input. V8 cuts a substring of 13 or
 * more characters as a view into the string it came from, so a header value
 * kept in a table keeps the whole message's text alive with it: a
 * registration's Contact kept a 700-byte REGISTER, a dialog's From and To
 * both of its messages. What is kept for longer than a request gets a copy.
 */

/** A copy of `s` that shares no memory with the string it was cut from. */
export function ownCopy(s: string): string {
  // Shorter strings are copied by V8 anyway; the round trip through bytes makes a fresh flat string.
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/** ownCopy for an optional value. */
export function ownCopyOf(s: string | undefined): string | undefined {
  return s === undefined ? undefined : ownCopy(s);
}
