/**
 * The PBX console's side of the admin endpoint: `GET /pbx/channels`,
 * `/pbx/queues`, `/pbx/conferences`, `/pbx/voicemail`, `/pbx/trunks` (what
 * `switchboard pbx ...` shows, as Asterisk's `core show channels`, `queue
 * show`, `confbridge list`, `voicemail show users`, `sip show registry`), and
 * `POST /pbx/conferences/ROOM/kick|mute|unmute/N`. The views' keys are the
 * `--json` output, documented in the README: absent text is '', absent
 * numbers and times are null.
 */
import { AdminError, type AdminServer } from '../api/admin.js';
import type { PbxMetrics } from '../api/metrics.js';
import type { Config } from '../config/schema.js';
import type { PbxRuntime } from '../voice/pbx-runtime.js';
import type { QueueFigures } from '../pbx/queue.js';

export interface ChannelView {
  channel: string;
  uniqueid: string;
  /** The uniqueid of the call's first leg: every leg of one call shares it. */
  linkedid: string;
  caller: string;
  callerName: string;
  /** What was dialled and the context it runs in (incoming legs); '' for legs the PBX placed. */
  exten: string;
  context: string;
  /** `Ringing`, `Dialing`, `Up`, `Down`. */
  state: string;
  /** The verb running (`gather`, `enqueue`, `conference`, ...). */
  app: string;
  /** The channel bridged to this one. */
  peer: string;
  trunk: string;
  seconds: number;
}

export interface QueueCallerView {
  position: number;
  channel: string;
  caller: string;
  name: string;
  waitSeconds: number;
  /** Members being rung for this caller now. */
  ringing: number;
}

export interface QueueMemberView {
  user: string;
  dynamic: boolean;
  paused: boolean;
  inUse: boolean;
  wrapUp: boolean;
  /** Registered and not on do-not-disturb: the queue can ring them. */
  reachable: boolean;
  callsTaken: number;
}

/** A queue as `switchboard pbx queues --json` prints it: the queue's own figures, with its members and callers spelled out. */
export interface QueueView extends Omit<QueueFigures, 'strategy' | 'members'> {
  strategy: string;
  members: QueueMemberView[];
  callers: QueueCallerView[];
}

export interface ParticipantView {
  /** The number `switchboard pbx conference ROOM kick|mute|unmute N` takes. */
  number: number;
  channel: string;
  caller: string;
  name: string;
  muted: boolean;
  leader: boolean;
  talking: boolean;
  seconds: number;
  /** Sample rate the participant is mixed at (8000, 16000, 48000). */
  rate: number;
}

export interface ConferenceView {
  room: string;
  participants: ParticipantView[];
}

export interface MailboxView {
  mailbox: string;
  name: string;
  email: string;
  new: number;
  /** Heard and saved messages. */
  old: number;
}

export interface TrunkView {
  name: string;
  /** `register` (it registers to the carrier) or `ip` (known by source address). */
  kind: 'register' | 'ip';
  /** The carrier, `udp:sip.carrier.example:5060`. */
  server: string;
  /** `registered`, `registering`, `failed: 403 Forbidden, retrying in 40 s`, `stopped`; `ip-authenticated` for IP peers. */
  state: string;
  /** Seconds the registration was granted for, or null. */
  expires: number | null;
  /** Where the trunk's own agent listens (registering trunks), or ''. */
  local: string;
  calls: number;
  /** trunks.NAME.max_calls (0: no cap). */
  maxCalls: number;
}

export type ConferenceAction = 'kick' | 'mute' | 'unmute';
export const CONFERENCE_ACTIONS: readonly ConferenceAction[] = ['kick', 'mute', 'unmute'];

/** What a conference action did (the CLI prints one line from it). */
export interface ConferenceActionResult {
  room: string;
  number: number;
  action: ConferenceAction;
  channel: string;
  caller: string;
  name: string;
  /** False when the participant already was as asked (muting the muted). */
  changed: boolean;
}

