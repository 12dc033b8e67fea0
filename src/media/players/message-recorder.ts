/**
 * Recordings that matter (voicemail, the record verb): audio goes to
 * NAME.wav.part as it arrives, in batches off the event loop; finish()
 * writes what is left, fixes the header, fsyncs and renames the file to
 * NAME.wav (then fsyncs the folder), so NAME.wav either does not exist or
 * is complete and durable. A caller hanging up is just an early finish():
 * what was said is kept. abandon() removes the part file. After a crash,
 * recoverRecordings() turns leftover part files into playable WAVs.
 *
 * Optional stops: a maximum length and N seconds of silence; write() says
 * when one is reached and ignores audio after it. finish() can trim the
 * trailing silence and drop the last milliseconds (the `#` that ended it).
 */
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { SilenceDetector } from '../dsp/silence.js';
import { parseWav, wavHeader } from '../wav.js';

/** Why a recording stopped taking audio. */
export type RecorderStop = 'silence' | 'max_length';

export interface MessageRecorderOptions {
  sampleRate: number;
  /** Seconds at most (0 or undefined: no limit); audio beyond is not written. */
  maxSeconds?: number;
  /** Seconds of silence that stop the recording (0 or undefined: silence never stops it). */
  silenceSeconds?: number;
  /** Level above which audio counts as sound, dBFS (default -42). */
  silenceThresholdDbfs?: number;
}

export interface FinishOptions {
  /** Cut the silence after the last sound (keeping 300 ms). */
  trimSilence?: boolean;
  /** Drop this many ms from the end (the key tone that ended the recording). */
  dropTailMs?: number;
}

export interface RecordingResult {
  /** The finished file, NAME.wav. */
  path: string;
  sampleRate: number;
  samples: number;
  seconds: number;
  /** Whether any frame was above the silence threshold (an empty message can be thrown away). */
  heardSound: boolean;
  /** Why it stopped taking audio, if not because finish() was called first. */
  stoppedBy?: RecorderStop;
}

export class RecorderError extends Error {
  override name = 'RecorderError';
}

const PART = '.part';
const PCM_HEADER_BYTES = 44;
/** Audio is handed to the file system in batches of about this many bytes (1 s at 16 kHz). */
const BATCH_BYTES = 32 * 1024;

export class MessageRecorder {
  readonly path: string;
  readonly partPath: string;
  readonly sampleRate: number;
  private readonly maxSamples: number;
  private readonly detector: SilenceDetector;
  private readonly useSilence: boolean;
  private samples = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of audio handed to the file (after the header). */
  private written = 0;
  /** Every file operation runs on this chain, one after another; it never rejects (errors land in `failure`). */
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private stopReason: RecorderStop | undefined;
  private state: 'recording' | 'finishing' | 'finished' | 'abandoned' = 'recording';
  private result: Promise<RecordingResult> | undefined;

  private constructor(
    private readonly fh: FileHandle,
    finalPath: string,
    opts: MessageRecorderOptions,
  ) {
    this.path = finalPath;
    this.partPath = finalPath + PART;
    this.sampleRate = opts.sampleRate;
    this.maxSamples = opts.maxSeconds ? Math.round(opts.maxSeconds * opts.sampleRate) : Infinity;
    this.useSilence = (opts.silenceSeconds ?? 0) > 0;
    this.detector = new SilenceDetector({ sampleRate: opts.sampleRate, seconds: opts.silenceSeconds ?? 0, thresholdDbfs: opts.silenceThresholdDbfs });
  }

  /**
   * Starts recording to `finalPath` + ".part" (`finalPath` must end in .wav; its folder must exist).
   * A part file left by an earlier attempt is overwritten.
   */
  static async create(finalPath: string, opts: MessageRecorderOptions): Promise<MessageRecorder> {
    if (!finalPath.toLowerCase().endsWith('.wav')) throw new RangeError(`recording ${finalPath}: the name must end in .wav`);
    if (!(Number.isInteger(opts.sampleRate) && opts.sampleRate > 0)) throw new RangeError(`recording ${finalPath}: bad sample rate ${opts.sampleRate}`);
    if (opts.maxSeconds !== undefined && !(opts.maxSeconds >= 0)) throw new RangeError(`recording ${finalPath}: maxSeconds ${opts.maxSeconds} must be 0 or more`);
    const fh = await open(finalPath + PART, 'w');
    try {
      await fh.write(wavHeader({ encoding: 'pcm16', sampleRate: opts.sampleRate, channels: 1 }, 0));
    } catch (err) {
      await fh.close();
      await unlink(finalPath + PART).catch(() => undefined);
      throw err;
    }
    return new MessageRecorder(fh, finalPath, opts);
  }

  get seconds(): number {
    return this.samples / this.sampleRate;
  }

  /** Why the recording stopped taking audio, once it has. */
  get stopped(): RecorderStop | undefined {
    return this.stopReason;
  }

  get heardSound(): boolean {
    return this.detector.heardSound;
  }

  /**
   * Appends one frame of mono 16-bit samples (copied). Returns why the
   * recording stopped once it has (silence, max length): from then on
   * audio is ignored and the owner should finish().
   */
  write(frame: Int16Array): RecorderStop | undefined {
    if (this.state !== 'recording' || this.stopReason) return this.stopReason;
    const room = this.maxSamples - this.samples;
    const take = frame.length <= room ? frame : frame.subarray(0, room);
    if (take.length > 0) {
      this.pending.push(Buffer.from(take.buffer.slice(take.byteOffset, take.byteOffset + take.byteLength)));
      this.pendingBytes += take.byteLength;
      this.samples += take.length;
      const silent = this.detector.process(take);
      if (silent && this.useSilence) this.stopReason = 'silence';
    }
    if (this.samples >= this.maxSamples) this.stopReason ??= 'max_length';
    if (this.pendingBytes >= BATCH_BYTES) this.schedule(() => this.writePending());
    return this.stopReason;
  }

