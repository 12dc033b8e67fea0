/**
 * A conference room, as Asterisk's ConfBridge: every participant hears
 * everyone but themselves, mixed at the best rate they all share; join and
 * leave tones; mute and kick by participant number; wait for the leader;
 * record the room to a WAV file.
 */
import type { ConferenceConfig } from '../config/pbx-schema.js';
import { ConferenceMixer, TICK_MS } from '../media/mixer/index.js';
import { WavRecorder, type AudioSourceSpec } from '../media/players/index.js';
import { CONFERENCE_JOIN, CONFERENCE_LEAVE } from '../media/players/tones.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { Channel } from './channel.js';

export interface ConferenceHost {
  readonly clock: Clock;
  readonly log: Logger;
  moh(): AudioSourceSpec;
  /** A new file for the room's recording. */
  recordingPath(room: string): string;
  /** The room emptied: its owner may forget it. */
  empty(room: ConferenceRoom): void;
}

interface Participant {
  ch: Channel;
  number: number;
  leader: boolean;
  joinedAt: number;
  /** Resolves the participant's join() (its verb) when it leaves or is kicked. */
  left: () => void;
  offs: (() => void)[];
  /** Hearing the room (false while waiting for the leader: music instead). */
  inRoom: boolean;
}

export interface ParticipantView {
  number: number;
  channel: string;
  caller: string;
  name?: string;
  muted: boolean;
  leader: boolean;
  talking: boolean;
  seconds: number;
  rate: number;
}

export class ConferenceRoom {
  private readonly mixer: ConferenceMixer;
  private readonly members = new Map<string, Participant>();
  private nextNumber = 1;
  private timer: TimerHandle | undefined;
  private nextTickAt = 0;
  private recorder: WavRecorder | undefined;
  /** Recording was asked for but the file could not be opened: not tried again for this room. */
  private recordFailed = false;

  constructor(
    readonly config: ConferenceConfig,
    private readonly host: ConferenceHost,
  ) {
    this.mixer = new ConferenceMixer({ log: host.log });
  }

  get name(): string {
    return this.config.name;
  }

  get size(): number {
    return this.members.size;
  }

  private get leaderPresent(): boolean {
    return [...this.members.values()].some((p) => p.leader);
  }

  /** Joins an answered channel; resolves when it leaves (hangs up or is kicked). */
  join(ch: Channel, opts: { muted?: boolean; leader?: boolean } = {}): Promise<void> {
    const media = ch.media;
    if (ch.ended || !media?.info) return Promise.resolve();
    const rate = media.info.sampleRate;
    return new Promise<void>((resolve) => {
      const p: Participant = { ch, number: this.nextNumber++, leader: opts.leader ?? false, joinedAt: this.host.clock.now(), left: resolve, offs: [], inRoom: false };
      this.members.set(ch.id, p);
      this.mixer.add(ch.id, rate, { muted: opts.muted ?? false });
      p.offs.push(media.on('frame', (pcm) => this.mixer.push(ch.id, pcm)));
      p.offs.push(ch.once('ended', () => this.remove(ch.id)));
      if (this.config.tones) this.safePlay(CONFERENCE_JOIN, ch.id);
      this.host.log.info({ room: this.name, channel: ch.name, number: p.number }, `conference ${this.name}: ${ch.caller.number} joined`);
      this.placeAll();
      this.start();
    });
  }

  mute(number: number, on: boolean): boolean {
    const p = this.byNumber(number);
    if (!p) return false;
    this.mixer.mute(p.ch.id, on);
    return true;
  }

  kick(number: number): boolean {
    const p = this.byNumber(number);
    if (!p) return false;
    this.remove(p.ch.id);
    p.ch.hangup();
    return true;
  }

  list(): ParticipantView[] {
    const now = this.host.clock.now();
    const info = new Map(this.mixer.participants().map((i) => [i.id, i]));
    return [...this.members.values()].map((p) => {
      const i = info.get(p.ch.id);
      return {
        number: p.number,
        channel: p.ch.name,
        caller: p.ch.caller.number,
        name: p.ch.caller.name,
        muted: i?.muted ?? false,
        leader: p.leader,
        talking: i?.talking ?? false,
        seconds: Math.round((now - p.joinedAt) / 1000),
        rate: i?.sampleRate ?? 0,
      };
    });
  }

  /** Hangs everyone up (server shutdown). */
  close(): void {
    for (const p of [...this.members.values()]) {
      this.remove(p.ch.id);
      p.ch.hangup();
    }
  }

  private byNumber(n: number): Participant | undefined {
    return [...this.members.values()].find((p) => p.number === n);
  }

  private remove(id: string): void {
    const p = this.members.get(id);
    if (!p) return;
    this.members.delete(id);
    for (const off of p.offs) off();
    this.mixer.remove(id);
    if (!p.ch.ended) p.ch.stopPlaying();
    if (this.config.tones && this.members.size > 0) this.safePlay(CONFERENCE_LEAVE);
    this.host.log.info({ room: this.name, channel: p.ch.name }, `conference ${this.name}: ${p.ch.caller.number} left`);
    p.left();
    this.placeAll();
    if (this.members.size === 0) this.stop();
  }

  /** Who hears the room and who hears music (waiting for the leader). */
  private placeAll(): void {
    const open = !this.config.waitForLeader || this.leaderPresent;
    for (const p of this.members.values()) {
      const hear = open || p.leader;
      if (hear === p.inRoom && p.ch.media) continue;
      p.inRoom = hear;
      if (hear) {
        p.ch.playForever(this.mixer.sourceFor(p.ch.id));
      } else p.ch.playForever(this.host.moh());
    }
  }

  private safePlay(spec: AudioSourceSpec, except?: string): void {
    try {
      this.mixer.play(spec, { except });
    } catch (err) {
      this.host.log.warn({ err, room: this.name }, 'conference tone could not be played');
    }
  }

  private start(): void {
    if (this.timer) return;
    this.nextTickAt = this.host.clock.now();
    this.schedule();
  }

  private stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.recorder?.close();
    this.recorder = undefined;
    this.host.empty(this);
  }

  /** Ticks on absolute times so the mix keeps pace with the participants' 20 ms frames. */
  private schedule(): void {
    this.nextTickAt += TICK_MS;
    this.timer = this.host.clock.setTimer(Math.max(0, this.nextTickAt - this.host.clock.now()), () => {
      this.timer = undefined;
      if (this.members.size === 0) return;
      this.mixer.tick();
      this.record();
      this.schedule();
    });
  }

  private record(): void {
    if (!this.config.record || this.recordFailed) return;
    const mix = this.mixer.roomMix();
    const rate = mix.length * 50;
    if (this.recorder?.sampleRate !== rate) {
      this.recorder?.close();
      try {
        this.recorder = new WavRecorder(this.host.recordingPath(this.name), rate);
      } catch (err) {
        this.host.log.error({ err, room: this.name }, 'cannot record the conference');
        this.recorder = undefined;
        this.recordFailed = true;
        return;
      }
    }
    this.recorder.write(mix);
  }
}
