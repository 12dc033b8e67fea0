/**
 * What the phone prints about one call and what it keeps of it: progress
 * lines, the codec chosen, DTMF heard, `[STATS]` every five seconds, the
 * recording, and a summary when it ends.
 */
import type { Call, CallEnd } from '../../ua/index.js';
import type { MediaInfo, MediaSession } from '../../ua/media-session.js';
import { Speaker, WavRecorder } from '../../media/players/index.js';
import { Resampler } from '../../media/resample.js';
import { CALL_PROGRESS_TONES, ToneGenerator } from '../../media/dsp/tone.js';
import { estimateMos } from '../../media/quality/emodel.js';
import { formatStatsLine } from '../../media/quality/stats-line.js';
import { codecNameForRtpmap } from '../../media/codecs/registry.js';
import { statusWords } from './outcome.js';

export const STATS_INTERVAL_MS = 5000;

export interface CallViewOptions {
  print: (line: string) => void;
  stats: boolean;
  /** WAV file for what we hear; the first frame fixes its sample rate. */
  recordPath?: string;
  /** Play what we hear on the sound card (sox `play`). */
  speaker?: boolean;
}

export class CallView {
  private media: MediaSession | undefined;
  private recorder: WavRecorder | undefined;
  private speaker: Speaker | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private ringback: NodeJS.Timeout | undefined;
  /** Brings frames to the recording's rate after a codec change mid-call. */
  private resampler: Resampler | undefined;
  private info: MediaInfo | undefined;

  constructor(
    readonly call: Call,
    private readonly opts: CallViewOptions,
  ) {
    const print = opts.print;
    call.on('progress', (status, reason) => {
      if (status !== 100) print(`${status} ${reason}`);
    });
    call.on('ringing', () => {
      print('ringing...');
      this.startRingback();
    });
    call.on('earlyMedia', () => {
      this.stopRingback();
      print('early media (the network plays a tone or a message)');
    });
    call.on('answered', () => {
      this.stopRingback();
      print('answered');
      this.startStats();
    });
    call.on('held', () => print('the other side put us on hold'));
    call.on('resumed', () => print('the other side took us off hold'));
    call.on('dtmf', (digit) => this.digit(digit, 'SIP INFO'));
    call.on('transferred', (next) => print(`transferred: now calling ${next.remoteUri}`));
    call.on('replaced', () => print('this call was replaced (attended transfer)'));
    call.on('ended', (end) => this.ended(end));
  }

  /**
   * Hooks the call's media once it exists (an outgoing call opens it while
   * the INVITE is built, an incoming one while it is answered).
   */
  attach(media: MediaSession): void {
    if (this.media) return;
    this.media = media;
    media.on('negotiated', (info) => this.negotiated(info));
    media.on('digit', (ev) => this.digit(ev.digit, ev.source === 'inband' ? 'in-band' : ev.source));
    media.on('frame', (pcm, rate) => this.record(pcm, rate));
    media.on('warning', (message) => this.opts.print(`warning: ${message}`));
    if (media.info) this.negotiated(media.info);
    if (this.call.state === 'answered') this.startStats();
  }

  statsLine(): string | undefined {
    if (!this.info || !this.media) return undefined;
    const s = this.media.stats();
    const codec = codecNameForRtpmap(this.info.codec, this.info.clockRate) ?? 'pcmu';
    const { mos } = estimateMos({ codec, lossPercent: s.lossPercent, jitterMs: s.jitterMs, rttMs: s.rttMs });
    return formatStatsLine(s, this.info.codec, mos);
  }

  printStats(): void {
    const line = this.statsLine();
    if (line) this.opts.print(line);
  }

  private startStats(): void {
    if (this.opts.stats && this.media && !this.statsTimer) this.statsTimer = setInterval(() => this.printStats(), STATS_INTERVAL_MS);
  }

  /** Ringback on the speaker while the far phone rings (what a caller expects to hear; the network sends none in a 180). */
  private startRingback(): void {
    if (!this.opts.speaker || this.ringback) return;
    const rate = 8000;
    const gen = new ToneGenerator(CALL_PROGRESS_TONES.us.ringback, rate);
    const frame = new Int16Array(rate / 50);
    this.ringback = setInterval(() => {
      gen.fill(frame);
      this.speakerAt(rate).write(frame);
    }, 20);
  }

  private stopRingback(): void {
    if (this.ringback) clearInterval(this.ringback);
    this.ringback = undefined;
  }

  private speakerAt(rate: number): Speaker {
    if (this.speaker?.rate !== rate) {
      this.speaker?.close();
      this.speaker = new Speaker(rate);
    }
    return this.speaker;
  }

  private negotiated(info: MediaInfo): void {
    const first = !this.info;
    const changed = this.info && (this.info.codec !== info.codec || this.info.direction !== info.direction);
    this.info = info;
    if (first || changed) {
      this.opts.print(`media: ${info.codec}/${info.clockRate} to ${info.remote}, ${info.direction}${info.telephoneEvent ? ', DTMF by RFC 4733' : ''}${info.srtp ? `, SRTP ${info.srtp}` : ''}`);
    }
  }

  private record(pcm: Int16Array, rate: number): void {
    if (this.opts.speaker && !this.ringback) this.speakerAt(rate).write(pcm);
    const path = this.opts.recordPath;
    if (!path) return;
    if (!this.recorder) {
      try {
        this.recorder = new WavRecorder(path, rate);
      } catch (err) {
        this.opts.print(`cannot record to ${path}: ${(err as Error).message}`);
        this.opts.recordPath = undefined;
        return;
      }
    }
    if (rate === this.recorder.sampleRate) {
      this.recorder.write(pcm);
      return;
    }
    // A re-INVITE moved the call to a codec at another rate: keep the file at its first rate.
    if (this.resampler?.fromRate !== rate) this.resampler = new Resampler(rate, this.recorder.sampleRate);
    const out = new Int16Array(this.resampler.outputLength(pcm.length));
    this.recorder.write(out.subarray(0, this.resampler.process(pcm, out)));
  }

  /** Bad or stray datagrams on our media port, by reason: a user debugging one-way audio wants these. */
  private printDrops(): void {
    if (!this.media) return;
    const d = this.media.stats().dropped;
    if (d.total === 0) return;
    const reasons = Object.entries(d.reasons)
      .filter(([, n]) => n > 0)
      .map(([r, n]) => `${r} ${n}`)
      .join(', ');
    this.opts.print(`media: dropped ${d.total} datagrams (${reasons})`);
  }

  private digit(digit: string, how: string): void {
    this.opts.print(`DTMF received: ${digit} (${how})`);
  }

  private ended(end: CallEnd): void {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.stopRingback();
    this.printStats();
    this.printDrops();
    if (end.status !== undefined) {
      this.opts.print(`call failed: ${statusWords(end.status, end.reason)}${end.warning ? ` (Warning: ${end.warning})` : ''}`);
    } else {
      this.opts.print(`call ended by ${end.by === 'local' ? 'us' : end.by === 'remote' ? 'the other side' : 'an error'}`);
    }
    this.speaker?.close();
    this.recorder?.close();
    if (this.recorder) this.opts.print(`recorded ${this.recorder.seconds.toFixed(1)} s to ${this.recorder.path}`);
  }
}
