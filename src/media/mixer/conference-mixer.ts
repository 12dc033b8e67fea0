/**
 * N-party conference mixing, pure logic (no sockets, no timers): the owner
 * pushes each participant's frames as they arrive and calls tick() every
 * 20 ms; after a tick, mixFor(id) is what that participant hears: the sum
 * of everyone else, never themselves.
 *
 * - The mix runs at the best rate every participant can use: 16 kHz when all
 *   are wideband (G.722, Opus), else 8 kHz. Audio is resampled to it on the
 *   way in and back to each participant's rate on the way out.
 * - Each tick sums every contribution once (32-bit) and gives each listener
 *   the sum minus their own contribution, clamped to 16 bits: clipping happens
 *   once, on what is heard, never in between.
 * - Only participants above a noise gate (-50 dBFS, with 600 ms hangover)
 *   are mixed, as FreeSWITCH's energy level and ConfBridge's drop_silence
 *   do: line noise of forty idle phones does not add up, and everyone who
 *   is not talking hears the same mix, resampled once per rate instead of
 *   once per listener. So a tick costs O(N) copies plus O(talkers + rates)
 *   resampling.
 * - A participant's audio starts with a short fade-in and stops with a short
 *   ramp from its last sample to zero (joining, leaving, mute, the gate, a
 *   missing frame), so nobody hears a click.
 * - Per participant, a small queue (60 ms by default) absorbs frames that
 *   arrive in bursts; a tick with no whole frame queued counts as silence.
 */
import { levelDbfs } from '../dsp/level.js';
import { openSource, type AudioSource, type AudioSourceSpec } from '../players/source.js';
import { Resampler } from '../resample.js';
import { Emitter } from '../../util/emitter.js';
import type { Logger } from '../../util/log.js';

export const TICK_MS = 20;
const NARROWBAND = 8000;
const WIDEBAND = 16000;
/** Fade length in ms: long enough to turn a step into no audible click, short enough not to eat a syllable. */
const RAMP_MS = 5;
/** Ticks of zero input after which a resampler holds only zeros (its history is shorter than a frame). */
const FLUSH_TICKS = 2;

export class MixerError extends Error {
  override name = 'MixerError';
}

export interface ConferenceMixerOptions {
  /** Level above which a participant counts as talking, dBFS (default -40). */
  talkThresholdDbfs?: number;
  /** How long "talking" lasts after the last loud frame, ms (default 300). */
  talkHangoverMs?: number;
  /** Audio quieter than this is not mixed, dBFS (default -50; -Infinity mixes everything). */
  gateDbfs?: number;
  /** How long the gate stays open after the last frame above it, ms (default 600: pauses between words pass). */
  gateHangoverMs?: number;
  /** Frames a participant may have queued before the oldest is dropped (default 3). */
  maxQueuedFrames?: number;
  /** Where a throwing listener is reported. */
  log?: Logger;
}

export interface AddOptions {
  /** Joins muted (a listener-only participant, or a muted conference verb). */
  muted?: boolean;
  /** False for a feed that only speaks into the room (mixFor then stays silent); default true. */
  listens?: boolean;
}

export type ConferenceMixerEvents = {
  /** A participant started or stopped talking (energy with hangover), muted or not. */
  talking: [id: string, talking: boolean];
  /** The mixing rate changed (someone narrowband joined, or the last one left). */
  rate: [sampleRate: number];
};

export interface ParticipantInfo {
  id: string;
  sampleRate: number;
  muted: boolean;
  listens: boolean;
  talking: boolean;
  /** Level of the last frame heard from them, dBFS (-Infinity for silence). */
  levelDbfs: number;
  /** Frames dropped because they came faster than the ticks. */
  dropped: number;
  /** Ticks that found no frame of theirs. */
  missed: number;
}

