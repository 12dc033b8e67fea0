/**
 * `switchboard pbx`: the PBX console, in the spirit of Asterisk's CLI. It asks
 * the running server's admin endpoint (pbx-admin.ts) and prints tables, or
 * the same data as JSON for scripts.
 */
import { adminRequest } from '../api/admin.js';
import { adminTarget } from './admin-target.js';
import {
  CONFERENCE_ACTIONS,
  type ChannelView,
  type ConferenceAction,
  type ConferenceActionResult,
  type ConferenceView,
  type MailboxView,
  type PbxView,
  type QueueView,
  type TrunkView,
} from './pbx-admin.js';
import { duration, table } from './text-table.js';

export interface PbxOptions {
  config?: string;
  admin?: string;
  json?: boolean;
}

/** Bad usage (an unknown action, a number that is not one): exit 2. */
export class PbxUsageError extends Error {}

export async function runPbxView(view: PbxView, opts: PbxOptions): Promise<void> {
  const t = adminTarget(opts);
  const data = await adminRequest(t.address, t.port, `/pbx/${view}`);
  if (opts.json) {
    console.log(JSON.stringify(data, null, 2));
    return;
  }
  console.log(formatPbxView(view, data));
}

export function formatPbxView(view: PbxView, data: unknown): string {
  switch (view) {
    case 'channels':
      return formatChannels(data as ChannelView[]);
    case 'queues':
      return formatQueues(data as QueueView[]);
    case 'conferences':
      return formatConferences(data as ConferenceView[]);
    case 'voicemail':
      return formatVoicemail(data as MailboxView[]);
    case 'trunks':
      return formatTrunks(data as TrunkView[]);
  }
}

export async function runConferenceAction(room: string, action: string, number: string, opts: PbxOptions): Promise<void> {
  if (!(CONFERENCE_ACTIONS as readonly string[]).includes(action)) {
    throw new PbxUsageError(`unknown action "${action}": use kick, mute or unmute, e.g. switchboard pbx conference ${room} mute 2`);
  }
  if (!/^[1-9]\d{0,8}$/.test(number)) {
    throw new PbxUsageError(`"${number}" is not a participant number: use the # column of switchboard pbx conferences`);
  }
  const t = adminTarget(opts);
  const r = (await adminRequest(
    t.address,
    t.port,
    `/pbx/conferences/${encodeURIComponent(room)}/${action}/${number}`,
    'POST',
  )) as ConferenceActionResult;
  if (opts.json) console.log(JSON.stringify(r, null, 2));
  else console.log(actionLine(r));
}

export function actionLine(r: ConferenceActionResult): string {
  const who = `participant ${r.number} (${r.name ? `${r.name} <${r.caller}>` : r.caller || 'unknown caller'}, ${r.channel})`;
  const verbs: Record<ConferenceAction, [string, string]> = {
    kick: [`kicked ${who} out of conference ${r.room}: the call is hung up`, `${who} had already left conference ${r.room}`],
    mute: [`muted ${who} in conference ${r.room}: the others no longer hear them`, `${who} in conference ${r.room} was already muted`],
    unmute: [`unmuted ${who} in conference ${r.room}: the others hear them again`, `${who} in conference ${r.room} was not muted`],
  };
  return verbs[r.action][r.changed ? 0 : 1];
}

export function formatChannels(chs: ChannelView[]): string {
  if (chs.length === 0) return '0 active channels.';
  const bridged = chs.filter((c) => c.peer && chs.some((o) => o.channel === c.peer && o.peer === c.channel)).length / 2;
  const calls = new Set(chs.map((c) => c.linkedid)).size;
  const rows = chs.map((c) => [
    c.channel,
    c.exten ? `${c.exten}@${c.context}` : '-',
    c.state,
    c.app || '-',
    c.peer || '-',
    c.callerName ? `"${c.callerName}" <${c.caller}>` : c.caller || '-',
    duration(c.seconds),
    c.trunk || '-',
  ]);
  return [
    `${plural(chs.length, 'active channel')}, ${plural(calls, 'call')}, ${plural(bridged, 'bridged pair')}:`,
    ...table(['CHANNEL', 'LOCATION', 'STATE', 'APP', 'BRIDGED TO', 'CALLER ID', 'UP', 'TRUNK'], rows),
  ].join('\n');
}

