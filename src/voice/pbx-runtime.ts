/**
 * The PBX as the server runs it: the B2BUA agent, the compiled dialplan and
 * the verb engine, queues, conference rooms, the parking lot, voicemail,
 * CDRs — built from the config and started beside the proxy, which hands it
 * calls through the `ApplicationRoute` made here.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { defaultMohFolder, mohSource, type AudioSourceSpec } from '../media/players/index.js';
import type { CodecName } from '../media/codecs/registry.js';
import type { ApplicationRoute } from '../proxy/proxy.js';
import type { Peer } from '../sip/transport/types.js';
import { CdrStore } from '../store/cdr.js';
import { VoicemailStore } from '../store/voicemail.js';
import { VoicemailMailer } from '../pbx/voicemail/mailer.js';
import { MwiService } from '../pbx/voicemail/mwi-service.js';
import { voicemailApp } from './apps/voicemail.js';
import { voicemailMainApp } from './apps/voicemail-main.js';
import type { Db } from '../store/db.js';
import type { Clock } from '../util/clock.js';
import { CountingClock } from '../util/counting-clock.js';
import { detach, type Logger } from '../util/log.js';
import { cdrRow } from '../pbx/cdr.js';
import type { Channel } from '../pbx/channel.js';
import { ConferenceRoom } from '../pbx/conference.js';
import { ParkingLot } from '../pbx/park.js';
import { Pbx, type NewCall, type PbxWebRtc } from '../pbx/pbx.js';
import { CallQueue } from '../pbx/queue.js';
import { directoryApp } from './apps/directory.js';
import { recordApp } from './apps/record.js';
import { conferenceApp } from './apps/conference.js';
import { enqueueApp } from './apps/queue.js';
import { featureApp } from './apps/feature.js';
import { parkApp, parkedCallApp, spell } from './apps/park.js';
import { compileDialplan, GATEWAY_CONTEXT, type Dialplan } from './dialplan/dialplan.js';
import { AllowList } from '../proxy/security/allow-list.js';
import { isOpen } from './dialplan/calendar.js';
import { CallScript } from './engine.js';
import { bridgeUntilHangup } from './dial.js';
import { joinUntilHangup } from '../pbx/bridge.js';
import { parseReplaces, type ReferTarget } from '../ua/replaces.js';
import { parseUri } from '../sip/uri.js';
import { PbxVoice } from './services.js';
import { REFUSAL_STATUS, TollFraud } from '../pbx/fraud.js';
import { Trunks, trunkCodecs, type TrunkStatus } from '../pbx/trunks/trunks.js';
import type { TrunkConfig } from '../config/pbx-schema.js';
import type { IncomingCall } from '../ua/incoming.js';
import { FraudGuard, TrunkRouter } from './outbound.js';

export interface PbxRuntimeOptions {
  config: Config;
  clock: Clock;
  log: Logger;
  db: Db;
  /** Where the PBX agent reaches our proxy (a UDP listener of ours). */
  proxy: { host: string; port: number };
  /** Where RTP binds (the SIP listen address, perhaps a wildcard) and, for a wildcard, the address written in SDP. */
  media: { bind: string; advertise?: string };
  userAgent: string;
  /** Registered contacts of a user (queue members and ring targets that are reachable). */
  registered(user: string): boolean;
  /** Text to speech, cached. */
  tts: { speak(text: string, voice?: string): Promise<AudioSourceSpec> };
  /** The toll-fraud guard, shared with the proxy (its source allow-lists); one of our own when not given. */
  fraud?: TollFraud;
  /** The WebRTC gateway, when browsers can register (a ws:/wss: listener). */
  webrtc?: PbxWebRtc;
}

/** Everything the console shows. */
export interface PbxStatus {
  channels: { channel: string; uniqueid: string; caller: string; state: string; app: string; peer: string; seconds: number; trunk: string }[];
  queues: ReturnType<CallQueue['figures']>[];
  conferences: { room: string; participants: ReturnType<ConferenceRoom['list']> }[];
  parked: ReturnType<ParkingLot['list']>;
  trunks: TrunkStatus[];
}