interface Member {
  id: string;
  rate: number;
  /** Samples per tick at the member's rate. */
  frame: number;
  queue: Int16Array;
  queued: number;
  raw: Int16Array;
  /** What goes into the mix this tick, at the member's rate, after fades. */
  input: Int16Array;
  prevActive: boolean;
  lastSample: number;
  /** Ticks since the input was last non-zero. */
  quietTicks: number;
  /** This tick's input at the mixing rate; valid when `contributes`. */
  contrib: Int16Array;
  contributes: boolean;
  inRs: Resampler;
  /** Their own output resampler, used while they hear a mix of their own (they talk, or a tone skips them). */
  outRs: Resampler;
  /** Ticks left on their own mix; 0: they hear the shared one. */
  privateTicks: number;
  out: Int16Array;
  muted: boolean;
  listens: boolean;
  /** Samples since the last frame above the talk threshold / the gate. */
  sinceTalk: number;
  sinceGate: number;
  talking: boolean;
  level: number;
  dropped: number;
  missed: number;
  /** Removed: contributes its fade-out until its resampler is drained, then goes. */
  leaving: boolean;
  /** What each tick made for them, waiting for their call's RTP clock (sourceFor). */
  outQueue: Int16Array | undefined;
  outQueued: number;
}

interface Announcement {
  spec: AudioSourceSpec;
  source: AudioSource;
  except?: string;
  frame: Int16Array | undefined;
}

/** The mix everyone not talking hears, at one listener rate other than the mixing rate. */
interface SharedOut {
  rs: Resampler;
  out: Int16Array;
}

export class ConferenceMixer extends Emitter<ConferenceMixerEvents> {
  private readonly members = new Map<string, Member>();
  /** Removed members still fading out. */
  private leaving: Member[] = [];
  private announcements: Announcement[] = [];
  private mixRate = NARROWBAND;
  private sum = new Int32Array(NARROWBAND / 50);
  private scratch = new Int16Array(NARROWBAND / 50);
  private exceptSum = new Int32Array(NARROWBAND / 50);
  private room = new Int16Array(NARROWBAND / 50);
  private shared = new Map<number, SharedOut>();
  private readonly talkDbfs: number;
  private readonly talkHangoverMs: number;
  private readonly gateDbfs: number;
  private readonly gateHangoverMs: number;
  private readonly maxQueued: number;

  constructor(opts: ConferenceMixerOptions = {}) {
    super(opts.log);
    this.talkDbfs = opts.talkThresholdDbfs ?? -40;
    this.talkHangoverMs = opts.talkHangoverMs ?? 300;
    this.gateDbfs = opts.gateDbfs ?? -50;
    this.gateHangoverMs = opts.gateHangoverMs ?? 600;
    this.maxQueued = opts.maxQueuedFrames ?? 3;
    if (!(Number.isInteger(this.maxQueued) && this.maxQueued >= 1)) throw new RangeError(`maxQueuedFrames must be 1 or more, got ${this.maxQueued}`);
  }

  /** The rate the room is mixed at: 16000 when every participant is wideband, else 8000. */
  get rate(): number {
    return this.mixRate;
  }

  get size(): number {
    return this.members.size;
  }

  has(id: string): boolean {
    return this.members.has(id);
  }

  /** Adds a participant whose frames are mono at `sampleRate` (8000, 16000, 48000 ...; a multiple of 50). */
  add(id: string, sampleRate: number, opts: AddOptions = {}): void {
    if (this.members.has(id)) throw new MixerError(`participant ${id} is already in the conference`);
    if (!(Number.isInteger(sampleRate) && sampleRate > 0 && sampleRate % 50 === 0)) {
      throw new RangeError(`participant ${id}: sample rate ${sampleRate} Hz does not make whole 20 ms frames`);
    }
    // Refuses a rate the resampler cannot reach before anything changes.
    new Resampler(sampleRate, NARROWBAND);
    new Resampler(sampleRate, WIDEBAND);
    const frame = sampleRate / 50;
    const m: Member = {
      id,
      rate: sampleRate,
      frame,
      queue: new Int16Array(frame * this.maxQueued),
      queued: 0,
      raw: new Int16Array(frame),
      input: new Int16Array(frame),
      prevActive: false,
      lastSample: 0,
      quietTicks: Infinity,
      contrib: new Int16Array(0),
      contributes: false,
      inRs: new Resampler(sampleRate, this.mixRate),
      outRs: new Resampler(this.mixRate, sampleRate),
      privateTicks: 0,
      out: new Int16Array(frame),
      muted: opts.muted ?? false,
      listens: opts.listens ?? true,
      sinceTalk: Infinity,
      sinceGate: Infinity,
      talking: false,
      level: -Infinity,
      dropped: 0,
      missed: 0,
      leaving: false,
      outQueue: undefined,
      outQueued: 0,
    };
    this.fitToRate(m);
    this.members.set(id, m);
    if (!this.updateRate()) this.updateShared();
  }

