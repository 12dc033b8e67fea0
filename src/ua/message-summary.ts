/**
 * The message-summary body (RFC 3842 §5.2) as far as a phone's lamp needs
 * it: whether messages wait, and the voice counts `Voice-Message: new/old
 * (urgent new/urgent old)`. Minimal; undefined for a body without the
 * Messages-Waiting line.
 */
export function parseMessageSummary(body: string): { waiting: boolean; newMessages: number; oldMessages: number; account?: string } | undefined {
  let waiting: boolean | undefined;
  let account: string | undefined;
  let counts: [number, number] | undefined;
  for (const raw of body.split(/\r?\n/)) {
    const m = /^([A-Za-z-]+)\s*:\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    const name = m[1].toLowerCase();
    const value = m[2];
    if (name === 'messages-waiting') waiting = /^yes$/i.test(value);
    else if (name === 'message-account') account = value;
    else if (name === 'voice-message') {
      const c = /^(\d{1,9})\/(\d{1,9})/.exec(value);
      if (c) counts = [Number(c[1]), Number(c[2])];
    }
  }
  if (waiting === undefined) return undefined;
  return { waiting, newMessages: counts?.[0] ?? 0, oldMessages: counts?.[1] ?? 0, ...(account ? { account } : {}) };
}