  /** Appends `samples` of silence: time that passed with nothing received (a gap in the media). */
  writeSilence(samples: number): RecorderStop | undefined {
    let left = Math.max(0, Math.floor(samples));
    const chunk = new Int16Array(Math.min(left, this.sampleRate));
    while (left > 0 && !this.stopReason && this.state === 'recording') {
      const n = Math.min(left, chunk.length);
      this.write(n === chunk.length ? chunk : chunk.subarray(0, n));
      left -= n;
    }
    return this.stopReason;
  }

  /** Writes what is buffered and fsyncs the part file (what a crash would then keep). */
  async flush(): Promise<void> {
    this.schedule(async () => {
      await this.writePending();
      await this.fh.sync();
    });
    await this.chain;
    if (this.failure) throw this.failure;
  }

  /**
   * Completes the recording: the rest of the audio, the header, fsync, the
   * rename to NAME.wav, fsync of the folder. Call it when the caller hangs
   * up too: what was recorded is kept. A second call gets the same result.
   */
  finish(opts: FinishOptions = {}): Promise<RecordingResult> {
    if (this.state === 'abandoned') return Promise.reject(new RecorderError(`recording ${this.path} was abandoned`));
    this.result ??= this.complete(opts);
    return this.result;
  }

  /** Throws the recording away: the part file is removed. Does nothing once finished. */
  async abandon(): Promise<void> {
    if (this.state !== 'recording') {
      if (this.state === 'finishing') await this.result?.catch(() => undefined);
      return;
    }
    this.state = 'abandoned';
    this.pending = [];
    this.pendingBytes = 0;
    await this.chain;
    await this.fh.close().catch(() => undefined);
    await unlink(this.partPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  private async complete(opts: FinishOptions): Promise<RecordingResult> {
    this.state = 'finishing';
    let keep = this.samples;
    if (opts.trimSilence) keep = Math.min(keep, this.detector.keepSamples());
    if (opts.dropTailMs) keep = Math.max(0, Math.min(keep, this.samples - Math.round((opts.dropTailMs * this.sampleRate) / 1000)));
    this.schedule(async () => {
      await this.writePending();
      const dataBytes = keep * 2;
      if (dataBytes < this.written) await this.fh.truncate(PCM_HEADER_BYTES + dataBytes);
      await this.fh.write(wavHeader({ encoding: 'pcm16', sampleRate: this.sampleRate, channels: 1 }, dataBytes), 0, PCM_HEADER_BYTES, 0);
      await this.fh.sync();
    });
    await this.chain;
    await this.fh.close().catch(() => undefined);
    if (this.failure) {
      this.state = 'finished';
      // The part file stays: recoverRecordings() at the next start keeps what reached the disk.
      throw new RecorderError(`recording ${this.path} could not be completed: ${this.failure.message}`);
    }
    await rename(this.partPath, this.path);
    await syncFolder(path.dirname(this.path));
    this.state = 'finished';
    return {
      path: this.path,
      sampleRate: this.sampleRate,
      samples: keep,
      seconds: keep / this.sampleRate,
      heardSound: this.detector.heardSound,
      stoppedBy: this.stopReason,
    };
  }

  /** Runs `op` after everything before it; its failure is kept for finish()/flush(), never unhandled. */
  private schedule(op: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        await op();
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
      }
    });
  }

  private async writePending(): Promise<void> {
    if (this.pendingBytes === 0 || this.state === 'abandoned') return;
    const batch = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.fh.write(batch, 0, batch.length, PCM_HEADER_BYTES + this.written);
    this.written += batch.length;
  }
}

async function syncFolder(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Makes playable WAVs of the part files a crash left in `dir` (call it at
 * start, before any recorder runs): sizes fixed from the file's length, a
 * half sample dropped, then renamed like finish() does. A part file too
 * short to hold a header has nothing in it and is removed. Returns the
 * recovered files' paths.
 */
export async function recoverRecordings(dir: string): Promise<string[]> {
  const recovered: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (!name.toLowerCase().endsWith('.wav' + PART)) continue;
    const part = path.join(dir, name);
    const fh = await open(part, 'r+');
    let ok = false;
    try {
      const { size } = await fh.stat();
      const head = Buffer.alloc(PCM_HEADER_BYTES);
      await fh.read(head, 0, PCM_HEADER_BYTES, 0);
      const format = size >= PCM_HEADER_BYTES ? headerFormat(head) : undefined;
      if (format) {
        const dataBytes = (size - PCM_HEADER_BYTES) & ~1;
        await fh.truncate(PCM_HEADER_BYTES + dataBytes);
        await fh.write(wavHeader({ encoding: 'pcm16', sampleRate: format.sampleRate, channels: format.channels }, dataBytes), 0, PCM_HEADER_BYTES, 0);
        await fh.sync();
        ok = true;
      }
    } finally {
      await fh.close();
    }
    if (!ok) {
      await unlink(part);
      continue;
    }
    const final = part.slice(0, -PART.length);
    await rename(part, final);
    recovered.push(final);
  }
  if (recovered.length > 0) await syncFolder(dir);
  return recovered;
}

/** The format of one of our own part files' 44-byte PCM header, or undefined when it is not one. */
function headerFormat(head: Buffer): { sampleRate: number; channels: number } | undefined {
  if (head.toString('latin1', 36, 40) !== 'data') return undefined;
  try {
    const info = parseWav(head);
    return info.encoding === 'pcm16' ? { sampleRate: info.sampleRate, channels: info.channels } : undefined;
  } catch {
    return undefined;
  }
}