  /** Takes a participant out; what they were saying fades out over the next tick. Unknown ids are ignored. */
  remove(id: string): void {
    const m = this.members.get(id);
    if (!m) return;
    this.members.delete(id);
    if (m.talking) this.emit('talking', id, false);
    m.leaving = true;
    m.talking = false;
    m.queued = 0;
    if (m.prevActive || m.quietTicks < FLUSH_TICKS) this.leaving.push(m);
    for (const a of this.announcements) if (a.except === id) a.except = undefined;
    if (!this.updateRate()) this.updateShared();
  }

  /**
   * Queues a frame of `id`'s audio (any length; 20 ms at their rate is
   * usual). False when `id` is not in the conference (a frame that raced
   * the hang-up).
   */
  push(id: string, frame: Int16Array): boolean {
    const m = this.members.get(id);
    if (!m) return false;
    const cap = m.queue.length;
    let src = frame;
    if (src.length > cap) {
      m.dropped += Math.floor((src.length - cap) / m.frame);
      src = src.subarray(src.length - cap);
    }
    const over = m.queued + src.length - cap;
    if (over > 0) {
      // Oldest audio goes: the delay stays bounded when their clock runs fast.
      m.queue.copyWithin(0, over, m.queued);
      m.queued -= over;
      m.dropped += Math.ceil(over / m.frame);
    }
    m.queue.set(src, m.queued);
    m.queued += src.length;
    return true;
  }

  /** Mutes (nobody hears them) or unmutes; they keep hearing the room. */
  mute(id: string, on: boolean): void {
    this.member(id).muted = on;
  }

  isMuted(id: string): boolean {
    return this.member(id).muted;
  }

  talking(id: string): boolean {
    return this.member(id).talking;
  }

  /**
   * Plays `spec` into the room (join/leave tones, "this conference is
   * recorded"): everyone hears it except `except`; it goes when it ends.
   * A source that cannot open at the mixing rate throws here.
   */
  play(spec: AudioSourceSpec, opts: { except?: string } = {}): void {
    const n = this.mixRate / 50;
    this.announcements.push({ spec, source: openSource(spec, this.mixRate, n), except: opts.except, frame: undefined });
  }

  /** Mixes one 20 ms tick; then mixFor() gives each participant their frame. */
  tick(): void {
    const sum = this.sum;
    sum.fill(0);
    for (const m of this.members.values()) this.take(m);
    for (const m of this.leaving) this.take(m);
    for (const m of this.members.values()) if (m.contributes) addInto(sum, m.contrib);
    for (const m of this.leaving) if (m.contributes) addInto(sum, m.contrib);
    this.leaving = this.leaving.filter((m) => m.contributes);

    let excepted = false;
    for (const a of this.announcements) {
      a.frame = a.source.read();
      if (a.frame) addInto(sum, a.frame);
      if (a.frame && a.except !== undefined) excepted = true;
    }
    const room = this.room;
    for (let i = 0; i < sum.length; i++) room[i] = clamp(sum[i]);

    // Own mixes first: one that starts now takes over the shared stream's state from before this tick.
    for (const m of this.members.values()) {
      if (!m.listens) continue;
      const own = excepted ? this.exceptFor(m.id) : undefined;
      const wasPrivate = m.privateTicks > 0;
      // Kept one tick longer than needed: that tick has nothing of theirs in it, so their
      // resampler's history ends equal to the shared one's and the switch back is seamless.
      if (m.contributes || own) m.privateTicks = FLUSH_TICKS;
      else if (m.privateTicks > 0) m.privateTicks--;
      if (m.rate === this.mixRate) {
        if (m.contributes || own) this.ownMix(m, own, m.out);
        else m.out.set(room);
      } else if (m.privateTicks > 0) {
        if (!wasPrivate) m.outRs.copyStateFrom(this.shared.get(m.rate)!.rs);
        this.ownMix(m, own, this.scratch);
        m.outRs.process(this.scratch, m.out);
      }
    }
    for (const s of this.shared.values()) s.rs.process(room, s.out);
    for (const m of this.members.values()) {
      if (!m.listens || m.rate === this.mixRate || m.privateTicks > 0) continue;
      m.out.set(this.shared.get(m.rate)!.out);
    }
    for (const m of this.members.values()) if (m.outQueue) enqueue(m.outQueue, m, m.out);

    const done = this.announcements.filter((a) => a.source.ended);
    if (done.length > 0) {
      for (const a of done) a.source.close?.();
      this.announcements = this.announcements.filter((a) => !a.source.ended);
    }
  }

