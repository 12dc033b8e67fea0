/**
 * What a call plays to the other side: a tone, silence, or a WAV file,
 * produced one frame at a time at the rate the negotiated codec wants. The
 * rate is only known after offer/answer, so a source is described first
 * (`AudioSourceSpec`, e.g. from `--play`) and opened for a rate later.
 */
import { readWavFile, type PcmAudio } from '../wav.js';
import { Resampler } from '../resample.js';
import { ToneGenerator } from '../dsp/tone.js';
import { MicSource, requireSox } from './sox.js';

export type AudioSourceSpec =
  | { kind: 'tone'; hz: number; levelDbfs?: number }
  | { kind: 'silence' }
  | { kind: 'wav'; path: string; audio: PcmAudio; loop?: boolean }
  /** The sound card's microphone, through sox `rec`. */
  | { kind: 'mic' }
  /** Anything else (a conference's mix, the other leg of a transcoding bridge), opened for the negotiated rate. */
  | { kind: 'custom'; open(sampleRate: number, frameSamples: number): AudioSource };

export interface AudioSource {
  /** The next frame, or undefined for silence (nothing is sent: the peer hears comfort silence). */
  read(): Int16Array | undefined;
  /** True once a non-looping file has played to its end. */
  readonly ended: boolean;
  /** Releases what the source holds (the microphone). */
  close?(): void;
}

/** Tones at -10 dBFS: loud enough for any detector, far from clipping after any codec. */
const DEFAULT_TONE_DBFS = -10;

/**
 * Parses the `--play` value: `tone:HZ`, `silence`, `mic`, or the path of a WAV file
 * (read here, so a missing or broken file is reported before the call starts).
 */
export async function parseSourceSpec(text: string): Promise<AudioSourceSpec> {
  if (text === 'silence') return { kind: 'silence' };
  if (text === 'mic') {
    requireSox('rec');
    return { kind: 'mic' };
  }
  const tone = /^tone:(\d+(?:\.\d+)?)$/.exec(text);
  if (tone) {
    const hz = Number(tone[1]);
    if (!(hz > 0 && hz < 24000)) throw new RangeError(`--play tone:${tone[1]}: the frequency must be between 0 and 24000 Hz`);
    return { kind: 'tone', hz };
  }
  if (text.startsWith('tone:')) throw new RangeError(`--play ${text}: write a tone as tone:HZ, e.g. tone:440`);
  try {
    return { kind: 'wav', path: text, audio: await readWavFile(text) };
  } catch (err) {
    // A typo such as "tone440" lands here: say what a source looks like, not just ENOENT.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`--play ${text}: no such file; give a WAV file, tone:HZ (e.g. tone:440) or silence`);
    }
    throw err;
  }
}

/** Opens `spec` for frames of `frameSamples` mono samples at `sampleRate`. */
export function openSource(spec: AudioSourceSpec, sampleRate: number, frameSamples: number): AudioSource {
  switch (spec.kind) {
    case 'silence':
      return { read: () => undefined, ended: false };
    case 'tone':
      return toneSource(spec.hz, spec.levelDbfs ?? DEFAULT_TONE_DBFS, sampleRate, frameSamples);
    case 'wav':
      return new FileSource(toMonoAt(spec.audio, sampleRate), frameSamples, spec.loop ?? false);
    case 'mic':
      return new MicSource(sampleRate, frameSamples);
    case 'custom':
      return spec.open(sampleRate, frameSamples);
  }
}

function toneSource(hz: number, levelDbfs: number, sampleRate: number, frameSamples: number): AudioSource {
  // A tone above the codec's band is a user error worth a clear message, not aliasing.
  if (hz >= sampleRate / 2) throw new RangeError(`tone ${hz} Hz cannot pass a codec sampled at ${sampleRate} Hz`);
  const gen = new ToneGenerator({ freqs: [hz], levelDbfs }, sampleRate);
  const frame = new Int16Array(frameSamples);
  return {
    read: () => {
      gen.fill(frame);
      return frame;
    },
    ended: false,
  };
}

class FileSource implements AudioSource {
  private pos = 0;
  private readonly frame: Int16Array;
  ended = false;

  constructor(
    private readonly samples: Int16Array,
    frameSamples: number,
    private readonly loop: boolean,
  ) {
    this.frame = new Int16Array(frameSamples);
  }

  read(): Int16Array | undefined {
    const n = this.frame.length;
    if (this.ended || this.samples.length === 0) {
      this.ended = true;
      return undefined;
    }
    let filled = 0;
    while (filled < n) {
      const take = Math.min(n - filled, this.samples.length - this.pos);
      this.frame.set(this.samples.subarray(this.pos, this.pos + take), filled);
      filled += take;
      this.pos += take;
      if (this.pos < this.samples.length) continue;
      if (!this.loop) {
        this.ended = true;
        this.frame.fill(0, filled);
        break;
      }
      this.pos = 0;
    }
    return this.frame;
  }
}

/** The file as mono at `rate`: channels averaged, then resampled once up front (files are short). */
export function toMonoAt(audio: PcmAudio, rate: number): Int16Array {
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
  const rs = new Resampler(audio.sampleRate, rate);
  const out = new Int16Array(rs.outputLength(mono.length));
  const n = rs.process(mono, out);
  return out.subarray(0, n);
}
