/**
 * Files as sources: one WAV (a prompt), or several played in turn (music on
 * hold), once or looping, in order or shuffled. Decoded audio is converted
 * to mono at the call's rate once per (audio, rate) and shared by every call
 * that plays it, so a queue of twenty callers resamples its music once.
 */
import { FILE_MAX_FACTOR, Resampler } from '../resample.js';
import type { PcmAudio } from '../wav.js';
import { SampleSource } from './sample-source.js';

const converted = new WeakMap<PcmAudio, Map<number, Int16Array>>();

/**
 * The audio as mono at `rate`: channels averaged, then resampled (any rate a
 * WAV file may have, 11.025 to 48 kHz). Cached per audio object and rate, and
 * the audio itself when it already is mono at `rate`: never modify the result.
 */
export function toMonoAt(audio: PcmAudio, rate: number): Int16Array {
  let byRate = converted.get(audio);
  if (!byRate) converted.set(audio, (byRate = new Map()));
  let out = byRate.get(rate);
  if (!out) byRate.set(rate, (out = convert(audio, rate)));
  return out;
}

function convert(audio: PcmAudio, rate: number): Int16Array {
  const ch = audio.channels;
  let mono = audio.samples;
  if (ch > 1) {
    mono = new Int16Array(Math.floor(audio.samples.length / ch));
    for (let i = 0; i < mono.length; i++) {
      let sum = 0;
      for (let c = 0; c < ch; c++) sum += audio.samples[i * ch + c];
      mono[i] = Math.round(sum / ch);
    }
  }
  if (audio.sampleRate === rate) return mono;
  const rs = new Resampler(audio.sampleRate, rate, { maxFactor: FILE_MAX_FACTOR });
  const out = new Int16Array(rs.outputLength(mono.length));
  const n = rs.process(mono, out);
  return out.subarray(0, n);
}

export interface ClipOptions {
  loop: boolean;
  /** A new random order on every pass (never the same clip twice in a row across passes). */
  shuffle: boolean;
  /** 0 <= x < 1; Math.random by default (tests pass their own). */
  random?: () => number;
}

/** Clips (mono, already at the source's rate) played one after another. */
export class ClipSource extends SampleSource {
  private order: number[];
  private idx = 0;
  private pos = 0;
  private readonly random: () => number;

  constructor(
    private readonly clips: readonly Int16Array[],
    frameSamples: number,
    private readonly opts: ClipOptions,
  ) {
    super(frameSamples);
    this.random = opts.random ?? Math.random;
    this.order = clips.map((_, i) => i);
    if (opts.shuffle) this.shuffle(-1);
    // Nothing to play: ends at once even when looping (a loop of nothing would spin).
    if (clips.every((c) => c.length === 0)) this.ended = true;
  }

  fill(out: Int16Array, from: number): number {
    let i = from;
    while (i < out.length && !this.ended) {
      this.skipFinished();
      if (this.ended) break;
      const clip = this.clips[this.order[this.idx]];
      const take = Math.min(out.length - i, clip.length - this.pos);
      out.set(clip.subarray(this.pos, this.pos + take), i);
      i += take;
      this.pos += take;
    }
    this.skipFinished();
    return i;
  }

  /** Moves past played (and empty) clips; starts the next pass or ends. */
  private skipFinished(): void {
    while (!this.ended) {
      if (this.idx < this.order.length) {
        if (this.pos < this.clips[this.order[this.idx]].length) return;
        this.idx++;
        this.pos = 0;
        continue;
      }
      if (!this.opts.loop) {
        this.ended = true;
        return;
      }
      const last = this.order[this.order.length - 1];
      this.idx = 0;
      if (this.opts.shuffle) this.shuffle(last);
    }
  }

  /** Fisher-Yates; `avoidFirst` (the clip just played) does not open the new pass. */
  private shuffle(avoidFirst: number): void {
    const o = this.order;
    for (let i = o.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [o[i], o[j]] = [o[j], o[i]];
    }
    if (o.length > 1 && o[0] === avoidFirst) {
      const j = 1 + Math.floor(this.random() * (o.length - 1));
      [o[0], o[j]] = [o[j], o[0]];
    }
  }
}