/** Live counts (`switchboard status`): each is 0 when no call is up, or something leaked. */
export interface PbxCounts {
  /** Legs (Asterisk's channels). */
  channels: number;
  /** Pairs of legs bridged to each other. */
  bridges: number;
  /** Media sessions (RTP sockets) open. */
  mediaPorts: number;
  /** Callers waiting in queues. */
  queueCallers: number;
  conferenceParticipants: number;
  parked: number;
  /** Timers the PBX has pending (calls, media, queues, rooms, park), SIP transactions not included. */
  timers: number;
  /** SIP transactions of the PBX's agent (each finished one lingers up to 32 s, as RFC 3261 says). */
  sipTransactions: number;
}

export class PbxRuntime {
  readonly pbx: Pbx;
  readonly dialplan: Dialplan;
  readonly voice: PbxVoice;
  readonly queues = new Map<string, CallQueue>();
  readonly rooms = new Map<string, ConferenceRoom>();
  readonly lot: ParkingLot;
  readonly cdrs: CdrStore;
  readonly voicemail: VoicemailStore;
  readonly mailer: VoicemailMailer | undefined;
  readonly mwi: MwiService;
  readonly trunks: Trunks;
  readonly fraud: TollFraud;
  private readonly moh = new Map<string, AudioSourceSpec>();
  private readonly log: Logger;
  private readonly ipTrunks: { name: string; allow: AllowList }[];
  /** The clock of everything a call schedules, counted (see counts()). */
  private readonly callClock: CountingClock;

