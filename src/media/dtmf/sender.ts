/**
 * Sends keys as RFC 4733 telephone-events, one packet per audio frame.
 *
 * The media endpoint calls `next()` every `frameMs`, exactly when it would
 * otherwise send an audio frame. While a key is being sent it gets a packet
 * back and sends that instead of audio; `undefined` means "send audio".
 * Per RFC 4733 §2.5.1: every packet of one key carries the RTP timestamp of
 * the key's start, the first has the marker bit, the duration grows by one
 * frame per packet, and the final (E-bit) packet is sent three times so one
 * or two lost packets do not leave the far end holding the key down.
 */
import { digitToEvent, eventToDigit, type DtmfDigit } from './digits.js';
import { encodeEvent, MAX_EVENT_DURATION, type TelephoneEvent } from './telephone-event.js';

export interface DtmfSenderOptions {
  /** RTP clock of the negotiated telephone-event payload type. */
  clockRate?: number;
  /** Packet interval; should match the audio ptime. */
  frameMs?: number;
  /** How long each key is held. */
  durationMs?: number;
  /** Tone power level in -dBm0 (0-63) announced in each packet. */
  volume?: number;
  /** Audio (no events) between the last end packet of one key and the start of the next. */
  gapMs?: number;
  /** How many times the end packet is sent; RFC 4733 §2.5.1.4 recommends 3. */
  endPackets?: number;
}

/** One packet to send. The object and `payload` are reused: read them before the next `next()`. */
export interface DtmfPacket {
  /** The 4-octet telephone-event payload. */
  payload: Uint8Array;
  /** RTP marker bit: set on the first packet of a key only. */
  marker: boolean;
  /** RTP timestamp for this packet: the key's start, the same on all its packets. */
  timestamp: number;
  /** How far (in timestamp units) this frame is past the key's start; `timestamp + timestampOffset` is the audio timestamp now. */
  timestampOffset: number;
  /** Duration field of this packet in timestamp units. */
  duration: number;
  end: boolean;
  /** The key this packet belongs to. */
  digit: DtmfDigit;
}

type Phase = 'idle' | 'tone' | 'end' | 'gap';

export class DtmfSender {
  readonly clockRate: number;
  readonly frameMs: number;
  private readonly samplesPerFrame: number;
  private readonly totalDuration: number;
  private readonly volume: number;
  private readonly gapFrames: number;
  private readonly endPackets: number;

  private readonly queue: number[] = [];
  private phase: Phase = 'idle';
  /** Frames left in the current phase (end retransmissions or gap). */
  private left = 0;
  private event = 0;
  private startTs = 0;
  private elapsed = 0;
  /** Timestamp units from the key's start to the current frame (keeps growing through the end packets). */
  private sinceStart = 0;
  /** Own timeline for callers that do not pass an RTP timestamp. */
  private ownTs = 0;

  private readonly ev: TelephoneEvent = { event: 0, end: false, volume: 0, duration: 0 };
  private readonly packet: DtmfPacket = {
    payload: new Uint8Array(4),
    marker: false,
    timestamp: 0,
    timestampOffset: 0,
    duration: 0,
    end: false,
    digit: '0',
  };

  constructor(opts: DtmfSenderOptions = {}) {
    this.clockRate = opts.clockRate ?? 8000;
    this.frameMs = opts.frameMs ?? 20;
    const durationMs = opts.durationMs ?? 100;
    this.volume = opts.volume ?? 10;
    const gapMs = opts.gapMs ?? 40;
    this.endPackets = opts.endPackets ?? 3;
    this.samplesPerFrame = Math.round((this.clockRate * this.frameMs) / 1000);
    this.totalDuration = Math.round((this.clockRate * durationMs) / 1000);
    if (!(this.samplesPerFrame > 0)) throw new RangeError('DtmfSender: frameMs and clockRate must be positive');
    if (!(this.totalDuration >= this.samplesPerFrame) || this.totalDuration > MAX_EVENT_DURATION) {
      // Longer keys would need the §2.5.1.3 segmentation this sender does not do.
      throw new RangeError(`DtmfSender: durationMs must be between frameMs and ${Math.floor((MAX_EVENT_DURATION * 1000) / this.clockRate)}`);
    }
    if (!Number.isInteger(this.volume) || this.volume < 0 || this.volume > 63) throw new RangeError('DtmfSender: volume must be 0-63');
    if (!Number.isInteger(this.endPackets) || this.endPackets < 1) throw new RangeError('DtmfSender: endPackets must be >= 1');
    this.gapFrames = Math.max(0, Math.ceil(gapMs / this.frameMs));
  }

  /** Queues one key. Throws RangeError if `digit` is not 0-9, *, #, A-D. */
  start(digit: string): void {
    this.sendDigits(digit);
  }

  /** Queues keys in order; the whole string is checked first, so a bad character queues nothing. */
  sendDigits(digits: string): void {
    for (const ch of digits) {
      if (digitToEvent(ch) < 0) throw new RangeError(`DtmfSender: not a DTMF key: ${JSON.stringify(ch)}`);
    }
    for (const ch of digits) this.queue.push(digitToEvent(ch));
  }

  /**
   * True while a key is in flight or queued. Whether this frame is audio or
   * an event is decided by `next()` alone: during the gap between keys it
   * returns undefined although keys are still queued.
   */
  get busy(): boolean {
    return this.phase === 'tone' || this.phase === 'end' || this.queue.length > 0;
  }

  /** Keys queued but not yet started. */
  get queued(): number {
    return this.queue.length;
  }

  /** Drops queued keys; a key already started still finishes with its end packets. */
  clear(): void {
    this.queue.length = 0;
  }

  /**
   * Called once per frame. `rtpTimestamp` is the timestamp the endpoint would
   * put on an audio frame now; without it the sender counts from 0 on its own.
   */
  next(rtpTimestamp?: number): DtmfPacket | undefined {
    const now = rtpTimestamp ?? this.ownTs;
    this.ownTs = (this.ownTs + this.samplesPerFrame) >>> 0;

    if (this.phase === 'gap') {
      if (--this.left <= 0) this.phase = 'idle';
      return undefined;
    }
    if (this.phase === 'idle') {
      const event = this.queue.shift();
      if (event === undefined) return undefined;
      this.event = event;
      this.startTs = now >>> 0;
      this.elapsed = 0;
      this.sinceStart = 0;
      this.phase = 'tone';
    }
    const p = this.packet;
    p.marker = false;
    p.timestamp = this.startTs;
    p.timestampOffset = this.sinceStart;
    this.sinceStart += this.samplesPerFrame;
    p.digit = eventToDigit(this.event) ?? '0';
    if (this.phase === 'tone') {
      p.marker = this.elapsed === 0;
      this.elapsed += this.samplesPerFrame;
      if (this.elapsed >= this.totalDuration) {
        this.phase = 'end';
        this.left = this.endPackets;
      }
    }
    let end = false;
    if (this.phase === 'end') {
      end = true;
      if (--this.left === 0) {
        this.phase = this.gapFrames > 0 ? 'gap' : 'idle';
        this.left = this.gapFrames;
      }
    }
    p.end = end;
    p.duration = Math.min(this.elapsed, this.totalDuration);
    this.ev.event = this.event;
    this.ev.end = end;
    this.ev.volume = this.volume;
    this.ev.duration = p.duration;
    encodeEvent(this.ev, p.payload);
    return p;
  }
}
