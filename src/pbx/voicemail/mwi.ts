/**
 * The RFC 3842 message-summary body the PBX sends in NOTIFY (unsolicited and
 * to subscribers) to light a mailbox's message lamps, written as Asterisk and
 * FreeSWITCH write it: status, account, then voice counts with urgent counts 0.
 */
import { MESSAGE_SUMMARY_CONTENT_TYPE, MESSAGE_SUMMARY_EVENT } from '../../ua/message-summary.js';

export { MESSAGE_SUMMARY_CONTENT_TYPE, MESSAGE_SUMMARY_EVENT };

export interface MessageSummaryCounts {
  newMessages: number;
  oldMessages: number;
  /** The URI the phone dials to reach the mailbox (voicemailAccount()). */
  account: string;
}

/** `sip:*98@DOMAIN`: what a phone's voicemail key dials. */
export function voicemailAccount(domain: string, exten = '*98'): string {
  const host = domain.includes(':') && !domain.startsWith('[') ? `[${domain}]` : domain;
  return `sip:${exten}@${host}`;
}

export function messageSummaryBody(s: MessageSummaryCounts): string {
  const n = count(s.newMessages);
  const o = count(s.oldMessages);
  return [`Messages-Waiting: ${n > 0 ? 'yes' : 'no'}`, `Message-Account: ${s.account}`, `Voice-Message: ${n}/${o} (0/0)`, ''].join('\r\n');
}

function count(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}
