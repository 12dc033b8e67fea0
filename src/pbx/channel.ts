/**
 * A channel is one leg of a PBX call: a `ua/` call with its own dialog and
 * its own media session, as Asterisk's SIP channel is. The verb engine plays,
 * records and listens for keys on it; a bridge or a conference joins it to
 * others. It ends once, and whoever holds it hears `ended`.
 */
import type { DtmfDigitEvent } from '../media/dtmf/index.js';
import { openSource, type AudioSource, type AudioSourceSpec } from '../media/players/index.js';
import type { Call, CallEnd } from '../ua/call.js';
import type { IncomingCall } from '../ua/incoming.js';
import { MediaSession } from '../ua/media-session.js';
import type { MediaFactory } from '../ua/media-handler.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { Emitter } from '../util/emitter.js';
import { detach, type Logger } from '../util/log.js';

export interface Party {
  number: string;
  name?: string;
}

export type ChannelEvents = {
  /** The leg's far end answered (outgoing legs), or we answered it (incoming). */
  answered: [];
  /** A key, from RFC 4733 or a tone in the audio (`rtp`), or from SIP INFO (`info`). */
  digit: [digit: string, via: 'rtp' | 'info'];
  ended: [info: CallEnd];
};

/** What a channel needs from the PBX that owns it. */
export interface ChannelHost {
  readonly clock: Clock;
  readonly log: Logger;
  /** Music on hold (a held party's peer hears it). */
  moh?(): AudioSourceSpec;
  /**
   * A media session for a new leg (the PBX's codecs, ports and addresses):
   * WebRTC (ICE, DTLS-SRTP) when the far end's offer is a browser's, or when
   * we offer to a browser (`webrtc`).
   */
  openMedia(codecs?: readonly string[], leg?: LegMedia): Promise<MediaSession>;
  ended(ch: Channel): void;
}

/** What a leg's media must speak: the offer it answers, or whether we offer to a browser. */
export interface LegMedia {
  offer?: string;
  webrtc?: boolean;
}

/** Why a play stopped: it ran to its end, a key cut it off, or the caller is gone. */
export type PlayResult = 'done' | 'key' | 'hangup' | 'stopped';

let sequence = 0;

export class Channel extends Emitter<ChannelEvents> {
  /** Asterisk's uniqueid: seconds since the epoch, a dot, a sequence number. */
  readonly id: string;
  /** `SIP/1001-0000002a`: the technology, the endpoint, a sequence. */
  readonly name: string;
  /** The uniqueid of the call's first channel: every leg of one call shares it (CDR linkedid). */
  linkedId: string;
  readonly created: number;
  answeredAt: number | undefined;
  endedAt: number | undefined;
  /** The trunk this leg runs over, if any. */
  trunk: string | undefined;
  /** The channel this one is bridged to. */
  peer: Channel | undefined;
  /** The verb running on this channel (CDR lastapp). */
  lastApp = '';
  /** The last channel this one was bridged to (CDR dstchannel). */
  lastPeer: string | undefined;
  /** What was dialled and in which context it ran (CDR dst, dcontext). */
  dst = '';
  context = '';
  /**
   * Bumped when something takes the channel over (a transfer moves it to a
   * new script or bridge): whoever held it before lets it go without
   * hanging it up.
   */
  generation = 0;
  /** The bridge it is in, if any (a transfer breaks it). */
  bridge: { close(): void } | undefined;
  /** How the last dial from this channel went (Asterisk's DIALSTATUS): the disposition of an unanswered call. */
  dialStatus: string | undefined;
  /** Keys pressed and not yet read by a verb. */
  private readonly keys: string[] = [];
  private keyWaiter: (() => void) | undefined;
  private mediaValue: MediaSession | undefined;
  private playing: { done: (r: PlayResult) => void; interrupt: boolean } | undefined;
  private endInfo: CallEnd | undefined;
  /** Feature-code listeners (transfer keys in a bridge) see keys before the queue does. */
  keyFilter: ((digit: string) => boolean) | undefined;

