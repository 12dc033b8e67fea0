/**
 * Reading RFC 3842 message-summary bodies (`application/simple-message-summary`),
 * the NOTIFY a voicemail system sends to light a phone's message lamp. Servers
 * write them loosely (LF line ends, any header case, no urgent counts), so this
 * reads them loosely too; only a body with neither a status nor a count is refused.
 */

export const MESSAGE_SUMMARY_CONTENT_TYPE = 'application/simple-message-summary';
export const MESSAGE_SUMMARY_EVENT = 'message-summary';

export interface MessageSummary {
  /** Messages-Waiting; when a server leaves it out, whether there are new messages. */
  waiting: boolean;
  /** New and old voice messages (Voice-Message: new/old); 0 when not given. */
  newMessages: number;
  oldMessages: number;
  /** Message-Account, the mailbox's URI, when given. */
  account?: string;
}

/** Bodies longer than this are not summaries; only their start is read. */
const MAX_BODY = 16 * 1024;

export function parseMessageSummary(body: string | Uint8Array): MessageSummary | undefined {
  let text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (text.length > MAX_BODY) text = text.slice(0, MAX_BODY);
  let waiting: boolean | undefined;
  let counts: [number, number] | undefined;
  let account: string | undefined;
  let seen = false;
  for (const line of text.split(/\r\n|\n|\r/)) {
    if (line.trim() === '') {
      // After the summary lines, a blank line starts the optional per-message headers (To, From, Subject ...).
      if (seen) break;
      continue;
    }
    const m = /^\s*([A-Za-z][A-Za-z0-9-]*)\s*:\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    seen = true;
    const name = m[1].toLowerCase();
    const value = m[2];
    if (name === 'messages-waiting') {
      const v = value.toLowerCase();
      if (v === 'yes' || v === 'true' || v === '1' || v === 'on') waiting = true;
      else if (v === 'no' || v === 'false' || v === '0' || v === 'off') waiting = false;
    } else if (name === 'message-account') {
      const a = value.replace(/^<(.*)>$/, '$1').trim();
      if (a) account = a;
    } else if (name === 'voice-message') {
      const c = /^(\d{1,9})\s*\/\s*(\d{1,9})(?:\s*\(\s*\d{1,9}\s*\/\s*\d{1,9}\s*\))?/.exec(value);
      if (c) counts = [Number(c[1]), Number(c[2])];
    }
  }
  if (waiting === undefined && counts === undefined) return undefined;
  const [newMessages, oldMessages] = counts ?? [0, 0];
  return { waiting: waiting ?? newMessages > 0, newMessages, oldMessages, ...(account !== undefined ? { account } : {}) };
}