  constructor(private readonly opts: PbxRuntimeOptions) {
    const { config, clock } = opts;
    this.callClock = new CountingClock(clock);
    this.log = opts.log;
    this.dialplan = compileDialplan(config);
    this.cdrs = new CdrStore(opts.db, { clock, log: opts.log.child({ layer: 'cdr' }) });
    const listenHost = opts.proxy.host;
    this.pbx = new Pbx({
      domain: config.domain,
      clock: this.callClock,
      sipClock: clock,
      log: opts.log.child({ layer: 'pbx' }),
      listen: `udp:${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:0`,
      proxy: opts.proxy,
      mediaAddress: opts.media.bind,
      advertiseAddress: opts.media.advertise,
      codecs: ['pcmu', 'pcma', 'g722', 'opus'] satisfies CodecName[],
      userAgent: opts.userAgent,
      displayName: (u) => config.users.get(u)?.displayName ?? config.pbx.users.get(u)?.name,
      onCall: (ch, info) => this.onCall(ch, info),
      onChannelEnded: (ch) => this.writeCdr(ch),
      onTransfer: (ch, target) => this.transfer(ch, target),
      moh: () => this.mohFor(undefined),
      webrtc: opts.webrtc,
    });
    this.voice = new PbxVoice({
      config,
      pbx: this.pbx,
      dialplan: this.dialplan,
      log: opts.log.child({ layer: 'voice' }),
      speak: (text, voice) => opts.tts.speak(text, voice),
      isCalendarOpen: (name) => {
        const cal = config.pbx.calendars.get(name);
        return cal ? isOpen(cal, new Date(clock.wallNow())) : true;
      },
    });
    const host = {
      clock: this.callClock,
      log: opts.log.child({ layer: 'pbx' }),
    };
    for (const q of config.pbx.queues.values()) {
      this.queues.set(
        q.name,
        new CallQueue(q, {
          ...host,
          ring: (member, from) => this.pbx.dial(`sip:${member}@${config.domain}`, { from, endpoint: member, user: member }),
          inUse: (member) => this.pbx.channels.some((c) => c.user === member && !c.ended),
          reachable: (member) => opts.registered(member) && !(config.pbx.users.get(member)?.dnd ?? false),
          moh: (folder) => this.mohFor(folder),
          announcement: (position, wait) =>
            opts.tts.speak(`You are caller number ${position}.${wait !== undefined ? ` The expected wait is about ${Math.max(1, Math.round(wait / 60))} minute${Math.round(wait / 60) > 1 ? 's' : ''}.` : ''} Please hold.`),
        }),
      );
    }
    const park = config.pbx.park;
    this.lot = new ParkingLot(park.first, park.last, park.timeout, {
      clock: this.callClock,
      moh: () => this.mohFor(undefined),
      timedOut: (ch, parker) => this.parkTimedOut(ch, parker),
    });
    this.voice.register('enqueue', enqueueApp(this.queues, (q) => this.dialplan.queueAfter(q)));
    this.voice.register('park', parkApp(this.lot));
    this.voice.register('record', recordApp(path.join(config.data, 'recordings')));
    this.voice.register('parked_call', parkedCallApp(this.lot));
    this.voice.register(
      'feature',
      featureApp({
        queues: this.queues,
        user: (u) => config.pbx.users.get(u),
        mayForwardTo: (u, number) => this.mayForwardTo(u, number),
      }),
    );
    this.voice.register('directory', directoryApp(() => [...config.pbx.users.entries()].filter(([, u]) => u.name).map(([exten, u]) => ({ exten, name: u.name as string }))));
    this.voice.register(
      'conference',
      conferenceApp({
        room: (name) => this.room(name),
        config: (name) => config.pbx.conferences.get(name),
      }),
    );
    this.voicemail = new VoicemailStore(opts.db, config.data, { clock, log: opts.log.child({ layer: 'voicemail' }) });
    this.mailer = config.pbx.smtp
      ? new VoicemailMailer(config.pbx.smtp, { clock, log: opts.log.child({ layer: 'mail' }), store: this.voicemail, accessNumber: '*98' })
      : undefined;
    const box = (m: string) => config.pbx.users.get(m)?.voicemail;
    this.mwi = new MwiService(this.pbx.ua, this.voicemail, config.domain, (m) => box(m) !== undefined, opts.log.child({ layer: 'mwi' }));
    this.voice.register('voicemail', voicemailApp({ store: this.voicemail, box, saved: (m, id) => this.messageSaved(m, id), clockNow: () => clock.wallNow() }));
    this.voice.register('voicemail_main', voicemailMainApp({ store: this.voicemail, box }));
    this.voice.features = {
      clock: this.callClock,
      log: opts.log.child({ layer: 'features' }),
      codes: config.pbx.features,
      speak: (text) => opts.tts.speak(text),
      moh: () => this.mohFor(undefined),
      blindTransfer: (by, ch, exten) => this.blindTransfer(by, ch, exten),
      consult: (by, exten) => {
        if (!config.users.has(exten)) return undefined;
        const leg = this.pbx.dial(`sip:${exten}@${config.domain}`, { from: this.partyOf(by), endpoint: exten, user: exten });
        leg.linkedId = by.linkedId;
        leg.context = by.context;
        return leg;
      },
    };
    this.ipTrunks = [...config.pbx.trunks.values()].filter((t) => !t.register).map((t) => ({ name: t.name, allow: new AllowList(t.allow) }));
    this.fraud =
      opts.fraud ?? new TollFraud({ fraud: config.pbx.fraud, users: config.pbx.users, trunks: config.pbx.trunks, clock, log: opts.log.child({ layer: 'fraud' }) });
    this.fraud.countLegs(() => this.pbx.channels);
    this.trunks = new Trunks({
      trunks: config.pbx.trunks,
      // Carriers reach a trunk's agent where phones reach the proxy (the SIP listen address), not on the PBX's internal one.
      defaultHost: (config.sip.listen.find((l) => l.proto === 'udp') ?? config.sip.listen[0])?.address ?? listenHost,
      advertise: config.sip.advertise,
      clock,
      log: opts.log.child({ layer: 'trunk' }),
      userAgent: opts.userAgent,
      media: (codecs) => () => this.pbx.openMedia(codecs),
      incoming: (call, t, did) => this.trunkCall(call, t, did),
      calls: (name) => this.pbx.channels.filter((c) => c.trunk === name && !c.ended).length,
    });
    const guard = new FraudGuard(this.fraud);
    this.voice.guard = guard;
    this.voice.router = new TrunkRouter({
      pbx: this.pbx,
      trunks: this.trunks,
      fraud: this.fraud,
      guard,
      route: (n) => this.dialplan.route(n),
      isUser: (u) => config.users.has(u),
    });
  }