  constructor(
    readonly owner: ChannelHost,
    readonly call: Call,
    /** Who is calling on this leg (caller ID); a transfer may change it. */
    public caller: Party,
    readonly endpoint: string,
    /** The authenticated user behind this leg, when it is one of ours. */
    readonly user: string | undefined,
    private readonly codecs?: readonly string[],
    /** The far end is a browser we offer to (ICE, DTLS-SRTP). */
    readonly webrtc = false,
  ) {
    super(owner.log);
    const wall = owner.clock.wallNow();
    sequence = (sequence + 1) % 0x1_0000_0000;
    this.id = `${Math.floor(wall / 1000)}.${sequence}`;
    this.name = `SIP/${endpoint}-${sequence.toString(16).padStart(8, '0')}`;
    this.linkedId = this.id;
    this.created = wall;
    call.on('dtmf', (digit) => this.key(digit, 'info'));
    call.on('answered', () => {
      this.answeredAt ??= this.owner.clock.wallNow();
      this.emit('answered');
    });
    call.once('ended', (info) => this.finish(info));
    if (call.state === 'ended') this.finish(call.endInfo ?? { by: 'error' });
  }

  /** Media for the leg, opened when the call's offer/answer needs it; given to the ua call. */
  readonly mediaFactory: MediaFactory = async (offer?: string) => {
    const m = await this.owner.openMedia(this.codecs, { offer, webrtc: this.webrtc });
    this.mediaValue = m;
    m.on('digit', (ev: DtmfDigitEvent) => this.key(ev.digit, 'rtp'));
    // A browser that never completes ICE/DTLS, fails its fingerprint or vanishes: the leg is over.
    m.on('failed', (reason: string) => {
      this.owner.log.info({ channel: this.name, callId: this.call.callId, reason }, 'WebRTC media failed: hanging up');
      this.hangup(this.up ? undefined : 488, 'WebRTC media failed');
    });
    return m;
  };

  get media(): MediaSession | undefined {
    return this.mediaValue;
  }

  get ended(): boolean {
    return this.endInfo !== undefined;
  }

  get up(): boolean {
    return this.call.state === 'answered';
  }

  get endedInfo(): CallEnd | undefined {
    return this.endInfo;
  }

  /** Takes the channel over: earlier holders see the generation change and let go. */
  takeover(): number {
    return ++this.generation;
  }