export function formatQueues(qs: QueueView[]): string {
  if (qs.length === 0) return 'No queues configured (queues: in switchboard.yaml).';
  const out: string[] = [];
  for (const q of qs) {
    if (out.length) out.push('');
    out.push(
      `${q.name} (${q.strategy}): ${q.waiting} waiting, ${q.answered} answered, ${q.abandoned} abandoned, ${q.timedOut} timed out; ` +
        `average wait ${q.averageWait}s, service level ${q.serviceLevel}%`,
    );
    out.push(`  Members (${q.members.length}):`);
    if (q.members.length === 0) out.push('    none logged in');
    const state = (m: QueueMember): string => (m.paused ? 'paused' : m.inUse ? 'in use' : m.wrapUp ? 'wrap-up' : m.reachable ? 'free' : 'unavailable');
    out.push(...indent(table(['MEMBER', 'STATE', 'CALLS', 'KIND'], q.members.map((m) => [m.user, state(m), String(m.callsTaken), m.dynamic ? 'logged in' : 'static']))));
    out.push(`  Callers (${q.callers.length}):`);
    if (q.callers.length === 0) out.push('    none waiting');
    out.push(
      ...indent(
        table(
          ['POS', 'CHANNEL', 'CALLER ID', 'WAITING', 'RINGING'],
          q.callers.map((c) => [String(c.position), c.channel, c.name ? `"${c.name}" <${c.caller}>` : c.caller || '-', duration(c.waitSeconds), String(c.ringing)]),
        ),
      ),
    );
  }
  return out.join('\n');
}

type QueueMember = QueueView['members'][number];

export function formatConferences(rooms: ConferenceView[]): string {
  if (rooms.length === 0) return 'No conference rooms configured (conferences: in switchboard.yaml).';
  const out: string[] = [];
  for (const r of rooms) {
    if (out.length) out.push('');
    out.push(`${r.room}: ${r.participants.length === 0 ? 'empty' : plural(r.participants.length, 'participant')}`);
    const flags = (p: ConferenceView['participants'][number]): string => [p.muted ? 'muted' : '', p.leader ? 'leader' : '', p.talking ? 'talking' : ''].filter(Boolean).join(',') || '-';
    out.push(
      ...table(
        ['#', 'CHANNEL', 'CALLER ID', 'FLAGS', 'UP', 'RATE'],
        r.participants.map((p) => [String(p.number), p.channel, p.name ? `"${p.name}" <${p.caller}>` : p.caller || '-', flags(p), duration(p.seconds), `${p.rate / 1000} kHz`]),
      ),
    );
  }
  return out.join('\n');
}

export function formatVoicemail(boxes: MailboxView[]): string {
  if (boxes.length === 0) return 'No mailboxes configured (users.N.voicemail in switchboard.yaml).';
  return [
    `${plural(boxes.length, 'mailbox', 'mailboxes')}:`,
    ...table(
      ['MAILBOX', 'NAME', 'NEW', 'OLD', 'E-MAIL'],
      boxes.map((b) => [b.mailbox, b.name || '-', String(b.new), String(b.old), b.email || '-']),
    ),
  ].join('\n');
}

export function formatTrunks(trunks: TrunkView[]): string {
  if (trunks.length === 0) return 'No trunks configured (trunks: in switchboard.yaml).';
  return [
    `${plural(trunks.length, 'trunk')}:`,
    ...table(
      ['TRUNK', 'KIND', 'SERVER', 'STATE', 'CALLS', 'EXPIRES', 'LOCAL'],
      trunks.map((t) => [
        t.name,
        t.kind === 'register' ? 'register' : 'ip peer',
        t.server,
        t.state,
        t.maxCalls > 0 ? `${t.calls}/${t.maxCalls}` : String(t.calls),
        t.expires !== null ? duration(t.expires) : '-',
        t.local || '-',
      ]),
    ),
  ].join('\n');
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function indent(lines: string[]): string[] {
  return lines.map((l) => `  ${l}`);
}