  async start(): Promise<void> {
    await this.pbx.start();
    await this.trunks.start();
    const folders = new Set<string | undefined>([undefined, this.opts.config.pbx.moh, ...[...this.opts.config.pbx.queues.values()].map((q) => q.moh)]);
    for (const f of folders) this.moh.set(f ?? '', await mohSource(f ?? this.opts.config.pbx.moh ?? defaultMohFolder()));
  }

  /** What the proxy asks before handing a call over. */
  route(): ApplicationRoute {
    return {
      isApplication: (source: Peer) => {
        const me = this.pbx.peer;
        return source.port === me.port && source.address === me.address && source.proto === me.proto;
      },
      peer: () => this.pbx.peer,
      wants: (req, user) => {
        if (req.method === 'INVITE') return this.dialplan.knows(user);
        // Without a dialplan there are no mailboxes: the PBX is only the WebRTC gateway then.
        if (req.method === 'SUBSCRIBE') return this.opts.config.pbx.dialplan.size > 0 && (req.get('event') ?? '').split(';', 1)[0].trim().toLowerCase() === 'message-summary';
        return false;
      },
      trunkFor: (source) => this.ipTrunks.find((t) => t.allow.has(source.address))?.name,
    };
  }

  status(): PbxStatus {
    const now = this.opts.clock.wallNow();
    return {
      channels: this.pbx.channels.map((c) => ({
        channel: c.name,
        uniqueid: c.id,
        caller: c.caller.number,
        state: c.up ? 'Up' : c.call.state === 'ringing' ? 'Ringing' : c.call.state === 'ended' ? 'Down' : 'Dialing',
        app: c.lastApp,
        peer: c.peer?.name ?? '',
        seconds: Math.round((now - c.created) / 1000),
        trunk: c.trunk ?? '',
      })),
      queues: [...this.queues.values()].map((q) => q.figures()),
      conferences: [...this.rooms.values()].map((r) => ({ room: r.name, participants: r.list() })),
      parked: this.lot.list(),
      trunks: this.trunks.status(),
    };
  }

  counts(): PbxCounts {
    const channels = this.pbx.channels;
    let bridged = 0;
    for (const c of channels) if (c.peer?.peer === c) bridged++;
    let queueCallers = 0;
    for (const q of this.queues.values()) queueCallers += q.waiting;
    let conferenceParticipants = 0;
    for (const r of this.rooms.values()) conferenceParticipants += r.size;
    const tx = this.pbx.ua.stack.stats().transactions;
    return {
      channels: channels.length,
      bridges: bridged / 2,
      mediaPorts: this.pbx.mediaPorts,
      queueCallers,
      conferenceParticipants,
      parked: this.lot.size,
      timers: this.callClock.live,
      sipTransactions: tx.client + tx.server,
    };
  }

  async close(): Promise<void> {
    for (const r of this.rooms.values()) r.close();
    this.mwi.close();
    await this.pbx.close();
    await this.trunks.close();
    this.mailer?.close();
    this.cdrs.flush();
  }

  private mohFor(folder: string | undefined): AudioSourceSpec {
    return this.moh.get(folder ?? '') ?? this.moh.get('') ?? { kind: 'silence' };
  }

  private room(name: string): ConferenceRoom | undefined {
    let r = this.rooms.get(name);
    if (r) return r;
    const cfg = this.opts.config.pbx.conferences.get(name);
    if (!cfg) return undefined;
    const dir = path.join(this.opts.config.data, 'conferences');
    r = new ConferenceRoom(cfg, {
      clock: this.callClock,
      log: this.log.child({ layer: 'conference' }),
      moh: () => this.mohFor(undefined),
      recordingPath: (room) => {
        mkdirSync(dir, { recursive: true });
        return path.join(dir, `${room}-${new Date(this.opts.clock.wallNow()).toISOString().replace(/[:.]/g, '-')}.wav`);
      },
      empty: (room) => {
        if (this.rooms.get(room.name) === room) this.rooms.delete(room.name);
      },
    });
    this.rooms.set(name, r);
    return r;
  }

