/**
 * message/sipfrag bodies of REFER's NOTIFYs (RFC 3420, RFC 3515 §2.4.5):
 * only the status line matters to a phone watching its transfer.
 */
export const SIPFRAG_TYPE = 'message/sipfrag;version=2.0';

export function formatSipfrag(status: number, reason: string): string {
  return `SIP/2.0 ${status} ${reason.replace(/[\r\n]/g, ' ')}\r\n`;
}

/** The status line of a sipfrag body, or undefined when it holds no response status line. */
export function parseSipfrag(body: string): { status: number; reason: string } | undefined {
  const line = body.replace(/^\s+/, '').split(/\r?\n/, 1)[0];
  const m = /^SIP\/2\.0\s+([1-6]\d\d)(?:\s+(.*))?$/i.exec(line);
  return m ? { status: Number(m[1]), reason: (m[2] ?? '').trim() } : undefined;
}
