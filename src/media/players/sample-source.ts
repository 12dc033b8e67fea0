/**
 * The built-in sources hand out any number of samples, not only whole
 * frames, so a sequence joins a 250 ms beep to the prompt after it with no
 * gap, whatever the frame size.
 */
import type { AudioSource } from './source.js';

export abstract class SampleSource implements AudioSource {
  ended = false;
  private readonly frame: Int16Array;

  constructor(frameSamples: number) {
    if (!Number.isInteger(frameSamples) || frameSamples < 1) throw new RangeError(`frame of ${frameSamples} samples`);
    this.frame = new Int16Array(frameSamples);
  }

  /**
   * Writes the next samples into out[from..] until `out` is full or the
   * source runs out, and returns the index after the last sample written.
   * Sets `ended` as soon as nothing is left, even when `out` was filled.
   */
  abstract fill(out: Int16Array, from: number): number;

  read(): Int16Array | undefined {
    if (this.ended) return undefined;
    const n = this.fill(this.frame, 0);
    if (n === 0 && this.ended) return undefined;
    this.frame.fill(0, n);
    return this.frame;
  }

  close(): void {}
}

/** Any AudioSource (a custom one gives whole frames) as a SampleSource, keeping what a frame had beyond the request. */
export class FrameAdapter extends SampleSource {
  private buf: Int16Array | undefined;
  private pos = 0;
  private readonly silence: Int16Array;

  constructor(
    private readonly inner: AudioSource,
    frameSamples: number,
  ) {
    super(frameSamples);
    this.silence = new Int16Array(frameSamples);
  }

  fill(out: Int16Array, from: number): number {
    let i = from;
    while (i < out.length) {
      if (!this.buf || this.pos >= this.buf.length) {
        if (this.inner.ended) break;
        // undefined is "nothing to send": inside a sequence that is silence.
        const f = this.inner.read();
        if (!f && this.inner.ended) break;
        this.buf = f ?? this.silence;
        this.pos = 0;
      }
      const take = Math.min(out.length - i, this.buf.length - this.pos);
      out.set(this.buf.subarray(this.pos, this.pos + take), i);
      i += take;
      this.pos += take;
    }
    if (this.inner.ended && (!this.buf || this.pos >= this.buf.length)) this.ended = true;
    return i;
  }

  override close(): void {
    this.inner.close?.();
  }
}
