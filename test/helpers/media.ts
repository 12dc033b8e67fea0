/** Shared pieces of the media tests: waiting on UDP delivery, counting, recording, joining frames. */
import assert from 'node:assert/strict';
import type { MediaEndpointStats } from '../../src/media/endpoint/index.js';
import type { VirtualClock } from '../../src/util/clock.js';

/** Polls `cond` once per event-loop turn (the UDP poll phase runs in between); false if it never held. */
export async function until(cond: () => boolean, turns = 5000): Promise<boolean> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return true;
    await new Promise<void>((r) => setImmediate(r));
  }
  return cond();
}

/** Every datagram an endpoint sent: RTP packets and RTCP reports. */
export function sentDatagrams(s: MediaEndpointStats): number {
  return s.sent.packets + s.sent.sr + s.sent.rr;
}

/** Frames one after another as one signal. */
export function concatFrames(frames: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

/** A frame handler to open an endpoint with: records what it plays, from its first played frame on. */
export function recorder(): { frame: (pcm: Int16Array) => void; heard: () => Int16Array } {
  const frames: Int16Array[] = [];
  return {
    frame: (pcm) => frames.push(pcm.slice()),
    heard: () => concatFrames(frames),
  };
}

/** Moves virtual time on one 20 ms frame at a time, waiting each time until what was sent has arrived. */
export async function runFrames(clock: VirtualClock, ms: number, settled: () => boolean): Promise<void> {
  for (let t = 0; t < ms; t += 20) {
    clock.advance(20);
    assert.ok(await until(settled), 'datagrams sent in this frame did not arrive');
  }
}
