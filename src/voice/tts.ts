/**
 * Text to speech for `say` and the IVR's prompts: a provider renders text
 * (espeak-ng today, a hosted engine later), and TtsCache keeps what it
 * rendered on disk and in memory, so a prompt is spoken by the engine once
 * and then served from the cache for every call, across restarts.
 *
 * Cached audio is 16 kHz mono 16-bit: wideband legs play it as it is, and
 * narrowband ones get it resampled once per process (openSource shares the
 * conversion). Files are named by sha256 of (format, provider, voice, text),
 * written to a temporary name, fsynced and renamed, so a reader never sees
 * half a prompt. Concurrent requests for the same prompt share one render.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { toMonoAt, type AudioSourceSpec } from '../media/players/source.js';
import { readWav, writeWav, WavError, type PcmAudio } from '../media/wav.js';
import { silentLogger, type Logger } from '../util/log.js';

/** The rate cached prompts are kept at. */
export const TTS_SAMPLE_RATE = 16000;
/** Longer text is refused: a prompt, not an audiobook (and a bound on one render's time and memory). */
export const TTS_MAX_TEXT = 5000;
/** Changes when the cached format or the key's recipe does, so old files are never misread. */
const CACHE_FORMAT = 'sb-tts-1';

export interface TtsProvider {
  /** Names the engine and anything that changes its sound (speed ...): part of every cache key. */
  readonly id: string;
  /** The voice used when none is asked for. */
  readonly defaultVoice: string;
  /** Speaks `text` in `voice` (the default when omitted): audio at any rate, mono or not. */
  synthesize(text: string, voice?: string): Promise<PcmAudio>;
}

/** The engine is not installed (or cannot run): says how to install it. */
export class TtsUnavailableError extends Error {
  override name = 'TtsUnavailableError';
}

/** The engine ran and failed for this text or voice (an unknown voice, a timeout). */
export class TtsError extends Error {
  override name = 'TtsError';
}

export interface TtsCacheOptions {
  provider: TtsProvider;
  /** Folder of cached prompts (made when missing), e.g. DATA/tts-cache. */
  dir: string;
  /** Audio kept in memory, bytes (default 32 MiB, about 17 minutes of prompts); the disk keeps everything. */
  memoryBytes?: number;
  log?: Logger;
}

export interface TtsStats {
  memoryHits: number;
  diskHits: number;
  /** Times the provider was asked to render (an engine process each, for espeak-ng). */
  renders: number;
  /** Requests that joined a render or read already under way for the same prompt. */
  shared: number;
  failures: number;
  /** Prompts held in memory, and their bytes. */
  memoryEntries: number;
  memoryBytes: number;
}

export type TtsRequest = string | { text: string; voice?: string };

export class TtsCache implements TtsProvider {
  readonly id: string;
  readonly defaultVoice: string;
  readonly dir: string;
  private readonly provider: TtsProvider;
  private readonly maxBytes: number;
  private readonly log: Logger;
  /** Most recently used last. */
  private readonly memory = new Map<string, PcmAudio>();
  private bytes = 0;
  private readonly inflight = new Map<string, Promise<PcmAudio>>();
  private dirReady: Promise<void> | undefined;
  private tmpSeq = 0;
  private readonly counts = { memoryHits: 0, diskHits: 0, renders: 0, shared: 0, failures: 0 };

  constructor(opts: TtsCacheOptions) {
    this.provider = opts.provider;
    this.id = `cache:${opts.provider.id}`;
    this.defaultVoice = opts.provider.defaultVoice;
    this.dir = opts.dir;
    this.maxBytes = opts.memoryBytes ?? 32 * 1024 * 1024;
    this.log = opts.log ?? silentLogger;
  }

