/**
 * What a call plays to the other side: tones, silence, WAV files, a
 * sequence of those, or a stream the caller makes (a conference mix),
 * produced one frame at a time at the rate the negotiated codec wants. The
 * rate is only known after offer/answer, so a source is described first
 * (`AudioSourceSpec`, e.g. from `--play`) and opened for a rate later.
 */
import { readWavFile, type PcmAudio } from '../wav.js';
import { ClipSource, toMonoAt } from './clip.js';
import { FrameAdapter, SampleSource } from './sample-source.js';
import { SequenceSource } from './sequence.js';
import { MicSource, requireSox } from './sox.js';
import { ToneSource } from './tone-source.js';
import { parseToneText } from './tones.js';

interface ToneCommon {
  kind: 'tone';
  /** Level of each frequency, dBFS (default -10). */
  levelDbfs?: number;
  /** Ends after this many ms (cadence pauses included); forever when omitted. */
  ms?: number;
  /** On/off pairs in ms, repeated (as CALL_PROGRESS_TONES); steady when omitted. */
  cadenceMs?: readonly number[];
}

/** One frequency (`hz`) or several mixed (`freqs`, e.g. [350, 440] dial tone). */
export type ToneSourceSpec = ToneCommon & ({ hz: number; freqs?: undefined } | { freqs: readonly number[]; hz?: undefined });

export type AudioSourceSpec =
  | ToneSourceSpec
  /** Nothing is sent (comfort silence) forever; with `ms`, that many ms of zero samples, then it ends. */
  | { kind: 'silence'; ms?: number }
  | { kind: 'wav'; path: string; audio: PcmAudio; loop?: boolean }
  /** Several files in turn (music on hold: see mohSource), once or looping, optionally shuffled on each pass. */
  | { kind: 'files'; audios: readonly PcmAudio[]; names?: readonly string[]; loop?: boolean; shuffle?: boolean; random?: () => number }
  /** Items one after another, sample-exact; ends after the last (unless `loop`). */
  | { kind: 'sequence'; items: readonly AudioSourceSpec[]; loop?: boolean }
  /** A stream the caller makes (a conference mix, a bridge's transcoded audio), opened for the negotiated rate. */
  | { kind: 'custom'; open(sampleRate: number, frameSamples: number): AudioSource; name?: string }
  /** The sound card's microphone, through sox `rec`. */
  | { kind: 'mic' };

export interface AudioSource {
  /** The next frame, or undefined for silence (nothing is sent: the peer hears comfort silence). */
  read(): Int16Array | undefined;
  /** True once a finite source has handed out its last audio; read() then returns undefined. */
  readonly ended: boolean;
  /** Releases what the source holds (the microphone). */
  close?(): void;
}

/**
 * Parses the `--play` value: `tone:HZ`, `tone:350+440`, `tone:1000/250` (250 ms),
 * `silence`, `mic`, or the path of a WAV file (read here, so a missing or
 * broken file is reported before the call starts).
 */
export async function parseSourceSpec(text: string): Promise<AudioSourceSpec> {
  if (text === 'silence') return { kind: 'silence' };
  if (text === 'mic') {
    requireSox('rec');
    return { kind: 'mic' };
  }
  if (text.startsWith('tone:')) {
    const body = text.slice('tone:'.length);
    let tone;
    try {
      tone = parseToneText(body);
    } catch (err) {
      throw new RangeError(`--play ${text}: ${(err as Error).message}; e.g. tone:440, tone:350+440, tone:1000/250`);
    }
    const { freqs, ms } = tone;
    const base = freqs.length === 1 ? { kind: 'tone' as const, hz: freqs[0] } : { kind: 'tone' as const, freqs };
    return ms === undefined ? base : { ...base, ms };
  }
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

/**
 * Opens `spec` for frames of `frameSamples` mono samples at `sampleRate`.
 * Throws (RangeError for a tone the rate cannot carry) before anything plays.
 */
export function openSource(spec: AudioSourceSpec, sampleRate: number, frameSamples: number): AudioSource {
  if (spec.kind === 'mic') return new MicSource(sampleRate, frameSamples);
  if (spec.kind === 'custom') return spec.open(sampleRate, frameSamples);
  return openSampleSource(spec, sampleRate, frameSamples);
}

function openSampleSource(spec: AudioSourceSpec, sampleRate: number, frameSamples: number): SampleSource {
  switch (spec.kind) {
    case 'silence':
      return new SilenceSource(spec.ms, sampleRate, frameSamples);
    case 'tone':
      return new ToneSource({ ...spec, freqs: toneFreqs(spec) }, sampleRate, frameSamples);
    case 'wav':
      return new ClipSource([toMonoAt(spec.audio, sampleRate)], frameSamples, { loop: spec.loop ?? false, shuffle: false });
    case 'files': {
      const clips = spec.audios.map((a) => toMonoAt(a, sampleRate));
      return new ClipSource(clips, frameSamples, { loop: spec.loop ?? false, shuffle: spec.shuffle ?? false, random: spec.random });
    }
    case 'sequence': {
      const items = spec.items;
      const open = () => items.map((item) => openSampleSource(item, sampleRate, frameSamples));
      return new SequenceSource(open, frameSamples, spec.loop ?? false);
    }
    case 'custom':
    case 'mic':
      return new FrameAdapter(openSource(spec, sampleRate, frameSamples), frameSamples);
  }
}

function toneFreqs(spec: ToneSourceSpec): readonly number[] {
  return spec.freqs ?? [spec.hz];
}

/** Untimed: read() says "send nothing". Timed (a pause inside a sequence): zero samples, then the end. */
class SilenceSource extends SampleSource {
  private left: number;

  constructor(
    private readonly ms: number | undefined,
    sampleRate: number,
    frameSamples: number,
  ) {
    super(frameSamples);
    if (ms !== undefined && !(ms >= 0 && Number.isFinite(ms))) throw new RangeError(`silence of ${ms} ms: must be 0 or more`);
    this.left = ms === undefined ? Infinity : Math.round((ms * sampleRate) / 1000);
    if (this.left === 0) this.ended = true;
  }

  override read(): Int16Array | undefined {
    return this.ms === undefined ? undefined : super.read();
  }

  fill(out: Int16Array, from: number): number {
    const n = Math.min(out.length - from, this.left);
    out.fill(0, from, from + n);
    this.left -= n;
    if (this.left <= 0) this.ended = true;
    return from + n;
  }
}

export { toMonoAt };
