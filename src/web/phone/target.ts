/**
 * What the user typed in Number, as a SIP request URI: a SIP URI as given, a
 * user@host with sip: added, a number (spaces, dashes and brackets dropped)
 * or a name at the account's domain. '#' is not allowed bare in a URI's user
 * part (RFC 3261 §25.1), so it is escaped.
 */
export function toTarget(input: string, domain: string): string | undefined {
  const text = input.trim();
  if (text === '') return undefined;
  if (/^sips?:/i.test(text)) return text;
  if (text.includes('@')) return `sip:${text}`;
  const user = /^[+\d*#\s().-]+$/.test(text) ? text.replace(/[\s().-]/g, '') : text;
  if (user === '' || /[\s<>"]/.test(user)) return undefined;
  return `sip:${user.replace(/#/g, '%23')}@${domain}`;
}

/** Who is calling, for "Incoming call from N": the URI's user part (the number), else its host. */
export function callerName(uri: { user?: string | null; host?: string } | undefined, display?: string): string {
  return uri?.user || display || uri?.host || 'unknown';
}