  /**
   * `text` spoken in `voice`, as 16 kHz mono: from memory, else from the
   * disk cache, else rendered (once, however many ask at the same time) and
   * stored. The audio is shared: never modify it.
   */
  synthesize(text: string, voice?: string): Promise<PcmAudio> {
    let req: { text: string; voice: string; key: string };
    try {
      req = this.request(text, voice);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const hit = this.memory.get(req.key);
    if (hit) {
      this.counts.memoryHits++;
      this.memory.delete(req.key);
      this.memory.set(req.key, hit);
      return Promise.resolve(hit);
    }
    const running = this.inflight.get(req.key);
    if (running) {
      this.counts.shared++;
      return running;
    }
    const p = this.load(req).finally(() => this.inflight.delete(req.key));
    this.inflight.set(req.key, p);
    return p;
  }

  /** synthesize() as a source to play (what `say` hands a channel); `path` names the cache file. */
  async speak(text: string, voice?: string): Promise<AudioSourceSpec> {
    const audio = await this.synthesize(text, voice);
    return { kind: 'wav', path: this.pathFor(text, voice), audio };
  }

  /**
   * Renders every prompt not cached yet (at start, so the first caller does
   * not wait), two at a time. All are attempted; the first failure is then
   * thrown (a TtsUnavailableError when the engine is missing).
   */
  async prepare(items: readonly TtsRequest[]): Promise<void> {
    const queue = [...items];
    let first: unknown;
    const worker = async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
        const { text, voice } = typeof item === 'string' ? { text: item, voice: undefined } : item;
        try {
          await this.synthesize(text, voice);
        } catch (err) {
          first ??= err;
          // The engine is missing: every other prompt would fail the same way.
          if (err instanceof TtsUnavailableError) queue.length = 0;
        }
      }
    };
    await Promise.all([worker(), worker()]);
    if (first !== undefined) throw first;
  }

  /** Where `text` in `voice` is (or will be) cached. */
  pathFor(text: string, voice?: string): string {
    return this.file(this.request(text, voice).key);
  }

  stats(): TtsStats {
    return { ...this.counts, memoryEntries: this.memory.size, memoryBytes: this.bytes };
  }

  private request(text: string, voice: string | undefined): { text: string; voice: string; key: string } {
    const t = text.replace(/\s+/g, ' ').trim();
    if (t.length === 0) throw new RangeError('say: the text is empty');
    if (t.length > TTS_MAX_TEXT) throw new RangeError(`say: the text is ${t.length} characters; at most ${TTS_MAX_TEXT}`);
    const v = voice ?? this.provider.defaultVoice;
    const key = createHash('sha256').update(`${CACHE_FORMAT}\n${this.provider.id}\n${v}\n${t}`).digest('hex');
    return { text: t, voice: v, key };
  }

  private file(key: string): string {
    return path.join(this.dir, `${key}.wav`);
  }

  private async load(req: { text: string; voice: string; key: string }): Promise<PcmAudio> {
    const file = this.file(req.key);
    const cached = await this.readCached(file);
    if (cached) {
      this.counts.diskHits++;
      this.remember(req.key, cached);
      return cached;
    }
    this.counts.renders++;
    let audio: PcmAudio;
    try {
      const raw = await this.provider.synthesize(req.text, req.voice);
      audio = { sampleRate: TTS_SAMPLE_RATE, channels: 1, samples: toMonoAt(raw, TTS_SAMPLE_RATE) };
    } catch (err) {
      this.counts.failures++;
      throw err;
    }
    try {
      await this.store(file, audio);
    } catch (err) {
      // The prompt still plays; only the next start renders it again.
      this.log.warn({ err, file }, 'tts: could not write the cache file');
    }
    this.remember(req.key, audio);
    return audio;
  }

  private async readCached(file: string): Promise<PcmAudio | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const audio = readWav(bytes);
      if (audio.sampleRate === TTS_SAMPLE_RATE && audio.channels === 1 && audio.encoding === 'pcm16') {
        return { sampleRate: audio.sampleRate, channels: 1, samples: audio.samples };
      }
      this.log.warn({ file }, 'tts: cached prompt has the wrong format; rendering it again');
    } catch (err) {
      if (!(err instanceof WavError)) throw err;
      this.log.warn({ file, err }, 'tts: cached prompt is damaged; rendering it again');
    }
    return undefined;
  }

  private async store(file: string, audio: PcmAudio): Promise<void> {
    this.dirReady ??= mkdir(this.dir, { recursive: true }).then(() => undefined);
    try {
      await this.dirReady;
    } catch (err) {
      this.dirReady = undefined;
      throw err;
    }
    const tmp = `${file}.${process.pid}.${++this.tmpSeq}.tmp`;
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(writeWav(audio));
      await fh.sync();
    } catch (err) {
      await fh.close();
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await fh.close();
    await rename(tmp, file);
  }

  private remember(key: string, audio: PcmAudio): void {
    const size = audio.samples.byteLength;
    if (size > this.maxBytes) return;
    this.memory.set(key, audio);
    this.bytes += size;
    for (const [k, a] of this.memory) {
      if (this.bytes <= this.maxBytes) break;
      this.memory.delete(k);
      this.bytes -= a.samples.byteLength;
    }
  }
}