  private onCall(ch: Channel, info: NewCall): void {
    const config = this.opts.config;
    let context: string;
    const t = info.trunk !== undefined ? config.pbx.trunks.get(info.trunk) : undefined;
    if (t !== undefined) {
      context = this.trunks.contextFor(t, info.exten);
    } else if (info.user !== undefined) {
      // A number the dialplan does not know came through the WebRTC gateway: ring it as dialled.
      context = this.opts.webrtc && !this.dialplan.knows(info.exten) ? GATEWAY_CONTEXT : config.pbx.users.get(info.user)?.context ?? config.pbx.defaultContext;
    } else {
      ch.hangup(403, 'Forbidden');
      return;
    }
    ch.dst = info.exten;
    ch.context = context;
    if (!this.dialplan.hasContext(context)) {
      this.log.error({ context, exten: info.exten }, 'the caller\'s context does not exist; call refused');
      ch.hangup(404, 'Not Found');
      return;
    }
    const who = { user: info.user, trunk: info.user === undefined ? info.trunk : undefined, number: info.exten };
    let refusal = this.fraud.admitCall(ch, who);
    // Class of service: an outside number the caller's own context does not reach (international,
    // premium) is refused here, logged and counted, rather than falling to the context's `i`.
    if (!refusal && info.user !== undefined && !this.dialplan.reaches(context, info.exten) && this.dialplan.route(info.exten)) {
      refusal = this.fraud.refuse({ reason: 'class_of_service', why: `${info.user} dialled ${info.exten}, which context ${context} does not reach` }, who);
    }
    if (refusal) {
      const s = REFUSAL_STATUS[refusal.reason];
      ch.hangup(s.status, s.reason);
      return;
    }
    let exten = info.exten;
    // A DID's context written as an entry point (only `s`) starts there, as Asterisk users write them.
    if (t !== undefined && !this.dialplan.find(context, exten) && this.dialplan.find(context, 's')) exten = 's';
    const script = new CallScript(this.voice, ch, { context, exten });
    detach(script.run(), this.log, 'running a call', { callId: ch.call.callId });
  }

  /** The dialplan context a channel's own user dials in (a transferor's class of service). */
  private contextOf(ch: Channel): string {
    const u = ch.user === undefined ? undefined : this.opts.config.pbx.users.get(ch.user);
    return u?.context ?? (ch.context || this.opts.config.pbx.defaultContext);
  }

  /**
   * A REFER on leg `x`: blind, the party bridged to `x` runs the target
   * extension in the transferor's context; attended (Replaces naming the
   * transferor's other call), the two parties the transferor talked to are
   * bridged. The transferor's legs then end.
   */
  transfer(x: Channel, target: ReferTarget): boolean {
    const other = x.peer;
    if (!other || other.ended) return false;
    const replaces = target.headers.find(([n]) => n.toLowerCase() === 'replaces')?.[1];
    if (replaces !== undefined) {
      const id = parseReplaces(replaces);
      const y = id ? this.pbx.channels.find((c) => c !== x && c.call.callId === id.callId) : undefined;
      const third = y?.peer;
      if (!y || !third || third.ended) return false;
      other.takeover();
      third.takeover();
      x.bridge?.close();
      y.bridge?.close();
      detach(joinUntilHangup(other, third), this.log, 'an attended transfer');
      this.log.info({ from: other.name, to: third.name, by: x.name }, 'attended transfer');
      y.hangup();
      return true;
    }
    let exten: string | undefined;
    try {
      exten = parseUri(target.uri).user;
    } catch {
      exten = undefined;
    }
    if (!exten) return false;
    this.blindTransfer(x, other, exten);
    return true;
  }