export const PBX_VIEWS = ['channels', 'queues', 'conferences', 'voicemail', 'trunks'] as const;
export type PbxView = (typeof PBX_VIEWS)[number];

export const NO_PBX =
  'no PBX runs on this server: its config has no dialplan. Add a dialplan to switchboard.yaml (see the README) and restart the server';

export function channelViews(pbx: PbxRuntime): ChannelView[] {
  const byId = new Map(pbx.pbx.channels.map((c) => [c.id, c]));
  return pbx.status().channels.map((s) => {
    const c = byId.get(s.uniqueid);
    return {
      channel: s.channel,
      uniqueid: s.uniqueid,
      linkedid: c?.linkedId ?? s.uniqueid,
      caller: s.caller,
      callerName: c?.caller.name ?? '',
      exten: c?.dst ?? '',
      context: c?.context ?? '',
      state: s.state,
      app: s.app,
      peer: s.peer,
      trunk: s.trunk,
      seconds: s.seconds,
    };
  });
}

export function queueViews(pbx: PbxRuntime, reachable: (user: string) => boolean): QueueView[] {
  return [...pbx.queues.values()].map((q) => {
    const f = q.figures();
    return {
      name: f.name,
      strategy: f.strategy,
      waiting: f.waiting,
      answered: f.answered,
      abandoned: f.abandoned,
      timedOut: f.timedOut,
      averageWait: f.averageWait,
      longestWaitNow: f.longestWaitNow,
      serviceLevel: f.serviceLevel,
      members: f.members.map((m) => ({ user: m.user, dynamic: m.dynamic, paused: m.paused, inUse: m.inUse, wrapUp: m.wrapUp, reachable: reachable(m.user), callsTaken: m.callsTaken })),
      callers: q.callers().map((c) => ({ position: c.position, channel: c.channel, caller: c.caller, name: c.name ?? '', waitSeconds: c.waitSeconds, ringing: c.ringing })),
    };
  });
}

/** Every configured room, in config order, with whoever is in it now. */
export function conferenceViews(pbx: PbxRuntime, rooms: Iterable<string>): ConferenceView[] {
  return [...rooms].map((room) => ({
    room,
    participants: (pbx.rooms.get(room)?.list() ?? []).map((p) => ({
      number: p.number,
      channel: p.channel,
      caller: p.caller,
      name: p.name ?? '',
      muted: p.muted,
      leader: p.leader,
      talking: p.talking,
      seconds: p.seconds,
      rate: p.rate,
    })),
  }));
}

export function trunkViews(pbx: PbxRuntime): TrunkView[] {
  return pbx.trunks.status().map((t) => ({
    name: t.name,
    kind: t.kind,
    server: t.server,
    state: t.state,
    expires: t.expires ?? null,
    local: t.local ?? '',
    calls: t.calls,
    maxCalls: t.maxCalls,
  }));
}

export interface PbxConsoleSource {
  /** The running PBX; undefined when the config has no dialplan. */
  runtime(): PbxRuntime | undefined;
  /** Configured conference rooms and mailboxes (from the config). */
  rooms(): string[];
  mailboxes(): { mailbox: string; name: string; email: string }[];
  /** Whether a queue member can be rung (registered, not on do-not-disturb). */
  reachable(user: string): boolean;
}

export function mailboxViews(pbx: PbxRuntime, boxes: { mailbox: string; name: string; email: string }[]): MailboxView[] {
  return boxes.map((b) => ({ ...b, ...pbx.voicemail.counts(b.mailbox) }));
}

