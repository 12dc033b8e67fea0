/**
 * Call detail records as Asterisk writes them: one row for the call's first
 * channel (what the caller dialled, from its answer to its end) and a linked
 * row for every leg the PBX placed for it (sharing its linkedid). The store
 * (store/cdr.ts) keeps them.
 */
import { cdrTimes, type CdrInput, type Disposition } from '../store/cdr.js';
import type { Channel } from './channel.js';

/** Asterisk's disposition from how a leg ended. */
export function dispositionOf(ch: Channel): Disposition {
  if (ch.answeredAt !== undefined) return 'ANSWERED';
  if (ch.dialStatus === 'BUSY') return 'BUSY';
  if (ch.dialStatus === 'NOANSWER' || ch.dialStatus === 'CANCEL') return 'NO ANSWER';
  if (ch.dialStatus === 'CONGESTION' || ch.dialStatus === 'CHANUNAVAIL') return 'FAILED';
  const s = ch.endedInfo?.status;
  if (s === 486 || s === 600) return 'BUSY';
  if (s === undefined || s === 487 || s === 408 || s === 480) return 'NO ANSWER';
  return 'FAILED';
}

/** The row of one channel; `src`/`dst` from the caller's point of view. */
export function cdrRow(ch: Channel, src: string, dst: string, context: string): CdrInput {
  const info = ch.endedInfo;
  return {
    uniqueid: ch.id,
    linkedid: ch.linkedId,
    ...cdrTimes(ch.created, ch.answeredAt, ch.endedAt ?? ch.created),
    disposition: dispositionOf(ch),
    src,
    dst,
    context,
    channel: ch.name,
    dstchannel: ch.lastPeer ?? '',
    lastapp: ch.lastApp,
    trunk: ch.trunk ?? '',
    clid: ch.caller.name ? `"${ch.caller.name}" <${ch.caller.number}>` : ch.caller.number,
    hangupcause: info?.status !== undefined ? String(info.status) : info?.by === 'remote' ? 'remote' : 'local',
  };
}
