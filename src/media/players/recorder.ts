/**
 * Writes what a call hears to a WAV file as it arrives, so a long call does
 * not sit in memory and a crash still leaves the audio so far on disk (the
 * header's sizes are fixed up on close; until then players read the data as
 * "unknown length" or stop early).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { wavHeader } from '../wav.js';

export class WavRecorder {
  private fd: number | undefined;
  private dataBytes = 0;

  constructor(
    readonly path: string,
    readonly sampleRate: number,
  ) {
    this.fd = openSync(path, 'w');
    const header = wavHeader({ encoding: 'pcm16', sampleRate, channels: 1 }, 0);
    writeSync(this.fd, header);
  }

  get seconds(): number {
    return this.dataBytes / 2 / this.sampleRate;
  }

  /** Appends one frame of mono 16-bit samples. */
  write(frame: Int16Array): void {
    if (this.fd === undefined) return;
    const bytes = new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
    writeSync(this.fd, bytes);
    this.dataBytes += bytes.length;
  }

  /** Appends `samples` zero samples: time that passed with nothing heard (hold, a gap before media). */
  writeSilence(samples: number): void {
    if (samples > 0) this.write(new Int16Array(samples));
  }

  close(): void {
    if (this.fd === undefined) return;
    const header = wavHeader({ encoding: 'pcm16', sampleRate: this.sampleRate, channels: 1 }, this.dataBytes);
    writeSync(this.fd, header, 0, header.length, 0);
    closeSync(this.fd);
    this.fd = undefined;
  }
}
