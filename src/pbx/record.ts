/**
 * Records what a channel's caller says into a WAV file: until a finish key,
 * a stretch of silence, the length limit, or the caller hanging up (the audio
 * so far is kept — a message cut off is still a message).
 */
import { renameSync, rmSync } from 'node:fs';
import { WavRecorder } from '../media/players/index.js';
import type { Channel } from './channel.js';

export interface RecordOptions {
  /** Final path; the recording is written to `path.part` and renamed when finished. */
  path: string;
  maxSeconds: number;
  /** Seconds of silence that end it (0: never). */
  silenceSeconds: number;
  /** Keys that end it (not recorded). */
  finishKeys: string;
}

export interface Recording {
  path: string;
  seconds: number;
  /** Why it stopped. */
  reason: 'key' | 'silence' | 'max' | 'hangup';
  key?: string;
}

/** Frames quieter than this (mean absolute sample) count as silence: about -50 dBFS. */
const SILENCE_LEVEL = 100;

export function recordChannel(ch: Channel, opts: RecordOptions): Promise<Recording | undefined> {
  const media = ch.media;
  if (!media?.info || ch.ended) return Promise.resolve(undefined);
  const part = `${opts.path}.part`;
  const rec = new WavRecorder(part, media.info.sampleRate);
  let silentMs = 0;
  let heardMs = 0;
  return new Promise((resolve) => {
    let done = false;
    const finish = (reason: Recording['reason'], key?: string): void => {
      if (done) return;
      done = true;
      offFrame();
      offKey();
      offEnd();
      timer.cancel();
      rec.close();
      const seconds = rec.seconds;
      try {
        renameSync(part, opts.path);
      } catch {
        rmSync(part, { force: true });
        resolve(undefined);
        return;
      }
      resolve({ path: opts.path, seconds, reason, key });
    };
    const offFrame = media.on('frame', (pcm) => {
      rec.write(pcm);
      const frameMs = (pcm.length * 1000) / (media.info?.sampleRate ?? 8000);
      heardMs += frameMs;
      let sum = 0;
      for (let i = 0; i < pcm.length; i++) sum += Math.abs(pcm[i]);
      silentMs = sum / pcm.length < SILENCE_LEVEL ? silentMs + frameMs : 0;
      if (opts.silenceSeconds > 0 && silentMs >= opts.silenceSeconds * 1000 && heardMs > silentMs) finish('silence');
    });
    const offKey = ch.on('digit', (d) => {
      if (opts.finishKeys.includes(d)) finish('key', d);
    });
    const offEnd = ch.once('ended', () => finish('hangup'));
    const timer = ch.owner.clock.setTimer(opts.maxSeconds * 1000, () => finish('max'));
    ch.clearKeys();
  });
}

/** Removes a recording nobody wants (too short, cancelled). */
export function discardRecording(r: Recording): void {
  rmSync(r.path, { force: true });
}