export function addPbxRoutes(admin: AdminServer, src: PbxConsoleSource): void {
  const need = (): PbxRuntime => {
    const pbx = src.runtime();
    if (!pbx) throw new AdminError(404, NO_PBX);
    return pbx;
  };
  admin.route('pbx', async ({ parts }) => {
    const pbx = need();
    const view = parts[0] ?? '';
    if (parts.length !== 1 || !(PBX_VIEWS as readonly string[]).includes(view)) {
      throw new AdminError(404, `unknown PBX view /pbx/${parts.join('/')}; try ${PBX_VIEWS.map((v) => `/pbx/${v}`).join(', ')}`);
    }
    switch (view as PbxView) {
      case 'channels':
        return channelViews(pbx);
      case 'queues':
        return queueViews(pbx, (u) => src.reachable(u));
      case 'conferences':
        return conferenceViews(pbx, src.rooms());
      case 'voicemail':
        return mailboxViews(pbx, src.mailboxes());
      case 'trunks':
        return trunkViews(pbx);
    }
  });
  admin.route(
    'pbx',
    async ({ parts }) => {
      const pbx = need();
      if (parts.length !== 4 || parts[0] !== 'conferences') {
        throw new AdminError(404, `unknown PBX action /pbx/${parts.join('/')}; the actions are POST /pbx/conferences/ROOM/kick|mute|unmute/N`);
      }
      return conferenceAction(pbx, src.rooms(), parts[1], parts[2], parts[3]);
    },
    'POST',
  );
}

function conferenceAction(pbx: PbxRuntime, rooms: string[], room: string, action: string, numberText: string): ConferenceActionResult {
  if (!(CONFERENCE_ACTIONS as readonly string[]).includes(action)) {
    throw new AdminError(400, `unknown conference action "${action}": use kick, mute or unmute`);
  }
  if (!/^[1-9]\d{0,8}$/.test(numberText)) {
    throw new AdminError(400, `"${numberText}" is not a participant number: use the # column of switchboard pbx conferences`);
  }
  const number = Number(numberText);
  if (!rooms.includes(room)) {
    throw new AdminError(404, `there is no conference room "${room}" (${rooms.length ? `configured: ${rooms.join(', ')}` : 'none is configured'})`);
  }
  const r = pbx.rooms.get(room);
  const list = r?.list() ?? [];
  const p = list.find((x) => x.number === number);
  if (!r || !p) {
    const now = list.map((x) => x.number).join(', ');
    throw new AdminError(404, `conference ${room} has no participant ${number} (${now ? `participants now: ${now}` : 'nobody is in it'}; see switchboard pbx conferences)`);
  }
  const result = { room, number, action: action as ConferenceAction, channel: p.channel, caller: p.caller, name: p.name ?? '' };
  if (action === 'kick') return { ...result, changed: r.kick(number) };
  const on = action === 'mute';
  if (p.muted === on) return { ...result, changed: false };
  return { ...result, changed: r.mute(number, on) };
}

/** Mailboxes the config sets up (users with `voicemail`), in config order. */
export function configuredMailboxes(config: Config): { mailbox: string; name: string; email: string }[] {
  return [...config.pbx.users.entries()]
    .filter(([, u]) => u.voicemail !== undefined)
    .map(([mailbox, u]) => ({ mailbox, name: u.name ?? '', email: u.voicemail?.email ?? '' }));
}

/** The PBX part of a metrics scrape: labels only from configured names (queues, rooms, mailboxes). */
export function pbxMetrics(pbx: PbxRuntime, config: Config): PbxMetrics {
  const counts = pbx.counts();
  const queues: PbxMetrics['queues'] = {};
  for (const q of pbx.queues.values()) {
    const f = q.figures();
    queues[f.name] = { waiting: f.waiting, answered: f.answered, abandoned: f.abandoned, timeout: f.timedOut };
  }
  const conferences: PbxMetrics['conferences'] = {};
  for (const room of config.pbx.conferences.keys()) conferences[room] = pbx.rooms.get(room)?.size ?? 0;
  const voicemail: PbxMetrics['voicemail'] = {};
  for (const b of configuredMailboxes(config)) voicemail[b.mailbox] = pbx.voicemail.counts(b.mailbox);
  return { channels: counts.channels, bridges: counts.bridges, mediaPorts: counts.mediaPorts, parked: counts.parked, queues, conferences, voicemail };
}