  /** What `id` hears this tick: mono at their rate, one tick long. Reused by the next tick: copy what you keep. */
  mixFor(id: string): Int16Array {
    return this.member(id).out;
  }

  /** Everyone together at the mixing rate (recording the room). Reused by the next tick. */
  roomMix(): Int16Array {
    return this.room;
  }

  /**
   * What `id` hears as an AudioSourceSpec for their call (MediaSession.play):
   * each tick's frame is queued (60 ms at most) and handed out at the rate
   * the call's RTP clock reads, in frames of any size (a 30 ms ptime too).
   * Opening it for another rate than the one `id` was added with throws:
   * re-add them after a codec change. It ends when they leave.
   */
  sourceFor(id: string): AudioSourceSpec {
    const m = this.member(id);
    return {
      kind: 'custom',
      name: `conference mix for ${id}`,
      open: (sampleRate, frameSamples) => {
        if (sampleRate !== m.rate) throw new MixerError(`participant ${id} was added at ${m.rate} Hz, not ${sampleRate} Hz`);
        m.outQueue = new Int16Array(Math.max(3 * m.frame, 2 * frameSamples));
        m.outQueued = 0;
        const frame = new Int16Array(frameSamples);
        const src = {
          get ended() {
            return m.leaving;
          },
          read: (): Int16Array | undefined => {
            if (m.leaving || !m.outQueue || m.outQueued < frameSamples) return undefined;
            frame.set(m.outQueue.subarray(0, frameSamples));
            m.outQueue.copyWithin(0, frameSamples, m.outQueued);
            m.outQueued -= frameSamples;
            return frame;
          },
          close: () => {
            m.outQueue = undefined;
            m.outQueued = 0;
          },
        };
        return src;
      },
    };
  }

  participants(): ParticipantInfo[] {
    return [...this.members.values()].map((m) => ({
      id: m.id,
      sampleRate: m.rate,
      muted: m.muted,
      listens: m.listens,
      talking: m.talking,
      levelDbfs: m.level,
      dropped: m.dropped,
      missed: m.missed,
    }));
  }

  private member(id: string): Member {
    const m = this.members.get(id);
    if (!m) throw new MixerError(`no participant ${id} in the conference`);
    return m;
  }

  /** sum - their contribution - tones that skip them, clamped, into `out` (mixing rate). */
  private ownMix(m: Member, own: Int32Array | undefined, out: Int16Array): void {
    const sum = this.sum;
    const mine = m.contributes ? m.contrib : undefined;
    for (let i = 0; i < sum.length; i++) {
      let v = sum[i];
      if (mine) v -= mine[i];
      if (own) v -= own[i];
      out[i] = clamp(v);
    }
  }

