/**
 * espeak-ng (Debian `espeak-ng`) as a TtsProvider: one process per render,
 * text on stdin (never on the command line, so no text is ever read as an
 * option), a WAV at 22.05 kHz on stdout. Bounded in time and output size;
 * a missing binary is a TtsUnavailableError that says how to install it.
 */
import { spawn } from 'node:child_process';
import { realClock, type Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import { readWav, WavError, type PcmAudio } from '../media/wav.js';
import { TtsError, TtsUnavailableError, type TtsProvider } from './tts.js';

export interface EspeakOptions {
  /** The executable (default `espeak-ng`, found on PATH). */
  binary?: string;
  /** Default `en-us`; any name `espeak-ng --voices` lists, with an optional variant (`en-gb+f3`). */
  defaultVoice?: string;
  /** Speaking rate (default 160; espeak-ng's own default, 175, is brisk for menus on a phone). */
  wordsPerMinute?: number;
  /** A render taking longer is killed (default 15 s). */
  timeoutMs?: number;
  clock?: Clock;
  log?: Logger;
}

const INSTALL_HINT = 'install it with "apt-get install espeak-ng" (scripts/install-peers.sh does)';
/** Voice names as espeak-ng spells them: letters, digits, - _ / and a +variant; nothing that reads as an option. */
const VOICE = /^[A-Za-z0-9][A-Za-z0-9_/-]{0,40}(\+[A-Za-z0-9_-]{1,20})?$/;
/** 22.05 kHz 16-bit for 10 minutes: far more than any prompt, so a runaway render is stopped. */
const MAX_OUTPUT_BYTES = 22050 * 2 * 600;
const MAX_STDERR = 4096;

export class EspeakTts implements TtsProvider {
  readonly id: string;
  readonly defaultVoice: string;
  private readonly binary: string;
  private readonly wpm: number;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private spawnCount = 0;

  constructor(opts: EspeakOptions = {}) {
    this.binary = opts.binary ?? 'espeak-ng';
    this.defaultVoice = opts.defaultVoice ?? 'en-us';
    this.wpm = opts.wordsPerMinute ?? 160;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.clock = opts.clock ?? realClock;
    this.log = opts.log ?? silentLogger;
    if (!(Number.isInteger(this.wpm) && this.wpm >= 80 && this.wpm <= 450)) {
      throw new RangeError(`espeak-ng: wordsPerMinute ${this.wpm} must be a whole number from 80 to 450`);
    }
    checkVoice(this.defaultVoice);
    // The rate changes the sound, so it is part of the cache key.
    this.id = `espeak-ng/${this.wpm}wpm`;
  }

  /** Processes started so far (tests assert a cached prompt starts none). */
  get spawned(): number {
    return this.spawnCount;
  }

  synthesize(text: string, voice?: string): Promise<PcmAudio> {
    const v = voice ?? this.defaultVoice;
    try {
      checkVoice(v);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise((resolve, reject) => {
      this.spawnCount++;
      const child = spawn(this.binary, ['-v', v, '-s', String(this.wpm), '--stdin', '--stdout'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let outBytes = 0;
      let stderr = '';
      let settled = false;
      const finish = (err: Error | undefined, audio?: PcmAudio) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        if (err) reject(err);
        else resolve(audio!);
      };
      const timer = this.clock.setTimer(this.timeoutMs, () => {
        child.kill('SIGKILL');
        finish(new TtsError(`espeak-ng took longer than ${this.timeoutMs} ms for ${JSON.stringify(text.slice(0, 60))}; killed`));
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') finish(new TtsUnavailableError(`${this.binary} is not installed (text to speech for "say"): ${INSTALL_HINT}`));
        else if (err.code === 'EACCES') finish(new TtsUnavailableError(`${this.binary} cannot be run (permission denied): ${INSTALL_HINT}`));
        else finish(new TtsError(`espeak-ng failed to start: ${err.message}`));
      });
      child.stdout.on('data', (chunk: Buffer) => {
        outBytes += chunk.length;
        if (outBytes > MAX_OUTPUT_BYTES) {
          child.kill('SIGKILL');
          finish(new TtsError(`espeak-ng produced more than ${MAX_OUTPUT_BYTES} bytes for one prompt; killed`));
          return;
        }
        out.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < MAX_STDERR) stderr += chunk.toString('utf8');
      });
      child.on('close', (code, signal) => {
        if (settled) return;
        const why = stderr.trim().replace(/^Error:\s*/i, '');
        if (code !== 0) {
          finish(new TtsError(`espeak-ng ${signal ? `was killed by ${signal}` : `exited with ${code}`} (voice ${v})${why ? `: ${why}` : ''}`));
          return;
        }
        try {
          const wav = readWav(Buffer.concat(out, outBytes));
          finish(undefined, { sampleRate: wav.sampleRate, channels: wav.channels, samples: wav.samples });
        } catch (err) {
          finish(new TtsError(`espeak-ng wrote audio we cannot read: ${err instanceof WavError ? err.message : String(err)}`));
        }
      });
      // EPIPE when it died before reading: the close handler reports why.
      child.stdin.on('error', (err) => this.log.debug({ err }, 'espeak-ng stdin'));
      child.stdin.end(text, 'utf8');
    });
  }
}

function checkVoice(voice: string): void {
  if (!VOICE.test(voice)) throw new RangeError(`espeak-ng voice ${JSON.stringify(voice)} is not a voice name (e.g. en-us, en-gb, en-us+f3)`);
}
