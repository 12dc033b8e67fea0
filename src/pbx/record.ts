/**
 * Records what a channel's caller says: until a finish key, a stretch of
 * silence, the length limit, or the caller hanging up — the audio so far is
 * kept then (a message cut off is still a message). The file is written
 * durably by MessageRecorder (`.part`, fsync, rename).
 */
import { rmSync } from 'node:fs';
import { MessageRecorder } from '../media/players/message-recorder.js';
import type { Channel } from './channel.js';

export interface RecordOptions {
  /** Final path of the WAV. */
  path: string;
  maxSeconds: number;
  /** Seconds of silence that end it (0: never). */
  silenceSeconds: number;
  /** Keys that end it (their tone is cut from the end). */
  finishKeys: string;
}

export interface Recording {
  path: string;
  seconds: number;
  /** Whether anything louder than silence was heard. */
  heardSound: boolean;
  reason: 'key' | 'silence' | 'max' | 'hangup';
  key?: string;
}

/** A key's tone lasts about this long before its event is recognised. */
const KEY_TAIL_MS = 200;

export async function recordChannel(ch: Channel, opts: RecordOptions): Promise<Recording | undefined> {
  const media = ch.media;
  if (!media?.info || ch.ended) return undefined;
  const rec = await MessageRecorder.create(opts.path, { sampleRate: media.info.sampleRate, maxSeconds: opts.maxSeconds, silenceSeconds: opts.silenceSeconds });
  ch.clearKeys();
  const how = await new Promise<{ reason: Recording['reason']; key?: string }>((resolve) => {
    let done = false;
    const finish = (reason: Recording['reason'], key?: string): void => {
      if (done) return;
      done = true;
      offFrame();
      offKey();
      offEnd();
      resolve({ reason, key });
    };
    const offFrame = media.on('frame', (pcm) => {
      const stop = rec.write(pcm);
      if (stop) finish(stop === 'silence' ? 'silence' : 'max');
    });
    const offKey = ch.on('digit', (d) => {
      if (opts.finishKeys.includes(d)) finish('key', d);
    });
    const offEnd = ch.once('ended', () => finish('hangup'));
    if (ch.ended) finish('hangup');
  });
  const r = await rec.finish({ trimSilence: how.reason === 'silence', dropTailMs: how.reason === 'key' ? KEY_TAIL_MS : 0 });
  return { path: r.path, seconds: r.seconds, heardSound: r.heardSound, reason: how.reason, key: how.key };
}

/** Removes a recording nobody wants (too short, cancelled). */
export function discardRecording(r: Recording): void {
  rmSync(r.path, { force: true });
}