  /** Answers an incoming leg; resolves false when the caller went away first. */
  async answer(): Promise<boolean> {
    if (this.call.state === 'answered') return true;
    if (this.call.direction !== 'incoming' || this.ended) return false;
    try {
      await (this.call as IncomingCall).accept();
      this.answeredAt ??= this.owner.clock.wallNow();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * 183 Session Progress with our SDP toward an incoming leg not answered
   * yet, so audio (the far end's ringback or announcement) reaches the caller
   * before the answer; resolves false when that cannot be done.
   */
  async earlyMedia(): Promise<boolean> {
    if (this.call.direction !== 'incoming' || this.call.state !== 'ringing') return this.up;
    try {
      await (this.call as IncomingCall).progress();
      return this.mediaValue !== undefined && !this.ended;
    } catch {
      return false;
    }
  }

  /** 180 Ringing toward an incoming leg that is not answered yet. */
  ringing(): void {
    if (this.call.direction === 'incoming' && this.call.state === 'ringing') (this.call as IncomingCall).ringing();
  }

  /** Ends the leg however far it got (reject with `status` before the answer). */
  hangup(status?: number, reason?: string): void {
    if (this.ended) return;
    if (this.call.direction === 'incoming' && this.call.state === 'ringing') {
      (this.call as IncomingCall).reject(status ?? 480, reason);
      return;
    }
    detach(this.call.hangup(), this.owner.log, 'hanging up a channel');
  }

  /**
   * Plays `spec` until it ends (a file or a tone with a length), a key cuts
   * it off (when `interrupt`), the caller hangs up, or stop() is called.
   * Looping sources play until one of the others happens.
   */
  play(spec: AudioSourceSpec, opts: { interrupt?: boolean } = {}): Promise<PlayResult> {
    this.stopPlaying('stopped');
    const media = this.mediaValue;
    if (this.ended || !media) return Promise.resolve('hangup');
    if (opts.interrupt && this.keys.length > 0) return Promise.resolve('key');
    return new Promise<PlayResult>((resolve) => {
      const state = { done: resolve, interrupt: opts.interrupt ?? false };
      this.playing = state;
      media.play({
        kind: 'custom',
        open: (rate, frame) => {
          const inner: AudioSource = openSource(spec, rate, frame);
          return {
            read: () => {
              if (this.playing !== state) return undefined;
              const f = inner.read();
              if (inner.ended) this.owner.clock.setTimer(0, () => this.finishPlay(state, 'done'));
              return f;
            },
            get ended() {
              return inner.ended;
            },
            close: () => inner.close?.(),
          };
        },
      });
    });
  }

  /** Plays something with no end (music on hold, a conference mix) until replaced. */
  playForever(spec: AudioSourceSpec): void {
    this.stopPlaying('stopped');
    this.mediaValue?.play(spec);
  }

  /** Stops what play() is playing: silence follows. */
  stopPlaying(result: PlayResult = 'stopped'): void {
    const p = this.playing;
    if (!p) return;
    this.finishPlay(p, result);
  }

  /** The next key pressed, or undefined after `timeoutMs` or when the caller hangs up. */
  async nextKey(timeoutMs: number): Promise<string | undefined> {
    const queued = this.keys.shift();
    if (queued !== undefined) return queued;
    if (this.ended) return undefined;
    await new Promise<void>((resolve) => {
      const held: { timer?: TimerHandle } = {};
      const done = (): void => {
        held.timer?.cancel();
        if (this.keyWaiter === done) this.keyWaiter = undefined;
        resolve();
      };
      this.keyWaiter = done;
      held.timer = this.owner.clock.setTimer(timeoutMs, done);
    });
    return this.keys.shift();
  }

  /** Forgets keys typed ahead (before a menu that should not see them). */
  clearKeys(): void {
    this.keys.length = 0;
  }

  /** Waits `ms`, or less if the caller hangs up. */
  async sleep(ms: number): Promise<void> {
    if (this.ended) return;
    await new Promise<void>((resolve) => {
      const t = this.owner.clock.setTimer(ms, () => {
        off();
        resolve();
      });
      const off = this.once('ended', () => {
        t.cancel();
        resolve();
      });
    });
  }

  /** Resolves when the leg ends (at once if it has). */
  whenEnded(): Promise<CallEnd> {
    const info = this.endInfo;
    if (info) return Promise.resolve(info);
    return new Promise((resolve) => this.once('ended', resolve));
  }

  private finishPlay(state: { done: (r: PlayResult) => void }, result: PlayResult): void {
    if (this.playing !== state) return;
    this.playing = undefined;
    if (result !== 'hangup') this.mediaValue?.play({ kind: 'silence' });
    state.done(result);
  }

  private key(digit: string, via: 'rtp' | 'info'): void {
    if (this.ended) return;
    this.owner.log.debug({ channel: this.name, callId: this.call.callId, digit, via }, 'key pressed');
    if (this.keyFilter?.(digit)) return;
    this.emit('digit', digit, via);
    this.keys.push(digit);
    if (this.keys.length > 64) this.keys.shift();
    if (this.playing?.interrupt) this.finishPlay(this.playing, 'key');
    this.keyWaiter?.();
  }

  private finish(info: CallEnd): void {
    if (this.endInfo) return;
    this.endInfo = info;
    this.endedAt = this.owner.clock.wallNow();
    if (this.playing) this.finishPlay(this.playing, 'hangup');
    this.keyWaiter?.();
    this.emit('ended', info);
    this.owner.ended(this);
  }
}