  /** This tick's frame of `m`: talking and gate, fades, resampling to the mixing rate. */
  private take(m: Member): void {
    const f = m.frame;
    const has = !m.leaving && m.queued >= f;
    let gateOpen = false;
    if (has) {
      m.raw.set(m.queue.subarray(0, f));
      m.queue.copyWithin(0, f, m.queued);
      m.queued -= f;
      m.level = levelDbfs(m.raw);
    } else {
      if (!m.leaving) m.missed++;
      m.level = -Infinity;
    }
    if (!m.leaving) {
      m.sinceTalk = m.level > this.talkDbfs ? 0 : m.sinceTalk + f;
      m.sinceGate = m.level > this.gateDbfs ? 0 : m.sinceGate + f;
      gateOpen = m.sinceGate <= (this.gateHangoverMs * m.rate) / 1000;
      const talking = m.sinceTalk <= (this.talkHangoverMs * m.rate) / 1000;
      if (talking !== m.talking) {
        m.talking = talking;
        this.emit('talking', m.id, talking);
      }
    }
    const active = has && !m.muted && gateOpen;
    const input = m.input;
    const ramp = Math.min(f, Math.round((RAMP_MS * m.rate) / 1000));
    if (active) {
      input.set(m.raw);
      if (!m.prevActive) for (let i = 0; i < ramp; i++) input[i] = Math.round((input[i] * (i + 1)) / (ramp + 1));
      m.lastSample = input[f - 1];
      m.quietTicks = 0;
    } else if (m.prevActive) {
      // No audio to fade: glide from where the waveform stopped down to zero.
      const v = m.lastSample;
      for (let i = 0; i < ramp; i++) input[i] = Math.round((v * (ramp - i)) / (ramp + 1));
      input.fill(0, ramp);
      m.quietTicks = 0;
    } else {
      m.quietTicks++;
    }
    m.prevActive = active;
    // The tick after the ramp flushes the resampler's history; from then on it would only make zeros.
    m.contributes = m.quietTicks < FLUSH_TICKS;
    if (!m.contributes) return;
    if (m.quietTicks > 0) input.fill(0);
    m.inRs.process(input, m.contrib);
  }

  /** Announcements `id` must not hear, summed; undefined when none is playing. */
  private exceptFor(id: string): Int32Array | undefined {
    let acc: Int32Array | undefined;
    for (const a of this.announcements) {
      if (a.except !== id || !a.frame) continue;
      if (!acc) {
        acc = this.exceptSum;
        acc.fill(0);
      }
      addInto(acc, a.frame);
    }
    return acc;
  }

  /** Returns true when the rate changed (and everything was rebuilt for it). */
  private updateRate(): boolean {
    let wide = this.members.size > 0;
    for (const m of this.members.values()) if (m.rate < WIDEBAND) wide = false;
    const rate = wide ? WIDEBAND : NARROWBAND;
    if (rate === this.mixRate) return false;
    this.mixRate = rate;
    const n = rate / 50;
    this.sum = new Int32Array(n);
    this.scratch = new Int16Array(n);
    this.exceptSum = new Int32Array(n);
    this.room = new Int16Array(n);
    this.shared.clear();
    for (const m of this.members.values()) this.fitToRate(m);
    for (const m of this.leaving) this.fitToRate(m);
    this.updateShared();
    // A tone playing into the room starts again at the new rate rather than cut off.
    this.announcements = this.announcements.map((a) => {
      a.source.close?.();
      return { ...a, source: openSource(a.spec, rate, n), frame: undefined };
    });
    this.emit('rate', rate);
    return true;
  }

  /** One shared output per listener rate other than the mixing rate. */
  private updateShared(): void {
    const rates = new Set<number>();
    for (const m of this.members.values()) if (m.listens && m.rate !== this.mixRate) rates.add(m.rate);
    for (const r of this.shared.keys()) if (!rates.has(r)) this.shared.delete(r);
    for (const r of rates) {
      if (!this.shared.has(r)) this.shared.set(r, { rs: new Resampler(this.mixRate, r), out: new Int16Array(r / 50) });
    }
  }

  private fitToRate(m: Member): void {
    if (m.inRs.toRate !== this.mixRate) m.inRs = new Resampler(m.rate, this.mixRate);
    if (m.outRs.fromRate !== this.mixRate) m.outRs = new Resampler(this.mixRate, m.rate);
    if (m.contrib.length !== this.mixRate / 50) m.contrib = new Int16Array(this.mixRate / 50);
    m.privateTicks = 0;
  }
}

/** Appends `frame` to the member's output queue, dropping the oldest audio when it is full. */
function enqueue(queue: Int16Array, m: Member, frame: Int16Array): void {
  const over = m.outQueued + frame.length - queue.length;
  if (over > 0) {
    queue.copyWithin(0, over, m.outQueued);
    m.outQueued -= over;
  }
  queue.set(frame, m.outQueued);
  m.outQueued += frame.length;
}

function addInto(acc: Int32Array, frame: Int16Array): void {
  const n = Math.min(acc.length, frame.length);
  for (let i = 0; i < n; i++) acc[i] += frame[i];
}

function clamp(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}
