/**
 * Joins two channels' media. When both legs agreed on one codec at one rate
 * the packets are relayed undecoded (one socket hop, no jitter buffer in the
 * path, as rtpengine does); otherwise each side's decoded audio is resampled
 * and re-encoded for the other (G.722 phone ↔ G.711 trunk).
 */
import type { AudioSource, AudioSourceSpec } from '../media/players/index.js';
import { Resampler } from '../media/resample.js';
import type { MediaSession } from '../ua/media-session.js';
import type { Channel } from './channel.js';

export type BridgeMode = 'relay' | 'transcode';

export class MediaBridge {
  readonly mode: BridgeMode;
  private readonly undo: (() => void)[] = [];
  /** Per direction: how to stop it, while it runs. */
  private readonly flows = new Map<Channel, () => void>();
  private closed = false;

  constructor(
    readonly a: Channel,
    readonly b: Channel,
    /** What a party hears while the other holds the call (music on hold). */
    private readonly onHold?: AudioSourceSpec,
  ) {
    const ma = a.media;
    const mb = b.media;
    if (!ma || !mb) throw new Error('both legs need media before they are bridged');
    a.stopPlaying();
    b.stopPlaying();
    a.peer = b;
    b.peer = a;
    a.lastPeer = b.name;
    b.lastPeer = a.name;
    a.bridge = this;
    b.bridge = this;
    this.mode = ma.canRelayTo(mb) ? 'relay' : 'transcode';
    this.connect(a, b);
    this.connect(b, a);
    this.undo.push(a.on('digit', (d, via) => this.passKey(d, via, a, b)));
    this.undo.push(b.on('digit', (d, via) => this.passKey(d, via, b, a)));
    for (const [x, y] of [[a, b], [b, a]] as const) {
      if (x.call.heldByRemote) this.hold(x, y);
      this.undo.push(x.call.on('held', () => this.hold(x, y)));
      this.undo.push(x.call.on('resumed', () => this.resume(x, y)));
    }
  }

  /** Separates the legs; each plays silence (or whatever it is told next). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.undo.splice(0)) u();
    for (const stop of [...this.flows.values()]) stop();
    this.flows.clear();
    if (this.a.peer === this.b) this.a.peer = undefined;
    if (this.b.peer === this.a) this.b.peer = undefined;
    if (this.a.bridge === this) this.a.bridge = undefined;
    if (this.b.bridge === this) this.b.bridge = undefined;
  }

  /**
   * A key one party pressed reaches the other: relayed RFC 4733 packets
   * already carry it, so only keys that were decoded (transcoding) or came as
   * SIP INFO are sent again, as RFC 4733 when the other side takes it, else
   * as INFO.
   */
  private passKey(digit: string, via: 'rtp' | 'info', from: Channel, to: Channel): void {
    if (this.closed || (this.mode === 'relay' && via === 'rtp') || !this.flows.has(from)) return;
    try {
      to.media?.sendDigits(digit);
    } catch {
      to.call.sendDtmfInfo(digit).catch(() => undefined);
    }
  }

  /** `holder` put the call on hold: `other` hears music instead of them. */
  private hold(holder: Channel, other: Channel): void {
    if (this.closed || !this.onHold) return;
    this.flows.get(holder)?.();
    other.playForever(this.onHold);
  }

  private resume(holder: Channel, other: Channel): void {
    if (this.closed || this.flows.has(holder)) return;
    other.stopPlaying();
    this.connect(holder, other);
  }

  /** What `from`'s party says reaches `to`'s party. */
  private connect(from: Channel, to: Channel): void {
    const mf = from.media as MediaSession;
    const mt = to.media as MediaSession;
    let stop: () => void;
    if (this.mode === 'relay') {
      mf.relayTo(mt);
      stop = () => mf.relayTo(undefined);
    } else {
      const fifo = new PcmFifo();
      const off = mf.on('frame', (pcm, rate) => fifo.push(pcm, rate));
      mt.play({ kind: 'custom', open: (rate, frame) => fifo.reader(rate, frame) });
      stop = () => {
        off();
        mt.play({ kind: 'silence' });
      };
    }
    this.flows.set(from, () => {
      this.flows.delete(from);
      stop();
    });
  }
}

/**
 * Bridges two channels with media and waits until one of them hangs up (or
 * `timeLimitMs` passes, when not 0); then hangs up the other — unless a
 * transfer took it over meanwhile (its generation changed).
 */
export async function joinUntilHangup(a: Channel, b: Channel, timeLimitMs = 0): Promise<void> {
  const genA = a.generation;
  const genB = b.generation;
  if (a.ended || b.ended || !a.media || !b.media) {
    if (!a.ended && a.generation === genA) a.hangup();
    if (!b.ended && b.generation === genB) b.hangup();
    return;
  }
  const bridge = new MediaBridge(a, b, a.owner.moh?.());
  await new Promise<void>((resolve) => {
    let limit: { cancel(): void } | undefined;
    const done = (): void => {
      limit?.cancel();
      offA();
      offB();
      resolve();
    };
    const offA = a.once('ended', done);
    const offB = b.once('ended', done);
    if (timeLimitMs > 0) limit = a.owner.clock.setTimer(timeLimitMs, done);
  });
  bridge.close();
  if (!a.ended && a.generation === genA) a.hangup();
  if (!b.ended && b.generation === genB) b.hangup();
}

/**
 * Decoded audio from one leg waiting for the other's next frame. Bounded: a
 * leg whose clock runs fast cannot make the queue (and the delay) grow.
 */
class PcmFifo {
  private readonly chunks: Int16Array[] = [];
  private queued = 0;
  private outRate = 0;
  private inRate = 0;
  private resampler: Resampler | undefined;
  private static readonly MAX_MS = 120;

  push(pcm: Int16Array, rate: number): void {
    if (this.outRate === 0) return;
    if (rate !== this.inRate) {
      this.inRate = rate;
      this.resampler = rate === this.outRate ? undefined : new Resampler(rate, this.outRate);
    }
    let data: Int16Array;
    const rs = this.resampler;
    if (rs) {
      const out = new Int16Array(rs.outputLength(pcm.length));
      data = out.subarray(0, rs.process(pcm, out));
    } else data = Int16Array.from(pcm);
    this.chunks.push(data);
    this.queued += data.length;
    const max = (this.outRate * PcmFifo.MAX_MS) / 1000;
    while (this.queued > max && this.chunks.length > 1) this.queued -= (this.chunks.shift() as Int16Array).length;
  }

  reader(rate: number, frameSamples: number): AudioSource {
    this.outRate = rate;
    this.inRate = 0;
    this.chunks.length = 0;
    this.queued = 0;
    const frame = new Int16Array(frameSamples);
    return {
      ended: false,
      read: () => {
        if (this.queued < frameSamples) return undefined;
        let filled = 0;
        while (filled < frameSamples) {
          const head = this.chunks[0];
          const take = Math.min(head.length, frameSamples - filled);
          frame.set(head.subarray(0, take), filled);
          filled += take;
          if (take === head.length) this.chunks.shift();
          else this.chunks[0] = head.subarray(take);
        }
        this.queued -= frameSamples;
        return frame;
      },
    };
  }
}