  /** Who a channel's party is to others: the caller of an incoming leg, the called user of an outgoing one. */
  private partyOf(ch: Channel): { number: string; name?: string } {
    if (ch.call.direction === 'incoming') return ch.caller;
    return { number: ch.user ?? ch.endpoint, name: ch.user ? this.voice.displayName(ch.user) : undefined };
  }

  /** `other` (the party `by` talked to) runs `exten` in `by`'s context. */
  blindTransfer(by: Channel, other: Channel, exten: string): void {
    const context = this.contextOf(by);
    other.takeover();
    by.bridge?.close();
    // The party we called is now the caller: the new target sees their number.
    other.caller = this.partyOf(other);
    other.context = context;
    other.dst = exten;
    this.log.info({ channel: other.name, exten, context, by: by.name }, 'blind transfer');
    const script = new CallScript(this.voice, other, { context, exten });
    if (by.user !== undefined) script.vars.set('PARKER', by.user);
    detach(script.run(), this.log, 'running a transferred call', { callId: other.call.callId });
  }

  /** A forward set by feature code stays within the user's class of service (refusals counted as toll fraud). */
  private mayForwardTo(user: string, number: string): boolean {
    const context = this.opts.config.pbx.users.get(user)?.context ?? this.opts.config.pbx.defaultContext;
    if (this.opts.config.users.has(number) || this.dialplan.reaches(context, number)) return true;
    this.fraud.refuse({ reason: 'class_of_service', why: `${user} tried to forward calls to ${number}, which context ${context} does not reach` }, { user, number });
    return false;
  }

  /** A carrier's call on a registering trunk's own agent: from an allowed source, it is a PBX call on that trunk. */
  private trunkCall(call: IncomingCall, t: TrunkConfig, did: string): void {
    if (!this.fraud.trunkSourceAllowed(t.name, call.inviteTransaction.source.address)) {
      call.reject(403, 'Forbidden');
      return;
    }
    this.pbx.takeTrunkCall(call, { trunk: t.name, exten: did, codecs: trunkCodecs(t) });
  }

  private parkTimedOut(ch: Channel, parker: string | undefined): void {
    if (!parker || ch.ended) {
      ch.hangup();
      return;
    }
    const leg = this.pbx.dial(`sip:${parker}@${this.opts.config.domain}`, { from: { number: ch.caller.number, name: `Parked ${spell(ch.caller.number)}` }, endpoint: parker, user: parker });
    leg.linkedId = ch.linkedId;
    detach(
      (async () => {
        await new Promise<void>((resolve) => {
          leg.once('answered', () => resolve());
          leg.once('ended', () => resolve());
        });
        if (leg.up) await bridgeUntilHangup(ch, leg, 0);
        else ch.hangup();
      })(),
      this.log,
      'ringing back a parked call',
    );
  }

  /** A new message: e-mail it when the mailbox has an address and SMTP is set up. */
  private messageSaved(mailbox: string, id: number): void {
    const cfg = this.opts.config.pbx.users.get(mailbox);
    const msg = this.voicemail.get(id);
    const to = cfg?.voicemail?.email;
    if (!msg || !to || !this.mailer) return;
    detach(
      this.mailer.send({
        to,
        mailbox,
        ownerName: cfg?.name,
        callerNumber: msg.callerNumber,
        callerName: msg.callerName || undefined,
        received: msg.received,
        durationSeconds: msg.durationSeconds,
        wavPath: msg.path,
        messageId: msg.id,
      }),
      this.log,
      'mailing a voicemail',
    );
  }

  private writeCdr(ch: Channel): void {
    const primary = ch.call.direction === 'incoming';
    const row = primary ? cdrRow(ch, ch.caller.number, ch.dst, ch.context) : cdrRow(ch, ch.caller.number, ch.endpoint, ch.context);
    try {
      this.cdrs.insert(row);
    } catch (err) {
      this.log.error({ err, uniqueid: ch.id }, 'CDR not written');
    }
  }
}
