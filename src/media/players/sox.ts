/**
 * The sound card through sox: `rec` for the microphone and `play` for the
 * speaker, as raw 16-bit mono at the codec's rate on a pipe. sox is optional;
 * when it is missing the phone says how to get it, and tones and WAV files
 * keep working.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { AudioSource } from './source.js';

function soxArgs(rate: number): string[] {
  return ['-q', '-t', 'raw', '-r', String(rate), '-e', 'signed-integer', '-b', '16', '-c', '1'];
}

/** Throws with what to do when sox's `rec`/`play` is not installed. */
export function requireSox(command: 'rec' | 'play'): void {
  const r = spawnSync(command, ['--version'], { stdio: 'ignore' });
  if (r.error) {
    throw new Error(`${command} (from sox) is not installed: run "apt-get install sox", or use --play FILE.wav|tone:HZ|silence without the sound card`);
  }
}

/**
 * Frames from the microphone. Audio arrives in chunks of any size; a frame
 * is handed out once a whole one is buffered, silence (undefined) before, so
 * a slow start never stalls the RTP clock.
 */
export class MicSource implements AudioSource {
  readonly ended = false;
  private readonly proc: ChildProcess;
  private readonly frame: Int16Array;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Seconds of audio we let pile up before dropping the oldest (the card runs on its own clock). */
  private readonly maxBytes: number;

  constructor(rate: number, frameSamples: number) {
    this.frame = new Int16Array(frameSamples);
    this.maxBytes = rate * 2 * 0.5;
    this.proc = spawn('rec', [...soxArgs(rate), '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.proc.on('error', () => undefined);
    this.proc.stdout?.on('data', (chunk: Buffer) => {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      while (this.pendingBytes > this.maxBytes && this.pending.length > 1) this.pendingBytes -= this.pending.shift()!.length;
    });
  }

  read(): Int16Array | undefined {
    const need = this.frame.length * 2;
    if (this.pendingBytes < need) return undefined;
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    for (let i = 0; i < this.frame.length; i++) this.frame[i] = all.readInt16LE(2 * i);
    const rest = all.subarray(need);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return this.frame;
  }

  close(): void {
    this.proc.kill();
  }
}

/** What we hear, to the speaker. */
export class Speaker {
  private readonly proc: ChildProcess;

  constructor(readonly rate: number) {
    this.proc = spawn('play', [...soxArgs(rate), '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
    this.proc.on('error', () => undefined);
    this.proc.stdin?.on('error', () => undefined);
  }

  write(pcm: Int16Array): void {
    this.proc.stdin?.write(Buffer.from(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength)));
  }

  close(): void {
    this.proc.stdin?.end();
  }
}
